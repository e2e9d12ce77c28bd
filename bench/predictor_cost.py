"""What a ReNAS predictor costs on this machine: training on 1,563 NAS-Bench-201 cells (10%), ranking
all 15,625, and the one-time per-cell work (feature tensors; the training-free scores' cache).

    python bench/predictor_cost.py [--threads 2] [--features renas renas+zc]
"""
import argparse
import time

import numpy as np
import torch

from relnas_zoo.predictor import tables
from relnas_zoo.predictor.spaces import nb201
from relnas_zoo.predictor.predictor import RelativisticPredictor, FitConfig
from relnas_zoo.predictor.spaces import get_space


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--threads', type=int, default=0, help='torch threads (default: torch\'s own)')
    p.add_argument('--train-size', type=int, default=1563)
    p.add_argument('--features', nargs='+', default=['renas', 'renas+zc'])
    p.add_argument('--score-sample', type=int, default=50, help='cells whose scores are recomputed and timed')
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    table = tables.analog_nasbench()
    archs, acc = table.with_metric('baseline_accuracy')
    space = get_space('nb201')
    t0 = time.perf_counter()
    x = space.feature_tensors(archs)
    t_encode = time.perf_counter() - t0
    print(f'{torch.get_num_threads()} threads; feature tensors of {len(archs)} cells: {t_encode:.2f} s')
    train = np.random.default_rng(0).permutation(len(archs))[:args.train_size]
    for fs in args.features:
        t0 = time.perf_counter()
        e = space.features(archs, fs)
        t_scores = time.perf_counter() - t0
        k = e.shape[1]
        pred = RelativisticPredictor(x.shape[1], x.shape[2], k, FitConfig())
        pred.fit(x[train], e[train] if k else None, targets=acc[train])
        t0 = time.perf_counter()
        pred.predict(x, e if k else None)
        t_rank = time.perf_counter() - t0
        print(f'{fs:<14} train on {len(train)} cells (200 epochs): {pred.fit_seconds:6.1f} s   rank all '
              f'{len(archs)}: {t_rank:.2f} s (+ {t_encode:.2f} s tensors, {t_scores:.2f} s cached scores)')
    t0 = time.perf_counter()
    for cell in archs[:args.score_sample]:
        nb201.cell_scores(cell)
    per = (time.perf_counter() - t0) / args.score_sample
    print(f'training-free scores, computed: {1e3 * per:.0f} ms per cell -> {per * 15625 / 60:.0f} min for the '
          f'whole space (done once; the package ships the result)')


if __name__ == '__main__':
    main()
