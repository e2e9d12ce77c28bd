"""timm's generic model checks, applied to every registered model, plus compile/ONNX/channels_last."""
import math

import pytest
import timm
import torch
from timm.layers import get_notrace_functions, get_notrace_modules
from timm.models import FeatureInfo
from torchvision.models.feature_extraction import create_feature_extractor, get_graph_node_names

import relnas_zoo

MODELS = list(relnas_zoo.VARIANTS)


def _size(model, target):
    c, h, w = model.pretrained_cfg['input_size']
    return (c, min(h, target), min(w, target))


def test_registered():
    assert set(MODELS) <= set(timm.list_models())
    assert MODELS == ['relativenas', 'relativenas_cifar10', 'relativenas_cifar100', 'darts_v2', 'darts_v2_cifar10']


@pytest.mark.parametrize('name', MODELS)
def test_forward(name):
    model = timm.create_model(name).eval()
    x = torch.randn(1, *_size(model, 224))
    with torch.no_grad():
        out = model(x)
    assert out.shape == (1, model.pretrained_cfg['num_classes'])
    assert not torch.isnan(out).any()


@pytest.mark.parametrize('name', MODELS)
def test_backward_every_parameter_gets_a_gradient(name):
    model = timm.create_model(name, num_classes=42)
    model.train()
    out = model(torch.randn(2, *_size(model, 128)))
    out.mean().backward()
    for n, p in model.named_parameters():
        assert p.grad is not None, f'no gradient for {n}'
    assert out.shape[-1] == 42


@pytest.mark.parametrize('name', MODELS)
def test_default_cfg_consistency(name):
    model = timm.create_model(name).eval()
    cfg = model.pretrained_cfg
    for key in ('input_size', 'pool_size', 'crop_pct', 'interpolation', 'mean', 'std', 'first_conv',
                'classifier', 'num_classes'):
        assert key in cfg, key
    x = torch.randn(1, *cfg['input_size'])
    with torch.no_grad():
        feats = model.forward_features(x)
        assert feats.shape[-2:] == tuple(cfg['pool_size'])
        assert feats.shape[1] == model.num_features == model.head_hidden_size
        assert model.forward_head(feats, pre_logits=True).shape == (1, model.num_features)
        model.reset_classifier(0)
        out = model(x)
        assert out.shape == (1, model.num_features)
        model.reset_classifier(0, '')
        out = model(x)
        assert out.ndim == 4 and out.shape[-2:] == tuple(cfg['pool_size'])
        model.reset_classifier(17)              # timm: global_pool=None keeps the current pooling (none)
        assert model.global_pool.pool_type == ''
        model.reset_classifier(17, 'avg')
        assert model.get_classifier().out_features == 17 and model(x).shape == (1, 17)
    sd = model.state_dict()
    assert cfg['classifier'] + '.weight' in sd
    assert cfg['first_conv'] + '.weight' in sd


def test_meta_device_then_to_empty_and_load():
    """timm's factory arguments: device='meta' allocates nothing; to_empty + load_state_dict gives the model."""
    ref = timm.create_model('relativenas_cifar10').eval()
    meta = timm.create_model('relativenas_cifar10', device='meta')
    assert all(t.device.type == 'meta' for t in [*meta.parameters(), *meta.buffers()])
    model = meta.to_empty(device='cpu')
    model.load_state_dict(ref.state_dict())
    model.eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(x), ref(x))
    half = timm.create_model('relativenas_cifar10', dtype=torch.float64)
    assert all(p.dtype == torch.float64 for p in half.parameters())
    with pytest.raises(TypeError):
        timm.create_model('relativenas_cifar10', not_a_model_arg=1)


def test_features_only_model_scripts():
    model = timm.create_model('relativenas', features_only=True, out_indices=(1, 2, 3)).eval()
    scripted = torch.jit.script(model)
    x = torch.randn(1, 3, 96, 96)
    with torch.no_grad():
        for a, b in zip(scripted(x), model(x)):
            torch.testing.assert_close(a, b)


