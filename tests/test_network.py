"""The network definition: layout, dead-input pruning, drop-path, auxiliary head."""
import pytest
import timm
import torch
from relnas_zoo.ops import ScheduledDropPath as DropPath
from torch import nn

from relnas_zoo import RELATIVENAS, RelativeNASNet
from relnas_zoo.cells import Cell, live_states
from relnas_zoo.genotypes import Genotype
from relnas_zoo.ops import FactorizedReduce, SepConv, build_op


def small(**kw):
    args = dict(genotype='RelativeNAS', C=8, layers=5, num_classes=7, stem_type='cifar')
    args.update(kw)
    return RelativeNASNet(**args)


def test_reduction_cells_and_channels():
    m = timm.create_model('relativenas_cifar10')
    assert [i for i, c in enumerate(m.cells) if c.reduction] == [6, 13]
    n = timm.create_model('relativenas')
    assert [i for i, c in enumerate(n.cells) if c.reduction] == [4, 9]
    assert isinstance(n.cells[0].preprocess0, FactorizedReduce)  # input 0 is the stride-4 stem output
    assert n.num_features == 16 * 46


def test_reduction_cell_skips_unread_input():
    m = timm.create_model('relativenas_cifar10')
    for i in (6, 13):
        assert isinstance(m.cells[i].preprocess0, nn.Identity)
        assert not m.cells[i].uses_input0
    assert all(isinstance(m.cells[i].preprocess0, nn.Module) and m.cells[i].uses_input0
               for i in range(20) if i not in (6, 13))
    full = timm.create_model('relativenas_cifar10', prune_unused=False)
    assert not isinstance(full.cells[6].preprocess0, nn.Identity)


def test_pruned_and_published_layouts_compute_the_same_function():
    full = small(prune_unused=False).eval()
    pruned = small().eval()
    missing = pruned.load_state_dict(full.state_dict())  # dead keys are dropped on load
    assert not missing.missing_keys and not missing.unexpected_keys
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(pruned(x), full(x), rtol=0, atol=0)


