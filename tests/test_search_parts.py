"""Search building blocks: the optimizer, the weight set (Eq. 6), data, config."""
import os
import pickle
import platform
from pathlib import Path

import numpy as np
import pytest
import torch

from relnas_zoo.data import DatasetError, TensorBatches, load_cifar, load_digits, split_indices
from relnas_zoo.encoding import bounds, decode, encode, random_vector
from relnas_zoo.genotypes import DARTS_V2, RELATIVENAS
from relnas_zoo.networks import RelativeNASNet
from relnas_zoo.search import ConfigError, SearchConfig, SlowFastOptimizer, WeightSet, apply_overrides, decide, \
    load_config, omega_key
from relnas_zoo.search.optimizer import PairOutcome, outcomes_from_losses
from relnas_zoo.search.weight_set import PROXY_NET_ARGS

from datasets import write_cifar

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------------------ optimizer
def test_decide_rules():
    assert decide(0, 1, 0.5, 0.7) == (0, 1)
    assert decide(0, 1, 0.9, 0.7) == (1, 0)
    assert decide(3, 4, 0.5, 0.5) == (3, 4)                       # tie: first of the pair
    assert decide(0, 1, float('nan'), 9.0) == (1, 0)              # non-finite always loses
    assert decide(0, 1, 1.0, float('inf')) == (0, 1)
    assert decide(0, 1, float('nan'), float('inf')).fast is None


def test_pairs_cover_population_once():
    lo, hi = bounds()
    opt = SlowFastOptimizer(lo, hi, 20, seed=3)
    pairs = opt.ask()
    assert len(pairs) == 10 and sorted(k for p in pairs for k in p) == list(range(20))
    assert opt.ask() == pairs                                      # same generation, same pairing
    opt.tell(pairs, outcomes_from_losses(pairs, np.arange(20.0)))
    assert opt.ask() != pairs                                      # re-shuffled every generation


def test_slow_learner_update_and_fast_untouched():
    lo, hi = np.zeros(6), np.full(6, 10.0)
    pop = np.array([[1.0] * 6, [9.0] * 6, [2.0] * 6, [2.0] * 6])
    opt = SlowFastOptimizer(lo, hi, 4, seed=0, population=pop.copy())
    pairs = opt.ask()
    losses = np.array([0.1, 0.9, 0.5, 0.4])
    outcomes = opt.tell(pairs, outcomes_from_losses(pairs, losses))
    for (i, j), out in zip(pairs, outcomes):
        f, s = out.fast, out.slow
        assert losses[f] <= losses[s]
        assert np.array_equal(opt.population[f], pop[f])           # fast-learner does not move
        # v0 = 0, so the step is r2 * (a_f - a_s) with r2 in [0, 1]: between the two, per variable
        step = opt.population[s] - pop[s]
        np.testing.assert_allclose(opt.velocity[s], step)
        diff = pop[f] - pop[s]
        if np.any(diff):
            ratio = step / diff
            assert ((ratio >= 0) & (ratio <= 1)).all()
            assert len(np.unique(np.round(ratio, 12))) > 1         # r2 drawn per variable
        else:
            assert not np.any(step)


def test_momentum_is_kept_per_individual():
    lo, hi = np.zeros(8), np.full(8, 100.0)
    pop = np.full((2, 8), 50.0)
    opt = SlowFastOptimizer(lo, hi, 2, seed=1, population=pop)
    opt.velocity[:] = 4.0
    pairs = opt.ask()
    out = opt.tell(pairs, outcomes_from_losses(pairs, [1.0, 2.0]))[0]  # identical positions: step = r1 * v
    v = opt.velocity[out.slow]
    assert ((v >= 0) & (v <= 4.0)).all() and len(np.unique(v)) > 1
    np.testing.assert_allclose(opt.population[out.slow], 50.0 + v)
    np.testing.assert_array_equal(opt.velocity[out.fast], 4.0)      # untouched for the fast-learner


