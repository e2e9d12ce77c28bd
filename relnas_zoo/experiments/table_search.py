"""Searches over a benchmark table: each evaluation is a query for a cell's recorded accuracy.

A :class:`TableOracle` counts every distinct cell once against a query budget (asking again is free)
and logs the queried cells in order; a method's result at budget ``k`` is the best cell among its
first ``k`` queries by the selection metric, reported on the report metric. None of the methods below
depends on the budget other than by stopping, so one run at the largest budget gives every smaller
budget's result exactly.

Methods:
* ``random``: cells drawn uniformly from the space.
* ``rea``: regularized evolution (Real et al., AAAI 2019) with the NAS-Bench-201 code's settings:
  population 10, tournament sample 3 (drawn with replacement), a child changes the op of one edge (a random node, then a random
  edge into it) to another op; the oldest member dies. The budget counts distinct cells queried, not
  the benchmark's simulated training time.
* ``slowfast``: RelativeNAS's slow-fast learning (``relnas_zoo.search.SlowFastOptimizer``) over the
  continuous NAS-Bench-201 encoding (``nb201.decode``), loss = minus the selection metric.
* ``slowfast+renas``: the same, with the pair decider the real search ships
  (:class:`relnas_zoo.predictor.pair_decider.PairDecider`, this space's recipe): from ``warmup``
  queries on it learns from the pair decisions that cost a query and decides a pair without a query
  when the two predicted scores differ by at least ``threshold``. The returned cell is always a
  queried one.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..predictor.spaces import nb201
from ..predictor.pair_decider import DeciderConfig, PairDecider, PredictedPair
from ..predictor.spaces import get_space
from ..search.optimizer import PairOutcome, SlowFastOptimizer, decide
from .workers import job_data, run_jobs

__all__ = ['TableOracle', 'BudgetExhausted', 'SearchRun', 'METHODS', 'parse_method', 'run_method', 'random_search',
           'regularized_evolution', 'slowfast', 'default_decider_config', 'search_bench', 'format_search_bench']

Cell = Tuple[str, ...]
# The decider's settings here, the best of those measured at 100 queries (bench/README.md: thresholds 0.3,
# 0.5, 1.0; refits after 10 or 5 new pairs; 10 seeds each)
DEFAULT_THRESHOLD = 0.3
DEFAULT_RETRAIN_EVERY = 5


class BudgetExhausted(Exception):
    """The query budget is spent."""


class TableOracle:
    """Answers queries from a table; each distinct cell costs one query of ``budget``."""

    def __init__(self, select: Dict[Cell, float], report: Dict[Cell, float], budget: int):
        if budget < 1:
            raise ValueError(f'budget={budget}: must be >= 1')
        self.select, self.report, self.budget = select, report, budget
        self.queried: Dict[Cell, float] = {}
        self.order: List[Cell] = []

    @property
    def exhausted(self) -> bool:
        return len(self.order) >= self.budget

    def query(self, cell: Cell) -> float:
        if cell in self.queried:
            return self.queried[cell]
        if self.exhausted:
            raise BudgetExhausted
        if cell not in self.select:
            raise KeyError(f'cell {nb201.to_arch_string(cell)} is not in the table')
        self.queried[cell] = self.select[cell]
        self.order.append(cell)
        return self.queried[cell]

    def best_within(self, k: int) -> Cell:
        """The best cell (selection metric) among the first ``k`` queries."""
        first = self.order[:k]
        return max(first, key=lambda c: self.select[c])


@dataclass
class SearchRun:
    method: str
    seed: int
    oracle: TableOracle
    seconds: float = 0.0
    decisions: List[Dict[str, Any]] = field(default_factory=list)  # slow-fast pair decisions
    fits: int = 0  # the decider's fits (slowfast+renas)

    def check_predicted(self, select: Dict[Cell, float]) -> None:
        """Mark each predicted decision ``correct`` or not against the table: after the run, because
        during it the table is read only through the oracle's queries."""
        for d in self.decisions:
            if d['decided'] == 'predicted':
                ci, cj = nb201.parse_arch_string(d['cell_i']), nb201.parse_arch_string(d['cell_j'])
                d['correct'] = bool((select[ci] >= select[cj]) == d['i_wins'])

    def result(self, k: int) -> Dict[str, Any]:
        k = min(k, len(self.oracle.order))
        best = self.oracle.best_within(k)
        return dict(cell=nb201.to_arch_string(best), select=self.oracle.select[best],
                    report=self.oracle.report[best], queries=k)


