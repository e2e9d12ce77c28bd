"""The OpenMMLab backbone: registries, levels, freezing, checkpointing, pretrained loading, timm route."""
import pytest
import timm
import torch
from torch import nn

pytestmark = pytest.mark.mm  # the OpenMMLab stack: make mm (make test installs it)
pytest.importorskip('mmengine', reason='the OpenMMLab stack is not installed (make mm)')

import relnas_zoo
from relnas_zoo.mm import RelativeNASBackbone, registered_in
from relnas_zoo.networks import RelativeNASNet
from relnas_zoo.variants import VARIANTS


def test_registered_everywhere_and_buildable_by_type_name():
    assert {'mmengine', 'mmdet', 'mmseg', 'mmpose'} <= set(registered_in)
    from mmdet.registry import MODELS as DET
    from mmpose.registry import MODELS as POSE
    from mmseg.registry import MODELS as SEG
    for registry in (DET, SEG, POSE):
        b = registry.build(dict(type='RelativeNASBackbone', C=8, layers=5, out_indices=(2, 3)))
        assert isinstance(b, RelativeNASBackbone) and isinstance(b, RelativeNASNet)  # the zoo's class, no copy


@pytest.mark.parametrize('out_indices', [(0, 1, 2, 3), (1, 2, 3), (2, 3), (3,)])
def test_levels_channels_and_strides(out_indices):
    b = RelativeNASBackbone(out_indices=out_indices).eval()
    expected = {0: (46, 4), 1: (184, 8), 2: (368, 16), 3: (736, 32)}
    assert b.out_channels == tuple(expected[i][0] for i in out_indices)
    assert b.out_strides == tuple(expected[i][1] for i in out_indices)
    with torch.no_grad():
        outs = b(torch.randn(1, 3, 256, 192))
    assert len(outs) == len(out_indices)
    for o, i in zip(outs, out_indices):
        assert o.shape[1:] == (expected[i][0], 256 // expected[i][1], 192 // expected[i][1])


def test_unneeded_cells_are_not_built():
    assert len(RelativeNASBackbone(out_indices=(1,)).cells) == 4
    assert len(RelativeNASBackbone(out_indices=(2,)).cells) == 9


def test_frozen_stages_have_no_gradients_and_stay_in_eval():
    b = RelativeNASBackbone(C=8, layers=5, frozen_stages=1, drop_path_rate=0.1)
    b.train()
    frozen = list(b.stem0.modules()) + list(b.stem1.modules()) + [m for c in b.cells[:b.level_cells[0] + 1]
                                                                  for m in c.modules()]
    assert all(not m.training for m in frozen)
    assert all(not p.requires_grad for m in frozen for p in m.parameters(recurse=False))
    live = b.cells[b.level_cells[0] + 1]
    assert live.training and all(p.requires_grad for p in live.parameters())
    sum(o.sum() for o in b(torch.randn(2, 3, 64, 64))).backward()
    assert all(p.grad is None for m in frozen for p in m.parameters(recurse=False))
    assert all(p.grad is not None for p in live.parameters())


def test_norm_eval_keeps_bn_statistics():
    b = RelativeNASBackbone(C=8, layers=5, norm_eval=True)
    b.train()
    bns = [m for m in b.modules() if isinstance(m, nn.BatchNorm2d)]
    assert bns and all(not m.training for m in bns)
    before = bns[-1].running_mean.clone()
    b(torch.randn(2, 3, 64, 64))
    assert torch.equal(bns[-1].running_mean, before)


def test_with_cp_gives_the_same_outputs_and_gradients():
    torch.manual_seed(0)
    a = RelativeNASBackbone(C=8, layers=5, out_indices=(1, 3))
    b = RelativeNASBackbone(C=8, layers=5, out_indices=(1, 3), with_cp=True)
    b.load_state_dict(a.state_dict())
    x = torch.randn(2, 3, 64, 64)
    oa, ob = a(x), b(x)
    for u, v in zip(oa, ob):
        torch.testing.assert_close(u, v)
    sum(o.sum() for o in oa).backward()
    sum(o.sum() for o in ob).backward()
    for (n, p), q in zip(a.named_parameters(), b.parameters()):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-4, atol=1e-5, msg=n)


