"""``relnas-zoo predictor bench | search-bench``: how well predictors rank a table (Kendall's tau per
training size), and searches over a NAS-Bench-201 table with and without the search's pair decider."""
from __future__ import annotations

import argparse
import sys
from typing import Any, Sequence

import numpy as np

from ..command_line import UsageError, show_progress
from ..predictor.cli import (add_sweep_args, add_table_args, add_train_args, load_table, phase,
                             table_metric, fit_changes)
from ..predictor.pair_decider import DeciderConfig
from ..predictor.spaces import FEATURE_SETS, FeatureError, get_space

__all__ = ['configure']

def cmd_bench(args: argparse.Namespace) -> int:
    from .ranking import format_bench, kendall_bench
    space = get_space(args.space)
    with phase('load table', args.quiet):
        table = load_table(args)
        metric = table_metric(args, table)
        archs, values = table.with_metric(metric)
    print(f'{table.source}: {len(archs)} architectures with {metric}', file=sys.stderr)
    variants = args.features or list(space.bench_variants)
    sizes = args.train_sizes or list(space.bench_train_sizes)
    try:
        rec = kendall_bench(space, archs, values, sizes, args.repeats, variants,
                            fit_changes(args), seed=args.seed, test_size=args.test_size, progress=show_progress(args),
                            workers=args.workers)
    except ValueError as e:
        raise UsageError(str(e)) from None
    rec.update(table=table.source, metric=metric)
    print(format_bench(rec))
    if not args.quiet:
        print(f"[features for {len(archs)} architectures: {rec['feature_seconds']:.2f} s]", file=sys.stderr)
    if args.json:
        from ..atomic import atomic_write_json
        atomic_write_json(args.json, rec)
        print(f'wrote {args.json}', file=sys.stderr)
    return 0


def _decider_config(args: argparse.Namespace) -> DeciderConfig:
    from .table_search import default_decider_config
    changes = {k: v for k, v in dict(epochs=args.epochs, batch_size=args.batch_size, features=args.features,
                                     retrain_every=args.retrain_every).items() if v is not None}
    try:
        config = default_decider_config(seed=args.seed, **changes)
        get_space('nb201').check_features(config.features)
        for name in ('epochs', 'batch_size', 'retrain_every'):
            if getattr(config, name) < 1:
                raise UsageError(f'--{name.replace("_", "-")} {getattr(config, name)}: must be >= 1')
    except FeatureError as e:
        raise UsageError(f'--features: {e}') from None
    return config


def cmd_search_bench(args: argparse.Namespace) -> int:
    from .table_search import format_search_bench, search_bench
    if args.space != 'nb201':
        raise UsageError(f'search-bench runs on NAS-Bench-201 tables; --space {args.space} is not supported')
    if args.seeds < 1 or not args.queries or min(args.queries) < 1:
        raise UsageError('--seeds and every --queries value must be >= 1')
    with phase('load table', args.quiet):
        table = load_table(args)
        metric = table_metric(args, table)
        report = args.report_metric or metric
        archs, select = table.with_metric(metric)
        report_values = table.metric(report)
        by_arch = dict(zip(table.archs, report_values))
        keep = [i for i, a in enumerate(archs) if np.isfinite(by_arch[a])]
    if len(keep) < 15625:
        raise UsageError(f'{table.source}: search-bench needs every NAS-Bench-201 cell in the table '
                         f'(it has {len(keep)}); use analog-nasbench or a full table')
    sel = {archs[i]: float(select[i]) for i in keep}
    rep = {archs[i]: float(by_arch[archs[i]]) for i in keep}

    def save_partial(rec):
        if args.json:
            from ..atomic import atomic_write_json
            rec.update(table=table.source, metric=metric, report_metric=report)
            atomic_write_json(args.json, rec)

    try:
        rec = search_bench(sel, rep, args.queries, args.seeds, args.methods, progress=show_progress(args),
                           on_method=save_partial, workers=args.workers,
                           population=args.population, threshold=args.threshold, warmup=args.warmup,
                           decider_config=_decider_config(args))
    except ValueError as e:
        raise UsageError(str(e)) from None
    rec.update(table=table.source, metric=metric, report_metric=report)
    print(format_search_bench(rec))
    if args.json:
        print(f'wrote {args.json} (also after each method)', file=sys.stderr)
    return 0


