"""``relnas-zoo predictor train | rank | features``: train a ReNAS predictor on a table or a search's decisions,
rank architectures with it, rebuild the cached NAS-Bench-201 scores. Also the helpers the
``predictor bench`` and ``search-bench`` commands (``relnas_zoo.experiments.cli``) share."""
from __future__ import annotations

import argparse
import sys
import time
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from ..command_line import UsageError, output_file, show_progress
from .predictor import RelativisticPredictor, FitConfig
from .spaces import FEATURE_SETS, GRAPH_SET, SPACES, DartsSpace, Space, get_space, parse_features, same_space
from .tables import Table, TableError

__all__ = ['configure']



@contextmanager
def phase(name: str, quiet: bool) -> Iterator[None]:
    t0 = time.perf_counter()
    yield
    if not quiet:
        print(f'[{name}: {time.perf_counter() - t0:.2f} s]', file=sys.stderr)


def load_table(args: argparse.Namespace, require_metrics: bool = True) -> Table:
    from . import tables
    if args.official:
        if args.space != 'nb201':
            raise UsageError(f'--official reads NAS-Bench-201 / NATS-Bench files, not --space {args.space}')
        return tables.official_nb201(args.official, dataset=args.dataset)
    if args.space == 'relnas':  # the DARTS space's name for a search's genotypes, which a table does not hold
        raise UsageError('--space relnas reads a search folder (--search-log RUN_DIR); for a table of '
                         'DARTS-space architectures use --space nb301')
    space = get_space(args.space)
    table = args.table or space.default_table
    if table in space.builtin_tables:
        return space.builtin_table(table)
    if table in {n for cls in set(SPACES.values()) for n in cls.builtin_tables}:
        raise UsageError(f'--table {table} does not hold --space {args.space} architectures; that space has '
                         f'{", ".join(space.builtin_tables)}')
    if not space.file_tables:
        raise UsageError(f'a --table file holds NAS-Bench-201 architecture strings or NAS-Bench-301 keys; '
                         f'--space {args.space} reads --table {space.default_table}')
    return tables.read_table(table, arch_column=args.arch_column, space=args.space,
                             require_metrics=require_metrics)


def table_metric(args: argparse.Namespace, table: Table) -> str:
    if args.metric:
        return args.metric
    if args.official:
        return 'valid_accuracy'
    space = get_space(args.space)
    default = space.default_metric(args.table or space.default_table)  # None for a user's table file
    if default in table.metrics:
        return default
    if len(table.metrics) == 1:  # e.g. a NASLib-layout file of one dataset
        return next(iter(table.metrics))
    raise UsageError(f'{table.source}: name the metric to rank by with --metric; it has '
                     f'{", ".join(table.metrics)}')




def fit_changes(args: argparse.Namespace) -> Dict[str, Any]:
    """The FitConfig fields the command line sets; the rest come from the feature set's recipe."""
    return {k: v for k, v in dict(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                                  seed=args.seed).items() if v is not None}


def train_config(space: Space, spec: str, changes: Dict[str, Any]) -> FitConfig:
    """The FitConfig of feature set ``spec`` (``SET`` or ``SET*N``) in ``space``: its recipe with
    ``changes``; ``*N`` sets the ensemble size, otherwise the recipe's."""
    try:
        return FitConfig(**space.fit_settings(spec, **changes))
    except ValueError as e:
        raise UsageError(str(e)) from None


# ---------------------------------------------------------------------------------------- commands
def _training_data(args: argparse.Namespace) -> Tuple[List[Any], Optional[np.ndarray], Optional[np.ndarray], str]:
    """(architectures, targets or None, pairs or None, description)."""
    if args.search_log:
        if args.space != 'relnas':
            raise UsageError(f'--search-log holds RelativeNAS genotypes: use --space relnas (not {args.space})')
        from .tables import search_log_pairs
        genotypes, pairs = search_log_pairs(args.search_log)
        return genotypes, None, pairs, f'{len(pairs)} decided pairs of {len(genotypes)} genotypes in {args.search_log}'
    table = load_table(args)
    metric = table_metric(args, table)
    archs, values = table.with_metric(metric)
    if args.train_size is not None:
        if not 2 <= args.train_size <= len(archs):
            raise UsageError(f'--train-size {args.train_size}: must be in 2..{len(archs)}')
        idx = np.random.default_rng(args.seed).permutation(len(archs))[:args.train_size]
        archs, values = [archs[i] for i in idx], values[idx]
    return archs, values, None, f'{len(archs)} architectures of {table.source} ({metric})'


def cmd_train(args: argparse.Namespace) -> int:
    fs, _ = parse_features(args.features)
    space = get_space(args.space)
    out = output_file(args.out, '--out')
    with phase('load', args.quiet):
        archs, targets, pairs, what = _training_data(args)
    print(f'training on {what}', file=sys.stderr)
    with phase('features', args.quiet):
        tensors = space.feature_tensors(archs, fs)
        extra = space.features(archs, fs)
    pred = RelativisticPredictor(tensors.shape[1], tensors.shape[2], extra.shape[1],
                                 train_config(space, args.features, fit_changes(args)),
                                 meta=dict(space=args.space, features=fs, trained_on=what))
    with phase('train', args.quiet):
        pred.fit(tensors, extra if extra.shape[1] else None, targets=targets, pairs=pairs,
                 progress=show_progress(args))
    pred.save(out)
    print(f'wrote {out} ({space.name}, {args.features}, {what})')
    return 0


