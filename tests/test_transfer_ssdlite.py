"""transfer/ssdlite_voc.py end to end on a tiny VOCdevkit: train, VOC mAP, resume, 2-process gloo, test."""
import re
import sys
from pathlib import Path

import pytest
import timm

pytestmark = pytest.mark.mm  # the OpenMMLab stack: make mm (make test installs it)
pytest.importorskip('mmengine', reason='the OpenMMLab stack is not installed (make mm)')

import relnas_zoo
from mm_helpers import env as mm_env
from mm_helpers import loader_opts, make_voc
from mm_helpers import run as _run

ROOT = Path(__file__).resolve().parents[1]
CONFIG = str(ROOT / 'transfer/ssdlite_voc.py')


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('voc')
    voc = make_voc(tmp / 'VOCdevkit')
    weights = tmp / 'relativenas_imagenet.pth'
    relnas_zoo.save_checkpoint(timm.create_model('relativenas'), weights)
    return tmp, voc, weights


def _opts(voc, weights, epochs=1):
    return ['--cfg-options',
            f'train_dataloader.dataset.datasets.0.data_root={voc}/',
            f'train_dataloader.dataset.datasets.1.data_root={voc}/',
            f'val_dataloader.dataset.data_root={voc}/', f'test_dataloader.dataset.data_root={voc}/',
            *loader_opts(), f'train_cfg.max_epochs={epochs}', 'train_cfg.val_interval=1',
            'default_hooks.checkpoint.interval=1', 'default_hooks.logger.interval=1',
            f'model.backbone.init_cfg.checkpoint={weights}']


def test_ssdlite_voc_train_validate_resume_and_test(setup):
    tmp, voc, weights = setup
    work = tmp / 'work'
    log = _run([sys.executable, str(ROOT / 'tools/train.py'), CONFIG, '--work-dir', str(work), *_opts(voc, weights)])
    assert f'Loads checkpoint by local backend from path: {weights}' in log        # the pretrained backbone
    assert 'missing keys' not in log and 'unexpected key' not in log               # ... fits exactly
    assert re.search(r'pascal_voc/mAP: \d', log), log[-2000:]                     # the real metric ran
    assert (work / 'epoch_1.pth').exists()
    # resume: a second epoch from the saved checkpoint, with torch's safe loading on
    log = _run([sys.executable, str(ROOT / 'tools/train.py'), CONFIG, '--work-dir', str(work), '--resume',
                *_opts(voc, weights, epochs=2)])
    assert 'resumed epoch: 1' in log.lower() or 'Auto resumed from the latest checkpoint' in log
    assert (work / 'epoch_2.pth').exists()
    log = _run([sys.executable, str(ROOT / 'tools/test.py'), CONFIG, str(work / 'epoch_2.pth'), '--work-dir',
                str(tmp / 'test'), '--out', str(tmp / 'preds.pkl'), '--show-dir', 'vis', *_opts(voc, weights)])
    assert re.search(r"'pascal_voc/mAP': \d", log)
    assert (tmp / 'preds.pkl').stat().st_size > 0                                  # --out dumped predictions
    assert list((tmp / 'test').rglob('vis/*.jpg')) or list((tmp / 'test').rglob('vis/*.png'))   # --show-dir
    log = _run([sys.executable, str(ROOT / 'tools/train.py'), CONFIG, '--work-dir', str(tmp / 'scaled'),
                '--auto-scale-lr', *_opts(voc, weights)])
    assert 'LR has been automatically scaled' in log or 'LR is set based on batch size' in log, log[-3000:]


def test_ssdlite_voc_dist_train_two_processes(setup):
    tmp, voc, weights = setup
    work = tmp / 'dist'
    log = _run(['bash', str(ROOT / 'tools/dist_train.sh'), CONFIG, '2', '--work-dir', str(work),
                *_opts(voc, weights)], cwd=ROOT)
    assert re.search(r'pascal_voc/mAP: \d', log)
    assert 'Distributed training: True' in log and "type='MMDistributedDataParallel'" in log
    assert (work / 'epoch_1.pth').exists()
    log = _run(['bash', str(ROOT / 'tools/dist_test.sh'), CONFIG, str(work / 'epoch_1.pth'), '2', '--work-dir',
                str(tmp / 'dist_test'), *_opts(voc, weights)], cwd=ROOT, env=dict(mm_env(), PORT='29561'))
    assert re.search(r"'pascal_voc/mAP': \d", log) and 'Distributed' in log


def test_training_with_another_networks_weights_stops_in_one_line(setup):
    """The backbone's init_cfg pointing at another genotype's ImageNet weights: tools/train.py stops before
    training with one line naming what the file holds and the backbone config that fits it."""
    import subprocess
    tmp, voc, _ = setup
    darts = tmp / 'darts_imagenet.pth'
    relnas_zoo.save_checkpoint(timm.create_model('darts_v2'), darts)
    r = subprocess.run([sys.executable, str(ROOT / 'tools/train.py'), CONFIG, '--work-dir', str(tmp / 'wrong'),
                        *_opts(voc, darts)], capture_output=True, text=True, env=mm_env(), timeout=900)
    assert r.returncode == 2, r.stderr[-3000:]
    err = [line for line in r.stderr.splitlines() if line.startswith('error:')]
    assert len(err) == 1 and "holds genotype DARTS_V2, C=48, layers=14" in err[0]
    assert "genotype='DARTS_V2', C=48, layers=14" in err[0] and 'Traceback' not in r.stderr
    assert not list((tmp / 'wrong').rglob('epoch_*.pth'))  # nothing trained
