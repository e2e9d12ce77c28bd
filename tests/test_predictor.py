"""relnas_zoo.predictor: encodings worked out by hand, the loss against its formula, real benchmark data."""
import io
import json
import math
import os
import pickle

import numpy as np
import pytest
import torch

from relnas_zoo.cli import main as _cli_main
from relnas_zoo.genotypes import Genotype
from relnas_zoo.networks import RelativeNASNet
from relnas_zoo.predictor import RelativisticPredictor, FitConfig, get_space, tables
from relnas_zoo.predictor.spaces import darts as genotype_space
from relnas_zoo.predictor.spaces import nb101, nb201
from relnas_zoo.predictor.spaces.nb201.scores import NB201_SCORES, SCORE_NAMES, load_nb201_scores
from relnas_zoo.predictor.model import pairwise_agreement, pairwise_logistic_loss
from relnas_zoo.predictor.predictor import PredictorFileError


def predictor_main(argv):
    return _cli_main(['predictor', *argv])

BEST_CIFAR10 = '|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|'


@pytest.fixture(scope='module')
def analog():
    return tables.analog_nasbench()


@pytest.fixture(scope='module')
def naslib201():
    return tables.naslib_nb201()


# ---------------------------------------------------------------------------------------- NAS-Bench-201
def test_arch_string_to_naslib_key_on_a_known_cell(analog):
    cell = nb201.parse_arch_string(BEST_CIFAR10)
    # string order e01 | e02 e12 | e03 e13 e23 -> NASLib order e01 e02 e03 e12 e13 e23
    assert cell == ('nor_conv_3x3', 'nor_conv_3x3', 'skip_connect', 'nor_conv_3x3', 'nor_conv_3x3', 'nor_conv_3x3')
    assert nb201.to_naslib_key(cell) == (2, 2, 0, 2, 2, 2)
    assert nb201.to_arch_string(cell) == BEST_CIFAR10
    acc = dict(zip(analog.archs, analog.metric('baseline_accuracy')))
    # the benchmark's best-known CIFAR-10 cell is in analog-nasbench's top 10 of 15,625 (a wrong edge
    # order would put some other cell there)
    assert acc[cell] >= sorted(acc.values())[-10]
    assert acc[('none',) * 6] == pytest.approx(10.0)


def test_every_cell_round_trips_through_its_string_and_key():
    cells = list(nb201.all_cells())
    assert len(cells) == len(set(cells)) == 15625
    for cell in cells:
        assert nb201.parse_arch_string(nb201.to_arch_string(cell)) == cell
        assert nb201.from_naslib_key(nb201.to_naslib_key(cell)) == cell


@pytest.mark.parametrize('bad, words', [
    ('|nor_conv_3x3~0|+|nor_conv_3x3~0|', 'expected 3 node groups'),
    ('|nor_conv_3x3~0|+|nor_conv_3x3~0|conv_9x9~1|+|skip_connect~0|none~1|none~2|', "unknown op 'conv_9x9'"),
    ('|nor_conv_3x3~1|+|nor_conv_3x3~0|none~1|+|skip_connect~0|none~1|none~2|', 'expected input ~0'),
    ('|nor_conv_3x3~0|+|nor_conv_3x3~0|+|skip_connect~0|none~1|none~2|', 'should list 2 inputs'),
])
def test_malformed_arch_strings_name_the_problem(bad, words):
    with pytest.raises(nb201.ArchStringError, match=words):
        nb201.parse_arch_string(bad)


def test_network_parameter_counts_equal_the_benchmark_s(naslib201):
    raw = json.loads((tables.NASLIB_DIR / 'nb201_naslib_zc_725.json').read_text())['cifar10']
    for key in list(raw)[:40]:
        cell = nb201.from_naslib_key(tuple(int(v) for v in key.strip('()').split(',')))
        ours = sum(p.numel() for p in nb201.NB201Network(cell).parameters())
        assert ours == round(raw[key]['params']['score'] * 1e6)


