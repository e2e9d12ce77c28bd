"""tools/: ImageNet LMDB building and reading, distributed training, resume, validation."""
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from relnas_zoo.data.lmdb import (BuildError, DatabaseError, ImageNetLMDB, build_lmdb, scan_class_folders,
                                  scan_flat_with_labels, verify_lmdb)
from relnas_zoo.train import TrainConfig, load_train_config

from datasets import write_cifar, write_imagenet

ROOT = Path(__file__).resolve().parents[1]
WNIDS = ['n01530575', 'n01440764', 'n02102040']  # deliberately not in sorted order on disk creation


@pytest.fixture(scope='module')
def imagenet(tmp_path_factory):
    return write_imagenet(tmp_path_factory.mktemp('ilsvrc'), WNIDS)


def _env():
    return dict(os.environ, OMP_NUM_THREADS='1', PYTHONUNBUFFERED='1')


# ------------------------------------------------------------------------------------------------ LMDB
def test_build_resume_verify_and_read(imagenet, tmp_path):
    source = scan_class_folders(imagenet / 'train')
    assert source.classes == sorted(WNIDS)
    out = tmp_path / 'train_lmdb'
    meta = build_lmdb(source, out, 'train', workers=2, commit_every=3, progress=False, stop_after=7)
    assert not meta['complete'] and meta['next_source'] == 7
    with pytest.raises(DatabaseError, match='incomplete'):
        ImageNetLMDB(out)
    meta = build_lmdb(source, out, 'train', workers=2, commit_every=3, progress=False)  # resumes
    assert meta['complete'] and meta['num_records'] == 12 and meta['next_source'] == 12
    checked = verify_lmdb(out, full=True, compare_root=imagenet / 'train', progress=False)
    assert checked['checked'] == 12
    ds = ImageNetLMDB(out)
    assert len(ds) == 12 and ds.classes == sorted(WNIDS)
    for i in range(12):  # bytes unchanged, labels follow the sorted wnids, no duplicates
        label, rel, data = ds.raw(i)
        assert data == (imagenet / 'train' / rel).read_bytes()
        assert sorted(WNIDS)[label] == rel.split('/')[0]
    assert sorted(ds.raw(i)[1] for i in range(12)) == sorted(p for p, _ in source.items)
    img, label = ds[0]
    assert img.size == (40, 40) and label == 0
    ds.close()
    # again on a complete database: nothing to do
    assert build_lmdb(source, out, 'train', workers=1, progress=False)['num_records'] == 12


def test_dataset_in_dataloader_workers_with_distributed_sampler(imagenet, tmp_path):
    from torch.utils.data import DataLoader, DistributedSampler
    from torchvision import transforms as T
    out = tmp_path / 'lmdb'
    build_lmdb(scan_class_folders(imagenet / 'train'), out, 'train', workers=1, progress=False)
    ds = ImageNetLMDB(out, T.Compose([T.Resize((32, 32)), T.ToTensor()]))
    seen = []
    for rank in range(2):
        sampler = DistributedSampler(ds, num_replicas=2, rank=rank, shuffle=True, seed=0)
        loader = DataLoader(ds, batch_size=4, sampler=sampler, num_workers=2)
        for x, y in loader:
            assert x.shape[1:] == (3, 32, 32)
            seen += y.tolist()
    assert len(seen) == 12 and sorted(seen) == sorted([0, 1, 2] * 4)


def test_val_flat_with_loc_csv(imagenet, tmp_path):
    classes = scan_class_folders(imagenet / 'train').classes
    source = scan_flat_with_labels(imagenet / 'val', imagenet / 'LOC_val_solution.csv', classes)
    meta = build_lmdb(source, tmp_path / 'val', 'val', workers=1, progress=False)
    ds = ImageNetLMDB(tmp_path / 'val')
    assert meta['num_records'] == 6
    for i in range(6):
        label, rel, _ = ds.raw(i)
        k = int(Path(rel).stem.split('_')[-1])
        assert classes[label] == (WNIDS * 2)[k]
    folders = scan_class_folders(imagenet / 'val_folders', classes=classes)
    assert [l for _, l in folders.items] == [0, 1, 2]


