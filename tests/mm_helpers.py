"""Running the OpenMMLab entry points from tests, and tiny datasets in the real on-disk formats."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def env():
    return dict(os.environ, OMP_NUM_THREADS='1', PYTHONUNBUFFERED='1', PYTHON=sys.executable)


def run(cmd, **kw) -> str:
    kw.setdefault('env', env())
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=900, **kw)
    assert r.returncode == 0, (r.stdout[-2500:], r.stderr[-4000:])
    return r.stdout + r.stderr


def train(config, work, opts, *extra) -> str:
    return run([sys.executable, str(ROOT / 'tools/train.py'), str(ROOT / config), '--work-dir', str(work), *extra,
                '--cfg-options', *opts])


def dist_train(config, work, opts, port) -> str:
    return run(['bash', str(ROOT / 'tools/dist_train.sh'), str(ROOT / config), '2', '--work-dir', str(work),
                '--cfg-options', *opts], cwd=ROOT, env=dict(env(), PORT=str(port)))


def loader_opts(names=('train_dataloader', 'val_dataloader', 'test_dataloader'), batch_size=2):
    out = []
    for name in names:
        out += [f'{name}.batch_size={batch_size}', f'{name}.num_workers=0', f'{name}.persistent_workers=False']
    return out


def make_cityscapes(root: Path, n_train: int = 2, n_val: int = 1) -> Path:
    """leftImg8bit/<split>/<city>/*_leftImg8bit.png and gtFine/<split>/<city>/*_gtFine_labelTrainIds.png."""
    rng = np.random.default_rng(0)
    for split, n in (('train', n_train), ('val', n_val)):
        for k in range(n):
            city = 'aachen' if split == 'train' else 'frankfurt'
            stem = f'{city}_{k:06d}_000019'
            img_dir, gt_dir = root / 'leftImg8bit' / split / city, root / 'gtFine' / split / city
            img_dir.mkdir(parents=True, exist_ok=True)
            gt_dir.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 256, size=(32, 64, 3), dtype=np.uint8)).save(img_dir / f'{stem}_leftImg8bit.png')
            label = rng.integers(0, 19, size=(32, 64)).astype(np.uint8)
            label[:4] = 255  # ignored pixels, as in the real label maps
            Image.fromarray(label).save(gt_dir / f'{stem}_gtFine_labelTrainIds.png')
    return root


COCO_KEYPOINTS = ['nose', 'left_eye', 'right_eye', 'left_ear', 'right_ear', 'left_shoulder', 'right_shoulder',
                  'left_elbow', 'right_elbow', 'left_wrist', 'right_wrist', 'left_hip', 'right_hip', 'left_knee',
                  'right_knee', 'left_ankle', 'right_ankle']


def make_coco(root: Path, n_images: int = 2, persons: int = 2) -> Path:
    """images under train2017/ and val2017/, annotations/person_keypoints_{train,val}2017.json."""
    rng = np.random.default_rng(0)
    (root / 'annotations').mkdir(parents=True, exist_ok=True)
    for split in ('train2017', 'val2017'):
        (root / split).mkdir(exist_ok=True)
        images, anns = [], []
        for i in range(n_images):
            w, h = 160, 128
            name = f'{i:012d}.jpg'
            Image.fromarray(rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)).save(root / split / name)
            images.append(dict(id=i + 1, file_name=name, width=w, height=h))
            for p in range(persons):
                x0, y0, bw, bh = 10 + 70 * p, 10, 60, 100
                kpts = []
                for k in range(17):
                    kpts += [float(x0 + 5 + (k * 7) % 50), float(y0 + 5 + k * 5), 2]
                anns.append(dict(id=len(anns) + 1 + 1000 * i, image_id=i + 1, category_id=1, iscrowd=0,
                                 bbox=[x0, y0, bw, bh], area=float(bw * bh), num_keypoints=17, keypoints=kpts))
        cats = [dict(id=1, name='person', supercategory='person', keypoints=COCO_KEYPOINTS,
                     skeleton=[[16, 14], [14, 12], [17, 15], [15, 13], [12, 13], [6, 12], [7, 13], [6, 7], [6, 8],
                               [7, 9], [8, 10], [9, 11], [2, 3], [1, 2], [1, 3], [2, 4], [3, 5], [4, 6], [5, 7]])]
        (root / 'annotations' / f'person_keypoints_{split}.json').write_text(
            json.dumps(dict(images=images, annotations=anns, categories=cats)))
    return root


def _xml(filename, w, h, objects):
    objs = ''.join(
        f'<object><name>{name}</name><pose>Unspecified</pose><truncated>0</truncated><difficult>0</difficult>'
        f'<bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin><xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox></object>'
        for name, (x1, y1, x2, y2) in objects)
    return (f'<annotation><folder>VOC</folder><filename>{filename}</filename><size><width>{w}</width>'
            f'<height>{h}</height><depth>3</depth></size>{objs}</annotation>')


def make_voc(root: Path, per_split: int = 2) -> Path:
    """A VOCdevkit with VOC2007 (trainval, test) and VOC2012 (trainval): JPEGs, XML, ImageSets."""
    rng = np.random.default_rng(0)
    classes = ['dog', 'cat', 'person', 'car']
    for year, splits in ((2007, ('trainval', 'test')), (2012, ('trainval',))):
        base = root / f'VOC{year}'
        for sub in ('JPEGImages', 'Annotations', 'ImageSets/Main'):
            (base / sub).mkdir(parents=True, exist_ok=True)
        for split in splits:
            ids = []
            for k in range(per_split):
                img_id = f'{year}_{split}_{k:04d}'
                w, h = 128, 96
                Image.fromarray(rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)).save(base / 'JPEGImages' / f'{img_id}.jpg')
                objs = [(classes[k % 4], (10, 8, 90, 80)), (classes[(k + 1) % 4], (40, 20, 120, 90))]
                (base / 'Annotations' / f'{img_id}.xml').write_text(_xml(f'{img_id}.jpg', w, h, objs))
                ids.append(img_id)
            (base / 'ImageSets/Main' / f'{split}.txt').write_text('\n'.join(ids) + '\n')
    return root