def test_dead_intermediate_node_is_not_built():
    d = RELATIVENAS.to_dict()
    d['normal_concat'] = [3, 4, 5]  # node 2 then feeds nothing: no other node reads it
    d['normal'][4] = ['sep_conv_3x3', 1]
    d['normal'][5] = ['sep_conv_5x5', 1]
    live = live_states([tuple(e) for e in d['normal']], d['normal_concat'])
    assert live == [True, True, False, True, True, True]
    pruned, full = small(genotype=d).eval(), small(genotype=d, prune_unused=False).eval()
    assert '0' not in pruned.cells[0].nodes and '0' in full.cells[0].nodes
    pruned.load_state_dict(full.state_dict())
    x = torch.randn(1, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(pruned(x), full(x), rtol=0, atol=0)
    assert pruned.cells[0].out_channels == 3 * 8


def test_ops_follow_the_reference_structure():
    sep = build_op('sep_conv_5x5', 8, 2)
    assert isinstance(sep, SepConv)
    assert sep.op[1].stride == (2, 2) and sep.op[5].stride == (1, 1) and sep.op[1].groups == 8
    dil = build_op('dil_conv_3x3', 8, 1)
    assert dil.op[1].dilation == (2, 2) and dil.op[1].kernel_size == (3, 3)
    assert isinstance(build_op('skip_connect', 8, 2), FactorizedReduce)
    assert isinstance(build_op('skip_connect', 8, 1), nn.Identity)
    assert build_op('avg_pool_3x3', 8, 1).count_include_pad is False
    with pytest.raises(ValueError, match="unknown op 'none'"):
        build_op('none', 8, 1)


@pytest.mark.parametrize('size', [8, 7, 15])
def test_factorized_reduce_even_and_odd(size):
    fr = FactorizedReduce(4, 6).eval()
    x = torch.randn(2, 4, size, size)
    y = fr(x)
    assert y.shape == (2, 6, (size + 1) // 2, (size + 1) // 2)
    F = torch.nn.functional

    def reference(x):  # the authors' formulation: a stride-2 conv over the input padded and shifted
        r = torch.relu(x)
        shifted = F.pad(r, (0, 1, 0, 1))[:, :, 1:, 1:]
        return fr.bn(torch.cat([fr.conv_1(r), F.conv2d(shifted, fr.conv_2.weight, stride=2)], dim=1))
    torch.testing.assert_close(y, reference(x))
    x2 = torch.randn(1, 4, size, size + 1)  # one odd and one even side
    torch.testing.assert_close(fr(x2), reference(x2))


def _relu_per_op(model):
    """A copy where every op and preprocess layer applies its own leading ReLU (the authors' layout)
    instead of the cell (per state) and the network (per cell output)."""
    import copy
    model = copy.deepcopy(model)
    model.activated_states = [False] * len(model.activated_states)
    for cell in model.cells:
        cell.activate = [False] * len(cell.activate)
        ops = [cell.preprocess0, cell.preprocess1]
        for node in cell.nodes.values():
            ops += [node.op1, node.op2]
            node.act1 = node.act2 = False
        for op in ops:
            if isinstance(op, FactorizedReduce):
                op.relu = nn.ReLU()
            elif hasattr(op, 'op') and isinstance(op.op[0], nn.Identity):
                op.op[0] = nn.ReLU()
    return model


def test_one_relu_per_state_equals_one_relu_per_op():
    # a reduction cell whose input 1 feeds a strided skip, a sep conv and a dil conv
    g = Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('dil_conv_3x3', 0), ('sep_conv_5x5', 1),
                         ('skip_connect', 2), ('sep_conv_3x3', 2), ('dil_conv_5x5', 3), ('max_pool_3x3', 4)],
                 normal_concat=[2, 3, 4, 5],
                 reduce=[('skip_connect', 1), ('sep_conv_3x3', 1), ('dil_conv_3x3', 1), ('max_pool_3x3', 0),
                         ('sep_conv_5x5', 2), ('skip_connect', 0), ('sep_conv_3x3', 3), ('avg_pool_3x3', 2)],
                 reduce_concat=[2, 3, 4, 5])
    shared = small(genotype=g)
    per_op = _relu_per_op(shared)
    reduce_cell = next(c for c in shared.cells if c.reduction)
    assert reduce_cell.activate[1] and isinstance(reduce_cell.nodes['0'].op1.relu, nn.Identity)
    x = torch.randn(2, 3, 16, 16)
    ya, yb = shared(x), per_op(x)
    torch.testing.assert_close(ya, yb, rtol=0, atol=0)
    ya.square().sum().backward()
    yb.square().sum().backward()
    grads = dict(per_op.named_parameters())
    for name, p in shared.named_parameters():
        torch.testing.assert_close(p.grad, grads[name].grad, rtol=1e-5, atol=1e-6, msg=name)
    # the traced graph holds one ReLU per activated state, not one per reading op
    relus = lambda m: sum(n.target in (torch.relu, torch.nn.functional.relu) or (  # noqa: E731
        n.op == 'call_module' and isinstance(m.get_submodule(n.target), nn.ReLU))
        for n in torch.fx.symbolic_trace(m).graph.nodes)
    assert relus(shared) < relus(per_op)


