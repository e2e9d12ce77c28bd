"""The graph feature set: path figures worked out by hand, the figures' network against the ReNAS one on
real tables, fitting on targets and pairs at once, and the pair decider's prior."""
import numpy as np
import pytest
import torch
from scipy.stats import kendalltau

from relnas_zoo.genotypes import Genotype
from relnas_zoo.predictor import FitConfig, RelativisticPredictor, get_space, tables
from relnas_zoo.predictor.graph_features import CellGraph, path_feature_count, path_features
from relnas_zoo.predictor.pair_decider import DeciderConfig, PairDecider
from relnas_zoo.predictor.spaces import GRAPH_SET, nb201


def test_path_figures_of_a_nas_bench_201_cell_by_hand():
    # 0->1 conv3, 0->2 skip, 0->3 none, 1->2 conv1, 1->3 pool, 2->3 conv3
    cell = ('nor_conv_3x3', 'skip_connect', 'none', 'nor_conv_1x1', 'avg_pool_3x3', 'nor_conv_3x3')
    space = get_space('nb201')
    f = space.graph_features([cell])[0]
    groups = space.op_groups
    assert [g[0] for g in groups] == ['skip_connect', 'nor_conv_1x1', 'nor_conv_3x3', 'avg_pool_3x3']
    assert len(f) == path_feature_count(groups, 1) == 4 + 3 * 15 + 2 * 4
    assert list(f[:4]) == [1, 1, 2, 1]  # ops on live nodes: skip, conv1, conv3 (two), pool
    # input-output paths: conv3>pool, conv3>conv1>conv3, skip>conv3 (edge 0->3 is none)
    unions = [u for r in range(1, 5) for u in __import__('itertools').combinations(range(4), r)]
    stats = {u: tuple(f[4 + 3 * k: 7 + 3 * k]) for k, u in enumerate(unions)}
    assert stats[(2,)] == (0, 0, 0)                 # no path of conv3 alone
    assert stats[(2, 3)] == (1, 3, 3)               # conv3>pool: 1 path, 3 edges (input, two ops, output)
    assert stats[(0, 2)] == (1, 3, 3)               # skip>conv3
    assert stats[(1, 2)] == (1, 4, 4)               # conv3>conv1>conv3
    assert stats[(0, 1, 2, 3)] == (3, 3, 4)         # all of them
    # the input feeds one conv3 and one skip; ops fed by no source: conv1, pool, one conv3
    assert list(f[-8:-4]) == [1, 0, 1, 0] and list(f[-4:]) == [0, 1, 1, 1]


def test_dead_ops_count_for_nothing():
    # every edge into node 3 is none: no path reaches the output and nothing is live
    cell = ('nor_conv_3x3', 'nor_conv_3x3', 'none', 'nor_conv_3x3', 'none', 'none')
    f = get_space('nb201').graph_features([cell])[0]
    assert not f.any()


def test_graphs_of_one_batch_must_share_their_shape():
    a = CellGraph(np.zeros((3, 3)), ('in', 'x', 'out'), (0,), 2)
    b = CellGraph(np.zeros((4, 4)), ('in', 'x', 'x', 'out'), (0,), 3)
    with pytest.raises(ValueError, match='differ in node count'):
        path_features([a, b], (('x',),))


@pytest.mark.parametrize('space_name', ['nb101', 'nb301'])
def test_every_space_has_graph_figures(space_name):
    space = get_space(space_name)
    table = space.builtin_table(space.default_table)
    archs = table.archs[:50]
    f = space.features(archs, GRAPH_SET)
    per_cell = path_feature_count(space.op_groups, 2 if space_name == 'nb301' else 1)
    cells = 2 if space_name == 'nb301' else 1
    assert f.shape == (50, cells * per_cell + len(space.scores_available))
    assert np.isfinite(f).all() and f.std(axis=0).max() > 0
    assert space.feature_tensors(archs, GRAPH_SET).shape == (50, 0, 1, 1)


def _split(n, size, seed=0):
    perm = np.random.default_rng(seed).permutation(n)
    return perm[:size], perm[size:]


def test_graph_predictor_ranks_nas_bench_201_from_78_cells_better_than_renas(tmp_path):
    """The bench's claim at its smallest size, on one training set (bench/README.md has 10)."""
    space = get_space('nb201')
    archs, acc = tables.analog_nasbench().with_metric('baseline_accuracy')
    train, test = _split(len(archs), 78)
    test = test[:4000]
    taus = {}
    for fs in (GRAPH_SET, 'renas'):
        sub = [archs[i] for i in np.concatenate([train, test])]
        x, e = space.feature_tensors(sub, fs), space.features(sub, fs)
        pred = RelativisticPredictor(x.shape[1], x.shape[2], e.shape[1], FitConfig(**space.fit_settings(fs)))
        pred.fit(x[:78], e[:78] if e.shape[1] else None, targets=acc[train])
        scores = pred.predict(x[78:], e[78:] if e.shape[1] else None)
        taus[fs] = kendalltau(scores, acc[test]).statistic
        if fs == GRAPH_SET:
            assert len(pred.members) == 5 and pred.config.weight_decay > 0
            again = RelativisticPredictor.load(pred.save(tmp_path / 'g.pt'))
            np.testing.assert_allclose(again.predict(x[78:], e[78:]), scores, rtol=1e-6, atol=1e-6)
    assert taus[GRAPH_SET] > 0.74 and taus[GRAPH_SET] > taus['renas'] + 0.05, taus