def test_corrupt_image_skipped_or_fatal(imagenet, tmp_path):
    bad_root = tmp_path / 'train'
    import shutil
    shutil.copytree(imagenet / 'train', bad_root)
    bad = bad_root / WNIDS[0] / 'broken.JPEG'
    bad.write_bytes(b'\xff\xd8 not really a jpeg')
    source = scan_class_folders(bad_root)
    with pytest.raises(BuildError, match=f'unreadable image .*{bad.name}'):
        build_lmdb(source, tmp_path / 'fatal', 'train', workers=1, on_error='fail', progress=False)
    meta = build_lmdb(source, tmp_path / 'skip', 'train', workers=2, progress=False)
    assert meta['num_records'] == 12 and meta['skipped'] == [f'{WNIDS[0]}/broken.JPEG']


def test_stray_folders_are_not_classes(imagenet, tmp_path, caplog):
    """lost+found/, .Trash-1000/ and stray files under train/ must not become classes 0 and 1."""
    import shutil
    root = tmp_path / 'train'
    shutil.copytree(imagenet / 'train', root)
    (root / 'lost+found').mkdir()
    (root / '.Trash-1000' / 'files').mkdir(parents=True)
    (root / '.Trash-1000' / 'files' / 'deleted.JPEG').write_bytes((root / WNIDS[0] / f'{WNIDS[0]}_0.JPEG').read_bytes())
    (root / 'README.txt').write_text('notes')
    with caplog.at_level('WARNING'):
        source = scan_class_folders(root)
    assert source.classes == sorted(WNIDS)                       # labels as on a clean disk
    assert source.items == scan_class_folders(imagenet / 'train').items
    assert not any('Trash' in p or 'lost' in p for p, _ in source.items)
    warning = [r.message for r in caplog.records if 'skipping' in r.message]
    assert len(warning) == 1 and 'lost+found/' in warning[0] and '.Trash-1000/' in warning[0] and 'README.txt' in warning[0]
    with pytest.raises(BuildError, match='--num-classes 3'):
        scan_class_folders(root, expected_classes=1000)


def test_resize_option_shrinks(imagenet, tmp_path):
    source = scan_class_folders(imagenet / 'train')
    build_lmdb(source, tmp_path / 'small', 'train', workers=1, resize=32, progress=False)
    img, _ = ImageNetLMDB(tmp_path / 'small')[11]
    assert min(img.size) == 32


# ------------------------------------------------------------------------------------------------ training
def test_train_configs_hold_the_paper_recipes():
    c10 = load_train_config(ROOT / 'configs/train/cifar10.yaml')
    assert (c10.epochs, c10.batch_size, c10.lr, c10.weight_decay, c10.cutout, c10.drop_path, c10.auxiliary_weight,
            c10.grad_clip) == (600, 128, 0.025, 3e-4, 16, 0.2, 0.4, 5.0)
    c100 = load_train_config(ROOT / 'configs/train/cifar100.yaml')
    assert (c100.batch_size, c100.weight_decay) == (96, 5e-4)
    im = load_train_config(ROOT / 'configs/train/imagenet.yaml')
    assert (im.batch_size, im.epochs, im.lr, im.weight_decay, im.warmup_epochs, im.lr_min, im.label_smoothing,
            im.auxiliary_weight) == (1024, 250, 0.5, 3e-5, 5, 1e-5, 0.1, 0.4)
    assert im.grad_clip == 0.0            # the authors' ImageNet config does not clip
    assert im.eval_amp == 'none' and im.amp == 'none' and not im.channels_last   # the fastest on an H100
    # warm-up rises linearly to 0.5 over 5 epochs, then decays linearly to 1e-5
    spe = 10
    lrs = [im.lr * im.lr_factor(s, spe) for s in range(250 * spe)]
    assert abs(lrs[spe * 5 - 1] - 0.5) < 1e-9 and lrs[0] == pytest.approx(0.5 / 50)
    assert lrs[-1] == pytest.approx(0.5 - (0.5 - 1e-5) * 2449 / 2450, rel=1e-12)   # one step before the end
    assert im.lr * im.lr_factor(250 * spe, spe) == pytest.approx(1e-5, rel=1e-9)    # reaches lr_min at the end
    assert all(a > b for a, b in zip(lrs[50:], lrs[51:]))


CIFAR_TINY = ['model=relativenas_cifar10', 'C=4', 'layers=3', 'batch_size=16', 'eval_batch_size=16', 'cutout=8',
              'workers=0', 'log_every=2', 'tensorboard=false']