def _add_bench_command(b: argparse.ArgumentParser) -> None:
    add_table_args(b)
    b.add_argument('--train-sizes', type=int, nargs='+',
                   help='training-set sizes (default 78 156 469 781 1563: 0.5/1/3/5/10%% of NAS-Bench-201; '
                        'for nb301 100 200 400 600 of its 725)')
    b.add_argument('--repeats', type=int, default=10, help='random training sets per size (default 10)')
    b.add_argument('--test-size', type=int, default=0,
                   help='test on this many held-out architectures instead of all the rest (default 0: all)')
    b.add_argument('--features', nargs='+', metavar='SET',
                   help=f'variants to compare side by side: {", ".join(FEATURE_SETS)}; SET*N is an ensemble of N; '
                        f'or a baseline on the same test sets: params, mult_adds (rank by network size, no '
                        f'training), rf (random forest on one-hot choices; nb201, nb301); each set trains with its '
                        f'recipe (default: graph, the default predictor, and renas, ReNAS as published; nb201 adds '
                        f'renas+zc and rf, nb301 renas+cost params mult_adds rf)')
    add_train_args(b)
    add_sweep_args(b, 'training', 'also write every tau and timing to this JSON file')
    b.set_defaults(func=cmd_bench)


def _add_search_bench_command(sb: argparse.ArgumentParser) -> None:
    from .table_search import DEFAULT_RETRAIN_EVERY, DEFAULT_THRESHOLD
    recipe = get_space('nb201').recipe
    add_table_args(sb)
    sb.add_argument('--report-metric', help='metric the returned cell is reported on (default: --metric)')
    sb.add_argument('--queries', type=int, nargs='+', default=[50, 100, 150, 300],
                    help='query budgets; each distinct cell counts once (default 50 100 150 300)')
    sb.add_argument('--seeds', type=int, default=50, help='runs per method (default 50)')
    sb.add_argument('--methods', nargs='+', default=['random', 'rea', 'slowfast', 'slowfast+renas'],
                    help='random, rea, slowfast, slowfast+renas; slowfast+renas@T sets the confidence '
                         'threshold T (default: all four)')
    sb.add_argument('--population', type=int, default=20, help='slow-fast population N (default 20, as the paper)')
    sb.add_argument('--threshold', type=float, default=DEFAULT_THRESHOLD,
                    help='slowfast+renas: the search\'s pair decider decides a pair without a query when the '
                         f'predicted scores differ by at least this much (standardised units; default '
                         f'{DEFAULT_THRESHOLD})')
    sb.add_argument('--warmup', type=int, default=20,
                    help='slowfast+renas: queries before the decider starts (default 20)')
    sb.add_argument('--retrain-every', type=int,
                    help=f'slowfast+renas: refit the decider after this many new evaluated pairs (default '
                         f'{DEFAULT_RETRAIN_EVERY})')
    sb.add_argument('--epochs', type=int, help=f'slowfast+renas: decider epochs (default {recipe.epochs}, the '
                                               f'space\'s recipe)')
    sb.add_argument('--batch-size', type=int, help=f'slowfast+renas: decider batch of pairs (default '
                                                   f'{recipe.batch_size}, the space\'s recipe)')
    sb.add_argument('--features', help=f'slowfast+renas: the decider\'s feature set (default {recipe.features}, '
                                       f'the space\'s recipe)')
    sb.add_argument('--seed', type=int, default=0,
                    help='slowfast+renas: seed of the decider\'s fits, combined with each run\'s seed and the '
                         'fit\'s pair count (default 0; runs are seeded 0..--seeds-1)')
    add_sweep_args(sb, 'running seeds', 'also write the results to this JSON file (rewritten after each method)')
    sb.set_defaults(func=cmd_search_bench)


_COMMANDS = {'bench': _add_bench_command, 'search-bench': _add_search_bench_command}


def configure(name: str, p: argparse.ArgumentParser, argv: Sequence[str] = (), **options: Any) -> None:
    """Give ``p`` (``predictor NAME``) its arguments."""
    _COMMANDS[name](p)