def test_positions_are_clipped_to_bounds():
    lo, hi = bounds()
    pop = np.stack([hi, lo])
    opt = SlowFastOptimizer(lo, hi, 2, seed=0, population=pop)
    opt.velocity[1] = -1000.0                                       # a huge momentum away from the box
    pairs = opt.ask()
    opt.tell(pairs, outcomes_from_losses(pairs, [0.0, 1.0]))
    assert ((opt.population >= lo) & (opt.population <= hi)).all()
    assert (opt.population[1] == lo).mean() > 0.9                   # pushed out of the box, clipped onto it
    g = decode(opt.population[1])                                   # a valid genotype of the space
    assert len(g.normal) == len(g.reduce) == 8 and decode(encode(g)) == g


def _sphere(target, hi):
    return lambda v: float((((v - target) / hi) ** 2).sum())


@pytest.mark.parametrize('seed', range(4))
def test_beats_random_search_at_equal_evaluations(seed):
    lo, hi = bounds()
    f = _sphere(np.random.default_rng(100 + seed).uniform(lo, hi), hi)
    opt = SlowFastOptimizer(lo, hi, 20, seed=seed)
    best = np.inf
    for _ in range(50):
        pairs = opt.ask()
        losses = [f(v) for v in opt.population]
        best = min(best, min(losses))
        opt.tell(pairs, outcomes_from_losses(pairs, losses))
    random_best = min(f(v) for v in np.random.default_rng(seed).uniform(lo, hi, size=(20 * 50, lo.size)))
    assert best < 0.5 * random_best


def test_optimizer_state_round_trip():
    lo, hi = bounds()
    a = SlowFastOptimizer(lo, hi, 6, seed=5)
    pa = a.ask()
    a.tell(pa, outcomes_from_losses(pa, np.arange(6.0)))
    b = SlowFastOptimizer(lo, hi, 6, seed=0)
    b.load_state_dict(a.state_dict())
    pa, pb = a.ask(), b.ask()
    assert pa == pb
    a.tell(pa, outcomes_from_losses(pa, np.ones(6)))
    b.tell(pb, outcomes_from_losses(pb, np.ones(6)))
    np.testing.assert_array_equal(a.population, b.population)


def test_optimizer_rejects_bad_sizes():
    lo, hi = bounds()
    with pytest.raises(ValueError, match='even'):
        SlowFastOptimizer(lo, hi, 5)
    with pytest.raises(ValueError, match='expected 2 pair outcomes'):
        SlowFastOptimizer(lo, hi, 4).tell([(0, 1), (2, 3)], [PairOutcome(0, 1)])


# ------------------------------------------------------------------------------------------ weight set
NET = dict(C=4, layers=3, num_classes=10, stem_type='cifar')


def _expected_omega(C, layers, num_classes):
    """Omega's tensors derived from the search space alone: every op on every edge (node k reads any of
    nodes 0..k+1; stride 2 on a reduction cell's edges from its inputs) plus the shared layers."""
    from relnas_zoo.genotypes import OPS
    from relnas_zoo.networks import reduction_layers
    from relnas_zoo.ops import build_op
    reductions = reduction_layers(layers)
    count, keys, c = 0, set(), C
    for cell in range(layers):
        if cell in reductions:
            c *= 2
        for k in range(4):
            for src in range(k + 2):
                for op in OPS:
                    stride = 2 if cell in reductions and src < 2 else 1
                    for name, t in build_op(op, c, stride).state_dict().items():
                        keys.add(f'cells.{cell}.nodes.{k}.from{src}.{op}.{name}')
                        count += t.numel()
    full = RelativeNASNet(genotype=RELATIVENAS, C=C, layers=layers, num_classes=num_classes, prune_unused=False)
    for name, t in full.state_dict().items():
        if '.nodes.' not in name:
            keys.add(name)
            count += t.numel()
    return keys, count