def _train_cmd(script, *args, nproc=None, port=29531):
    base = [sys.executable] + (['-m', 'torch.distributed.run', '--nproc_per_node', str(nproc), '--master_port',
                                str(port)] if nproc else [])
    return base + [str(ROOT / 'tools' / script), '--no-progress', *args]


def _sets(items):
    return [a for it in items for a in ('--set', it)]


def _kill_after_first_epoch(cmd, run, epochs=3):
    """Start a 3-epoch run, SIGKILL its whole process group once last.pth holds a finished epoch."""
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.time() + 300
    while time.time() < deadline:
        if (run / 'last.pth').exists() and torch.load(run / 'last.pth', weights_only=True)['epoch'] >= 1:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert torch.load(run / 'last.pth', weights_only=True)['epoch'] < epochs, 'the run finished before it was killed'


@pytest.mark.slow
def test_cifar_ddp_training_kill_resume_and_validate(tmp_path):
    data = write_cifar(tmp_path / 'cifar', per_batch=16)
    args = ['--config', str(ROOT / 'configs/train/cifar10.yaml'), '--data', str(data), *_sets(CIFAR_TINY + ['epochs=3'])]
    ref = tmp_path / 'ref'
    r = subprocess.run(_train_cmd('train_cifar.py', '--out', str(ref), *args, nproc=2, port=29531),
                       capture_output=True, text=True, env=_env(), timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    logs = [json.loads(l) for l in (ref / 'log.jsonl').read_text().splitlines()]
    vals = [l for l in logs if l['split'] == 'val']
    assert len(vals) == 3 and all(v['images'] == 16 for v in vals)  # every test image once, over 2 ranks
    assert (ref / 'final.pth').exists() and (ref / 'best_on_test.pth').exists()
    # the result is the final epoch, not the best of the test evaluations
    result = [l for l in logs if l['split'] == 'result']
    assert len(result) == 1 and result[0]['epoch'] == 2 and result[0]['top1'] == vals[-1]['top1']
    assert result[0]['precision'] == 'fp32'
    assert f"result (final epoch 2, fp32): top-1 error {100 - vals[-1]['top1']:.2f}%" in r.stdout
    assert 'selected on the' in r.stdout and 'not a test error' in r.stdout
    saved = (ref / 'config.yaml').read_text()
    assert 'cutout' in saved and 'color_jitter' not in saved and 'workers' not in saved  # only what applies

    run = tmp_path / 'killed'
    _kill_after_first_epoch(_train_cmd('train_cifar.py', '--out', str(run), *args, nproc=2, port=29532), run)
    r = subprocess.run(_train_cmd('train_cifar.py', '--out', str(run), '--resume', nproc=2, port=29533),
                       capture_output=True, text=True, env=_env(), timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    a = torch.load(ref / 'last.pth', weights_only=True)['model']
    b = torch.load(run / 'last.pth', weights_only=True)['model']
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)

    r = subprocess.run([sys.executable, str(ROOT / 'tools/validate.py'), '--model', 'relativenas_cifar10',
                        '--checkpoint', str(ref / 'final.pth'), '--data', str(data), '--json'],
                       capture_output=True, text=True, env=_env())
    assert r.returncode == 0, r.stderr
    rec = json.loads(r.stdout.strip().splitlines()[-1])
    assert rec['images'] == 16 and rec['top1'] == pytest.approx(vals[-1]['top1'])
    assert rec['loss'] == pytest.approx(vals[-1]['loss'], rel=1e-6)   # BN statistics synced: the saved weights


def _imagenet_lmdbs(imagenet, lm):
    classes = scan_class_folders(imagenet / 'train').classes
    build_lmdb(scan_class_folders(imagenet / 'train'), lm / 'train', 'train', workers=1, progress=False)
    build_lmdb(scan_flat_with_labels(imagenet / 'val', imagenet / 'LOC_val_solution.csv', classes), lm / 'val', 'val',
               workers=1, progress=False)
    return lm


def test_imagenet_training_on_lmdb_and_validate(imagenet, tmp_path):
    lm = _imagenet_lmdbs(imagenet, tmp_path / 'lmdb')
    out = tmp_path / 'in'
    sets = ['C=4', 'layers=3', 'warmup_epochs=0', 'batch_size=4', 'eval_batch_size=4', 'epochs=1', 'workers=2', 'amp=none',
            'channels_last=false', 'tensorboard=false', 'ema_decay=0.9']
    r = subprocess.run(_train_cmd('train_imagenet.py', '--data', str(lm), '--out', str(out), *_sets(sets)),
                       capture_output=True, text=True, env=_env(), timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    logs = [json.loads(l) for l in (out / 'log.jsonl').read_text().splitlines()]
    assert {l['split'] for l in logs} >= {'train', 'val', 'val_ema'}
    assert [l['images'] for l in logs if l['split'] == 'val'] == [6]
    saved = (out / 'config.yaml').read_text()
    assert 'color_jitter' in saved and 'cutout' not in saved
    r = subprocess.run([sys.executable, str(ROOT / 'tools/validate.py'), '--model', 'relativenas', '--checkpoint',
                        str(out / 'final.pth'), '--data', str(lm / 'val'), '--workers', '0'],
                       capture_output=True, text=True, env=_env())
    assert r.returncode == 0, r.stderr
    assert 'top-1 error' in r.stdout and 'on 6 images' in r.stdout


def test_task_chooses_its_recipe(tmp_path, capsys):
    """--set task=cifar100 without --config trains CIFAR-100's recipe, not CIFAR-10's with another label set."""
    from relnas_zoo.train.cli import resolve_config
    cfg = resolve_config(None, str(ROOT / 'configs/train/cifar10.yaml'), ['task=cifar100', 'data=x'])
    assert (cfg.task, cfg.model, cfg.batch_size, cfg.weight_decay) == ('cifar100', 'relativenas_cifar100', 96, 5e-4)
    cfg = resolve_config(None, str(ROOT / 'configs/train/cifar10.yaml'), ['task=cifar100', 'batch_size=64'])
    assert cfg.batch_size == 64                                    # an explicit override still wins
    from relnas_zoo.cli import run_command
    from relnas_zoo.train.config import recipe_path
    code = run_command('train', ['--out', str(tmp_path / 'm'), '--data', 'x', '--config',
                                 str(ROOT / 'configs/train/cifar10.yaml'), '--set', 'task=cifar100'],
                       default_config=recipe_path('cifar10'))
    err = capsys.readouterr().err
    assert code == 2 and 'cifar100.yaml' in err and 'does not match' in err


# ------------------------------------------------------------------------------------------ class order
@pytest.fixture(scope='module')
def colour_classes(tmp_path_factory):
    """Three classes that a tiny network learns at once (solid red/green/blue), as JPEG class folders,
    and a checkpoint of such a network trained on them."""
    from relnas_zoo.networks import RelativeNASNet
    from relnas_zoo.weights import save_checkpoint
    root = tmp_path_factory.mktemp('colours')
    rng = np.random.default_rng(0)
    colours = {WNIDS[1]: (220, 30, 30), WNIDS[0]: (30, 220, 30), WNIDS[2]: (30, 30, 220)}  # sorted: 1, 0, 2
    for wnid, rgb in colours.items():
        (root / 'val' / wnid).mkdir(parents=True)
        for i in range(3):
            arr = np.clip(np.array(rgb) + rng.normal(0, 12, (64, 64, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(arr).save(root / 'val' / wnid / f'{i}.JPEG', quality=95)
    classes = sorted(colours)
    torch.manual_seed(0)
    model = RelativeNASNet(C=4, layers=3, num_classes=3, stem_type='imagenet')
    mean = torch.tensor((0.485, 0.456, 0.406)).view(1, 3, 1, 1)
    std = torch.tensor((0.229, 0.224, 0.225)).view(1, 3, 1, 1)
    x = torch.stack([torch.tensor(colours[c], dtype=torch.float32).view(3, 1, 1).expand(3, 112, 112) / 255
                     for c in classes for _ in range(4)])
    x = (x + 0.05 * torch.randn_like(x) - mean) / std
    y = torch.arange(3).repeat_interleave(4)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    for _ in range(60):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    model.eval()
    assert (model(x).argmax(1) == y).all()
    save_checkpoint(model, root / 'sorted.pth')
    state = model.state_dict()
    from relnas_zoo.class_order import permute_classifier_rows
    permute_classifier_rows(state, [1, 2, 0])   # output j now means what output rows[j] meant: a derangement
    model.load_state_dict(state)
    save_checkpoint(model, root / 'permuted.pth')
    return root, classes


def _validate(*args):
    r = subprocess.run([sys.executable, str(ROOT / 'tools/validate.py'), '--model', 'relativenas', '--workers', '0',
                        '--json', *map(str, args)], capture_output=True, text=True, env=_env())
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1]), r.stderr


@pytest.mark.slow
def test_class_order_recovered_and_converted(colour_classes, tmp_path):
    root, classes = colour_classes
    rec, _ = _validate('--checkpoint', root / 'sorted.pth', '--data', root / 'val')
    assert rec['top1'] == 100.0
    rec, err = _validate('--checkpoint', root / 'permuted.pth', '--data', root / 'val')
    assert rec['top1'] == 0.0 and 'near chance' in err and '--recover-class-order' in err
    order_file = tmp_path / 'order.txt'
    rec, _ = _validate('--checkpoint', root / 'permuted.pth', '--data', root / 'val',
                       '--recover-class-order', order_file)
    assert rec['top1_before'] == 0.0 and rec['top1_after'] == 100.0 and rec['moved_outputs'] == 3
    order = order_file.read_text().split()
    assert sorted(order) == classes and order != classes
    # output k of the permuted checkpoint means order[k]: rows [1, 2, 0] put old output 1 at 0, 2 at 1, 0 at 2
    assert order == [classes[1], classes[2], classes[0]]
    rec, err = _validate('--checkpoint', root / 'permuted.pth', '--data', root / 'val', '--class-order', order_file)
    assert rec['top1'] == 100.0 and 'near chance' not in err
    r = subprocess.run([sys.executable, str(ROOT / 'tools/convert_checkpoint.py'), str(root / 'permuted.pth'),
                        str(tmp_path / 'fixed.pth'), '--model', 'relativenas', '--C', '4', '--layers', '3',
                        '--num-classes', '3', '--class-order', str(order_file)], capture_output=True, text=True,
                       env=_env())
    assert r.returncode == 0, r.stderr
    rec, _ = _validate('--checkpoint', tmp_path / 'fixed.pth', '--data', root / 'val')
    assert rec['top1'] == 100.0


@pytest.mark.slow
@pytest.mark.parametrize('nproc', [None, 2], ids=['1proc', '2proc'])
def test_imagenet_kill_resume_with_workers_is_exact(imagenet, tmp_path, nproc):
    """1 and 2 processes x 2 DataLoader workers: a killed and resumed run ends with the same weights, bit for
    bit (workers are re-seeded from (seed, epoch, rank, worker) every epoch; with workers seeded once, the
    1-process run resumed with other augmentations)."""
    port = 29541 if nproc else None
    lm = _imagenet_lmdbs(imagenet, tmp_path / 'lmdb')
    sets = _sets(['C=4', 'layers=3', 'warmup_epochs=0', 'batch_size=4', 'eval_batch_size=4', 'epochs=3', 'workers=2',
                  'amp=none', 'channels_last=false', 'tensorboard=false', 'color_jitter=0.4', 'lr=0.01'])
    ref = tmp_path / 'ref'
    r = subprocess.run(_train_cmd('train_imagenet.py', '--data', str(lm), '--out', str(ref), *sets, nproc=nproc,
                                  port=port), capture_output=True, text=True, env=_env(), timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    run = tmp_path / 'killed'
    _kill_after_first_epoch(_train_cmd('train_imagenet.py', '--data', str(lm), '--out', str(run), *sets, nproc=nproc,
                                       port=port and port + 1), run)
    r = subprocess.run(_train_cmd('train_imagenet.py', '--out', str(run), '--resume', nproc=nproc,
                                  port=port and port + 2),
                       capture_output=True, text=True, env=_env(), timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    a = torch.load(ref / 'last.pth', weights_only=True)['model']
    b = torch.load(run / 'last.pth', weights_only=True)['model']
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_train_val_class_lists_must_match(imagenet, tmp_path):
    import shutil
    from relnas_zoo.train.config import ConfigError
    from relnas_zoo.train.data import build_loaders
    from relnas_zoo.distributed import DistInfo
    shutil.copytree(imagenet / 'train', tmp_path / 'train')
    shutil.copytree(imagenet / 'val_folders', tmp_path / 'val')
    cfg = TrainConfig(task='imagenet', model='relativenas', data=str(tmp_path), workers=0)
    assert build_loaders(cfg, DistInfo()).num_classes == 3
    shutil.rmtree(tmp_path / 'val' / WNIDS[2])
    with pytest.raises(ConfigError, match='class lists differ'):
        build_loaders(cfg, DistInfo())


def test_gradient_accumulation_keeps_the_recipe(tmp_path):
    """accum_steps=2 with the same global batch: same number of optimizer steps and learning rates,
    half the images per forward pass."""
    data = write_cifar(tmp_path / 'cifar', per_batch=16)
    logs = {}
    for accum in (1, 2):
        out = tmp_path / f'a{accum}'
        sets = _sets(CIFAR_TINY + ['epochs=1', f'accum_steps={accum}', 'log_every=1', 'drop_path=0', 'batch_size=16'])
        r = subprocess.run(_train_cmd('train_cifar.py', '--config', str(ROOT / 'configs/train/cifar10.yaml'),
                                      '--data', str(data), '--out', str(out), *sets),
                           capture_output=True, text=True, env=_env(), timeout=600)
        assert r.returncode == 0, r.stderr[-3000:]
        logs[accum] = [json.loads(l) for l in (out / 'log.jsonl').read_text().splitlines()]
    steps = {a: [l for l in rows if l['split'] == 'train_step'] for a, rows in logs.items()}
    assert len(steps[1]) == len(steps[2]) == 5                       # 80 images / global batch 16
    assert [s['lr'] for s in steps[1]] == [s['lr'] for s in steps[2]]
    r = subprocess.run(_train_cmd('train_cifar.py', '--data', str(data), '--out', str(tmp_path / 'bad'),
                                  *_sets(CIFAR_TINY + ['accum_steps=3'])), capture_output=True, text=True, env=_env())
    assert r.returncode == 2 and 'accum_steps' in r.stderr


# ------------------------------------------------------------------------------------------ LMDB at scale
def _rss_mb() -> float:
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2 ** 20


def test_builder_memory_stays_bounded_with_a_slow_writer(tmp_path, monkeypatch):
    """Readers faster than the writer must not pile finished images up in the parent."""
    import threading
    import relnas_zoo.data.lmdb.build as mod
    rng = np.random.default_rng(0)
    root = tmp_path / 'train' / 'n00000001'
    root.mkdir(parents=True)
    blob = None
    for i in range(120):   # ~600 KB each: 72 MB in all
        if blob is None:
            buf = io.BytesIO()
            Image.fromarray(rng.integers(0, 256, (480, 480, 3), dtype=np.uint8)).save(buf, 'JPEG', quality=100)
            blob = buf.getvalue()
        (root / f'{i:04d}.JPEG').write_bytes(blob)
    real = mod.pack_record

    def slow(*args):           # a slow disk: 25 ms per record on the writer's side
        time.sleep(0.025)
        return real(*args)

    monkeypatch.setattr(mod, 'pack_record', slow)
    source = scan_class_folders(tmp_path / 'train')
    base, peak, done = _rss_mb(), [0.0], threading.Event()

    def watch():
        while not done.is_set():
            peak[0] = max(peak[0], _rss_mb())
            time.sleep(0.01)

    t = threading.Thread(target=watch)
    t.start()
    try:
        meta = build_lmdb(source, tmp_path / 'lmdb', 'train', workers=2, commit_every=4, progress=False)
    finally:
        done.set()
        t.join()
    assert meta['num_records'] == 120
    growth = peak[0] - base
    print(f"builder RSS growth {growth:.1f} MB")
    assert growth < 40, f'builder RSS grew by {growth:.0f} MB for {120 * len(blob) / 2 ** 20:.0f} MB of images'


def test_same_lmdb_opened_twice_in_one_process(imagenet, tmp_path):
    out = tmp_path / 'lmdb'
    build_lmdb(scan_class_folders(imagenet / 'train'), out, 'train', workers=1, progress=False)
    a, b = ImageNetLMDB(out), ImageNetLMDB(out)            # LMDB alone: "already open"
    assert a.raw(0) == b.raw(0)
    assert verify_lmdb(out, full=True, progress=False)['checked'] == 12   # while both are open
    assert a.raw(3) == b.raw(3)
    a.close()
    assert b.raw(5)[0] == a.raw(5)[0]                      # reopens on the next read


def test_map_full_grows_and_non_utf8_names_survive(imagenet, tmp_path):
    import shutil
    root = tmp_path / 'train'
    shutil.copytree(imagenet / 'train', root)
    odd = os.fsencode(root / WNIDS[0]) + b'/caf\xe9_latin1.JPEG'     # not UTF-8
    with open(odd, 'wb') as f:
        f.write((root / WNIDS[0] / f'{WNIDS[0]}_0.JPEG').read_bytes())
    source = scan_class_folders(root)
    out = tmp_path / 'lmdb'
    meta = build_lmdb(source, out, 'train', workers=1, commit_every=5, map_size=1 << 15, progress=False)
    assert meta['complete'] and meta['num_records'] == 13
    ds = ImageNetLMDB(out)
    names = [os.fsencode(ds.raw(i)[1]) for i in range(13)]
    assert odd[len(os.fsencode(root)) + 1:] in names
    assert verify_lmdb(out, full=True, compare_root=root, progress=False)['checked'] == 13
    with pytest.raises(BuildError, match='--map-size-gb'):
        build_lmdb(source, tmp_path / 'huge', 'train', workers=1, map_size=1 << 62, progress=False)


def test_labels_without_reading_the_images(imagenet, tmp_path):
    out = tmp_path / 'lmdb'
    build_lmdb(scan_class_folders(imagenet / 'train'), out, 'train', workers=1, commit_every=5, progress=False)
    ds = ImageNetLMDB(out)
    expected = [ds.raw(i)[0] for i in range(len(ds))]
    ds.raw = None   # any record read would fail now
    assert ds.targets == expected and sorted(expected) == sorted([0, 1, 2] * 4)


def test_val_from_the_devkit_ground_truth(imagenet, tmp_path):
    """ILSVRC2012_validation_ground_truth.txt holds devkit ids (not sorted order), mapped by meta.mat."""
    import shutil
    from scipy.io import savemat
    classes = sorted(WNIDS)
    devkit_ids = {WNIDS[0]: 1, WNIDS[1]: 3, WNIDS[2]: 2}         # deliberately not the sorted order
    synsets = np.zeros(3, dtype=[('ILSVRC2012_ID', 'O'), ('WNID', 'O'), ('words', 'O'), ('gloss', 'O'),
                                 ('num_children', 'O')])
    for i, wnid in enumerate(WNIDS):
        synsets[i] = (devkit_ids[wnid], wnid, f'class {i}', '', 0)
    savemat(tmp_path / 'meta.mat', {'synsets': synsets})
    val = tmp_path / 'val'
    val.mkdir()
    for k in range(6):    # the devkit numbers images from 1
        shutil.copy(imagenet / 'val' / f'ILSVRC2012_val_{k:08d}.JPEG', val / f'ILSVRC2012_val_{k + 1:08d}.JPEG')
    truth = [devkit_ids[w] for w in WNIDS * 2]                   # image k + 1 is of class (WNIDS * 2)[k]
    (tmp_path / 'gt.txt').write_text(''.join(f'{t}\n' for t in truth))
    source = scan_flat_with_labels(val, tmp_path / 'gt.txt', classes, devkit_meta=tmp_path / 'meta.mat')
    for name, label in source.items:
        k = int(Path(name).stem.split('_')[-1]) - 1
        assert classes[label] == (WNIDS * 2)[k]
    tool = str(ROOT / 'tools/imagenet_to_lmdb.py')
    shutil.copytree(imagenet / 'train', tmp_path / 'train')
    r = subprocess.run([sys.executable, tool, '--root', str(tmp_path), '--split', 'val', '--out', str(tmp_path / 'v'),
                        '--val-labels', str(tmp_path / 'gt.txt'), '--devkit-meta', str(tmp_path / 'meta.mat'),
                        '--num-classes', '3', '--workers', '1', '--no-progress'], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    (val / 'ILSVRC2012_val_00000003.JPEG').unlink()               # an incomplete copy is refused
    with pytest.raises(BuildError, match='missing'):
        scan_flat_with_labels(val, tmp_path / 'gt.txt', classes, devkit_meta=tmp_path / 'meta.mat')