def _random_cell(rng: np.random.Generator) -> Cell:
    return tuple(nb201.OPS[i] for i in rng.integers(0, len(nb201.OPS), size=6))


def random_search(oracle: TableOracle, rng: np.random.Generator, max_draws: int = 0) -> None:
    max_draws = max_draws or 100 * oracle.budget
    for _ in range(max_draws):
        if oracle.exhausted:
            return
        oracle.query(_random_cell(rng))


#: The edges into each node (1, 2, 3), by position in the cell tuple.
_EDGES_INTO = tuple(tuple(e for e, (_, dst) in enumerate(nb201.EDGES) if dst == node) for node in (1, 2, 3))


def _mutate(cell: Cell, rng: np.random.Generator) -> Cell:
    """One op changed to another, as the NAS-Bench-201 code mutates: a node uniformly, then one of its
    incoming edges uniformly (so the single edge into node 1 changes in a third of the children)."""
    into = _EDGES_INTO[int(rng.integers(len(_EDGES_INTO)))]
    edge = into[int(rng.integers(len(into)))]
    choices = [op for op in nb201.OPS if op != cell[edge]]
    out = list(cell)
    out[edge] = choices[int(rng.integers(len(choices)))]
    return tuple(out)


def regularized_evolution(oracle: TableOracle, rng: np.random.Generator, population: int = 10,
                          sample_size: int = 3, max_cycles: int = 0) -> None:
    from collections import deque
    pop: deque = deque()
    try:
        while len(pop) < population:
            cell = _random_cell(rng)
            pop.append((cell, oracle.query(cell)))
        for _ in range(max_cycles or 100 * oracle.budget):
            if oracle.exhausted:
                return
            # drawn with replacement, as the NAS-Bench-201 code draws its tournament
            sample = [pop[int(i)] for i in rng.integers(len(pop), size=sample_size)]
            parent = max(sample, key=lambda m: m[1])[0]
            child = _mutate(parent, rng)
            pop.append((child, oracle.query(child)))
            pop.popleft()
    except BudgetExhausted:
        return


def slowfast(oracle: TableOracle, seed: int, population: int = 20, decider: Optional[PairDecider] = None,
             warmup: int = 20, patience: int = 20, decisions: Optional[List[Dict[str, Any]]] = None) -> None:
    """Slow-fast learning until the budget is spent, or ``patience`` generations query nothing new
    (the population has settled on known cells). With a ``decider`` (the real search's, on this space),
    from ``warmup`` queries on, each generation's confident pairs are decided without a query; the
    decider learns from the pairs that cost a query (a pair of two known cells repeats evidence it has)."""
    lower, upper = nb201.CELL_VECTORS.bounds()
    opt = SlowFastOptimizer(lower, upper, population, seed=seed)
    idle = 0
    try:
        while not oracle.exhausted and idle < patience:
            before = len(oracle.order)
            cells = [nb201.CELL_VECTORS.decode(v) for v in opt.population]
            ask = opt.ask()
            plan: List[Optional[PredictedPair]] = [None] * len(ask)
            if decider is not None and len(oracle.order) >= warmup:
                decider.fit(seed, len(decider.pairs))
                plan = decider.decide(cells, ask)
            outcomes, learnt = [], []
            for (i, j), predicted in zip(ask, plan):
                known = cells[i] in oracle.queried and cells[j] in oracle.queried
                rec = dict(generation=opt.generation, i=i, j=j, cell_i=nb201.to_arch_string(cells[i]),
                           cell_j=nb201.to_arch_string(cells[j]))
                if not known and predicted is not None:
                    out = PairOutcome(predicted.fast, predicted.slow)
                    rec.update(decided='predicted', confidence=predicted.confidence, i_wins=out.fast == i)
                else:
                    out = decide(i, j, -oracle.query(cells[i]), -oracle.query(cells[j]))
                    rec.update(decided='known' if known else 'queried', i_wins=out.fast == i)
                    if not known:
                        learnt.append((cells[out.fast], cells[out.slow]))
                outcomes.append(out)
                if decisions is not None:
                    decisions.append(rec)
            opt.tell(ask, outcomes)
            if decider is not None:
                decider.add_pairs(learnt)
            idle = idle + 1 if len(oracle.order) == before else 0
    except BudgetExhausted:
        return