def test_the_benchmarks_authors_reference_computes_the_same_candidate():
    """bench/authors_reference.py (the baseline of bench/search_pair.py) is written without the zoo's
    network; given Omega it computes what the zoo's candidate computes, and hands back the same tensors."""
    import sys
    sys.path.insert(0, str(ROOT / 'bench'))
    from authors_reference import AuthorsCandidate
    sys.path.pop(0)
    omega = WeightSet.initial(0, **NET)
    genotype = decode(random_vector(np.random.default_rng(3)))
    ref = AuthorsCandidate(genotype, NET['C'], NET['layers'], NET['num_classes'])
    ref.load_omega(omega)
    ours = RelativeNASNet(genotype=genotype, **PROXY_NET_ARGS, **NET)
    omega.load_into(ours)
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(ref.eval()(x), ours.eval()(x), rtol=1e-5, atol=1e-6)
    own = {omega_key(k, genotype, NET['layers']) for k in ours.state_dict()}
    assert set(ref.own_weights()) == own                 # what Omega takes back from a candidate
    assert len(ref.state_dict()) == len(omega.tensors)   # every op on every edge is built


def test_omega_holds_every_op_on_every_edge():
    omega = WeightSet.initial(0, **NET)
    keys, count = _expected_omega(4, 3, 10)
    assert set(omega.tensors) == keys and omega.num_elements() == count
    # the paper's proxy (C=16, 8 cells): 14 edges x 7 ops per cell, as in the authors' search network
    big = WeightSet.initial(0, C=16, layers=8, num_classes=10, stem_type='cifar')
    keys, count = _expected_omega(16, 8, 10)
    assert set(big.tensors) == keys and big.num_elements() == count
    op_values = sum(v.numel() for k, v in big.tensors.items() if '.from' in k)
    assert op_values == 1_942_448, op_values              # the slot-keyed layout held about 1.13 M
    # skip_connect has weights only where it reduces (reduction cell, edge from a cell input)
    assert 'cells.1.nodes.0.from0.skip_connect.conv_1.weight' in omega.tensors
    assert not any(k.startswith('cells.1.nodes.1.from2.skip_connect') for k in omega.tensors)
    a, b = WeightSet.initial(0, **NET), WeightSet.initial(1, **NET)
    k = 'cells.0.nodes.0.from0.sep_conv_3x3.op.1.weight'
    assert torch.equal(a.tensors[k], WeightSet.initial(0, **NET).tensors[k]) and not torch.equal(a.tensors[k], b.tensors[k])


def test_input_node_selects_the_inherited_weights():
    """Two candidates differing only in one slot's input node inherit different weights."""
    from relnas_zoo.genotypes import Genotype
    from relnas_zoo.search.weight_set import PROXY_NET_ARGS
    omega = WeightSet.initial(0, **NET)
    normal = list(RELATIVENAS.normal)
    assert normal[6] == ('skip_connect', 0) and normal[7] == ('sep_conv_3x3', 0)
    g0 = Genotype(normal=normal, reduce=RELATIVENAS.reduce)
    normal[7] = ('sep_conv_3x3', 4)                       # node 3's second input: node 4 instead of node 0
    g4 = Genotype(normal=normal, reduce=RELATIVENAS.reduce)
    models = []
    for g in (g0, g4):
        m = RelativeNASNet(genotype=g, **PROXY_NET_ARGS, **NET)
        omega.load_into(m)
        models.append(m)
    key = 'cells.0.nodes.3.op2.op.1.weight'
    assert omega_key(key, g0, 3) == 'cells.0.nodes.3.from0.sep_conv_3x3.op.1.weight'
    assert omega_key(key, g4, 3) == 'cells.0.nodes.3.from4.sep_conv_3x3.op.1.weight'
    assert not torch.equal(models[0].state_dict()[key], models[1].state_dict()[key])
    # in a reduction cell the stride-2 (from a cell input) and stride-1 uses of an op are different weights
    red = list(RELATIVENAS.reduce)
    assert red[4] == ('avg_pool_3x3', 3) and red[6] == ('dil_conv_5x5', 3)
    assert omega.tensors['cells.1.nodes.3.from3.dil_conv_5x5.op.1.weight'].shape != \
        omega.tensors['cells.1.nodes.3.from1.dil_conv_5x5.op.1.weight'].shape or not torch.equal(
            omega.tensors['cells.1.nodes.3.from3.dil_conv_5x5.op.1.weight'],
            omega.tensors['cells.1.nodes.3.from1.dil_conv_5x5.op.1.weight'])


