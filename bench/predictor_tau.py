"""Predictor Kendall tau on NAS-Bench-201 (analog-nasbench, all 15,625 cells) or NAS-Bench-101
(NASLib's 500-cell subset), every feature set side by side on the same training sets, each with its own
recipe, printed beside the published figures of other predictors.

    python bench/predictor_tau.py --json bench/results/predictor_nb201.json
    python bench/predictor_tau.py --space nb101 --train-sizes 424 --test-size 76 --repeats 20 \\
        --features graph renas renas+cost

The same measurement as ``relnas-zoo predictor bench``; this script adds the published rows.
"""
import argparse
import sys
from pathlib import Path

from relnas_zoo.experiments.ranking import format_bench, kendall_bench
from relnas_zoo.predictor.spaces import get_space
from relnas_zoo.predictor import tables
from relnas_zoo.atomic import atomic_write_json

# Kendall tau on all remaining NAS-Bench-201 CIFAR-10 cells at 78 / 156 / 469 / 781 / 1563 training cells.
PUBLISHED_NB201 = {
    'Neural Predictor': (.343, .413, .584, .634, .646),
    'TNASP': (.539, .589, .640, .689, .724),
    'PINAT (AAAI 2023)': (.549, .631, .706, .761, .784),
}
PUBLISHED_SIZES = (78, 156, 469, 781, 1563)
PUBLISHED_NB101 = 'ReNAS paper: tau 0.634 with 424 training and 100 test cells of the full NAS-Bench-101'


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--space', choices=['nb201', 'nb101'], default='nb201')
    p.add_argument('--train-sizes', type=int, nargs='+', default=list(PUBLISHED_SIZES))
    p.add_argument('--test-size', type=int, default=0, help='held-out cells (default 0: all the rest)')
    p.add_argument('--repeats', type=int, default=10)
    p.add_argument('--features', nargs='+', default=['graph', 'renas', 'renas+zc', 'rf'],
                   help='variants (default: graph, the default predictor; renas, ReNAS as published; renas+zc; rf)')
    p.add_argument('--epochs', type=int, help='epochs of every variant (default: each feature set\'s recipe)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--workers', type=int, default=2, help='single-threaded training processes (default 2)')
    p.add_argument('--json', help='write the record here')
    args = p.parse_args()
    table = tables.analog_nasbench() if args.space == 'nb201' else tables.naslib_nb101()
    metric = 'baseline_accuracy' if args.space == 'nb201' else 'cifar10'
    archs, values = table.with_metric(metric)
    rec = kendall_bench(get_space(args.space), archs, values, args.train_sizes, args.repeats, args.features,
                        {} if args.epochs is None else dict(epochs=args.epochs), seed=args.seed, test_size=args.test_size,
                        workers=args.workers)
    rec.update(table=table.source, metric=metric)
    print(format_bench(rec))
    if args.space == 'nb201':
        for name, taus in PUBLISHED_NB201.items():
            cells = ''.join(f'{taus[PUBLISHED_SIZES.index(s)]:>10.3f}      ' if s in PUBLISHED_SIZES else f'{"":>16}'
                            for s in args.train_sizes)
            print(f'{name:<18}{cells}   (published, NAS-Bench-201\'s own training)')
    else:
        print(PUBLISHED_NB101)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(args.json, rec)
    return 0


if __name__ == '__main__':
    sys.exit(main())
