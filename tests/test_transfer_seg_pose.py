"""transfer/bisenet_cityscapes.py and transfer/simplebaseline_coco.py end to end on tiny datasets:
two iterations with the real metric (mIoU, COCO AP), resuming, and 2-process gloo through dist_train.sh."""
import re

import pytest
import timm

pytestmark = pytest.mark.mm  # the OpenMMLab stack: make mm (make test installs it)
pytest.importorskip('mmengine', reason='the OpenMMLab stack is not installed (make mm)')

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


def _trains_and_resumes(config, work, opts, weights, metric, first, resumed):
    """``config`` trains from ``weights`` reporting ``metric`` and writing ``first``; then ``resumed``
    (opts, checkpoint file) continues it. Returns the first run's log."""
    log = train(config, work, opts)
    assert f'Loads checkpoint by local backend from path: {weights}' in log
    assert re.search(metric, log), log[-2000:]
    assert (work / first).exists()
    more_opts, last = resumed
    resumed_log = train(config, work, more_opts, '--resume')
    assert 'resumed' in resumed_log.lower() and (work / last).exists()
    return log


def test_bisenet_cityscapes(tmp_path, weights):
    root = make_cityscapes(tmp_path / 'cityscapes')
    work = tmp_path / 'work'
    _trains_and_resumes('transfer/bisenet_cityscapes.py', work, _city_opts(root, weights, 2), weights, r'mIoU: \d',
                        'iter_2.pth', (_city_opts(root, weights, 4), 'iter_4.pth'))
    # the paper's second protocol: multi-scale + flip (tools/test.py --tta)
    from mm_helpers import ROOT, run
    import sys
    log = run([sys.executable, str(ROOT / 'tools/test.py'), str(ROOT / 'transfer/bisenet_cityscapes.py'),
               str(work / 'iter_4.pth'), '--work-dir', str(tmp_path / 'tta'), '--tta', '--cfg-options',
               *_city_opts(root, weights, 4)])
    assert re.search(r"'mIoU': \d", log), log[-2000:]
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
    log = _trains_and_resumes('transfer/simplebaseline_coco.py', work, _coco_opts(root, weights, 1), weights,
                              r'coco/AP: [01]\.\d{4}', 'epoch_1.pth', (_coco_opts(root, weights, 2), 'epoch_2.pth'))
    assert re.search(r'Epoch\(train\) \[1\]\[2/2\]', log)  # two training iterations
    log = dist_train('transfer/simplebaseline_coco.py', tmp_path / 'dist', _coco_opts(root, weights, 1), 29542)
    assert 'Distributed training: True' in log and re.search(r'coco/AP: [01]\.\d{4}', log)


def test_transfer_report(tmp_path):
    """The report counts as the paper did and reproduces Tables 5-7."""
    import json
    import sys
    from mm_helpers import ROOT, run
    rel = lambda ours, paper: abs(ours - paper) / paper
    run([sys.executable, str(ROOT / 'tools/transfer_report.py'), '--json', str(tmp_path / 'r.json')])
    rows = {r['table']: r for r in json.loads((tmp_path / 'r.json').read_text())}
    # the backbone without its classifier: the live ImageNet network minus its 736 x 1000 + 1000 head
    assert all(r['backbone_params'] == 4_964_837 - 737_000 for r in rows.values())
    bisenet = rows['Table 6: BiSeNet, Cityscapes']
    assert bisenet['input'] == [3, 1024, 1024] and bisenet['aux']          # the authors' rule: train mode
    ssd, pose = rows['Table 5: SSDLite, VOC'], rows['Table 7: SimpleBaseline, COCO']
    frame = rows['  (full 2048x1024 frame, test)']
    # the live networks, counted exactly (deterministic: the configs build them, the authors' heads:
    # SSDLite's biased depthwise convs and plain last-level heads, BiSeNet's bias-free output convs)
    assert (ssd['params'], ssd['mult_adds'], ssd['authors_rule_mult_adds']) == (4_984_632, 1_148_246_259, 1_148_246_259)
    assert (bisenet['params'], bisenet['mult_adds']) == (6_859_453, 34_791_976_960)
    assert frame['mult_adds'] == 66_514_087_936 and not frame['aux']
    assert (pose['params'], pose['mult_adds'], pose['authors_rule_mult_adds']) == (9_345_550, 1_689_467_904,
                                                                                   538_131_456)
    # with the authors' dead preprocess layers, Tables 5, 6 and 7 come out as printed
    run([sys.executable, str(ROOT / 'tools/transfer_report.py'), '--with-dead-weights', '--json',
         str(tmp_path / 'd.json')])
    dead = {r['table']: r for r in json.loads((tmp_path / 'd.json').read_text())}
    ssd, pose = dead['Table 5: SSDLite, VOC'], dead['Table 7: SimpleBaseline, COCO']
    assert rel(ssd['params'] / 1e6, 5.07) < 0.005 and rel(ssd['flops_in_unit'], 1202.97) < 0.005
    assert rel(pose['params'] / 1e6, 9.43) < 0.005 and rel(pose['authors_rule_in_unit'], 564.19) < 0.005
    bisenet = dead['Table 6: BiSeNet, Cityscapes']
    assert rel(bisenet['params'] / 1e6, 6.94) < 0.005 and rel(bisenet['flops_in_unit'], 35.35) < 0.005


def _cfg(name):
    from mmengine.config import Config
    from mm_helpers import ROOT
    return Config.fromfile(str(ROOT / 'transfer' / name))


