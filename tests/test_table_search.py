"""Searches over a real NAS-Bench-201 table (analog-nasbench): budgets, baselines, predictor-decided pairs."""
import json

import numpy as np
import pytest

from relnas_zoo.cli import main as _cli_main
from relnas_zoo.predictor import tables
from relnas_zoo.predictor.spaces import nb201
from relnas_zoo.experiments.table_search import BudgetExhausted, TableOracle, default_decider_config, run_method, \
    search_bench


def predictor_main(argv):
    return _cli_main(['predictor', *argv])


@pytest.fixture(scope='module')
def acc():
    t = tables.analog_nasbench()
    return dict(zip(t.archs, t.metric('baseline_accuracy')))


def test_encoding_round_trips_every_cell():
    lower, upper = nb201.bounds()
    for cell in nb201.all_cells():
        v = nb201.encode_vector(cell)
        assert all(lo <= x <= hi for x, lo, hi in zip(v, lower, upper))
        assert nb201.decode(v) == cell
    assert nb201.decode(upper) == ('avg_pool_3x3',) * 6 and nb201.decode(lower) == ('none',) * 6
    with pytest.raises(nb201.ArchStringError, match='non-finite'):
        nb201.decode([0, 1, 2, float('nan'), 0, 0])


def test_oracle_counts_each_cell_once_and_stops_at_the_budget(acc):
    oracle = TableOracle(acc, acc, budget=3)
    cells = list(acc)[:4]
    for c in cells[:3]:
        assert oracle.query(c) == acc[c]
    assert oracle.query(cells[0]) == acc[cells[0]]  # asked again: free
    assert len(oracle.order) == 3 and oracle.exhausted
    with pytest.raises(BudgetExhausted):
        oracle.query(cells[3])
    assert oracle.best_within(2) == max(cells[:2], key=acc.get)


class LoggingTable(dict):
    """A table that records every cell read from it (by key, ``in`` or ``get``)."""

    def __init__(self, *args):
        super().__init__(*args)
        self.reads = set()

    def __getitem__(self, key):
        self.reads.add(key)
        return super().__getitem__(key)

    def __contains__(self, key):
        self.reads.add(key)
        return super().__contains__(key)

    def get(self, key, default=None):
        self.reads.add(key)
        return super().get(key, default)


def test_a_run_reads_the_table_only_for_cells_it_queried(acc):
    select, report = LoggingTable(acc), LoggingTable(acc)
    run = run_method('slowfast+renas@0.5', select, report, budget=40, seed=0, warmup=20,
                     decider_config=default_decider_config(epochs=20, retrain_every=10))
    run.result(40)
    predicted = [d for d in run.decisions if d['decided'] == 'predicted']
    unqueried = {nb201.parse_arch_string(d[k]) for d in predicted for k in ('cell_i', 'cell_j')} - set(run.oracle.order)
    assert unqueried, 'the run decided no pair of a cell it never queried; the check below would prove nothing'
    assert select.reads <= set(run.oracle.order) and report.reads <= set(run.oracle.order)
    assert len(run.oracle.order) == 40


@pytest.mark.parametrize('method', ['random', 'rea', 'slowfast', 'slowfast+renas'])
def test_a_small_budget_gives_the_prefix_of_a_larger_run(acc, method):
    """One run at the largest budget stands for every smaller one (what search_bench relies on)."""
    kw = dict(seed=3, warmup=10, decider_config=default_decider_config(epochs=5, retrain_every=5))
    small, large = run_method(method, acc, acc, budget=25, **kw), run_method(method, acc, acc, budget=50, **kw)
    assert len(small.oracle.order) == 25 and len(large.oracle.order) == 50
    assert large.oracle.order[:25] == small.oracle.order
    assert large.result(25) == small.result(25)


def test_rea_mutates_as_the_nas_bench_201_code(acc):
    """A node uniformly, then one of its incoming edges: the one edge into node 1 changes in a third of
    the children, each of node 3's three edges in a ninth; the new op is one of the other four."""
    from relnas_zoo.experiments.table_search import _mutate
    rng = np.random.default_rng(0)
    parent = ('nor_conv_3x3', 'none', 'skip_connect', 'avg_pool_3x3', 'nor_conv_1x1', 'nor_conv_3x3')
    n = 18000
    edges, ops = np.zeros(6), {}
    for _ in range(n):
        child = _mutate(parent, rng)
        changed = [e for e in range(6) if child[e] != parent[e]]
        assert len(changed) == 1
        edges[changed[0]] += 1
        ops.setdefault(changed[0], set()).add(child[changed[0]])
    expected = np.array([1 / 3, 1 / 6, 1 / 9, 1 / 6, 1 / 9, 1 / 9])  # edge order 01 02 03 12 13 23
    np.testing.assert_allclose(edges / n, expected, atol=0.015)
    assert ops[0] == set(nb201.OPS) - {parent[0]}


