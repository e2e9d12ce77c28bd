"""What a predictor costs on this machine: training on NAS-Bench-201 cells (1,563 = 10% by default; 200
for the issue's few-example target), ranking all 15,625, and the one-time per-cell work (feature
tensors and figures; the training-free scores' cache).

    python bench/predictor_cost.py [--threads 2] [--features graph renas renas+zc] [--train-size 200]
"""
import argparse
import time

import numpy as np
import torch

from relnas_zoo.predictor import tables
from relnas_zoo.predictor.spaces import nb201
from relnas_zoo.predictor.predictor import FitConfig, RelativisticPredictor
from relnas_zoo.predictor.spaces import get_space


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--threads', type=int, default=0, help='torch threads (default: torch\'s own)')
    p.add_argument('--train-size', type=int, default=1563)
    p.add_argument('--features', nargs='+', default=['graph', 'renas', 'renas+zc'])
    p.add_argument('--score-sample', type=int, default=50, help='cells whose scores are recomputed and timed')
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    table = tables.analog_nasbench()
    archs, acc = table.with_metric('baseline_accuracy')
    space = get_space('nb201')
    print(f'{torch.get_num_threads()} threads')
    train = np.random.default_rng(0).permutation(len(archs))[:args.train_size]
    for fs in args.features:
        t0 = time.perf_counter()
        x = space.feature_tensors(archs, fs)
        t_encode = time.perf_counter() - t0
        t0 = time.perf_counter()
        e = space.features(archs, fs)
        t_figures = time.perf_counter() - t0
        k = e.shape[1]
        config = FitConfig(**space.fit_settings(fs))
        pred = RelativisticPredictor(x.shape[1], x.shape[2], k, config)
        pred.fit(x[train], e[train] if k else None, targets=acc[train])
        t0 = time.perf_counter()
        pred.predict(x, e if k else None)
        t_rank = time.perf_counter() - t0
        print(f'{fs:<14} train on {len(train)} cells ({config.epochs} epochs, {config.ensemble} member(s)): '
              f'{pred.fit_seconds:6.1f} s   rank all {len(archs)}: {t_rank:.2f} s (+ {t_encode:.2f} s tensors, '
              f'{t_figures:.2f} s figures: graph features, cached scores)')
    t0 = time.perf_counter()
    for cell in archs[:args.score_sample]:
        nb201.cell_scores(cell)
    per = (time.perf_counter() - t0) / args.score_sample
    print(f'training-free scores, computed: {1e3 * per:.0f} ms per cell -> {per * 15625 / 60:.0f} min for the '
          f'whole space (done once; the package ships the result)')


if __name__ == '__main__':
    main()
