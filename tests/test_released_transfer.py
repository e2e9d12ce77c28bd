"""The authors' 18 released transfer models: files in their key layout (seeded random weights) convert
into our configs, load strictly, give the authors' raw outputs, and OpenMMLab's own tools/test.py gives the
authors' predictions (tests/released_models.py holds the authors' test paths)."""
import json
import math
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.mm  # the OpenMMLab stack: make mm (make test installs it)
pytest.importorskip('mmengine', reason='the OpenMMLab stack is not installed (make mm)')

from mm_helpers import ROOT, make_voc, run
from released_models import (BACKBONES, TASKS, affine_matrix, bisenet_windows, released_state, simplebaseline_box,
                             simplebaseline_decode, ssd_predict)

from relnas_zoo.mm.models import build_transfer_model, load_transfer_config
from relnas_zoo.mm.released import config_for, convert_released_file, read_released_file
from relnas_zoo.mm.released_reference import bisenet_logits, simplebaseline_heatmaps, ssdlite_outputs

CASES = [(t, b) for t in TASKS for b in BACKBONES]
TESTS = str(Path(__file__).resolve().parent)


def _save(sd, path, fmt):
    """The file forms the authors' code writes: a plain state dict (SSDLite, BiSeNet, model_best.pth.tar),
    SimpleBaseline's checkpoint.pth.tar (under state_dict, with epoch, score and optimizer), DataParallel keys."""
    if fmt == 'wrapped':
        obj = dict(epoch=140, model='pose_net', state_dict=sd, perf=np.float64(0.71), optimizer=dict(state={}))
    elif fmt == 'module':
        obj = {f'module.{k}': v for k, v in sd.items()}
    else:
        obj = sd
    torch.save(obj, path)
    return path


def _convert(tmp_path, task, backbone, fmt='plain', seed=0):
    src = _save(released_state(task, backbone, seed), tmp_path / f'{task}_{backbone}.pth', fmt)
    dst = tmp_path / f'{task}_{backbone}_mm.pth'
    report = convert_released_file(str(src), str(dst), config_for(task, backbone))
    return src, dst, report


def _loaded_model(config, checkpoint):
    from mmengine.runner import load_checkpoint
    from relnas_zoo.mm.runtime import allow_mmengine_checkpoints
    model = build_transfer_model(load_transfer_config(config))
    with allow_mmengine_checkpoints():
        load_checkpoint(model, str(checkpoint), map_location='cpu', strict=True, logger='silent')
    return model.eval()


@pytest.mark.parametrize('task,backbone', CASES)
def test_every_released_model_converts_and_gives_the_authors_outputs(tmp_path, task, backbone):
    fmt = ('plain', 'wrapped', 'module')[CASES.index((task, backbone)) % 3]
    src, dst, report = _convert(tmp_path, task, backbone, fmt)
    assert (report['task'], report['backbone']) == (task, backbone)
    assert report['max_abs_diff'] < 1e-5 * max(1., report['output_scale']), report
    assert report['output_scale'] > 1e-2  # the compared outputs are not all zeros
    model = _loaded_model(config_for(task, backbone), dst)  # mmengine's loader, strict
    assert sum(p.numel() for p in model.parameters()) > 1e6


def test_conversion_compares_real_outputs():
    """A wrong head key, a lost background shift or a plain BN where the authors' ABN is would show."""
    from relnas_zoo.mm.released import convert_released
    from relnas_zoo.mm.released_reference import compare_converted
    source = released_state('ssdlite', 'mobilenetv2')
    model = build_transfer_model(load_transfer_config(config_for('ssdlite', 'mobilenetv2')))
    state = convert_released(source, model, 'x')
    state['bbox_head.cls_convs.0.1.weight'] = torch.roll(state['bbox_head.cls_convs.0.1.weight'], 1, 0)
    model.load_state_dict(state)
    assert compare_converted('ssdlite', source, model)['max_abs_diff'] > 1e-2
    source = released_state('bisenet', 'mobilenetv2')
    model = build_transfer_model(load_transfer_config(config_for('bisenet', 'mobilenetv2')))
    model.load_state_dict(convert_released(source, model, 'x'))
    assert compare_converted('bisenet', source, model)['max_abs_diff'] < 1e-5
    model.backbone.spatial_path.layer1.bn.forward = torch.nn.BatchNorm2d.forward.__get__(
        model.backbone.spatial_path.layer1.bn)  # a plain BN: negative scales differ
    assert compare_converted('bisenet', source, model)['max_abs_diff'] > 1e-3