@pytest.mark.parametrize('stem_type', ['cifar', 'imagenet'])
def test_each_cell_output_is_activated_once_for_the_next_two_cells(stem_type):
    """Cell i's output feeds the preprocess layers of cells i+1 and i+2; the network applies their
    ReLU once (one saved activation in training) and the outputs and gradients stay the authors'."""
    shared = small(stem_type=stem_type, prune_unused=False)
    per_op = _relu_per_op(shared)
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(shared(x), per_op(x), rtol=0, atol=0)
    shared(x).square().sum().backward()
    per_op(x).square().sum().backward()
    grads = dict(per_op.named_parameters())
    for name, p in shared.named_parameters():  # the same sums in another order (big grads: a square loss)
        ref = grads[name].grad
        assert (p.grad is None) == (ref is None), name
        if ref is not None:
            torch.testing.assert_close(p.grad, ref, rtol=1e-5, atol=1e-6 * float(ref.abs().max()), msg=name)
    feats_a, feats_b = shared.forward_intermediates(x, intermediates_only=True), per_op.forward_intermediates(
        x, intermediates_only=True)
    for a, b in zip(feats_a, feats_b):  # features are the raw (not activated) states
        torch.testing.assert_close(a, b, rtol=0, atol=0)
        assert (a < 0).any()

    graph = torch.fx.symbolic_trace(shared).graph
    is_relu = lambda n: n.target in (torch.relu, torch.nn.functional.relu) or (  # noqa: E731
        n.op == 'call_module' and isinstance(shared.get_submodule(n.target), nn.ReLU))
    cell_outputs = [n for n in graph.nodes if n.target is torch.cat and len(n.args[0]) == 4]  # 4 nodes
    assert len(cell_outputs) == shared.layers
    relus_per_output = [sum(map(is_relu, n.users)) for n in cell_outputs]
    assert relus_per_output == [1] * (shared.layers - 1) + [0]  # the last output goes to the head


def test_drop_path_is_per_sample_and_skips_identity_edges():
    m = small(drop_path_rate=0.3)
    for cell in m.cells:
        for node in cell.nodes.values():
            for op, drop in ((node.op1, node.drop1), (node.op2, node.drop2)):
                assert isinstance(drop, nn.Identity) == isinstance(op, nn.Identity)
    rates = {round(float(d.rate), 6) for d in m.modules() if isinstance(d, DropPath)}
    assert rates == {0.3}
    m.set_drop_path_rate(0.1)
    assert {round(float(d.rate), 6) for d in m.modules() if isinstance(d, DropPath)} == {0.1}
    with pytest.raises(ValueError, match='drop-path rate'):
        m.set_drop_path_rate(1.5)
    # per sample: dropping zeroes whole samples of an edge's output
    drop = next(d for d in m.modules() if isinstance(d, DropPath))
    drop.set_rate(0.5)
    drop.train()
    y = drop(torch.ones(64, 3, 4, 4))
    per_sample = y.flatten(1)
    assert ((per_sample == 0).all(1) | (per_sample == 2).all(1)).all()
    assert 0 < (per_sample == 0).all(1).sum() < 64


def test_drop_path_only_in_training():
    m = small(drop_path_rate=0.5)
    x = torch.randn(2, 3, 16, 16)
    m.eval()
    with torch.no_grad():
        a, b = m(x), m(x)
    torch.testing.assert_close(a, b)
    m.train()
    torch.manual_seed(1)
    c = m(x)
    torch.manual_seed(2)
    d = m(x)
    assert not torch.allclose(c, d)


def test_auxiliary_head_training_api():
    m = timm.create_model('relativenas_cifar10', C=8, layers=8, auxiliary=True, num_classes=5)
    x = torch.randn(2, 3, 32, 32)
    assert torch.is_tensor(m(x)) and m(x).shape == (2, 5)
    out = m.forward_with_aux(x)
    assert out.logits.shape == (2, 5) and out.aux_logits.shape == (2, 5)
    loss = nn.functional.cross_entropy(out.logits, torch.zeros(2, dtype=torch.long)) + \
        0.4 * nn.functional.cross_entropy(out.aux_logits, torch.zeros(2, dtype=torch.long))
    loss.backward()
    assert all(p.grad is not None for p in m.parameters())
    m.eval()
    assert m.forward_with_aux(x).aux_logits is None
    imagenet = timm.create_model('relativenas', C=8, layers=5, auxiliary=True, num_classes=3)
    assert imagenet.forward_with_aux(torch.randn(2, 3, 224, 224)).aux_logits.shape == (2, 3)


