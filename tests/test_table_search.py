"""Searches over a real NAS-Bench-201 table (analog-nasbench): budgets, baselines, predictor-decided pairs."""
import json

import numpy as np
import pytest

from relnas_zoo.cli import main as _cli_main
from relnas_zoo.predictor import nb201, tables
from relnas_zoo.predictor.predictor import TrainConfig
from relnas_zoo.predictor.table_search import BudgetExhausted, TableOracle, run_method, search_bench


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


@pytest.mark.parametrize('method', ['random', 'rea', 'slowfast'])
def test_budget_is_never_exceeded_and_queries_are_distinct(acc, method):
    run = run_method(method, acc, acc, budget=60, seed=3)
    assert len(run.oracle.order) == len(set(run.oracle.order)) <= 60
    assert len(run.oracle.order) == 60  # none of them stalls this early


def test_baselines_on_the_real_table(acc):
    rec = search_bench(acc, acc, [100], seeds=20, methods=['random', 'rea', 'slowfast'], progress=False)
    res = {m: r['budgets']['100']['report_mean'] for m, r in rec['results'].items()}
    # 15,625 cells, mean 86.8, optimum 94.07: 100 random queries find a cell of the top ~1% on average
    assert 93.0 < res['random'] < 93.7, res
    assert res['rea'] > 93.6 and res['rea'] > res['random'], res
    assert res['slowfast'] > res['random'], res
    assert rec['optimum']['report_max'] == pytest.approx(94.0664)


def test_predictor_decided_pairs_are_logged_and_checked(acc):
    run = run_method('slowfast+renas@0.5', acc, acc, budget=40, seed=0, warmup=20, retrain_every=10,
                     predictor_config=TrainConfig(epochs=20))
    kinds = {d['decided'] for d in run.decisions}
    assert 'predicted' in kinds and 'queried' in kinds
    predicted = [d for d in run.decisions if d['decided'] == 'predicted']
    assert all('correct' in d and d['confidence'] >= 0.5 for d in predicted)
    assert np.mean([d['correct'] for d in predicted]) > 0.6  # better than a coin
    best = run.result(40)
    assert nb201.parse_arch_string(best['cell']) in run.oracle.queried  # never a predicted cell
    assert len(run.oracle.order) <= 40


def test_search_bench_command(tmp_path, capsys):
    out = tmp_path / 's.json'
    assert predictor_main(['search-bench', '--queries', '20', '40', '--seeds', '3', '--methods', 'random', 'rea',
                           '--json', str(out), '--no-progress']) == 0
    rec = json.loads(out.read_text())
    assert rec['metric'] == rec['report_metric'] == 'baseline_accuracy'
    r = rec['results']['rea']['budgets']
    assert r['40']['report_mean'] >= r['20']['report_mean']
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