@pytest.mark.parametrize('name', ['relativenas', 'relativenas_cifar10'])
def test_torchscript(name):
    with timm.set_scriptable(True):
        model = timm.create_model(name).eval()
    scripted = torch.jit.script(model)
    x = torch.randn(1, *_size(model, 128))
    with torch.no_grad():
        torch.testing.assert_close(scripted(x), model(x))


def _fx_model(model, train=False):
    tracer_kwargs = dict(leaf_modules=get_notrace_modules(), autowrap_functions=get_notrace_functions())
    train_nodes, eval_nodes = get_graph_node_names(model, tracer_kwargs=tracer_kwargs)
    return create_feature_extractor(model, train_return_nodes=[train_nodes[-1]],
                                    eval_return_nodes=[eval_nodes[-1]], tracer_kwargs=tracer_kwargs)


@pytest.mark.parametrize('name', ['relativenas', 'darts_v2_cifar10'])
def test_fx_trace_equals_eager(name):
    model = timm.create_model(name).eval()
    x = torch.randn(1, *_size(model, 128))
    with torch.no_grad():
        eager = model(x)
        fx = _fx_model(model).eval()
        traced = tuple(fx(x).values())[0]
    assert torch.equal(traced, eager)


def test_fx_backward():
    model = timm.create_model('relativenas_cifar10', C=8, layers=5, num_classes=42, drop_path_rate=0.2)
    fx = _fx_model(model, train=True).train()
    out = tuple(fx(torch.randn(2, 3, 32, 32)).values())[0]
    out.mean().backward()
    assert all(p.grad is not None for p in fx.parameters())


@pytest.mark.parametrize('name', MODELS)
def test_features_only_matches_feature_info(name):
    model = timm.create_model(name, features_only=True).eval()
    channels = model.feature_info.channels()
    reductions = model.feature_info.reduction()
    assert len(channels) == 4
    c, h, w = _size(model, 96)
    with torch.no_grad():
        outs = model(torch.randn(1, c, h, w))
    assert len(outs) == 4
    for ch, r, o in zip(channels, reductions, outs):
        assert o.shape[1] == ch
        assert o.shape[-2:] == (math.ceil(h / r), math.ceil(w / r))


def test_imagenet_levels_are_strides_4_8_16_32():
    model = timm.create_model('relativenas', features_only=True, out_indices=(1, 2, 3))
    assert model.feature_info.reduction() == [8, 16, 32]
    assert model.feature_info.channels() == [184, 368, 736]
    full = timm.create_model('relativenas', features_only=True)
    assert full.feature_info.reduction() == [4, 8, 16, 32]
    # pruned to what the requested levels need: the last cell kept is cells.13, nothing after
    part = timm.create_model('relativenas', features_only=True, out_indices=(0, 1))
    assert len(part.model.cells) == 4 and part.model.auxiliary_head is None
    with torch.no_grad():
        outs = part(torch.randn(1, 3, 64, 64))
    assert [o.shape[1] for o in outs] == [46, 184]


@pytest.mark.parametrize('name', ['relativenas', 'relativenas_cifar100'])
def test_forward_intermediates(name):
    model = timm.create_model(name).eval()
    info = FeatureInfo(model.feature_info, list(range(len(model.feature_info))))
    x = torch.randn(1, *_size(model, 96))
    with torch.no_grad():
        final, inter = model.forward_intermediates(x)
        torch.testing.assert_close(final, model.forward_features(x))
        assert [t.shape[1] for t in inter] == info.channels()
        last2 = model.forward_intermediates(x, indices=2, intermediates_only=True)
        assert [t.shape[1] for t in last2] == info.channels()[-2:]
        early = model.forward_intermediates(x, indices=[0, 1], stop_early=True, intermediates_only=True)
        for a, b in zip(early, inter[:2]):
            torch.testing.assert_close(a, b)
        neg = model.forward_intermediates(x, indices=[-1], intermediates_only=True)
        torch.testing.assert_close(neg[0], inter[-1])