def test_forward_with_aux_matches_forward():
    m = small(auxiliary=True).eval()
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(m.forward_with_aux(x).logits, m(x))


@pytest.mark.parametrize('kw,msg', [(dict(C=7), 'C=7'), (dict(layers=2), 'layers=2'),
                                    (dict(stem_type='mnist'), "stem_type='mnist'")])
def test_bad_arguments(kw, msg):
    with pytest.raises(ValueError, match=msg):
        small(**kw)


def test_cell_channels():
    edges, concat = RELATIVENAS.cell(False)
    cell = Cell(edges, concat, 12, 16, 8, reduction=False, reduction_prev=True)
    y = cell(torch.randn(1, 12, 16, 16), torch.randn(1, 16, 8, 8))
    assert y.shape == (1, 32, 8, 8)


def test_fold_batchnorm_keeps_outputs_and_removes_bn():
    from relnas_zoo.deploy import fold_batchnorm
    model = timm.create_model('relativenas', C=16, layers=5, num_classes=10)
    for mod in model.modules():  # non-trivial statistics, else folding is an identity and proves nothing
        if isinstance(mod, nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.2, 0.2)
            mod.running_var.uniform_(0.5, 2.0)
            mod.weight.data.uniform_(0.5, 1.5)
            mod.bias.data.uniform_(-0.2, 0.2)
    model.eval()
    folded = fold_batchnorm(model)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules())  # the original is untouched
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(folded(x), model(x), rtol=1e-4, atol=1e-4)


def test_compiled_model_does_not_recompile_when_the_drop_path_rate_changes():
    """10 epochs of a ramped rate compile once (a float attribute recompiled every epoch, and torch fell
    back to eager after 8)."""
    from torch._dynamo.testing import CompileCounter
    torch._dynamo.reset()
    m = small(drop_path_rate=0.2).train()
    counter = CompileCounter()
    compiled = torch.compile(m, backend=counter)
    x = torch.randn(4, 3, 16, 16)
    for epoch in range(10):
        m.set_drop_path_rate(0.2 * epoch / 10)
        compiled(x).sum().backward()
    assert counter.frame_count == 1, counter.frame_count
    m.set_drop_path_rate(0.)
    torch.manual_seed(0)
    a = compiled(x)
    torch.manual_seed(0)
    b = m(x)
    torch.testing.assert_close(a, b)   # rate 0: drop-path is the identity (eager and compiled agree)


def test_dense_grad_concat_hands_every_state_a_dense_gradient():
    from relnas_zoo.speedups import DenseGradConcat
    seen = []
    states = []
    for i in range(3):
        s = torch.randn(2, 4, 8, 8).contiguous(memory_format=torch.channels_last).requires_grad_()
        mid = s * 1.                                   # a non-leaf, as a node's output is
        mid.register_hook(lambda g, i=i: seen.append((i, g)))
        states.append(mid)
    out = DenseGradConcat()(states)
    g = torch.randn_like(out)
    out.backward(g)
    grads = [t for _, t in sorted(seen, key=lambda e: e[0])]
    assert len(grads) == 3 and all(t.is_contiguous(memory_format=torch.channels_last) for t in grads)
    torch.testing.assert_close(torch.cat(grads, 1), g, rtol=0, atol=0)