METHODS = ('random', 'rea', 'slowfast', 'slowfast+renas')


def parse_method(method: str, threshold: float = DEFAULT_THRESHOLD) -> Tuple[str, float]:
    """``'slowfast+renas@0.25'`` -> ('slowfast+renas', 0.25); an unknown method fails naming it."""
    base, _, t = method.partition('@')
    if base not in METHODS or (t and base != 'slowfast+renas'):
        raise ValueError(f'unknown method {method!r}; choose one of {", ".join(METHODS)} '
                         f'(slowfast+renas@T sets the confidence threshold T)')
    try:
        return base, float(t) if t else threshold
    except ValueError:
        raise ValueError(f'{method!r}: the threshold after "@" must be a number') from None


def run_method(method: str, select: Dict[Cell, float], report: Dict[Cell, float], budget: int, seed: int,
               population: int = 20, threshold: float = DEFAULT_THRESHOLD, warmup: int = 20,
               decider_config: Optional[DeciderConfig] = None) -> SearchRun:
    """One method, one seed. ``decider_config``: the slowfast+renas decider's settings (default: the space's
    recipe, retrained after every ``DEFAULT_RETRAIN_EVERY`` new evaluated pairs); ``threshold`` (or ``@T`` in the method) is its
    confidence threshold."""
    base, threshold = parse_method(method, threshold)
    oracle = TableOracle(select, report, budget)
    run = SearchRun(method, seed, oracle)
    t0 = time.perf_counter()
    rng = np.random.default_rng([seed, METHODS.index(base)])
    if base == 'random':
        random_search(oracle, rng)
    elif base == 'rea':
        regularized_evolution(oracle, rng)
    elif base == 'slowfast':
        slowfast(oracle, seed, population, decisions=run.decisions)
    else:
        config = replace(decider_config or default_decider_config(), threshold=threshold)
        decider = PairDecider(get_space('nb201'), config)
        slowfast(oracle, seed, population, decider=decider, warmup=warmup, decisions=run.decisions)
        run.fits = decider.fits
    run.seconds = time.perf_counter() - t0
    return run


def default_decider_config(**changes: Any) -> DeciderConfig:
    """The decider on this space: its recipe (epochs, batch size, features), refitted after every
    ``DEFAULT_RETRAIN_EVERY`` new evaluated pairs, threshold ``DEFAULT_THRESHOLD``."""
    recipe = get_space('nb201').recipe
    return replace(DeciderConfig(threshold=DEFAULT_THRESHOLD, epochs=recipe.epochs, batch_size=recipe.batch_size,
                                 features=recipe.features, retrain_every=DEFAULT_RETRAIN_EVERY), **changes)


def _search_job(job) -> Dict[str, Any]:
    """One method with one seed at the largest budget (a worker's job): its result at every budget."""
    method, seed = job
    d = job_data()
    run = run_method(method, d['select'], d['report'], d['budgets'][-1], seed, **d['kwargs'])
    run.check_predicted(d['select'])
    return dict(results={b: run.result(b) for b in d['budgets']}, decisions=run.decisions,
                queries=len(run.oracle.order), seconds=run.seconds)