def _cli(*argv):
    from relnas_zoo.cli import main
    return main(['convert', *map(str, argv)])


def test_a_file_that_does_not_fit_is_refused_in_one_line(tmp_path, capsys):
    darts = _save(released_state('ssdlite', 'darts'), tmp_path / 'darts.pth', 'plain')
    assert _cli(darts, tmp_path / 'out.pth', '--config', 'ssdlite_voc') == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and 'ssdlite_voc has a relativenas backbone' in err
    assert '--config comparison/ssdlite_darts_voc' in err and not (tmp_path / 'out.pth').exists()
    assert _cli(darts, tmp_path / 'out.pth', '--config', 'bisenet_cityscapes') == 2
    assert 'bisenet_cityscapes builds a bisenet model' in capsys.readouterr().err
    cut = released_state('simplebaseline', 'shufflenetv2')
    del cut['final_layer.bias']
    cut['deconv_layers.3.weight'] = cut['deconv_layers.3.weight'][:, :128]
    path = _save(cut, tmp_path / 'cut.pth', 'plain')
    assert _cli(path, tmp_path / 'out.pth', '--config', 'comparison/simplebaseline_shufflenetv2_coco') == 2
    err = capsys.readouterr().err
    assert 'head.deconv_layers.3.weight: file (256, 128, 4, 4) vs model (256, 256, 4, 4)' in err, err
    extra = released_state('ssdlite', 'mobilenetv2')
    extra['base_net.features.19.0.weight'] = torch.zeros(1)  # a module MobileNet-V2 does not have
    path = _save(extra, tmp_path / 'extra.pth', 'plain')
    assert _cli(path, tmp_path / 'out.pth', '--config', 'comparison/ssdlite_mobilenetv2_voc') == 2
    assert "backbone key features.19.0.weight is not one of mobilenet_v2's" in capsys.readouterr().err
    torch.save({'weights': torch.zeros(3)}, tmp_path / 'other.pth')
    assert _cli(tmp_path / 'other.pth', tmp_path / 'out.pth', '--config', 'ssdlite_voc') == 2
    assert 'none of the released transfer models' in capsys.readouterr().err
    assert _cli(darts, tmp_path / 'out.pth', '--config', 'ssdlite_vocc') == 2
    err = capsys.readouterr().err
    assert "no transfer config 'ssdlite_vocc'" in err and 'comparison/ssdlite_darts_voc' in err
    assert _cli(darts, tmp_path / 'out.pth', '--config', 'ssdlite_voc', '--genotype', 'DARTS_V2') == 2
    assert 'drop them' in capsys.readouterr().err


def test_cli_converts_and_reports_the_difference(tmp_path, capsys):
    src = _save(released_state('simplebaseline', 'relativenas'), tmp_path / 'model_best.pth.tar', 'plain')
    assert _cli(src, tmp_path / 'sb.pth', '--config', ROOT / 'transfer/simplebaseline_coco.py') == 0
    out = capsys.readouterr().out
    assert 'a released simplebaseline model with a relativenas backbone' in out
    diff = float(out.split('differ by at most ')[1].split()[0])
    assert diff < 1e-5 and 'tools/test.py' in out
    ckpt = torch.load(tmp_path / 'sb.pth', weights_only=True)
    assert ckpt['meta']['released_layout'] == 'simplebaseline/relativenas'
    assert len(read_released_file(str(src))) == len(released_state('simplebaseline', 'relativenas'))


# ----- OpenMMLab's own test entry point gives the authors' predictions -----

def _tools_test(config, checkpoint, out, work, opts):
    """OpenMMLab's test entry point on ``config``, through a config of the user's that inherits it and
    swaps the metric for a JSON dump of the predictions (tests/prediction_dump.py)."""
    derived = Path(work).parent / 'dump_predictions.py'
    derived.write_text(f"_base_ = [{str(ROOT / 'transfer' / f'{config}.py')!r}]\n"
                       "custom_imports = dict(imports=['relnas_zoo.mm', 'prediction_dump'], allow_failed_imports=False)\n"
                       f"test_evaluator = dict(_delete_=True, type='PredictionDump', out={str(out)!r})\n")
    env = dict(os.environ, OMP_NUM_THREADS='2', PYTHONPATH=os.pathsep.join([TESTS, str(ROOT)]))
    run([sys.executable, str(ROOT / 'tools/test.py'), str(derived), str(checkpoint), '--work-dir', str(work),
         '--cfg-options', 'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False',
         'test_dataloader.batch_size=1', *opts], env=env)
    return json.loads(Path(out).read_text())