def test_duplicate_edge_is_one_weight_applied_twice():
    """A node reading the same (op, input) twice is one edge: one module, one trained value."""
    from relnas_zoo.genotypes import Genotype
    from relnas_zoo.search.weight_set import PROXY_NET_ARGS
    normal = list(RELATIVENAS.normal)
    normal[2] = normal[3] = ('sep_conv_3x3', 1)           # node 1: sep_conv_3x3 on node 1, twice
    g = Genotype(normal=normal, reduce=RELATIVENAS.reduce)
    m = RelativeNASNet(genotype=g, **PROXY_NET_ARGS, **NET)
    node = m.cells[0].nodes['1']
    assert node.op1 is node.op2
    plain = RelativeNASNet(genotype=g, **NET)                 # the evaluation network keeps two modules
    assert plain.cells[0].nodes['1'].op1 is not plain.cells[0].nodes['1'].op2
    omega = WeightSet.initial(0, **NET)
    omega.load_into(m)
    with torch.no_grad():
        node.op1.op[1].weight.add_(1.0)
    w = omega.extract(m)
    assert torch.equal(w['cells.0.nodes.1.from1.sep_conv_3x3.op.1.weight'], node.op1.op[1].weight)


def test_evaluate_candidate_leaves_the_global_rng_alone():
    from relnas_zoo.search.estimator import TrainSettings, evaluate_candidate
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 255, (16, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, 16)
    tb = TensorBatches(imgs, labels, (0.5,) * 3, (0.5,) * 3, batch_size=8, augment=True, cutout=8)
    vb = TensorBatches(imgs, labels, (0.5,) * 3, (0.5,) * 3, batch_size=8)
    omega = WeightSet.initial(0, **NET)
    torch.manual_seed(1234)
    expected = torch.rand(3)
    torch.manual_seed(1234)
    r1 = evaluate_candidate(RELATIVENAS, omega, NET, tb, vb, TrainSettings(lr=0.05, drop_path=0.3), seed=7)
    assert torch.equal(torch.rand(3), expected)            # the caller's random stream is untouched
    r2 = evaluate_candidate(RELATIVENAS, omega, NET, tb, vb, TrainSettings(lr=0.05, drop_path=0.3), seed=7)
    assert r1.val_loss == r2.val_loss                      # and the candidate is a function of its seed
    r3 = evaluate_candidate(RELATIVENAS, omega, NET, tb, vb, TrainSettings(lr=0.05, drop_path=0.3), seed=7,
                            write_back=False)
    assert r3.weights is None and r3.val_loss == r1.val_loss


def test_candidate_inherits_from_omega():
    omega = WeightSet.initial(0, **NET)
    model = RelativeNASNet(genotype=RELATIVENAS, **NET)
    omega.load_into(model)
    for k, v in model.state_dict().items():
        assert torch.equal(v, omega.tensors[omega_key(k, RELATIVENAS, 3)])


