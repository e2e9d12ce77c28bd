"""transfer/bisenet_cityscapes.py and transfer/simplebaseline_coco.py end to end on tiny datasets:
two iterations with the real metric (mIoU, COCO AP), resuming, and 2-process gloo through dist_train.sh."""
import re

import pytest
import timm

import relnas_zoo
from mm_helpers import dist_train, loader_opts, make_cityscapes, make_coco, train


@pytest.fixture(scope='module')
def weights(tmp_path_factory):
    path = tmp_path_factory.mktemp('w') / 'relativenas_imagenet.pth'
    relnas_zoo.save_checkpoint(timm.create_model('relativenas'), path)
    return path


def _city_opts(root, weights, iters):
    return [f'{n}.dataset.data_root={root}/' for n in ('train_dataloader', 'val_dataloader', 'test_dataloader')] + \
        loader_opts() + [
        'train_dataloader.dataset.pipeline.2.scales=[(64,32),(96,48)]',
        'train_dataloader.dataset.pipeline.3.crop_size=(32,32)',
        'val_dataloader.dataset.pipeline.1.scale=(64,32)', 'test_dataloader.dataset.pipeline.1.scale=(64,32)',
        'model.data_preprocessor.size=(32,32)', f'train_cfg.max_iters={iters}', 'train_cfg.val_interval=2',
        'default_hooks.checkpoint.interval=2', 'default_hooks.logger.interval=1',
        f'model.backbone.backbone_cfg.init_cfg.checkpoint={weights}']


def test_bisenet_cityscapes(tmp_path, weights):
    root = make_cityscapes(tmp_path / 'cityscapes')
    work = tmp_path / 'work'
    log = train('transfer/bisenet_cityscapes.py', work, _city_opts(root, weights, 2))
    assert f'Loads checkpoint by local backend from path: {weights}' in log
    assert re.search(r'mIoU: \d', log), log[-2000:]
    assert (work / 'iter_2.pth').exists()
    log = train('transfer/bisenet_cityscapes.py', work, _city_opts(root, weights, 4), '--resume')
    assert 'resumed' in log.lower() and (work / 'iter_4.pth').exists()
    log = dist_train('transfer/bisenet_cityscapes.py', tmp_path / 'dist', _city_opts(root, weights, 2), 29541)
    assert 'Distributed training: True' in log and re.search(r'mIoU: \d', log)


def _coco_opts(root, weights, epochs):
    return [f'{n}.dataset.data_root={root}/' for n in ('train_dataloader', 'val_dataloader', 'test_dataloader')] + \
        loader_opts() + [
        f'val_evaluator.ann_file={root}/annotations/person_keypoints_val2017.json',
        f'test_evaluator.ann_file={root}/annotations/person_keypoints_val2017.json',
        f'train_cfg.max_epochs={epochs}', 'train_cfg.val_interval=1', 'default_hooks.checkpoint.interval=1',
        'default_hooks.logger.interval=1', f'model.backbone.init_cfg.checkpoint={weights}']


def test_simplebaseline_coco(tmp_path, weights):
    root = make_coco(tmp_path / 'coco')
    work = tmp_path / 'work'
    log = train('transfer/simplebaseline_coco.py', work, _coco_opts(root, weights, 1))
    assert f'Loads checkpoint by local backend from path: {weights}' in log
    assert re.search(r'coco/AP: [-\d]', log), log[-2000:]
    assert re.search(r'Epoch\(train\) \[1\]\[2/2\]', log)  # two training iterations
    log = train('transfer/simplebaseline_coco.py', work, _coco_opts(root, weights, 2), '--resume')
    assert 'resumed' in log.lower() and (work / 'epoch_2.pth').exists()
    log = dist_train('transfer/simplebaseline_coco.py', tmp_path / 'dist', _coco_opts(root, weights, 1), 29542)
    assert 'Distributed training: True' in log and re.search(r'coco/AP: [-\d]', log)


def test_transfer_report(tmp_path):
    import json
    import sys
    from mm_helpers import ROOT, run
    run([sys.executable, str(ROOT / 'tools/transfer_report.py'), '--json', str(tmp_path / 'r.json')])
    rows = json.loads((tmp_path / 'r.json').read_text())
    ssd = next(r for r in rows if r['config'].endswith('ssdlite_voc.py'))
    # the backbone without its classifier: the live ImageNet network minus its 736 x 1000 + 1000 head
    assert all(r['backbone_params'] == 4_964_837 - 737_000 for r in rows)
    assert abs(ssd['params'] / 1e6 - 5.07) < 0.1  # SSDLite matches the paper's Table 5 closely