def search_bench(select: Dict[Cell, float], report: Dict[Cell, float], budgets: Sequence[int], seeds: int,
                 methods: Sequence[str], progress: bool = True, on_method=None, workers: int = 1,
                 **kwargs: Any) -> Dict[str, Any]:
    """Every method with every seed at the largest budget; the returned cell's report metric at each
    budget, mean and std over the seeds; for predictor-decided pairs, how many and how often right.
    ``on_method(record)`` is called with the record so far after each method (a long run's partial result);
    ``workers`` > 1 runs the seeds in that many single-threaded processes."""
    from tqdm import tqdm
    budgets = sorted(budgets)
    for m in methods:  # a misspelt method fails now, not after the others have run
        parse_method(m)
    out: Dict[str, Any] = {}
    jobs = [(m, s) for m in methods for s in range(seeds)]
    data = dict(select=select, report=report, budgets=budgets, kwargs=kwargs)
    bar = tqdm(total=len(jobs), desc='search bench', unit='run', disable=not progress)
    runs: List[Dict[str, Any]] = []
    for (m, s), run in zip(jobs, run_jobs(_search_job, jobs, data, workers)):
        runs.append(run)
        bar.update(1)
        if s < seeds - 1:
            continue
        rec: Dict[str, Any] = {}
        for b in budgets:
            res = [r['results'][b] for r in runs]
            rec[str(b)] = dict(report_mean=float(np.mean([x['report'] for x in res])),
                               report_std=float(np.std([x['report'] for x in res])),
                               select_mean=float(np.mean([x['select'] for x in res])),
                               queries_mean=float(np.mean([x['queries'] for x in res])))
        predicted = [d for r in runs for d in r['decisions'] if d['decided'] == 'predicted']
        decided = [d for r in runs for d in r['decisions'] if d['decided'] != 'known']
        out[m] = dict(budgets=rec, seconds=float(sum(r['seconds'] for r in runs)),
                      queries_used=float(np.mean([r['queries'] for r in runs])),
                      predicted_pairs=len(predicted), decided_pairs=len(decided),
                      predicted_accuracy=float(np.mean([d['correct'] for d in predicted])) if predicted else None)
        runs = []
        if on_method is not None:
            on_method(_record(select, report, budgets, seeds, methods, out))
    bar.close()
    return _record(select, report, budgets, seeds, methods, out)


def _record(select, report, budgets, seeds, methods, results) -> Dict[str, Any]:
    best = max(select, key=lambda c: select[c])
    return dict(budgets=budgets, seeds=seeds, methods=list(methods), results=dict(results),
                complete=len(results) == len(methods),
                optimum=dict(cell=nb201.to_arch_string(best), select=select[best], report=report[best],
                             report_max=max(report.values())))


def format_search_bench(rec: Dict[str, Any]) -> str:
    from .ranking import mean_std_table
    budgets = [str(b) for b in rec['budgets']]
    title = (f"report metric of the returned cell, mean +- std over {rec['seeds']} seeds "
             f"(table optimum {rec['optimum']['report_max']:.2f})")
    rows = []
    for m, r in rec['results'].items():
        pred = (f"{r['predicted_pairs']}/{r['decided_pairs']} ({100 * r['predicted_accuracy']:.0f}% right)"
                if r['predicted_pairs'] else '-')
        rows.append((m, [(r['budgets'][b]['report_mean'], r['budgets'][b]['report_std']) for b in budgets],
                     f"{r['queries_used']:>7.0f}{r['seconds']:>8.1f}  {pred}"))
    return mean_std_table(title, ('method', 22), [f'{b} queries' for b in budgets], 18, 2, rows,
                          f"{'used':>7}{'s':>8}  predicted pairs")