def test_eq6_update_on_a_constructed_pair():
    omega = WeightSet.initial(0, **NET)
    before = {k: v.clone() for k, v in omega.tensors.items()}
    fast_model = RelativeNASNet(genotype=RELATIVENAS, **NET)
    slow_model = RelativeNASNet(genotype=DARTS_V2, **NET)
    for m, value in ((fast_model, 1.0), (slow_model, 2.0)):
        for p in m.state_dict().values():
            p.fill_(value)
    fast, slow = omega.extract(fast_model), omega.extract(slow_model)
    omega.merge(fast, slow)
    only_slow = set(slow) - set(fast)
    assert only_slow and set(fast) & set(slow)                     # ops of both kinds exist in this pair
    for k, v in omega.tensors.items():
        if k in fast:
            assert (v == 1.0).all(), k                             # everything the fast-learner has
        elif k in only_slow:
            assert (v == 2.0).all(), k                             # the slow-learner's ops the fast lacks
        else:
            assert torch.equal(v, before[k]), k                    # the rest unchanged
    assert 'stem.0.weight' in fast and (omega.tensors['stem.0.weight'] == 1.0).all()


# ------------------------------------------------------------------------------------------ data
def test_cifar_reader_and_layout_errors(tmp_path):
    write_cifar(tmp_path / 'c10', 'cifar10', per_batch=12)
    train = load_cifar(tmp_path / 'c10', 'cifar10', train=True)
    assert train.images.shape == (60, 32, 32, 3) and train.images.dtype == np.uint8 and len(train.labels) == 60
    assert train.classes[0] == 'class0'
    assert len(load_cifar(tmp_path / 'c10' / 'cifar-10-batches-py', train=False)) == 12
    write_cifar(tmp_path / 'c100', 'cifar100', per_batch=8)
    assert len(load_cifar(tmp_path / 'c100', 'cifar100')) == 40
    with pytest.raises(DatasetError, match=r'expected the python version of cifar10 under .*\n.*\n\s+cifar-10-batches-py/'):
        load_cifar(tmp_path / 'nothing', 'cifar10')
    (tmp_path / 'c10' / 'cifar-10-batches-py' / 'data_batch_3').unlink()
    with pytest.raises(DatasetError, match='missing .*data_batch_3'):
        load_cifar(tmp_path / 'c10')


class _Evil:
    def __reduce__(self):
        return (os.system, ('touch /tmp/relnas_cifar_pwned',))


def test_cifar_reader_never_runs_code(tmp_path):
    root = write_cifar(tmp_path, per_batch=4)
    (root / 'cifar-10-batches-py' / 'data_batch_1').write_bytes(pickle.dumps({b'data': _Evil()}, protocol=2))
    with pytest.raises(DatasetError, match='posix.system is not allowed|system is not allowed'):
        load_cifar(root)
    assert not os.path.exists('/tmp/relnas_cifar_pwned')
    (root / 'cifar-10-batches-py' / 'data_batch_1').write_bytes(b'garbage')
    with pytest.raises(DatasetError, match='not a readable CIFAR batch'):
        load_cifar(root)


def test_split_is_seeded_disjoint_and_complete():
    a, b = split_indices(50_000, seed=7)
    a2, b2 = split_indices(50_000, seed=7)
    assert np.array_equal(a, a2) and np.array_equal(b, b2)
    assert len(a) == len(b) == 25_000 and not set(a) & set(b)
    assert not np.array_equal(a, split_indices(50_000, seed=8)[0])


def test_digits_ship_with_scikit_learn():
    d = load_digits(32)
    assert d.images.shape == (1797, 32, 32, 3) and set(d.labels.tolist()) == set(range(10))