def _rank_table(args: argparse.Namespace, space: str) -> Table:
    """What ``rank`` ranks: genotype files and search folders, a search log, or a table in ``space``."""
    from . import tables
    given = [flag for flag, value in (('--genotypes', args.genotypes), ('--search-log', args.search_log),
                                      ('--table', args.table), ('--official', args.official)) if value]
    if len(given) > 1:
        raise UsageError(f'{" and ".join(given)}: give one source of architectures to rank')
    if args.genotypes or args.search_log:
        if not isinstance(get_space(space), DartsSpace):
            raise UsageError(f'{args.predictor} ranks {space} architectures; genotype files and search folders '
                             f'hold DARTS-space genotypes (a predictor trained with --space nb301 or relnas ranks them)')
        return tables.genotype_table(args.genotypes or [args.search_log])
    args.space = get_space(space).name  # a predictor of the DARTS space ranks its tables' keys
    try:
        return load_table(args, require_metrics=False)
    except TableError as e:
        other = 'nb201' if args.space == 'nb301' else 'nb301'
        if args.table and args.space in ('nb201', 'nb301'):
            try:  # say which space the table holds when it is the other one
                tables.read_table(args.table, arch_column=args.arch_column, space=other, require_metrics=False)
            except TableError:
                raise e from None
            raise UsageError(f'{args.table} holds {other} architectures; {args.predictor} ranks {space} ones (it '
                             f'was trained on them): train a predictor with --space {other}') from None
        raise


def cmd_rank(args: argparse.Namespace) -> int:
    pred = RelativisticPredictor.load(args.predictor)
    trained = pred.meta.get('space', 'nb201')
    if args.space is not None and not same_space(args.space, trained):
        raise UsageError(f'--space {args.space}: {args.predictor} ranks {trained} architectures (it was trained on '
                         f'them); rank {args.space} ones with a predictor trained with --space {args.space}')
    space = get_space(trained)
    fs = pred.meta.get('features', 'renas')
    with phase('load', args.quiet):
        table = _rank_table(args, trained)
        metric = args.metric or (table_metric(args, table) if table.metrics else None)
        keep = np.flatnonzero(np.isfinite(table.metric(metric))) if metric else np.arange(len(table.archs))
        archs = [table.archs[i] for i in keep]
        values = table.metric(metric)[keep] if metric else None
        labels = {k: [v[i] for i in keep] for k, v in table.labels.items()}
        names = [get_space(table.space).arch_name(a) for a in archs]
    with phase('features', args.quiet):
        tensors = space.feature_tensors(archs, fs)
        extra = space.features(archs, fs)
    with phase(f'rank {len(archs)}', args.quiet):
        scores = pred.predict(tensors, extra if extra.shape[1] else None)
    order = np.argsort(-scores, kind='stable')
    widths = {k: min(40, max([len(k)] + [len(x) for x in v])) for k, v in labels.items()}
    head = ''.join(f'  {k[:widths[k]]:<{widths[k]}}' for k in labels)
    print(f"{'rank':>6}  {'score':>8}  {'metric':>8}{head}  architecture")
    for r, i in enumerate(order[:args.top], start=1):
        m = f'{values[i]:8.3f}' if values is not None else f"{'':8}"
        cells = ''.join(f'  {v[i][:widths[k]]:<{widths[k]}}' for k, v in labels.items())
        print(f'{r:>6}  {scores[i]:8.3f}  {m}{cells}  {names[i]}')
    if values is not None and len(values) > 1:
        from scipy.stats import kendalltau
        print(f'Kendall tau against {metric}: {kendalltau(scores, values).statistic:.4f} ({len(values)} architectures)')
    if args.json:
        from ..atomic import atomic_write_json
        rows = [dict(rank=r, score=float(scores[i]), architecture=names[i],
                     metric=None if values is None else float(values[i]), **{k: v[i] for k, v in labels.items()})
                for r, i in enumerate(order, start=1)]
        atomic_write_json(args.json, rows, indent=1)
        print(f'wrote {args.json}', file=sys.stderr)
    return 0


def cmd_features(args: argparse.Namespace) -> int:
    if args.space != 'nb201':
        raise UsageError(f'only the nb201 space has a cached score file; {args.space} scores are computed when used')
    from .spaces.nb201.scores import build_nb201_scores
    out = output_file(args.out, '--out')
    with phase('cell scores', args.quiet):
        build_nb201_scores(out, progress=show_progress(args))
    print(f'wrote {out}')
    return 0