def test_a_graph_fit_is_reproducible_and_leaves_the_caller_s_random_stream_alone():
    space = get_space('nb201')
    archs, acc = tables.analog_nasbench().with_metric('baseline_accuracy')
    idx = _split(len(archs), 40)[0]
    e = space.features([archs[i] for i in idx], GRAPH_SET)
    x = np.zeros((40, 0, 1, 1))

    def fit():
        return RelativisticPredictor(0, 1, e.shape[1], FitConfig(epochs=20, ensemble=2, weight_decay=1e-3,
                                                                 keep_best_epoch=False)).fit(x, e, targets=acc[idx])
    torch.manual_seed(123)
    a = fit().predict(x, e)
    after = torch.rand(1)
    torch.manual_seed(123)
    b = fit().predict(x, e)
    assert np.array_equal(a, b)
    torch.manual_seed(123)
    assert torch.equal(torch.rand(1), after)  # the fit drew nothing from the caller's stream


def test_targets_and_pairs_are_learnt_at_once():
    """Targets for some architectures (NaN for the rest) and pairs among the rest: both orders learnt."""
    rng = np.random.default_rng(0)
    e = rng.normal(size=(80, 3))
    truth = e[:, 0] - e[:, 1]
    targets = np.where(np.arange(80) < 40, truth, np.nan)
    pairs = np.array([(a, b) if truth[a] > truth[b] else (b, a)
                      for a, b in rng.integers(40, 80, size=(200, 2)) if a != b])
    pred = RelativisticPredictor(0, 1, 3, FitConfig(epochs=150, keep_best_epoch=False)).fit(
        np.zeros((80, 0, 1, 1)), e, targets=targets, pairs=pairs)
    s = pred.predict(np.zeros((80, 0, 1, 1)), e)
    assert kendalltau(s[:40], truth[:40]).statistic > 0.7 and kendalltau(s[40:], truth[40:]).statistic > 0.7
    with pytest.raises(ValueError, match='NaN allowed beside pairs'):
        pred.fit(np.zeros((80, 0, 1, 1)), e, targets=targets)


def test_the_decider_s_prior_decides_before_any_pair_and_rightly_on_held_out_nas_bench_301():
    space = get_space('relnas')
    archs, acc = tables.naslib_nb301().with_metric('cifar10')
    prior, held_out = _split(len(archs), 600)
    decider = PairDecider(space, DeciderConfig(threshold=0.5, epochs=100),
                          prior_table=([archs[i] for i in prior], acc[prior]))
    assert decider.refit_due() and decider.fit(0)            # no search pair yet: the prior alone
    test = [archs[i] for i in held_out]
    pairs = [tuple(p) for p in np.random.default_rng(1).choice(len(test), size=(300, 2)) if p[0] != p[1]]
    plans = [p for p in decider.decide(test, pairs) if p is not None]
    right = np.mean([acc[held_out[p.fast]] >= acc[held_out[p.slow]] for p in plans])
    assert len(plans) >= 0.3 * len(pairs) and right >= 0.75, (len(plans), right)
    # the search's pairs join the prior at the next fit (their indices after the prior's)
    decider.add_pairs([(test[0], test[1])])
    assert decider.refit_due() and decider.fit(1) and decider.predictor.meta['training_pairs'] == 1


def test_a_resumed_decider_keeps_the_settings_it_was_saved_with():
    """A run saved under another recipe (the renas set, before the graph set was the default) decides on
    as it did after a resume, whatever the defaults are now."""
    space = get_space('relnas')
    archs = tables.naslib_nb301().archs[:6]
    old = PairDecider(space, DeciderConfig(features='renas', epochs=3, batch_size=16))
    old.add_pairs([(archs[0], archs[1]), (archs[2], archs[3]), (archs[4], archs[5])])
    old.fit(0)
    state = old.state_dict(arch_to_json=Genotype.to_dict)
    del state['config']['prior']  # saved before the prior existed
    new = PairDecider(space, DeciderConfig())
    new.load_state_dict(state, arch_from_json=Genotype.from_dict)
    assert new.config == DeciderConfig(features='renas', epochs=3, batch_size=16, prior='none')
    np.testing.assert_allclose(new.scores(archs), old.scores(archs))


def test_nb201_cells_graph_counts_match_the_node_graph():
    # the graph set's cells are ReNAS's node graphs: the same live ops
    cell = nb201.parse_arch_string('|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|')
    adj, labels = nb201.node_graph(cell)
    g = get_space('nb201').cell_graphs(cell)[0]
    assert np.array_equal(g.adjacency, np.asarray(adj)) and g.labels == tuple(labels)


def test_predictor_files_of_version_1_still_load_and_unknown_versions_are_named(tmp_path):
    x = np.random.default_rng(0).normal(size=(12, 2, 3, 3))
    pred = RelativisticPredictor(2, 3, 0, FitConfig(epochs=2)).fit(x, targets=np.arange(12.0))
    state = pred.state_dict()
    assert state['version'] == 2
    state['version'] = 1   # a ReNAS-network file written before the graph set existed
    np.testing.assert_allclose(RelativisticPredictor.from_state_dict(state).predict(x), pred.predict(x))
    state['version'] = 3
    from relnas_zoo.predictor.predictor import PredictorFileError
    with pytest.raises(PredictorFileError, match='predictor file version 3; this relnas_zoo reads versions 1, 2'):
        RelativisticPredictor.from_state_dict(state)
