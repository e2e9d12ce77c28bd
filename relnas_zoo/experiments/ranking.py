"""The predictor benchmark: Kendall's tau on every architecture not used for training.

For each training-set size and repeat, one random training set (seeded by ``(seed, size, repeat)``) is
drawn and every variant trains on that same set (in whichever worker process runs it), so the variants
are compared side by side; the tau is scipy's tau-b over all remaining architectures of the table, the
protocol of the NAS-Bench-201 predictor papers (Neural Predictor, TNASP, PINAT).

Variants: a ReNAS feature set (``renas``, ``renas+cost``, ..., ``SET*N`` for an ensemble) or a baseline
measured on the same test sets: ``params`` and ``mult_adds`` rank by the network's size without any
training; ``rf`` is a random forest regressor (scikit-learn, 100 trees) on the one-hot encoding of each
architecture's choices, the tree model of NAS-Bench-301's surrogate comparison.
"""
from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
from scipy.stats import kendalltau

from ..predictor.predictor import FitConfig, RelativisticPredictor
from ..predictor.spaces import CODES_SETS, GRAPH_SET, FeatureError, Space, parse_features
from .workers import job_data, run_jobs

__all__ = ['kendall_bench', 'format_bench', 'BASELINES', 'parse_variant']

#: Baselines beside the predictor: training-free size proxies and a random forest on one-hot choices.
BASELINES = ('params', 'mult_adds', 'rf')


def parse_variant(spec: str) -> Tuple[str, int]:
    """A baseline name as ``(name, 0)``, a ReNAS feature set as :func:`parse_features` gives it."""
    if spec in BASELINES:
        return spec, 0
    try:
        return parse_features(spec)
    except FeatureError as e:
        raise FeatureError(f'{e}; or a baseline: {", ".join(BASELINES)}') from None


def _baseline_scores(v: str, d: Dict[str, Any], train: np.ndarray, test: np.ndarray, seed: int) -> np.ndarray:
    if v != 'rf':
        return d['proxies'][v][test]
    from sklearn.ensemble import RandomForestRegressor
    forest = RandomForestRegressor(n_estimators=100, random_state=seed, n_jobs=1)
    return forest.fit(d['one_hot'][train], d['values'][train]).predict(d['one_hot'][test])


def _run_job(job) -> Dict[str, float]:
    """Train one variant on one seeded training set and rank the test architectures with it."""
    size, r, v = job
    d = job_data()
    values = d['values']
    n = len(values)
    perm = np.random.default_rng([d['seed'], size, r]).permutation(n)
    train = perm[:size]
    test = perm[size:size + d['test_size']] if d['test_size'] else perm[size:]
    fs, members = d['parsed'][v]
    if not members:
        t0 = time.perf_counter()
        scores = _baseline_scores(v, d, train, test, d['seed'] + r)
        return dict(tau=float(kendalltau(scores, values[test]).statistic), fit_seconds=time.perf_counter() - t0,
                    rank_seconds=0.0, ranked=len(test))
    tensors = d['tensors'][d['tensor_of'][fs]]
    extra = d['features'][fs]
    k = extra.shape[1]
    settings = d['configs'][v]
    pred = RelativisticPredictor(tensors.shape[1], tensors.shape[2], k,
                                 FitConfig(**{**settings, 'seed': settings['seed'] + r}))
    pred.fit(tensors[train], extra[train] if k else None, targets=values[train])
    t1 = time.perf_counter()
    scores = pred.predict(tensors[test], extra[test] if k else None)
    rank_seconds = time.perf_counter() - t1
    return dict(tau=float(kendalltau(scores, values[test]).statistic), fit_seconds=pred.fit_seconds,
                rank_seconds=rank_seconds, ranked=len(test))