def test_tensor_batches_augmentation_is_seeded():
    d = load_digits(32).subset(np.arange(70))
    tb = TensorBatches(d.images, d.labels, mean=(0.5,) * 3, std=(0.5,) * 3, batch_size=32, augment=True, cutout=8)
    e1 = list(tb.epoch(torch.Generator().manual_seed(1)))
    e2 = list(tb.epoch(torch.Generator().manual_seed(1)))
    e3 = list(tb.epoch(torch.Generator().manual_seed(2)))
    assert [x.shape[0] for x, _ in e1] == [32, 32, 6]
    assert all(torch.equal(a[0], b[0]) for a, b in zip(e1, e2))
    assert not torch.equal(e1[0][0], e3[0][0])
    # each sample's augmentation is drawn per epoch (one copy to the device), not per batch: the batch
    # size does not change the epoch
    tb70 = TensorBatches(d.images, d.labels, mean=(0.5,) * 3, std=(0.5,) * 3, batch_size=70, augment=True, cutout=8)
    (x70, y70), = list(tb70.epoch(torch.Generator().manual_seed(1)))
    assert torch.equal(torch.cat([x for x, _ in e1]), x70) and torch.equal(torch.cat([y for _, y in e1]), y70)
    plain = TensorBatches(d.images, d.labels, mean=(0.5,) * 3, std=(0.5,) * 3, batch_size=100)
    (x, y), = list(plain.epoch(shuffle=False))
    torch.testing.assert_close(x[0, 0], torch.from_numpy(d.images[0, :, :, 0]).float() / 127.5 - 1)
    # cutout zeroes a square of normalised pixels
    cut = TensorBatches(d.images, d.labels, mean=(0.5,) * 3, std=(0.5,) * 3, batch_size=100, augment=True,
                        pad=0, cutout=8)
    (xc, _), = list(cut.epoch(torch.Generator().manual_seed(0)))
    zeros = (xc == 0).all(1).flatten(1).sum(1)
    assert (zeros >= 16).all() and (zeros <= 64).all()


# ------------------------------------------------------------------------------------------ config
def test_config_files_and_overrides(tmp_path):
    paper = load_config('configs/search/cifar10.yaml')
    assert (paper.population, paper.generations, paper.batch_size, paper.C, paper.layers) == (20, 50, 256, 16, 8)
    assert (paper.lr, paper.momentum, paper.weight_decay, paper.cutout, paper.drop_path, paper.grad_clip) == \
        (0.1, 0.9, 3e-4, 16, 0.3, 5.0)
    assert paper.lr_at(0) == 0.1 and abs(paper.lr_at(50) - 0.001) < 1e-12
    assert paper.drop_path_at(25) == 0.15
    assert load_config('configs/search/cifar100.yaml').dataset == 'cifar100'
    cfg = apply_overrides(paper, ['generations=3', 'amp=bf16', 'subset=null', 'lr=1'])
    assert cfg.generations == 3 and cfg.amp == 'bf16' and cfg.lr == 1.0
    # the validation batch: per device unless given (only speed depends on it)
    assert paper.eval_batch_size == 'auto' and (paper.eval_batch_for('cpu'), paper.eval_batch_for('cuda')) == (64, 512)
    cfg = apply_overrides(paper, ['eval_batch_size=128', 'data=/cifar']).checked()
    assert (cfg.eval_batch_for('cpu'), cfg.eval_batch_for('cuda')) == (128, 128)


@pytest.mark.parametrize('overrides,msg', [
    (['population=5'], 'population=5: must be an even int'),
    (['amp=fp8'], "amp='fp8'"),
    (['mode=async'], "mode='async'"),
    (['lr_min=1'], 'lr_min=1.0: must lie in'),
    (['batch_size=big'], "batch_size='big': expected int"),
    (['bogus=1'], "unknown field 'bogus'"),
    (['cuda_graphs=maybe'], "cuda_graphs='maybe'"),
    (['channels_last=3'], 'channels_last=3: expected str or bool'),
    (['device=0'], 'device=0: expected str'),
    (['eval_batch_size=0'], 'eval_batch_size=0: must be auto or an int >= 1'),
    (['eval_batch_size=all'], "eval_batch_size='all': must be auto or an int >= 1"),
    (['eval_batch_size=true'], 'eval_batch_size=True: must be auto or an int >= 1'),
    (['keep_freed_memory=1'], "keep_freed_memory=1: expected true or false"),
    (['generations'], 'expected key=value'),
])
def test_bad_config_values_name_the_field(overrides, msg):
    with pytest.raises(ConfigError, match=msg):
        apply_overrides(SearchConfig(data='x'), overrides).checked()