@pytest.mark.parametrize('fmt', ['ours', 'ours_safetensors', 'authors', 'authors_prefixed'])
def test_pretrained_init_cfg_loads_both_formats(tmp_path, authors_layout, fmt):
    src = RelativeNASNet(**VARIANTS['relativenas'], auxiliary=True, prune_unused=False)
    for m in src.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
    path = tmp_path / ('w.safetensors' if fmt.endswith('safetensors') else 'w.pth')
    if fmt.startswith('ours'):
        pruned = RelativeNASNet(**VARIANTS['relativenas'])
        pruned.load_state_dict(src.state_dict(), strict=False)
        relnas_zoo.save_checkpoint(pruned, path)
        init_cfg = dict(type='Pretrained', checkpoint=str(path))
    elif fmt == 'authors':
        torch.save(authors_layout(src.state_dict()), path)
        init_cfg = dict(type='Pretrained', checkpoint=str(path))
    else:  # e.g. weights taken from a detector: backbone keys under a prefix
        torch.save({'state_dict': {f'backbone.{k}': v for k, v in authors_layout(src.state_dict()).items()}}, path)
        init_cfg = dict(type='Pretrained', checkpoint=str(path), prefix='backbone.')
    b = RelativeNASBackbone(out_indices=(1, 2, 3), init_cfg=init_cfg)
    b.init_weights()
    b.eval()
    src.eval()
    x = torch.randn(1, 3, 96, 96)
    with torch.no_grad():
        got = b(x)
        want = src.forward_intermediates(x, indices=[1, 2, 3], intermediates_only=True)
    for g, w in zip(got, want):
        assert torch.equal(g, w)


def test_bad_arguments():
    with pytest.raises(ValueError, match=r'out_indices=\(1, 4\)'):
        RelativeNASBackbone(out_indices=(1, 4))
    with pytest.raises(ValueError, match='frozen_stages=7'):
        RelativeNASBackbone(frozen_stages=7)


def test_timm_route_through_mmseg_timm_backbone(tmp_path):
    from mmseg.registry import MODELS
    import relnas_zoo.mm  # noqa: F401
    tb = MODELS.build(dict(type='TIMMBackbone', model_name='relativenas', features_only=True, pretrained=False,
                           out_indices=(0, 1, 2, 3)))
    with torch.no_grad():
        outs = tb.eval()(torch.randn(1, 3, 128, 128))
    assert [o.shape[1] for o in outs] == [46, 184, 368, 736]
    path = tmp_path / 'ours.pth'
    relnas_zoo.save_checkpoint(timm.create_model('relativenas'), path)
    local = MODELS.build(dict(type='TIMMBackbone', model_name='relativenas', features_only=True, pretrained=True,
                              pretrained_cfg_overlay=dict(file=str(path)), out_indices=(2, 3)))
    assert [f['num_chs'] for f in local.timm_model.feature_info.get_dicts()] == [368, 736]


@pytest.mark.parametrize('route', ['init_cfg', 'prefix', 'load_from'])
def test_a_checkpoint_of_another_network_is_refused(tmp_path, route):
    """mmengine's loaders only log what does not fit; the backbone refuses another genotype, width or a
    CIFAR network, naming what the file holds and the config line that fits it."""
    from mmengine.runner import load_checkpoint
    from relnas_zoo import CheckpointMismatchError
    darts = timm.create_model('darts_v2')
    if route == 'init_cfg':
        path = tmp_path / 'darts.pth'
        relnas_zoo.save_checkpoint(darts, path)
        b = RelativeNASBackbone(init_cfg=dict(type='Pretrained', checkpoint=str(path)))
        load = b.init_weights
    else:  # a detector's checkpoint: the backbone's keys under 'backbone.'
        path = tmp_path / 'detector.pth'
        torch.save({'state_dict': {f'backbone.{k}': v for k, v in darts.state_dict().items()}}, path)
        if route == 'prefix':
            b = RelativeNASBackbone(init_cfg=dict(type='Pretrained', checkpoint=str(path), prefix='backbone.'))
            load = b.init_weights
        else:
            holder = nn.Module()
            holder.backbone = RelativeNASBackbone()
            load = lambda: load_checkpoint(holder, str(path), strict=False, logger='silent')  # noqa: E731
    with pytest.raises(CheckpointMismatchError, match=r"holds genotype DARTS_V2, C=48, layers=14 .* "
                                                      r"genotype='DARTS_V2', C=48, layers=14"):
        load()
    cifar = tmp_path / 'cifar.pth'
    relnas_zoo.save_checkpoint(timm.create_model('relativenas_cifar10'), cifar)
    with pytest.raises(CheckpointMismatchError, match=r"C=36, layers=20, stem_type='cifar'"):
        RelativeNASBackbone(init_cfg=dict(type='Pretrained', checkpoint=str(cifar))).init_weights()
    # what fits still loads, and PyTorch's own partial load stays possible
    ok = tmp_path / 'ok.pth'
    relnas_zoo.save_checkpoint(timm.create_model('relativenas'), ok)
    RelativeNASBackbone(init_cfg=dict(type='Pretrained', checkpoint=str(ok))).init_weights()
    part = {k: v for k, v in RelativeNASBackbone().state_dict().items() if k.startswith('stem')}
    missing, _ = RelativeNASBackbone().load_state_dict(part, strict=False)
    assert missing and not any(k.startswith('stem') for k in missing)