def _released_through_tools_test(tmp_path, task, backbone, seed, fmt, opts):
    """(the released file's state dict, tools/test.py's predictions, the converted model) for a file in
    the released layout, converted for its config."""
    source = released_state(task, backbone, seed)
    src = _save(source, tmp_path / 'released.pth', fmt)
    config = config_for(task, backbone)
    convert_released_file(str(src), str(tmp_path / 'converted.pth'), config)
    preds = _tools_test(config, tmp_path / 'converted.pth', tmp_path / 'preds.json', tmp_path / 'work', opts)
    return source, preds, _loaded_model(config, tmp_path / 'converted.pth')


def _same_detections(labels, scores, boxes, ref_labels, ref_scores, ref_boxes):
    """The same detections in any order: per class, each box matched one to one with a reference box
    within 1e-3 px and its score within 1e-5 (equal scores may come in either order)."""
    assert len(labels) == len(ref_labels) > 200
    for c in np.unique(ref_labels):
        ours, ref = np.flatnonzero(labels == c), np.flatnonzero(ref_labels == c)
        assert len(ours) == len(ref), c
        dist = np.abs(boxes[ours][:, None] - ref_boxes[ref][None]).max(-1)
        match = dist.argmin(1)
        assert len(set(match.tolist())) == len(ours) and dist[np.arange(len(ours)), match].max() < 1e-3, c
        np.testing.assert_allclose(scores[ours], ref_scores[ref][match], atol=1e-5)


@pytest.mark.parametrize('backbone', BACKBONES)
def test_ssdlite_predictions_are_the_authors(tmp_path, backbone):
    import cv2
    voc = make_voc(tmp_path / 'VOCdevkit')
    source, preds, model = _released_through_tools_test(tmp_path, 'ssdlite', backbone, 3, 'plain',
                                                        [f'test_dataloader.dataset.data_root={voc}/'])
    crowded = 0
    for p in preds:
        image = cv2.cvtColor(cv2.imread(str(voc / 'VOC2007/JPEGImages' / p['img_path'])), cv2.COLOR_BGR2RGB)
        h, w = image.shape[:2]
        x = torch.from_numpy((cv2.resize(image, (320, 320)).astype(np.float32) - 127) / 128).permute(2, 0, 1)[None]
        with torch.no_grad():
            logits, deltas = ssdlite_outputs(source, model.backbone(x))
        crowded = max(crowded, int((logits[0].softmax(-1)[:, 1:] > 0.01).sum(0).max()))
        boxes, labels, scores = ssd_predict(logits[0], deltas[0], w, h)
        _same_detections(np.array(p['labels']), np.array(p['scores']), np.array(p['bboxes']).reshape(-1, 4),
                         (labels - 1).numpy(), scores.numpy(), boxes.numpy())
    assert crowded > 200  # a class had more candidates than the 200 kept before NMS


def _cityscapes_frame(root: Path, h: int = 1024, w: int = 2048) -> Path:
    """One val frame, by default of Cityscapes' size (2048x1024), so that the 1024x1024 windows overlap."""
    from PIL import Image
    rng = np.random.default_rng(1)
    img_dir, gt_dir = root / 'leftImg8bit/val/frankfurt', root / 'gtFine/val/frankfurt'
    img_dir.mkdir(parents=True)
    gt_dir.mkdir(parents=True)
    image = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    Image.fromarray(image).save(img_dir / 'frankfurt_000000_000019_leftImg8bit.png')
    Image.fromarray(rng.integers(0, 19, size=(h, w)).astype(np.uint8)).save(
        gt_dir / 'frankfurt_000000_000019_gtFine_labelTrainIds.png')
    return img_dir / 'frankfurt_000000_000019_leftImg8bit.png'


def _bisenet_through_tools_test(tmp_path, backbone, crop, frame_size):
    """(tools/test.py's label map, the authors' sliding-window test's, the frame and a logits function)."""
    from PIL import Image
    frame = _cityscapes_frame(tmp_path / 'cityscapes', *frame_size)
    stride = math.ceil(crop * 5 / 6)
    source, preds, model = _released_through_tools_test(
        tmp_path, 'bisenet', backbone, 4, 'module',
        [f'test_dataloader.dataset.data_root={tmp_path / "cityscapes"}/', f'model.test_cfg.crop_size=({crop},{crop})',
         f'model.test_cfg.stride=({stride},{stride})',
         f'test_dataloader.dataset.pipeline.1.scale=({frame_size[1]},{frame_size[0]})'])  # the frame as it is
    mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
    image = (torch.from_numpy(np.asarray(Image.open(frame).convert('RGB'))).float() / 255 - mean) / std
    image = image.permute(2, 0, 1)[None]

    def logits(x):
        with torch.no_grad():
            feats = model.backbone.context_path.backbone(x)
            return bisenet_logits(source, x, feats[-2], feats[-1])
    return torch.tensor(preds[0]['label_map']), bisenet_windows(logits, image, crop), image, logits