def test_cifar_needs_a_data_root(tmp_path):
    with pytest.raises(ConfigError, match="data=None: give the dataset root"):
        SearchConfig().checked()
    (tmp_path / 'c.yaml').write_text('populaton: 4\n')
    with pytest.raises(ConfigError, match=r"unknown field\(s\) \['populaton'\]"):
        load_config(tmp_path / 'c.yaml')


def test_graph_schedule_of_an_epoch(monkeypatch):
    """The CUDA-graph schedule, checked on the CPU with the CUDA parts replaced by recorders: eager
    warm-up steps, one recording, replays for the other full batches, an eager partial batch last."""
    from relnas_zoo.search import estimator
    calls = []

    class Recorded:
        def __init__(self, fn, example):
            calls.append('record')
            self.fn = fn

        def __call__(self, x, y):
            calls.append('replay')
            return self.fn(x, y)

    def side_stream(fn, x, y):
        calls.append('eager' if len(y) == 4 else 'eager-partial')
        return fn(x, y)

    monkeypatch.setattr(estimator, 'CapturedStep', Recorded)
    monkeypatch.setattr(estimator, 'run_on_side_stream', side_stream)
    before = []
    run = estimator._BatchRunner(lambda x, y: (x.sum(), y.sum()), batch_size=4, graphs=True, warmup=2,
                                 before_recording=lambda: before.append(len(calls)))
    batches = [(torch.ones(4), torch.ones(4))] * 5 + [(torch.ones(2), torch.ones(2))]
    outs = [run(x, y) for x, y in batches]
    assert calls == ['eager', 'eager', 'record', 'replay', 'replay', 'replay', 'eager-partial']
    assert before == [2] and run.captured is None  # prepared once, right before recording; freed at the end
    assert [float(o[0]) for o in outs] == [4.] * 5 + [2.]
    plain = estimator._BatchRunner(lambda x, y: (x.sum(), y.sum()), batch_size=4, graphs=False, warmup=2)
    calls.clear()
    [plain(x, y) for x, y in batches]
    assert calls == []  # no graphs: every batch eagerly on the current stream


# ------------------------------------------------------------------------------------------ host memory
_FAULTS_OF_REPEATED_STEPS = r"""
import resource, sys, torch
if sys.argv[1] == 'keep':
    from relnas_zoo.search.host_memory import keep_freed_memory
    assert keep_freed_memory() and keep_freed_memory()   # applied once; the second call is a no-op
def step():  # a training step's pattern: activations saved in the forward, freed one by one in the
    saved = []  # backward while gradients are allocated; 100 MB in all
    for i in range(30):
        saved.append(torch.ones(64, 16, 32, 32) if i % 3 else torch.ones(64, 32, 16, 16))
    grad = torch.ones(64, 16, 32, 32)
    while saved:
        saved.pop()
        grad = grad * 0.5 + 1
    return float(grad[0, 0, 0, 0])
step()
r0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    step()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - r0)
"""


@pytest.mark.skipif(platform.libc_ver()[0] != 'glibc', reason='glibc allocator settings')
def test_keep_freed_memory_stops_refaulting_each_step():
    """Without the setting, glibc hands part of every step's freed activations back to the kernel and the
    next step faults them in again (here 7500-20000 pages a step); with it, steps after the first reuse
    the process's memory."""
    import subprocess
    import sys
    faults = {}
    for mode in ('default', 'keep'):
        out = subprocess.run([sys.executable, '-c', _FAULTS_OF_REPEATED_STEPS, mode], capture_output=True, text=True,
                             check=True, env={**os.environ, 'OMP_NUM_THREADS': '1'})
        faults[mode] = int(out.stdout.split()[-1])
    pages_per_step = 100 * 2 ** 20 // 4096
    assert faults['default'] > pages_per_step, faults      # 10 steps refault more than one step allocates
    assert 5 * faults['keep'] < faults['default'], faults  # (heap fragmentation may still add a few pages)