@pytest.mark.parametrize('name', ['relativenas_cifar10', 'relativenas'])
def test_cpu_training_speedups_keep_keys_outputs_and_gradients(name):
    """The network is stock PyTorch; the speed-up pass swaps in its stand-ins and changes no number."""
    import copy
    from relnas_zoo.depthwise import DepthwiseConv2d
    from relnas_zoo.speedups import DenseGradConcat, apply_cpu_training_speedups
    torch.manual_seed(0)
    # C=16: oneDNN's CPU backward of a 1x1 stride-2 conv on 8 or fewer channels in channels_last corrupts
    # the heap (torch 2.14.1), a reduction cell's FactorizedReduce at C=8
    plain = timm.create_model(name, C=16, layers=5, auxiliary=True).train()
    assert not any(isinstance(m, (DepthwiseConv2d, DenseGradConcat)) for m in plain.modules())
    fast = copy.deepcopy(plain)
    params = list(fast.parameters())
    assert apply_cpu_training_speedups(fast) is fast
    kinds = [type(m) for m in fast.modules()]
    assert kinds.count(DepthwiseConv2d) == sum(isinstance(m, nn.Conv2d) and m.groups > 1 for m in plain.modules())
    assert kinds.count(DenseGradConcat) == 5 and list(fast.parameters()) == params   # the same Parameter objects
    assert list(fast.state_dict()) == list(plain.state_dict())
    size = (32, 32) if name.endswith('cifar10') else (224, 224)  # the auxiliary head needs 7x7 there
    x = torch.randn(4, 3, *size).contiguous(memory_format=torch.channels_last)
    plain, fast = plain.to(memory_format=torch.channels_last), fast.to(memory_format=torch.channels_last)
    a, b = plain.forward_with_aux(x), fast.forward_with_aux(x)
    torch.testing.assert_close(b.logits, a.logits, rtol=0, atol=0)    # the forward is PyTorch's in both
    (a.logits.square().sum() + a.aux_logits.sum()).backward()
    (b.logits.square().sum() + b.aux_logits.sum()).backward()
    for (n, p), q in zip(plain.named_parameters(), fast.parameters()):  # sums in another order: rounding only
        assert (q.grad - p.grad).abs().max() <= 1e-4 * p.grad.abs().max(), n
    with torch.no_grad():
        torch.testing.assert_close(fast.eval()(x), plain.eval()(x), rtol=0, atol=0)


def test_a_network_is_freed_without_the_garbage_collector():
    """No reference cycle: a search candidate's memory (on CUDA: its graph's pool, held through the
    gradients) goes back as soon as the candidate is dropped, not whenever the collector next runs."""
    import gc
    import weakref
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        model = RelativeNASNet(genotype=RELATIVENAS, C=8, layers=3, num_classes=10, stem_type='cifar',
                               drop_path_rate=0.2)
        model(torch.randn(2, 3, 32, 32)).sum().backward()
        alive_model, alive_grad = weakref.ref(model), weakref.ref(next(model.parameters()).grad)
        del model
        assert alive_model() is None and alive_grad() is None
    finally:
        if gc_was_enabled:
            gc.enable()


def _depthwise_pair(kernel, dilation, stride=1, channels=8):
    from relnas_zoo.depthwise import DepthwiseConv2d
    pad = dilation * (kernel - 1) // 2
    ours = DepthwiseConv2d(channels, kernel, stride=stride, padding=pad, dilation=dilation)
    ref = nn.Conv2d(channels, channels, kernel, stride=stride, padding=pad, dilation=dilation, groups=channels,
                    bias=False)
    ref.load_state_dict(ours.state_dict())
    return ours, ref