def test_bisenet_label_maps_are_the_authors(tmp_path):
    """A Cityscapes-size frame through the config's own 1024x1024 windows at stride 854."""
    ours, ref, image, logits = _bisenet_through_tools_test(tmp_path, 'mobilenetv2', 1024, (1024, 2048))
    assert ours.shape == ref.shape == (1024, 2048)
    # windows at 0, 854 and 1024: columns 854-2047 are seen twice; both tests agree everywhere
    assert (ours == ref).float().mean().item() > 0.99999, (ours != ref).sum()
    # ... where averaging the logits would not: the combination matters on this input
    with torch.no_grad():
        mean_logits = torch.zeros(1, 19, 1024, 2048)
        count = torch.zeros(1, 1, 1024, 2048)
        for x0 in (0, 854, 1024):
            mean_logits[..., x0:x0 + 1024] += logits(image[..., x0:x0 + 1024])
            count[..., x0:x0 + 1024] += 1
    assert ((mean_logits / count).argmax(1)[0] != ref).any()


@pytest.mark.parametrize('backbone', [b for b in BACKBONES if b != 'mobilenetv2'])
def test_bisenet_label_maps_are_the_authors_for_every_backbone(tmp_path, backbone):
    """The same test at a quarter of the size (256x256 windows at stride 214 over a 512x256 frame: three
    overlapping windows), for the other backbones."""
    ours, ref, _, _ = _bisenet_through_tools_test(tmp_path, backbone, 256, (256, 512))
    assert ours.shape == ref.shape == (256, 512)
    assert (ours == ref).float().mean().item() > 0.9999, (ours != ref).sum()


def _coco_with_border_boxes(root: Path) -> Path:
    """val2017 with persons whose boxes have fractional corners and touch the image border."""
    from PIL import Image
    from mm_helpers import COCO_KEYPOINTS
    rng = np.random.default_rng(2)
    (root / 'annotations').mkdir(parents=True)
    (root / 'val2017').mkdir()
    Image.fromarray(rng.integers(0, 256, size=(120, 150, 3), dtype=np.uint8)).save(root / 'val2017/000000000001.jpg')
    boxes = [[5.5, 8.25, 60.3, 90.9], [100.2, 20.0, 49.8, 100.0], [0.0, 0.0, 150.0, 120.0]]
    anns = [dict(id=k + 1, image_id=1, category_id=1, iscrowd=0, bbox=b, area=b[2] * b[3], num_keypoints=17,
                 keypoints=[v for j in range(17) for v in (b[0] + 2 + j, b[1] + 3 + 2 * j, 2)])
            for k, b in enumerate(boxes)]
    cats = [dict(id=1, name='person', keypoints=COCO_KEYPOINTS, skeleton=[[16, 14], [14, 12]])]
    (root / 'annotations/person_keypoints_val2017.json').write_text(json.dumps(dict(
        images=[dict(id=1, file_name='000000000001.jpg', width=150, height=120)], annotations=anns, categories=cats)))
    return root


@pytest.mark.parametrize('backbone', BACKBONES)
def test_simplebaseline_keypoints_are_the_authors(tmp_path, backbone):
    import cv2
    coco = _coco_with_border_boxes(tmp_path / 'coco')
    ann = coco / 'annotations/person_keypoints_val2017.json'
    source, preds, model = _released_through_tools_test(
        tmp_path, 'simplebaseline', backbone, 5, 'wrapped',
        [f'test_dataloader.dataset.data_root={coco}/', f'test_dataloader.dataset.ann_file={ann}'])
    image = cv2.imread(str(coco / 'val2017/000000000001.jpg'))  # BGR, normalised with the RGB constants
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    flip_pairs = [(1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16)]
    anns = {a['id']: a for a in json.loads(ann.read_text())['annotations']}
    assert sorted(p['id'] for p in preds) == [1, 2, 3]  # one sample per person box, as mmpose's top-down
    for p in preds:
        inst = p['keypoints'][0]
        center, scale = simplebaseline_box(anns[p['id']]['bbox'], 150, 120)
        np.testing.assert_allclose(p['bboxes'][0][2:], center + (center - p['bboxes'][0][:2]), atol=1e-4)
        crop = cv2.warpAffine(image, affine_matrix(center, scale, (192, 256)), (192, 256), flags=cv2.INTER_LINEAR)
        x = torch.from_numpy(((crop / 255. - mean) / std).astype(np.float32)).permute(2, 0, 1)[None]
        with torch.no_grad():
            heat = simplebaseline_heatmaps(source, model.backbone(x)[-1])
            flipped = simplebaseline_heatmaps(source, model.backbone(x.flip(3))[-1]).flip(3)
        for a, b in flip_pairs:
            flipped[:, [a, b]] = flipped[:, [b, a]]
        flipped[..., 1:] = flipped[..., :-1].clone()
        heat = ((heat + flipped) * 0.5)[0].numpy()
        np.testing.assert_allclose(np.array(inst), simplebaseline_decode(heat, center, scale), atol=2e-3)


