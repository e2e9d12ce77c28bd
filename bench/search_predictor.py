#!/usr/bin/env python
"""The real search with and without ReNAS-decided pairs (``predictor: renas``), on the digits demo,
the same seeds side by side: candidate evaluations trained and saved, wall time, and the final
ranking's best loss (every individual of the final population, one epoch from the final Omega).

    python bench/search_predictor.py                                  # 3 seeds, N=8, G=6
    python bench/search_predictor.py --seeds 0 1 --set population=12 --thresholds 0.5 1.0
    python bench/search_predictor.py --json bench/results/search_predictor_digits.json
    python bench/search_predictor.py --priors none nb301     # also the decider that learns NAS-Bench-301

Each search runs in this process, in a fresh temporary folder; seeds alternate between the variants so a
slower or busier moment of the machine does not fall on one variant only.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from relnas_zoo.atomic import atomic_write_json
from relnas_zoo.search import apply_overrides, load_config, run_search

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--config', default=str(ROOT / 'configs/search/demo.yaml'), help='search config (default: the demo)')
    p.add_argument('--set', dest='overrides', action='append', default=None, metavar='KEY=VALUE',
                   help='config overrides for every variant (default: population=8 generations=6)')
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2], help='search seeds (default 0 1 2)')
    p.add_argument('--thresholds', type=float, nargs='+', default=[1.0],
                   help='predictor_threshold of each predictor variant (default 1.0)')
    p.add_argument('--warmup', type=int, default=2, help='predictor_warmup (default 2 generations)')
    p.add_argument('--priors', nargs='+', default=['none'], choices=['none', 'nb301'],
                   help='predictor_prior of the predictor variants (default none, the demo\'s: digits is not '
                        'CIFAR-10; nb301 learns NAS-Bench-301\'s CIFAR-10 accuracies beside the pairs)')
    p.add_argument('--threads', type=int, default=0, help='torch threads (default: torch\'s own)')
    p.add_argument('--json', help='write every run\'s figures here')
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    overrides = args.overrides if args.overrides is not None else ['population=8', 'generations=6']
    base = apply_overrides(load_config(args.config), overrides + ['plots=false', 'tensorboard=false'])
    variants = {'plain': []} | {
        f'renas@{t:g}' + ('' if prior == 'none' else f'+{prior}'): [
            'predictor=renas', f'predictor_threshold={t}', f'predictor_warmup={args.warmup}', f'predictor_prior={prior}']
        for t in args.thresholds for prior in args.priors}
    runs = {v: [] for v in variants}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            for v, extra in variants.items():
                cfg = apply_overrides(base, extra + [f'seed={seed}']).checked()
                t0 = time.perf_counter()
                res = run_search(cfg, Path(tmp) / f'{v}_{seed}', progress=False)
                wall = time.perf_counter() - t0
                runs[v].append(dict(seed=seed, evaluations=res.evaluations, saved=res.saved_evaluations,
                                    seconds=wall, best_loss=res.best_val_loss))
                print(f'{v:<16} seed {seed}: {res.evaluations} trained, {res.saved_evaluations} saved, '
                      f'{wall:.1f} s, final ranking best loss {res.best_val_loss:.4f}', file=sys.stderr)
    print(f'digits search ({", ".join(overrides)}), seeds {" ".join(map(str, args.seeds))}; means over seeds')
    print(f'{"variant":<16}{"trained":>9}{"saved":>7}{"wall s":>8}{"x plain":>9}{"best loss":>11}  per seed')
    plain_s = statistics.mean(r['seconds'] for r in runs['plain'])
    for v, rs in runs.items():
        s = statistics.mean(r['seconds'] for r in rs)
        print(f'{v:<16}{statistics.mean(r["evaluations"] for r in rs):>9.1f}{statistics.mean(r["saved"] for r in rs):>7.1f}'
              f'{s:>8.1f}{s / plain_s:>9.2f}{statistics.mean(r["best_loss"] for r in rs):>11.4f}  '
              + ' '.join(f'{r["best_loss"]:.4f}' for r in rs))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(args.json, dict(config=args.config, overrides=overrides, seeds=args.seeds,
                                          warmup=args.warmup, priors=args.priors, runs=runs))
    return 0


if __name__ == '__main__':
    sys.exit(main())