def test_search_bench_seed_sets_the_predictor_fits(acc):
    def decisions(seed):
        run = run_method('slowfast+renas@0.5', acc, acc, budget=35, seed=0, warmup=20,
                         decider_config=default_decider_config(epochs=10, retrain_every=10, seed=seed))
        return [(d['decided'], d.get('confidence')) for d in run.decisions]
    assert decisions(0) == decisions(0)
    assert decisions(0) != decisions(1)


def test_baselines_on_the_real_table(acc):
    rec = search_bench(acc, acc, [100], seeds=20, methods=['random', 'rea', 'slowfast'], progress=False)
    res = {m: r['budgets']['100']['report_mean'] for m, r in rec['results'].items()}
    # 15,625 cells, mean 86.8, optimum 94.07: 100 random queries find a cell of the top ~1% on average
    assert 93.0 < res['random'] < 93.7, res
    assert res['rea'] > 93.6 and res['rea'] > res['random'], res
    assert res['slowfast'] > res['random'], res
    assert rec['optimum']['report_max'] == pytest.approx(94.0664)


def test_predictor_decided_pairs_are_logged_and_checked(acc):
    run = run_method('slowfast+renas@0.5', acc, acc, budget=40, seed=0, warmup=20,
                     decider_config=default_decider_config(epochs=20, retrain_every=10))
    kinds = {d['decided'] for d in run.decisions}
    assert 'predicted' in kinds and 'queried' in kinds
    predicted = [d for d in run.decisions if d['decided'] == 'predicted']
    assert all('correct' not in d for d in predicted)  # checked against the table after the run, on request
    run.check_predicted(acc)
    assert all('correct' in d and d['confidence'] >= 0.5 for d in predicted)
    assert np.mean([d['correct'] for d in predicted]) > 0.6  # better than a coin


def test_search_bench_command(tmp_path, capsys, acc):
    out = tmp_path / 's.json'
    assert predictor_main(['search-bench', '--queries', '20', '40', '--seeds', '3', '--methods', 'random', 'rea',
                           '--json', str(out), '--no-progress']) == 0
    rec = json.loads(out.read_text())
    assert rec['metric'] == rec['report_metric'] == 'baseline_accuracy'
    r = rec['results']['rea']['budgets']
    for budget in (20, 40):  # the record holds seeds 0..2 of the method, each run on its own
        runs = [run_method('rea', acc, acc, budget=budget, seed=s).result(budget)['report'] for s in range(3)]
        assert r[str(budget)]['report_mean'] == pytest.approx(np.mean(runs))
    assert 'rea' in capsys.readouterr().out
    assert predictor_main(['search-bench', '--methods', 'hillclimb', '--seeds', '1', '--queries', '5']) == 2
    assert "unknown method 'hillclimb'" in capsys.readouterr().err
    assert predictor_main(['search-bench', '--table', 'naslib', '--seeds', '1', '--queries', '5']) == 2
    assert 'needs every NAS-Bench-201 cell' in capsys.readouterr().err


def test_search_bench_workers_give_the_same_record(acc):
    """Seeds spread over two spawned processes give what one process gives (each run is seeded alone)."""
    kw = dict(seeds=3, methods=['random', 'slowfast'], progress=False)
    one = search_bench(acc, acc, [15, 30], workers=1, **kw)
    two = search_bench(acc, acc, [15, 30], workers=2, **kw)
    strip = lambda rec: {m: r['budgets'] for m, r in rec['results'].items()}
    assert strip(one) == strip(two)
    with pytest.raises(ValueError, match="'slowfast@x'"):
        search_bench(acc, acc, [15], seeds=1, methods=['random', 'slowfast@x'], progress=False)


def _torch_threads(job):
    import torch
    return torch.get_num_threads()


def test_one_worker_runs_one_thread():
    """``--workers 1`` keeps one core busy, not torch's default thread pool; the caller's count returns."""
    import torch
    from relnas_zoo.experiments.workers import run_jobs
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        assert list(run_jobs(_torch_threads, [0, 1], None, workers=1)) == [1, 1]
        assert list(run_jobs(_torch_threads, [0, 1], None, workers=2)) == [1, 1]
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