def test_prune_intermediate_layers():
    model = timm.create_model('relativenas_cifar10', C=8).eval()
    taken = model.prune_intermediate_layers([1, 2])
    assert taken == [1, 2]
    assert len(model.cells) == 13 and model.num_features == model.feature_info[2]['num_chs']
    with torch.no_grad():
        out = model(torch.randn(1, 3, 32, 32))
    assert out.ndim == 4 and out.shape[1] == model.num_features


def test_gradient_checkpointing_recomputes_and_matches():
    model = timm.create_model('relativenas_cifar10', C=8, layers=5, num_classes=3)
    model.train()
    x = torch.randn(2, 3, 32, 32)
    calls = []
    # a pre-hook: non-reentrant checkpointing stops the recomputation early, before forward hooks
    hook = model.cells[2].register_forward_pre_hook(lambda *a: calls.append(1))
    ref = model(x)
    ref.sum().backward()
    ref_grads = [p.grad.clone() for p in model.parameters()]
    assert len(calls) == 1
    model.zero_grad()
    calls.clear()
    model.set_grad_checkpointing(True)
    torch.manual_seed(0)
    out = model(x)
    out.sum().backward()
    assert len(calls) == 2, 'a checkpointed cell is run again in backward'
    torch.testing.assert_close(out, ref)
    for a, p in zip(ref_grads, model.parameters()):
        torch.testing.assert_close(p.grad, a, rtol=1e-4, atol=1e-5)
    hook.remove()


def test_in_chans():
    m = timm.create_model('relativenas', in_chans=1, num_classes=4).eval()
    assert m.stem0[0].in_channels == 1
    assert m(torch.randn(1, 1, 64, 64)).shape == (1, 4)
    c = timm.create_model('relativenas_cifar10', in_chans=5).eval()
    assert c(torch.randn(1, 5, 32, 32)).shape == (1, 10)


def test_overrides_and_genotype_argument(tmp_path):
    relnas_zoo.save_genotype(relnas_zoo.DARTS_V1, tmp_path / 'g.json')
    m = timm.create_model('relativenas_cifar10', genotype=str(tmp_path / 'g.json'), C=16, layers=8)
    assert m.genotype == relnas_zoo.DARTS_V1 and m.C == 16 and len(m.cells) == 8
    assert timm.create_model('relativenas_cifar10', genotype=relnas_zoo.DARTS_V2).genotype == relnas_zoo.DARTS_V2
    assert timm.create_model('darts_v2_cifar10', genotype='RelativeNAS').genotype == relnas_zoo.RELATIVENAS


def test_channels_last():
    model = timm.create_model('relativenas', C=16, layers=5).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        ref = model(x)
        model = model.to(memory_format=torch.channels_last)
        out = model(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4)


@pytest.mark.slow
def test_torch_compile():
    model = timm.create_model('relativenas_cifar10', C=8, layers=5).eval()
    x = torch.randn(2, 3, 32, 32)
    compiled = torch.compile(model)
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), model(x), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize('dynamo', [True, False], ids=['dynamo', 'torchscript'])
def test_onnx_export_matches_eager(tmp_path, dynamo):
    import onnxruntime as ort  # in the dev extra: a missing exporter dependency must fail, not skip
    model = timm.create_model('relativenas', C=16, layers=5).eval()
    x = torch.randn(1, 3, 64, 64)
    path = tmp_path / 'model.onnx'
    if dynamo:
        torch.onnx.export(model, (x,), str(path), input_names=['image'], output_names=['logits'],
                          dynamic_shapes=({0: torch.export.Dim('batch')},))
    else:
        torch.onnx.export(model, (x,), str(path), input_names=['image'], output_names=['logits'],
                          dynamic_axes={'image': {0: 'batch'}}, dynamo=False)
    sess = ort.InferenceSession(str(path), providers=['CPUExecutionProvider'])
    x2 = torch.randn(3, 3, 64, 64)
    (got,) = sess.run(None, {'image': x2.numpy()})
    with torch.no_grad():
        torch.testing.assert_close(torch.from_numpy(got), model(x2), rtol=1e-4, atol=1e-4)