# ---------------------------------------------------------------------------------------- parser
def add_table_args(p: argparse.ArgumentParser) -> None:
    p.add_argument('--space', choices=sorted(SPACES), default='nb201',
                   help='search space: nb201 (NAS-Bench-201), nb101 (NAS-Bench-101), nb301 (NAS-Bench-301: the '
                        'DARTS space RelativeNAS searches, NASLib\'s compact keys), relnas (the same space, from a '
                        'search folder) (default nb201)')
    p.add_argument('--table', help='architectures and metrics: a .csv/.json file with NAS-Bench-201 architecture '
                                   'strings (nb201) or NASLib compact keys (nb301; NASLib\'s own JSON layout too), '
                                   'or a built-in table: analog-nasbench (all 15,625 cells, CIFAR-10; the nb201 '
                                   'default) or naslib (NASLib\'s 725 nb201 / 500 nb101 / 725 nb301 architectures; '
                                   'the nb101 and nb301 default)')
    p.add_argument('--official', metavar='FILE',
                   help='read the official NATS-Bench / NAS-Bench-201 file through its API instead of --table')
    p.add_argument('--dataset', default='cifar10', help='with --official: the benchmark\'s dataset (default cifar10)')
    p.add_argument('--metric', help='column to rank by, higher is better (defaults: baseline_accuracy for '
                                    'analog-nasbench, cifar10 for naslib, valid_accuracy for --official)')
    p.add_argument('--arch-column', default='arch', help='with a --table file: the architecture column (default arch)')


def add_train_args(p: argparse.ArgumentParser) -> None:
    p.add_argument('--epochs', type=int, help='training epochs (default: the feature set\'s recipe; graph 300; '
                                              'renas sets 200, as ReNAS, or 50 for nb301 and relnas)')
    p.add_argument('--batch-size', type=int, help='architectures per batch (default: the recipe\'s; graph 1024, one '
                                                  'batch; renas sets 1024, as ReNAS, or 16 for nb301 and relnas, where '
                                                  'full batches overfit)')
    p.add_argument('--lr', type=float, help='AdamW learning rate (default 1e-3, as ReNAS)')
    p.add_argument('--seed', type=int, default=0, help='seed of the training sets and the networks (default 0)')


def add_output_args(p: argparse.ArgumentParser) -> None:
    p.add_argument('--no-progress', action='store_true', help='no progress bars (for logs)')
    p.add_argument('--quiet', action='store_true', help='no per-phase timings on stderr')


def add_sweep_args(p: argparse.ArgumentParser, what: str, json_help: str) -> None:
    """The flags of a long sweep: worker processes, a JSON record, output."""
    p.add_argument('--workers', type=int, default=1,
                   help=f'processes {what} side by side, one thread each (default 1; the number of cores keeps '
                        f'them all busy)')
    p.add_argument('--json', help=json_help)
    add_output_args(p)


def _add_train_command(t: argparse.ArgumentParser) -> None:
    variants = ', '.join(FEATURE_SETS)
    add_table_args(t)
    t.add_argument('--search-log', metavar='RUN_DIR', help='train on a RelativeNAS search\'s decided pairs '
                                                           '(generations.jsonl; with --space relnas)')
    t.add_argument('--train-size', type=int, help='train on this many random architectures of the table (default: all)')
    t.add_argument('--features', default=GRAPH_SET,
                   help=f'feature set: {variants}; SET*N for an ensemble of N (default {GRAPH_SET}: the path figures '
                        f'of each cell and the space\'s training-free scores, an ensemble of 5 MLPs; renas is ReNAS\'s '
                        f'tensor and network as published)')
    add_train_args(t)
    t.add_argument('--out', required=True, help='predictor file to write (.pt, written atomically)')
    add_output_args(t)
    t.set_defaults(func=cmd_train)


def _add_rank_command(r: argparse.ArgumentParser) -> None:
    r.add_argument('predictor', help='a file written by `relnas-zoo predictor train`')
    add_table_args(r)
    r.add_argument('--search-log', metavar='RUN_DIR', help='rank the genotypes of a RelativeNAS search folder '
                                                           '(each labelled with its generation and individual)')
    r.add_argument('--genotypes', nargs='+', metavar='PATH',
                   help='rank DARTS-space genotypes: genotype .json files (a search\'s genotype.json, save_genotype) '
                        'and search folders, any mix (needs a predictor trained with --space nb301 or relnas)')
    r.set_defaults(space=None)  # the predictor's own space; --space given and different is refused
    r.add_argument('--top', type=int, default=10, help='rows to print (default 10)')
    r.add_argument('--json', help='write the whole ranking to this JSON file')
    add_output_args(r)
    r.set_defaults(func=cmd_rank)


def _add_features_command(f: argparse.ArgumentParser) -> None:
    f.add_argument('--space', choices=['nb201'], default='nb201', help='the space (only nb201 has a cache)')
    f.add_argument('--out', required=True, help='.npz file to write (the package ships '
                                                'relnas_zoo/predictor/data/nb201_cell_scores.npz)')
    add_output_args(f)
    f.set_defaults(func=cmd_features)


_COMMANDS = {'train': _add_train_command, 'rank': _add_rank_command, 'features': _add_features_command}


def configure(name: str, p: argparse.ArgumentParser, argv: Sequence[str] = (), **options: Any) -> None:
    """Give ``p`` (``predictor NAME``) its arguments."""
    _COMMANDS[name](p)