def test_simplebaseline_decoding_at_the_heatmap_border():
    """The codec shifts by a quarter pixel only inside the heatmap on both axes; a non-positive maximum
    sits at (0, 0): mmpose's MSRAHeatmap differs on each of these joints."""
    from mmpose.codecs import MSRAHeatmap
    from relnas_zoo.mm.pose import SimpleBaselineHeatmap
    args = dict(input_size=(192, 256), heatmap_size=(48, 64), sigma=2)
    heat = np.random.default_rng(0).random((6, 64, 48)).astype(np.float32) * 0.1
    for j, (x, y) in enumerate([(1, 30), (47, 30), (20, 1), (20, 63), (0, 0)]):
        heat[j, y, x] = 1.  # on the border in one axis (joints 0-3), in a corner (4)
    heat[5] -= 1.  # every value negative
    # heatmap pixels to input pixels: the box centre (96, 128), its size (192, 256) the input's
    theirs = simplebaseline_decode(heat, center=(96, 128), scale_px=(192, 256))
    ours, scores = SimpleBaselineHeatmap(**args).decode(heat)
    np.testing.assert_allclose(ours[0], theirs, atol=1e-4)
    mmpose, _ = MSRAHeatmap(**args).decode(heat)
    differs = np.flatnonzero(np.abs(mmpose[0] - theirs).max(1) > 0.5)
    assert differs.tolist() == [0, 1, 2, 3, 5]  # mmpose shifts along the inner axis; puts joint 5 at -1


def test_voc_ap_is_the_authors_on_a_hand_computed_set():
    """Two images, two classes. Class 0: three non-difficult boxes and a difficult one; detections (score
    order) TP, duplicate FP, a hit on the difficult box (ignored), IoU exactly 0.5 (a miss here, a hit in
    mmdet), TP: precision 1, 1/2, 1/3, 2/4 at recall 1/3, 1/3, 1/3, 2/3 (the ignored one counts for
    nothing) -> 11-point AP = (4 * 1 + 3 * 0.5) / 11.
    Class 1: one box, one hit -> AP 1. mAP = (5.5 / 11 + 1) / 2."""
    from relnas_zoo.mm.voc_metric import plain_iou_map
    gts = [dict(bboxes=np.array([[0, 0, 10, 10], [20, 20, 30, 30]], float), labels=np.array([0, 0]),
                bboxes_ignore=np.array([[50, 50, 60, 60]], float), labels_ignore=np.array([0])),
           dict(bboxes=np.array([[0, 0, 20, 10], [5, 5, 15, 15]], float), labels=np.array([0, 1]),
                bboxes_ignore=np.zeros((0, 4)), labels_ignore=np.zeros(0, int))]
    dets = [[np.array([[0, 0, 10, 10, .9], [0, 0, 10, 10, .8], [50, 50, 60, 60, .7], [20, 20, 30, 40, .6]]),
             np.zeros((0, 5))],
            [np.array([[0, 0, 20, 10, .5]]), np.array([[5, 5, 15, 15, .9]])]]
    mean_ap, aps = plain_iou_map(dets, gts, 2)
    assert aps[0] == pytest.approx((4 * 1 + 3 * 0.5) / 11) and aps[1] == pytest.approx(1.)
    assert mean_ap == pytest.approx((5.5 / 11 + 1) / 2)
    # mmdet's legacy IoU ((11*11) / (11*21) = 0.524 >= 0.5) counts the fourth detection as a hit
    from mmdet.evaluation.functional import eval_map
    mmdet_ap, _ = eval_map([[d[0], d[1]] for d in dets], [dict(gts[0]), dict(gts[1])], iou_thr=0.5,
                           eval_mode='11points', use_legacy_coordinate=True, logger='silent')
    assert mmdet_ap > mean_ap + 0.05