def _build(config):
    """The model of transfer/<config> as tools/transfer_report.py builds it (no weights)."""
    import sys
    from mm_helpers import ROOT
    sys.path.insert(0, str(ROOT / 'tools'))
    from transfer_report import build_model
    return build_model(f'transfer/{config}')


def _params(config):
    return sum(p.numel() for p in _build(config).parameters())


def test_bisenet_setup_is_the_papers():
    cfg = _cfg('bisenet_cityscapes.py')
    bb = cfg.model.backbone
    assert bb.type == 'BiSeNetV1Paper'                    # the paper's fusion module (128 + 128 channels in)
    assert bb.context_channels == (128, 368, 736) and bb.spatial_channels == (64, 64, 64, 128)
    assert [h.in_channels for h in cfg.model.auxiliary_head] == [128, 128]
    for head in [cfg.model.decode_head, *cfg.model.auxiliary_head]:
        assert head.sampler == dict(type='OHEMPixelSampler', thresh=0.7, min_kept=65536)
    warm, poly = cfg.param_scheduler
    assert warm.type == 'LinearLR' and warm.end == 1000 and cfg.optim_wrapper.optimizer.lr * warm.start_factor == \
        pytest.approx(1e-5)
    assert poly.type == 'PolyLR' and poly.begin == 1000
    pw = cfg.optim_wrapper.paramwise_cfg
    assert pw.norm_decay_mult == 0 and pw.bias_decay_mult == 0
    assert {k: v.lr_mult for k, v in pw.custom_keys.items()} == {'backbone.ffm': 10., 'decode_head': 10.,
                                                                 'auxiliary_head': 10.}
    assert cfg.model.test_cfg == dict(mode='slide', crop_size=(1024, 1024), stride=(854, 854))
    assert cfg.tta_model.type == 'SegTTAModel'
    assert bb.backbone_cfg.norm_cfg.type == 'SyncBN'
    n = _params('bisenet_cityscapes.py')
    assert 6.80 < n / 1e6 < 6.94, n          # live network; 6.94 M (Table 6) with the authors' dead weights


def test_bisenet_fusion_module_gets_ten_times_the_learning_rate():
    """The paramwise keys match real parameter names of the built model."""
    names = [n for n, _ in _build('bisenet_cityscapes.py').named_parameters()]
    assert any(n.startswith('backbone.ffm.') for n in names)
    assert any(n.startswith('decode_head.') for n in names) and any(n.startswith('auxiliary_head.') for n in names)


def test_simplebaseline_augmentation_is_the_authors():
    import numpy as np
    from relnas_zoo.mm.pose import ClippedNormalBBoxTransform
    cfg = _cfg('simplebaseline_coco.py')
    types = [t['type'] for t in cfg.train_pipeline]
    assert 'RandomHalfBody' not in types and 'RandomBBoxTransform' not in types
    spec = next(t for t in cfg.train_pipeline if t['type'] == 'ClippedNormalBBoxTransform')
    t = ClippedNormalBBoxTransform(**{k: v for k, v in spec.items() if k != 'type'})
    np.random.seed(0)
    offset, scale, rotate = t._get_transform_params(20000)
    assert not offset.any()                                          # no box shift
    assert scale.min() >= 0.7 - 1e-6 and scale.max() <= 1.3 + 1e-6
    assert abs((rotate != 0).mean() - 0.6) < 0.02                   # rotation with probability 0.6
    r = rotate[rotate != 0]
    assert abs(r).max() <= 80 and 0.02 < (abs(r) == 80).mean() < 0.08   # clipped at 2 sigma: ~4.6% at the clip
    assert abs(r[abs(r) < 80].std() - 36.) < 3                      # sigma 40 before clipping


def test_ssdlite_setup_is_the_authors():
    cfg = _cfg('ssdlite_voc.py')
    ag = cfg.model.bbox_head.anchor_generator
    assert ag.min_sizes == [60, 105, 150, 195, 240, 285] and ag.max_sizes == [105, 150, 195, 240, 285, 330]
    assert ag.strides == [16, 32, 64, 100, 150, 300]
    assert tuple(cfg.model.neck.expand_ratios) == (0.2, 0.25, 0.5, 0.25)
    for ds in cfg.train_dataloader.dataset.datasets:
        assert 'bbox_min_size' not in ds.filter_cfg                  # small objects are trained
    neck = _build('ssdlite_voc.py').neck
    hidden = [layer.depthwise_conv.conv.in_channels for layer in neck.extra_layers]
    assert hidden == [147, 128, 128, 64]


@pytest.mark.parametrize('config,layout', [('ssdlite_voc.py', 'VOC2007/ and VOC2012/'),
                                           ('bisenet_cityscapes.py', 'leftImg8bit/{train,val}/<city>'),
                                           ('simplebaseline_coco.py', 'annotations/person_keypoints')])
def test_missing_data_is_one_line_naming_the_layout(tmp_path, config, layout):
    import subprocess
    import sys
    from mm_helpers import ROOT, env
    for tool, extra in (('train.py', []), ('test.py', [str(tmp_path / 'none.pth')])):
        r = subprocess.run([sys.executable, str(ROOT / 'tools' / tool), str(ROOT / 'transfer' / config), *extra],
                           capture_output=True, text=True, cwd=tmp_path, env=env(), timeout=300)
        assert r.returncode == 2 and r.stderr.count('\n') == 1, r.stderr[-3000:]
        assert 'does not exist' in r.stderr and layout in r.stderr and '--cfg-options' in r.stderr
        assert 'docs/transfer.md' in r.stderr