@pytest.mark.parametrize('channels_last', [True, False])
@pytest.mark.parametrize('size', [12, 7])  # 7: odd, the dilated weight gradient takes aten's path
@pytest.mark.parametrize('kernel,dilation,stride', [(3, 1, 1), (5, 1, 1), (3, 2, 1), (5, 2, 1), (3, 2, 2), (5, 2, 2)])
def test_depthwise_cpu_backward_equals_pytorch(kernel, dilation, stride, size, channels_last):
    ours, ref = _depthwise_pair(kernel, dilation, stride)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    x = torch.randn(3, 8, size, size).contiguous(memory_format=fmt)
    out_size = (size - 1) // stride + 1
    grad = torch.randn(3, 8, out_size, out_size).contiguous(memory_format=fmt)
    results = []
    for m in (ours, ref):
        xi = x.clone().requires_grad_(True)
        y = m(xi)
        results.append((y, *torch.autograd.grad(y, (xi, m.weight), grad)))
        if m is ours:
            assert type(y.grad_fn).__name__ == '_DepthwiseConvFunctionBackward'  # the fast path ran
            assert results[0][1].is_contiguous(memory_format=fmt)  # the input's gradient in its layout
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    # the weight alone (an input that needs no gradient, as an image is)
    gw = torch.autograd.grad(ours(x), ours.weight, grad)[0]
    torch.testing.assert_close(gw, results[1][2], rtol=1e-5, atol=1e-5)


def test_depthwise_takes_pytorch_convolution_where_the_fast_backward_does_not_apply():
    from relnas_zoo.depthwise import DepthwiseConv2d
    x = torch.randn(2, 8, 8, 8, requires_grad=True)
    name = lambda y: type(y.grad_fn).__name__  # noqa: E731
    fast, _ = _depthwise_pair(5, 1)
    strided, ref = _depthwise_pair(3, 1, stride=2)
    assert name(fast(x)) == '_DepthwiseConvFunctionBackward'
    assert name(strided(x)) == 'ConvolutionBackward0'  # stride 2: no flipped-kernel forward for its gradient
    torch.testing.assert_close(strided(x), ref(x))
    assert name(DepthwiseConv2d(8, 3, padding=0)(x)) == 'ConvolutionBackward0'  # not 'same' padding
    # an even kernel with dilation 2 and stride 2 has odd padding: no even grid to take
    even = DepthwiseConv2d(8, 4, stride=2, padding=3, dilation=2)
    even_ref = nn.Conv2d(8, 8, 4, stride=2, padding=3, dilation=2, groups=8, bias=False)
    even_ref.load_state_dict(even.state_dict())
    assert name(even(x)) == 'ConvolutionBackward0'
    torch.testing.assert_close(even(x), even_ref(x))
    rect = DepthwiseConv2d(8, (3, 5), padding=(1, 2))  # a non-square kernel builds, and takes PyTorch's path
    assert name(rect(x)) == 'ConvolutionBackward0'
    with torch.autocast('cpu', dtype=torch.bfloat16):
        assert name(fast(x)) == 'ConvolutionBackward0'
    assert name(fast.double()(x.double())) == 'ConvolutionBackward0'
    with torch.no_grad():
        assert fast.float()(x).grad_fn is None
    traced = torch.jit.trace(fast, x.detach())  # what the TorchScript ONNX exporter sees
    assert 'aten::_convolution' in str(traced.graph) and 'PythonOp' not in str(traced.graph)
    scripted = torch.jit.script(fast)
    torch.testing.assert_close(scripted(x), fast(x))


def test_full_backward_hooks_on_batch_norm_work_in_training():
    """Attribution and debugging tools hook BN modules; an in-place op right after one would make
    PyTorch refuse the backward ("Output 0 of BackwardHookFunction is a view and is being modified
    inplace")."""
    model = small(genotype=Genotype(
        normal=[('sep_conv_3x3', 0), ('sep_conv_5x5', 1), ('dil_conv_3x3', 0), ('skip_connect', 1),
                ('sep_conv_3x3', 2), ('avg_pool_3x3', 3), ('max_pool_3x3', 4), ('dil_conv_5x5', 2)],
        normal_concat=[2, 3, 4, 5], reduce=RELATIVENAS.reduce, reduce_concat=RELATIVENAS.reduce_concat),
        drop_path_rate=0.2)
    seen = []
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.register_full_backward_hook(lambda m, gi, go: seen.append(m))
    model(torch.randn(2, 3, 16, 16)).sum().backward()
    assert len(seen) == sum(isinstance(m, nn.BatchNorm2d) for m in model.modules())