def test_nb201_encoding_by_hand():
    # e01 conv3x3, e02 none, e03 skip, e12 avg_pool, e13 none, e23 conv1x1
    cell = ('nor_conv_3x3', 'none', 'skip_connect', 'avg_pool_3x3', 'none', 'nor_conv_1x1')
    x = nb201.feature_tensors([cell])[0]
    assert x.shape == (7, 8, 8)
    # nodes: 0 input, 1 e01, 2 e02, 3 e03, 4 e12, 5 e13, 6 e23, 7 output; value = the target node's
    expected_types = {(0, 1): 4, (0, 3): 2, (1, 4): 5, (4, 6): 3, (6, 7): 6, (3, 7): 6}
    types = {(i, j): x[0, i, j] for i in range(8) for j in range(8) if x[0, i, j]}
    assert types == expected_types
    conv3 = {0: 16 * 16 * 9 * 32 * 32, 1: 32 * 32 * 9 * 16 * 16, 2: 64 * 64 * 9 * 8 * 8}
    conv1 = {s: v // 9 for s, v in conv3.items()}
    for s, c in enumerate((16, 32, 64)):
        flops, params = x[1 + s], x[4 + s]
        assert {(i, j) for i in range(8) for j in range(8) if flops[i, j]} == {(0, 1), (4, 6)}
        assert flops[0, 1] == pytest.approx(conv3[s] / 1e6)
        assert flops[4, 6] == pytest.approx(conv1[s] / 1e6)
        assert params[0, 1] == pytest.approx((c * c * 9 + 2 * c) / 1e3)
        assert params[4, 6] == pytest.approx((c * c + 2 * c) / 1e3)


def test_nb201_encoding_drops_what_cannot_reach_the_output():
    # only e01 carries a tensor: node 1 never reaches node 3
    dead = nb201.feature_tensors([('nor_conv_3x3', 'none', 'none', 'none', 'none', 'none')])[0]
    assert not dead.any()
    # e13 (skip) leaves node 1, which nothing feeds: the node on no input path goes
    x = nb201.feature_tensors([('none', 'none', 'nor_conv_3x3', 'none', 'skip_connect', 'none')])[0]
    assert {(i, j) for i in range(8) for j in range(8) if x[0, i, j]} == {(0, 3), (3, 7)}


def test_shipped_cell_scores_match_a_recomputed_sample():
    cache = load_nb201_scores(NB201_SCORES)
    assert len(cache) == 15625
    rng = np.random.default_rng(0)
    keys = list(cache)
    for k in [keys[i] for i in rng.choice(len(keys), 12, replace=False)] + [(1,) * 6]:
        fresh = nb201.cell_scores(nb201.from_naslib_key(k))
        row = dict(zip(SCORE_NAMES, cache[k]))
        assert row['params'] == fresh['params'] and row['mult_adds'] == fresh['mult_adds']
        assert row['synflow'] == pytest.approx(fresh['synflow'], rel=1e-6, abs=1e-9)
    assert cache[(1,) * 6][2] == 0.0  # all-none: no gradient reaches a weight


def test_synflow_agrees_with_naslib_s_independent_computation(naslib201):
    raw = json.loads((tables.NASLIB_DIR / 'nb201_naslib_zc_725.json').read_text())['cifar10']
    cache = load_nb201_scores(NB201_SCORES)
    keys = [k for k in raw if 'synflow' in raw[k]]
    assert len(keys) > 500
    ours = [cache[tuple(int(v) for v in k.strip('()').split(','))][2] for k in keys]
    theirs = [raw[k]['synflow']['score'] for k in keys]
    from scipy.stats import kendalltau
    assert kendalltau(ours, theirs).statistic > 0.95  # same proxy, different random weights


# ---------------------------------------------------------------------------------------- NAS-Bench-101
def test_nb101_parameter_counts_equal_the_benchmark_s():
    raw = json.loads((tables.NASLIB_DIR / 'nb101_naslib_zc_500.json').read_text())['nasbench101']['cifar10']
    for key, rec in raw.items():
        spec = nb101.prune(nb101.from_naslib_key([int(v) for v in key.strip('()').split(',')]))
        assert nb101.network_params(spec) == round(rec['params'] * 1e6)


def test_nb101_encoding_by_hand():
    # input -> conv3x3 -> output, input -> maxpool -> output: 4 vertices, padded to 7 before the output
    m = np.zeros((7, 7), dtype=int)
    m[0, 1] = m[0, 2] = m[1, 6] = m[2, 6] = 1
    key = [*m.ravel(), 0, 4, 2, 3, 3, 3, 1]  # vertices 3-5 (conv1x1) are unconnected: pruned
    x = nb101.feature_tensors([nb101.from_naslib_key(key)])[0]
    assert x.shape == (19, 7, 7)
    assert {(i, j): x[0, i, j] for i in range(7) for j in range(7) if x[0, i, j]} == \
        {(0, 1): 3, (0, 2): 4, (1, 6): 5, (2, 6): 5}
    # cell 0 (128 -> 128 at 32x32): the two output vertices get 64 channels each; each has a 1x1 projection
    proj = 32 * 32 * 128 * 64
    assert x[1, 0, 1] == pytest.approx((proj + 32 * 32 * 64 * 64 * 9) / 1e6)
    assert x[1, 0, 2] == pytest.approx(proj / 1e6)
    assert x[1, 1, 6] == 0 and x[1, 2, 6] == 0  # no input -> output projection
    assert x[10, 0, 1] == pytest.approx((128 * 64 + 128 + 64 * 64 * 9 + 128) / 1e3)
    # cell 3 (128 -> 256 at 16x16): 128 channels per output vertex
    assert x[4, 0, 1] == pytest.approx((16 * 16 * 128 * 128 + 16 * 16 * 128 * 128 * 9) / 1e6)
    assert x[13, 0, 2] == pytest.approx((128 * 128 + 256) / 1e3)


def test_nb101_bad_keys_name_the_value():
    with pytest.raises(nb101.SpecError, match='49 adjacency entries'):
        nb101.from_naslib_key([0] * 10)
    m = np.zeros((7, 7), dtype=int)
    m[3, 1] = 1
    with pytest.raises(nb101.SpecError, match='upper-triangular'):
        nb101.from_naslib_key([*m.ravel(), 0, 2, 2, 2, 2, 2, 1])


# ---------------------------------------------------------------------------------------- RelativeNAS genotypes
def test_genotype_encoding_by_hand():
    normal = (('sep_conv_3x3', 0), ('skip_connect', 1), ('max_pool_3x3', 2), ('sep_conv_3x3', 0),
              ('avg_pool_3x3', 1), ('skip_connect', 1), ('dil_conv_3x3', 3), ('skip_connect', 0))
    g = Genotype(normal=normal, reduce=normal, normal_concat=(3, 5), reduce_concat=(3, 5))
    codes_x = genotype_space.feature_tensors([g], op_types='codes')[0]
    x = genotype_space.feature_tensors([g])[0]
    assert codes_x.shape == (18, 11, 11) and x.shape == (32, 11, 11)
    # nodes: 0/1 inputs (self-loops), 2 + e the op of entry e, 10 output; node 4 (entries 4, 5) is dead
    op_at = {(0, 0): 'input0', (1, 1): 'input1', (0, 2): 'sep_conv_3x3', (1, 3): 'skip_connect',
             (2, 4): 'max_pool_3x3', (3, 4): 'max_pool_3x3', (0, 5): 'sep_conv_3x3', (4, 8): 'dil_conv_3x3',
             (5, 8): 'dil_conv_3x3', (0, 9): 'skip_connect', (4, 10): 'output', (5, 10): 'output',
             (8, 10): 'output', (9, 10): 'output'}
    codes = dict(input0=1, input1=2, max_pool_3x3=3, avg_pool_3x3=4, skip_connect=5, sep_conv_3x3=6,
                 dil_conv_3x3=8, output=10)
    channel = {op: i for i, op in enumerate(genotype_space.OPS)}
    channel.update(input0=7, input1=7, output=7)
    for cell in (0, 1):  # ReNAS's type matrix: op codes; ours: a channel per op, one for inputs and output
        assert {(i, j): codes_x[cell, i, j] for i in range(11) for j in range(11) if codes_x[cell, i, j]} == \
            {ij: codes[op] for ij, op in op_at.items()}
        for c in range(8):
            assert {(i, j) for i in range(11) for j in range(11) if x[8 * cell + c, i, j]} == \
                {ij for ij, op in op_at.items() if channel[op] == c}, (cell, c)
        assert set(np.unique(x[8 * cell:8 * cell + 8])) == {0.0, 1.0}
    np.testing.assert_array_equal(x[16:], codes_x[2:])  # the cost channels are the same
    # cell 0, C=16 at 32x32: a sep_conv_3x3 is two (depthwise 3x3 + pointwise 1x1) halves
    assert x[16, 0, 2] == pytest.approx(2 * (16 * 9 + 16 * 16) * 32 * 32 / 1e6)
    assert x[16 + 8, 0, 2] == pytest.approx(2 * (16 * 9 + 16 * 16 + 2 * 16) / 1e3)
    assert x[16, 0, 0] == pytest.approx(48 * 16 * 32 * 32 / 1e6)  # preprocess0: 1x1 from the 48-channel stem
    net = RelativeNASNet(genotype=g, **genotype_space.PROXY)
    assert x[16 + 8, 4, 8] * 1e3 == pytest.approx(sum(p.numel() for p in net.cells[0].nodes['3'].op1.parameters()))


def test_genotype_costs_looked_up_equal_a_network_measured_directly():
    """The per-node cost tables stand for building and counting each genotype's proxy network."""
    from relnas_zoo.complexity import mult_adds_by_module
    from relnas_zoo.genotypes import OPS
    rng = np.random.default_rng(5)
    def cell():
        return [(OPS[int(rng.integers(len(OPS)))], int(rng.integers(2 + e // 2))) for e in range(8)]
    genotypes = [Genotype(normal=cell(), reduce=cell(), normal_concat=(2, 3, 4, 5)[:k], reduce_concat=(5,))
                 for k in (1, 2, 4)] + [Genotype(normal=cell(), reduce=cell()) for _ in range(2)]
    x = genotype_space.feature_tensors(genotypes)
    scores = genotype_space.network_scores(genotypes)
    for g, xi, (params, madds) in zip(genotypes, x, scores):
        net = RelativeNASNet(genotype=g, **genotype_space.PROXY).eval()
        counts = mult_adds_by_module(net, torch.zeros(1, 3, 32, 32))
        assert params == sum(p.numel() for p in net.parameters()) and madds == pytest.approx(counts[''])
        for k, c in enumerate(net.cells):
            adj, _ = genotype_space.cell_graph(*g.cell(c.reduction))
            for e in range(8):
                node = 2 + e
                if not adj[:, node].any():
                    continue  # dead node: no module, nothing in the tensor
                name = f'nodes.{e // 2}.op{e % 2 + 1}'
                expect = counts.get(f'cells.{k}.{name}', 0) / 1e6
                src = int(np.flatnonzero(adj[:, node])[0])
                assert xi[16 + k, src, node] == pytest.approx(expect, abs=1e-9), (k, e)
                n_params = sum(p.numel() for p in c.get_submodule(name).parameters()) / 1e3
                assert xi[16 + 8 + k, src, node] == pytest.approx(n_params, abs=1e-9), (k, e)


# ---------------------------------------------------------------------------------------- NAS-Bench-301
def test_nb301_key_converts_by_hand():
    key = '[[(0, 0), (1, 5), (1, 1), (0, 1), (1, 3), (0, 3), (1, 3), (3, 2)], ' \
          '[(1, 0), (0, 2), (1, 3), (0, 3), (3, 0), (0, 1), (2, 0), (3, 6)]]'
    g = genotype_space.from_naslib_key(key)
    assert g.normal == (('max_pool_3x3', 0), ('dil_conv_3x3', 1), ('avg_pool_3x3', 1), ('avg_pool_3x3', 0),
                        ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('skip_connect', 3))
    assert g.reduce == (('max_pool_3x3', 1), ('skip_connect', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0),
                        ('max_pool_3x3', 3), ('avg_pool_3x3', 0), ('max_pool_3x3', 2), ('dil_conv_5x5', 3))
    assert g.normal_concat == g.reduce_concat == (2, 3, 4, 5)
    assert genotype_space.to_naslib_key(g) == key
    # every op id, in NASLib's order (which is relnas_zoo.OPS)
    ids = ['max_pool_3x3', 'avg_pool_3x3', 'skip_connect', 'sep_conv_3x3', 'sep_conv_5x5', 'dil_conv_3x3',
           'dil_conv_5x5']
    for op_id, op in enumerate(ids):
        cells = [[(0, op_id), (1, op_id)] * 4, [(1, op_id), (0, op_id)] * 4]
        g = genotype_space.from_naslib_key(cells)
        assert {o for o, _ in g.normal + g.reduce} == {op}


def test_nb301_table_reads_every_row():
    t = tables.naslib_nb301()
    archs, acc = t.with_metric('cifar10')
    assert t.space == 'nb301' and len(archs) == len(set(archs)) == 725
    assert 91 < acc.min() < acc.max() < 95
    raw = json.loads((tables.NASLIB_DIR / 'nb301_naslib_zc_725.json').read_text())['cifar10']
    for key, g, a in list(zip(raw, archs, acc))[::97]:
        assert genotype_space.to_naslib_key(g) == key and a == raw[key]['val_accuracy']


@pytest.mark.parametrize('key, words', [
    ('[[(0, 0)] * 8, [(0, 0)] * 8]', 'is not a [[(input, op id) x 8]'),
    ([[(0, 0)] * 8], 'expected two cells'),
    ([[(0, 0)] * 7, [(0, 0)] * 8], 'normal cell needs 8'),
    ([[(0, 0)] * 8, [(0, 9)] + [(0, 0)] * 7], 'reduction cell, entry 0 (node 2): op id 9 is not in 0..6'),
    ([[(0, 0)] * 6 + [(5, 0), (0, 0)], [(0, 0)] * 8], 'entry 6 (node 5): input 5 is out of range'),
    ([[(0, 0)] * 7 + [(0, 'x')], [(0, 0)] * 8], "expected an (input, op id) pair of ints, got (0, 'x')"),
])
def test_nb301_malformed_keys_name_the_value(key, words):
    with pytest.raises(genotype_space.NASLibKeyError) as e:
        genotype_space.from_naslib_key(key)
    assert words in str(e.value)


def test_nb301_bad_table_names_the_row(tmp_path, capsys):
    good = [[(0, 3), (1, 3)] * 4, [(0, 4), (1, 4)] * 4]
    bad = [[(0, 3), (1, 3)] * 4, [(0, 4), (1, 7)] * 4]
    path = tmp_path / 't.json'
    path.write_text(json.dumps({'cifar10': {str(good): {'val_accuracy': 93.0}, str(bad): {'val_accuracy': 92.0}}}))
    with pytest.raises(tables.TableError, match=r't.json, row 2: key .*entry 1 \(node 2\): op id 7'):
        tables.read_table(path, space='nb301')
    assert predictor_main(['rank', 'missing.pt', '--space', 'nb301']) == 2  # the file is named first
    assert 'missing.pt: no such file' in capsys.readouterr().err


def test_commands_bench_train_rank_on_nb301(tmp_path, capsys):
    out = tmp_path / 'b.json'
    assert predictor_main(['bench', '--space', 'nb301', '--train-sizes', '100', '--repeats', '2', '--epochs', '5',
                           '--json', str(out), '--no-progress']) == 0
    rec = json.loads(out.read_text())
    assert rec['variants'] == ['graph', 'renas', 'renas+cost', 'params', 'mult_adds', 'rf']  # the nb301 default
    # each variant trains with its feature set's recipe, --epochs applied to all
    assert rec['configs']['graph']['ensemble'] == 5 and rec['configs']['renas']['batch_size'] == 16
    assert {c['epochs'] for c in rec['configs'].values()} == {5}
    assert rec['architectures'] == 725 and all(r['100']['ranked'] == 625 for r in rec['results'].values())
    # the proxies rank the same test sets without training: they differ between sets only by the sets
    assert 0.3 < rec['results']['params']['100']['tau_mean'] < 0.45
    assert rec['results']['rf']['100']['taus'][0] != rec['results']['rf']['100']['taus'][1]
    assert 'mult_adds' in capsys.readouterr().out

    assert predictor_main(['train', '--space', 'nb301', '--train-size', '300', '--epochs', '5',
                           '--out', str(tmp_path / 'p.pt'), '--no-progress']) == 0
    # rank any table of the same key form: a CSV with keys and no metric column
    raw = json.loads((tables.NASLIB_DIR / 'nb301_naslib_zc_725.json').read_text())['cifar10']
    keys = list(raw)[:40]
    csv_path = tmp_path / 'cells.csv'
    csv_path.write_text('arch\n' + ''.join(f'"{k}"\n' for k in keys))
    rank_json = tmp_path / 'rank.json'
    assert predictor_main(['rank', str(tmp_path / 'p.pt'), '--table', str(csv_path), '--json', str(rank_json),
                           '--top', '3']) == 0
    rows = json.loads(rank_json.read_text())
    assert sorted(r['architecture'] for r in rows) == sorted(keys) and rows[0]['metric'] is None
    assert [r['score'] for r in rows] == sorted((r['score'] for r in rows), reverse=True)
    # the built-in table: scores against the real accuracy
    assert predictor_main(['rank', str(tmp_path / 'p.pt'), '--top', '2']) == 0
    assert 'Kendall tau against cifar10: ' in capsys.readouterr().out


# ---------------------------------------------------------------------------------------- loss and training
def test_pairwise_loss_equals_its_formula():
    torch.manual_seed(0)
    y = torch.randn(7, dtype=torch.float64)
    t = torch.tensor([3., 1., 4., 1., 5., 9., 2.], dtype=torch.float64)  # a tie: its term is log 2
    n = len(y)
    yl, tl = y.tolist(), t.tolist()
    ref = sum(math.log(1 + math.exp(-(yl[i] - yl[j]) * np.sign(tl[i] - tl[j]))) for i in range(n) for j in range(n)
              if i != j) / (n * (n - 1))
    assert float(pairwise_logistic_loss(y, t)) == pytest.approx(ref, rel=1e-12)
    pairs = torch.tensor([[0, 1], [2, 0], [5, 6]])
    ref_pairs = np.mean([math.log(1 + math.exp(-(yl[a] - yl[b]))) for a, b in pairs.tolist()])
    assert float(pairwise_logistic_loss(y, pairs=pairs)) == pytest.approx(ref_pairs, rel=1e-12)
    big = torch.tensor([1000., -1000.])
    assert torch.isfinite(pairwise_logistic_loss(big, torch.tensor([0., 1.])))  # no overflow
    assert pairwise_agreement(t, t) == pytest.approx(1 - 2 / (n * (n - 1)))  # the tied pair (both orders) is neither way


def test_predictor_ranks_unseen_analog_nasbench_cells(analog, tmp_path):
    space = get_space('nb201')
    archs, acc = analog.with_metric('baseline_accuracy')
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(archs))
    train, test = idx[:200], idx[200:3200]
    x = space.feature_tensors([archs[i] for i in idx[:3200]])
    e = space.features([archs[i] for i in idx[:3200]], 'renas+zc')
    pred = RelativisticPredictor(x.shape[1], x.shape[2], e.shape[1], FitConfig(epochs=100))
    pred.fit(x[:200], e[:200], targets=acc[train])
    scores = pred.predict(x[200:], e[200:])
    from scipy.stats import kendalltau
    tau = kendalltau(scores, acc[test]).statistic
    assert tau > 0.6, tau  # synflow alone gives ~0.55 here; the untrained network ~0
    path = pred.save(tmp_path / 'p.pt')
    again = RelativisticPredictor.load(path)
    np.testing.assert_allclose(again.predict(x[200:], e[200:]), scores, rtol=1e-6, atol=1e-6)


def test_predictor_learns_from_pairs_alone():
    # a search log gives only who beat whom: a hidden linear score over the features
    rng = np.random.default_rng(1)
    x = rng.normal(size=(60, 2, 3, 3))
    truth = x[:, 0].sum(axis=(1, 2)) - x[:, 1, 0, 0]
    pairs = [(a, b) if truth[a] > truth[b] else (b, a) for a, b in rng.integers(0, 60, size=(400, 2)) if a != b]
    pred = RelativisticPredictor(2, 3, 0, FitConfig(epochs=60)).fit(x, pairs=np.array(pairs))
    from scipy.stats import kendalltau
    assert kendalltau(pred.predict(x), truth).statistic > 0.6


def test_predictor_files_are_checked(tmp_path):
    torch.save({'state_dict': {}}, tmp_path / 'model.pt')
    with pytest.raises(PredictorFileError, match='not a relnas_zoo predictor file'):
        RelativisticPredictor.load(tmp_path / 'model.pt')
    (tmp_path / 'empty.pt').write_bytes(b'')
    with pytest.raises(PredictorFileError, match='empty.pt: not a readable predictor file'):
        RelativisticPredictor.load(tmp_path / 'empty.pt')
    with pytest.raises(PredictorFileError, match='no such file'):
        RelativisticPredictor.load(tmp_path / 'missing.pt')


# ---------------------------------------------------------------------------------------- tables
def test_restricted_unpickler_refuses_anything_else(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ('echo pwned > ' + str(tmp_path / 'ran'),))

    payload = pickle.dumps({(0,) * 6: Evil()})
    with pytest.raises(pickle.UnpicklingError, match='refused global (posix|nt).system'):
        tables.RestrictedUnpickler(io.BytesIO(payload), tables._ANALOG_CLASSES).load()
    assert not (tmp_path / 'ran').exists()
    (tmp_path / 'data.anb').write_bytes(payload)
    with pytest.raises(pickle.UnpicklingError, match='refused global'):
        tables.analog_nasbench(tmp_path / 'data.anb')


def test_analog_nasbench_table(analog):
    assert len(analog.archs) == len(set(analog.archs)) == 15625
    acc = analog.metric('baseline_accuracy')
    assert np.isfinite(acc).all() and 10 <= acc.min() and acc.max() < 95
    with pytest.raises(tables.TableError, match="no metric 'accuracy'; it has baseline_accuracy"):
        analog.metric('accuracy')


def test_user_tables_csv_and_json(tmp_path, analog):
    cells = analog.archs[:5]
    rows = ['arch,name,val_acc,test_acc'] + [f'{nb201.to_arch_string(c)},n{i},{80 + i},{79 + i}'
                                              for i, c in enumerate(cells)]
    (tmp_path / 't.csv').write_text('\n'.join(rows) + '\n')
    t = tables.read_table(tmp_path / 't.csv')
    assert t.archs == cells and sorted(t.metrics) == ['test_acc', 'val_acc']
    np.testing.assert_array_equal(t.metric('val_acc'), [80, 81, 82, 83, 84])
    (tmp_path / 't.json').write_text(json.dumps({nb201.to_arch_string(c): {'acc': i} for i, c in enumerate(cells)}))
    assert tables.read_table(tmp_path / 't.json').archs == cells

    bad = rows[:3] + [rows[3].replace('nor_conv_3x3', 'nor_conv_7x7').replace('none', 'nor_conv_7x7')] + rows[4:]
    (tmp_path / 'bad.csv').write_text('\n'.join(bad) + '\n')
    with pytest.raises(tables.TableError, match=r"bad.csv, row 3: .*unknown op 'nor_conv_7x7'"):
        tables.read_table(tmp_path / 'bad.csv')
    (tmp_path / 'nan.csv').write_text('\n'.join(rows[:4] + [rows[4].replace(',83,', ',n/a,')]) + '\n')
    with pytest.raises(tables.TableError, match=r"row 4: val_acc='n/a' is not a finite number"):
        tables.read_table(tmp_path / 'nan.csv')
    with pytest.raises(tables.TableError, match="no architecture column 'cell'"):
        tables.read_table(tmp_path / 't.csv', arch_column='cell')


def test_official_api_records_become_a_table():
    # the strings as NAS-Bench-201's and NATS-Bench's APIs print them
    archs = ['|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|',
             '|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|',
             '|none~0|+|none~0|none~1|+|none~0|none~1|none~2|']

    class API:
        def __len__(self):
            return len(archs)

        def arch(self, i):
            return archs[i]

    infos = [{'valid-accuracy': 90.1, 'test-accuracy': 93.2}, {'valid-accuracy': 85.0, 'test-accuracy': 88.7},
             {'test-accuracy': 10.0}]
    t = tables.table_from_api(API(), infos.__getitem__, 'NAS-Bench-201-v1_1-096897.pth')
    assert t.archs[0] == ('nor_conv_3x3', 'nor_conv_3x3', 'skip_connect', 'avg_pool_3x3', 'nor_conv_3x3', 'skip_connect')
    assert nb201.to_naslib_key(t.archs[1]) == (4, 3, 3, 0, 0, 0)
    np.testing.assert_array_equal(t.metric('test_accuracy'), [93.2, 88.7, 10.0])
    assert np.isnan(t.metric('valid_accuracy')[2])
    assert t.with_metric('valid_accuracy')[0] == t.archs[:2]
    archs[2] = '|none~0|+|none~0|'
    with pytest.raises(tables.TableError, match='architecture 2: .*expected 3 node groups'):
        tables.table_from_api(API(), infos.__getitem__, 'x.pth')


def test_official_api_path_says_what_is_missing(tmp_path):
    with pytest.raises(tables.TableError, match='pip install nats_bench'):
        tables.official_nb201(tmp_path / 'NATS-tss-v1_0-3ffb9-simple')


# ---------------------------------------------------------------------------------------- search logs and commands
def _write_search_log(run_dir, rng):
    from relnas_zoo.encoding import decode
    from relnas_zoo.search.optimizer import SlowFastOptimizer, outcomes_from_losses
    from relnas_zoo.encoding import bounds
    lower, upper = bounds()
    opt = SlowFastOptimizer(lower, upper, population_size=6, seed=0)
    lines = []
    for g in range(3):
        pairs = opt.ask()
        losses = rng.uniform(1, 2, size=6).tolist()
        individuals = [dict(individual=k, vector=list(map(float, opt.population[k])),
                            genotype=decode(opt.population[k]).to_dict(), val_loss=losses[k]) for k in range(6)]
        decided = [dict(pair=p, i=i, j=j, fast=i if losses[i] <= losses[j] else j,
                        slow=j if losses[i] <= losses[j] else i, loss_i=losses[i], loss_j=losses[j])
                   for p, (i, j) in enumerate(pairs)]
        lines.append(json.dumps(dict(generation=g, pairs=decided, individuals=individuals)))
        opt.tell(pairs, outcomes_from_losses(pairs, losses))
    (run_dir / 'generations.jsonl').write_text('\n'.join(lines) + '\n')


def test_commands_train_and_rank_from_a_search_log(tmp_path, capsys):
    run = tmp_path / 'run'
    run.mkdir()
    _write_search_log(run, np.random.default_rng(0))
    genotypes, pairs = tables.search_log_pairs(run)
    assert len(pairs) == 9 and pairs.max() < len(genotypes)
    assert predictor_main(['train', '--space', 'relnas', '--search-log', str(run), '--epochs', '3',
                           '--out', str(tmp_path / 'p.pt'), '--no-progress']) == 0
    assert predictor_main(['rank', str(tmp_path / 'p.pt'), '--search-log', str(run), '--top', '3',
                           '--json', str(tmp_path / 'rank.json'), '--no-progress']) == 0
    ranking = json.loads((tmp_path / 'rank.json').read_text())
    assert [r['rank'] for r in ranking] == list(range(1, len(genotypes) + 1))
    (run / 'generations.jsonl').write_text('{"generation": 0}\n')
    assert predictor_main(['train', '--space', 'relnas', '--search-log', str(run), '--out',
                           str(tmp_path / 'q.pt')]) == 2
    assert 'generations.jsonl, line 1: not a generation record' in capsys.readouterr().err


def test_commands_bench_train_rank_on_tables(tmp_path, capsys):
    out = tmp_path / 'b.json'
    assert predictor_main(['bench', '--space', 'nb101', '--train-sizes', '100', '--repeats', '2', '--epochs', '20',
                           '--workers', '2', '--features', 'renas', 'renas+cost', '--json', str(out), '--no-progress']) == 0
    rec = json.loads(out.read_text())
    assert rec['architectures'] == 500 and rec['results']['renas']['100']['ranked'] == 400
    assert len(rec['results']['renas+cost']['100']['taus']) == 2
    assert 'renas+cost' in capsys.readouterr().out

    assert predictor_main(['train', '--table', 'naslib', '--features', 'renas+zc', '--epochs', '20',
                           '--out', str(tmp_path / 'p.pt'), '--no-progress']) == 0
    assert predictor_main(['rank', str(tmp_path / 'p.pt'), '--table', 'naslib', '--metric', 'cifar100',
                           '--top', '5']) == 0
    text = capsys.readouterr().out
    assert 'Kendall tau against cifar100' in text and text.count('|+|') >= 5


@pytest.mark.parametrize('argv, words', [
    (['bench', '--features', 'renas+magic'], "unknown feature set 'renas+magic'"),
    (['bench', '--space', 'nb101', '--features', 'renas+zc'], "needs synflow, which the nb101 space does not have"),
    (['bench', '--train-sizes', '20000'], 'train size 20000: must be in 2..15624'),
    (['bench', '--features', 'renas*0'], 'ensemble size'),
    (['bench', '--features', 'renas-codes'], "'renas-codes' is for the DARTS space"),
    (['bench', '--space', 'nb101', '--train-sizes', '100', '--features', 'rf'],
     'the nb101 space has no one-hot encoding'),
    (['bench', '--space', 'nb301', '--features', 'renas+synflow'], 'needs synflow, which the nb301 space'),
    (['bench', '--space', 'nb301', '--features', 'forest'], 'or a baseline: params, mult_adds, rf'),
    (['train', '--space', 'relnas', '--out', 'x.pt'], 'for a table of DARTS-space architectures use --space nb301'),
    (['train', '--table', 'nosuch.csv', '--out', 'x.pt'], 'nosuch.csv: no such file'),
    (['train', '--out', '/nonexistent/dir/p.pt'], 'folder /nonexistent/dir does not exist'),
    (['rank', 'missing.pt'], 'missing.pt: no such file'),
])
def test_command_errors_are_one_line(argv, words, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert predictor_main(argv) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith('error:')]
    assert len(errors) == 1 and words in errors[0] and 'Traceback' not in err, err


def test_rank_your_own_darts_architectures(tmp_path, capsys):
    """Genotype files and search folders, a table's other columns, search-log labels, one-dataset NASLib files,
    and a predictor of another space refused in one line."""
    from relnas_zoo import save_genotype
    from relnas_zoo.predictor.spaces.darts import to_naslib_key
    run = tmp_path / 'run'
    run.mkdir()
    _write_search_log(run, np.random.default_rng(1))
    assert predictor_main(['train', '--space', 'relnas', '--search-log', str(run), '--epochs', '2',
                           '--out', str(tmp_path / 'p.pt'), '--no-progress']) == 0
    genotypes = [g for g, _ in tables.search_genotypes(run)]
    save_genotype(genotypes[0], tmp_path / 'mine.json')
    out = tmp_path / 'r.json'
    assert predictor_main(['rank', str(tmp_path / 'p.pt'), '--genotypes', str(run), str(tmp_path / 'mine.json'),
                           '--json', str(out), '--no-progress']) == 0
    rows = json.loads(out.read_text())
    assert len(rows) == len(set(genotypes)) and all('generation' in r['source'] for r in rows)  # mine.json: a dup
    assert any(r['source'] == 'run: generation 0 individual 0' for r in rows)
    assert predictor_main(['rank', str(tmp_path / 'p.pt'), '--search-log', str(run), '--top', '2']) == 0
    assert 'individual' in capsys.readouterr().out
    # a table of keys with a name column: the name is kept
    csv_path = tmp_path / 'cells.csv'
    csv_path.write_text('name,arch\n' + ''.join(f'cell{k},"{to_naslib_key(g)}"\n' for k, g in enumerate(genotypes[:4])))
    assert predictor_main(['rank', str(tmp_path / 'p.pt'), '--table', str(csv_path), '--json', str(out)]) == 0
    assert sorted(r['name'] for r in json.loads(out.read_text())) == ['cell0', 'cell1', 'cell2', 'cell3']
    assert 'cell0' in capsys.readouterr().out
    # NASLib's layout with one dataset: no --metric needed
    one = tmp_path / 'one.json'
    one.write_text(json.dumps({'cifar100': {str(to_naslib_key(g)): {'val_accuracy': 70.0 + k}
                                            for k, g in enumerate(genotypes[:5])}}))
    assert predictor_main(['rank', str(tmp_path / 'p.pt'), '--table', str(one)]) == 0
    assert 'Kendall tau against cifar100' in capsys.readouterr().out
    # another space: refused, one line
    assert predictor_main(['rank', str(tmp_path / 'p.pt'), '--space', 'nb201']) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and 'ranks relnas architectures' in err
    assert predictor_main(['train', '--table', 'naslib', '--epochs', '1', '--out', str(tmp_path / 'nb201.pt'),
                           '--no-progress']) == 0
    capsys.readouterr()
    assert predictor_main(['rank', str(tmp_path / 'nb201.pt'), '--table', str(csv_path)]) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and 'holds nb301 architectures' in err and 'ranks nb201 ones' in err
    assert predictor_main(['rank', str(tmp_path / 'nb201.pt'), '--genotypes', str(run)]) == 2
    assert 'hold DARTS-space genotypes' in capsys.readouterr().err