def kendall_bench(space: Space, archs: Sequence[Any], values: np.ndarray, train_sizes: Sequence[int],
                  repeats: int, variants: Sequence[str], changes: Optional[Dict[str, Any]] = None, seed: int = 0,
                  test_size: int = 0, progress: bool = True, workers: int = 1) -> Dict[str, Any]:
    """Tau of every variant at every size, each trained with its feature set's recipe in ``space`` and
    ``changes`` (FitConfig fields); ``test_size`` > 0 tests on that many held-out architectures (ReNAS's
    NAS-Bench-101 split) instead of all the rest."""
    from tqdm import tqdm
    values = np.asarray(values, dtype=np.float64)
    parsed = {v: parse_variant(v) for v in variants}
    configs = {}
    for v, (name, members) in parsed.items():
        if members:
            space.check_features(name)
            configs[v] = asdict(FitConfig(**space.fit_settings(v, **(changes or {}))))
    n = len(archs)
    for size in train_sizes:
        if not 2 <= size < n:
            raise ValueError(f'train size {size}: must be in 2..{n - 1} for a table of {n} architectures')
        if test_size and size + test_size > n:
            raise ValueError(f'train size {size} + test size {test_size} exceeds the table\'s {n} architectures')
    proxies = [v for v in variants if v in BASELINES and v != 'rf']
    t0 = time.perf_counter()
    one_hot = space.one_hot(archs) if 'rf' in variants else None  # refused early where a space has none
    proxy_scores = space.scores(archs, proxies)
    # one tensor per kind a variant reads (the DARTS space has two: its own and ReNAS's op-code one; the
    # graph set reads none)
    tensor_of = {fs: fs if fs in (*CODES_SETS, GRAPH_SET) else 'own' for fs, members in parsed.values() if members}
    tensors: Dict[str, np.ndarray] = {}
    for fs, kind in tensor_of.items():
        if kind not in tensors:
            tensors[kind] = space.feature_tensors(archs, fs)
    features = {fs: space.features(archs, fs) for fs, members in parsed.values() if members}
    prep_seconds = time.perf_counter() - t0
    runs: Dict[str, Dict[int, List[Dict[str, float]]]] = {v: {s: [] for s in train_sizes} for v in variants}
    jobs = [(size, r, v) for size in train_sizes for r in range(repeats) for v in variants]
    data = dict(tensors=tensors, tensor_of=tensor_of, features=features, values=values, parsed=parsed, configs=configs, seed=seed,
                test_size=test_size, proxies=proxy_scores, one_hot=one_hot)
    bar = tqdm(total=len(jobs), desc='predictor bench', unit='fit', disable=not progress)
    for (size, r, v), res in zip(jobs, run_jobs(_run_job, jobs, data, workers)):
        runs[v][size].append(res)
        bar.update(1)
        bar.set_postfix_str(f"{v} n={size} tau={res['tau']:.3f}")
    bar.close()
    summary = {v: {str(s): dict(tau_mean=float(np.mean([x['tau'] for x in rs])),
                                tau_std=float(np.std([x['tau'] for x in rs])),
                                fit_seconds=float(np.mean([x['fit_seconds'] for x in rs])),
                                rank_seconds=float(np.mean([x['rank_seconds'] for x in rs])),
                                ranked=rs[0]['ranked'], taus=[x['tau'] for x in rs])
                   for s, rs in by_size.items()} for v, by_size in runs.items()}
    return dict(space=space.name, architectures=n, workers=workers, train_sizes=list(train_sizes), repeats=repeats,
                test_size=test_size or None, seed=seed, configs=configs, variants=list(variants),
                feature_seconds=prep_seconds, results=summary)


def mean_std_table(title: str, first: Tuple[str, int], columns: Sequence[str], width: int, digits: int,
                   rows: Sequence[Tuple[str, Sequence[Tuple[float, float]], str]], tail_header: str = '') -> str:
    """A text table of "mean +- std" cells: ``rows`` of (name, one (mean, std) per column, trailing text)."""
    name, name_width = first
    lines = [title, f'{name:<{name_width}}' + ''.join(f'{c:>{width}}' for c in columns) + tail_header]
    for row_name, cells, tail in rows:
        lines.append(f'{row_name:<{name_width}}' + ''.join(f'{m:>{width - digits - 5}.{digits}f} +-{s:.{digits}f}'
                                                           for m, s in cells) + tail)
    return '\n'.join(lines)


def format_bench(rec: Dict[str, Any]) -> str:
    sizes = [str(s) for s in rec['train_sizes']]
    title = (f"Kendall tau on {'held-out' if rec['test_size'] else 'all remaining'} architectures, mean +- std "
             f"over {rec['repeats']} training sets ({rec['space']}, {rec['architectures']} architectures)")
    rows = [(v, [(by_size[s]['tau_mean'], by_size[s]['tau_std']) for s in sizes],
             f'{by_size[sizes[-1]]["fit_seconds"]:>14.1f}') for v, by_size in rec['results'].items()]
    return mean_std_table(title, ('variant', 18), sizes, 16, 3, rows, f"{'fit s (last)':>14}")
