"""``relnas-zoo`` / ``python -m relnas_zoo``: one command line; each command lives in its package area.

This module only dispatches: it names the commands and imports the one that runs, so ``--help`` and
the quick commands do not load the search or the OpenMMLab stack.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import Any, Dict, Optional, Sequence, Tuple

__all__ = ['COMMANDS', 'build_parser', 'main', 'run_command']

# name: (module defining ``configure(name, parser, argv)``, one-line help)
COMMANDS: Dict[str, Tuple[str, str]] = {
    'search': ('relnas_zoo.search.cli', 'run or resume the slow-fast search (same as search/run.py)'),
    'search-summary': ('relnas_zoo.search.cli', 'where a running or finished search stands (from its folder)'),
    'train': ('relnas_zoo.train.cli', 'train a zoo network on ImageNet or CIFAR (same as tools/train_*.py)'),
    'validate': ('relnas_zoo.train.cli', 'top-1/top-5 error of a model and checkpoint (same as tools/validate.py)'),
    'convert': ('relnas_zoo.zoo_commands.convert', "convert an authors' checkpoint to this package's format"),
    'pack-lmdb': ('relnas_zoo.data.lmdb.cli', 'pack an ImageNet split into an LMDB, or verify one'),
    'export': ('relnas_zoo.zoo_commands.models', 'a timm hub folder (safetensors), or ONNX checked in ONNX Runtime'),
    'bench': ('relnas_zoo.zoo_commands.models', 'inference latency of a model on this machine (PyTorch and ONNX Runtime)'),
    'info': ('relnas_zoo.zoo_commands.models', 'parameters, mult-adds and feature levels of a registered model'),
    'plot': ('relnas_zoo.zoo_commands.models', 'draw the normal and reduction cells of a genotype'),
    'list': ('relnas_zoo.zoo_commands.models', 'registered models and published genotypes'),
    'demo': ('relnas_zoo.zoo_commands.models', 'build every registered model and print the figures table'),
    'predictor': ('', 'ReNAS architecture predictors: benchmark, train, rank, search'),
}
# A command of subcommands ('' as its module above): each subcommand's module and help, in --help's order.
GROUPS: Dict[str, Tuple[str, Dict[str, Tuple[str, str]]]] = {
    'predictor': ('relnas-zoo predictor bench | train | rank | search-bench | features: ReNAS predictors on '
                  'benchmark tables and search folders; each subcommand explains itself with --help.', {
        'bench': ('relnas_zoo.experiments.cli',
                  'Kendall tau on every architecture not used for training, per training size'),
        'train': ('relnas_zoo.predictor.cli', 'train a predictor on a table or a search folder and save it'),
        'rank': ('relnas_zoo.predictor.cli',
                 'rank the architectures of a table or a search folder with a saved predictor'),
        'search-bench': ('relnas_zoo.experiments.cli',
                         'random search, regularized evolution and slow-fast learning (with and without the '
                         "search's pair decider) on a NAS-Bench-201 table"),
        'features': ('relnas_zoo.predictor.cli',
                     'recompute the cached training-free scores of all 15,625 NAS-Bench-201 cells'),
    }),
}


def _configure(name: str, parser: argparse.ArgumentParser, argv: Sequence[str], **options: Any) -> None:
    if name in GROUPS:
        description, subcommands = GROUPS[name]
        parser.description = description
        sub = parser.add_subparsers(dest=f'{name}_command', required=True, metavar='SUBCOMMAND')
        after = list(argv)[list(argv).index(name) + 1:] if name in argv else list(argv)
        chosen = next((a for a in after if not a.startswith('-')), None)
        for subname, (module, help_) in subcommands.items():
            cmd = sub.add_parser(subname, help=help_, description=help_,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
            if subname == chosen:
                importlib.import_module(module).configure(subname, cmd, argv, **options)
        return
    module, _ = COMMANDS[name]
    importlib.import_module(module).configure(name, parser, argv, **options)


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The whole command line; only the command named in ``argv`` is imported and given its arguments."""
    p = argparse.ArgumentParser(prog='relnas-zoo', description='RelativeNAS models, search, training and transfer '
                                'tools; `relnas-zoo COMMAND --help` explains each command.')
    sub = p.add_subparsers(dest='command', required=True, metavar='COMMAND')
    chosen = next((a for a in argv if not a.startswith('-')), None)
    for name, (_, help_) in COMMANDS.items():
        cmd = sub.add_parser(name, help=help_, formatter_class=argparse.RawDescriptionHelpFormatter)
        if name == chosen:
            _configure(name, cmd, argv)
    return p


def _run(args: argparse.Namespace) -> int:
    """Run the parsed command. Input a user can fix (every :class:`~relnas_zoo.errors.InputError`, a file
    that is not there) and a full disk, wherever they strike, are one line and exit status 2."""
    from .atomic import DiskFullError, is_disk_full
    from .errors import InputError
    try:
        return args.func(args)
    except (InputError, FileNotFoundError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    except OSError as e:
        if not is_disk_full(e):
            raise
        full = e if isinstance(e, DiskFullError) else DiskFullError(e.errno, e.strerror,
                                                                    e.filename or 'the output folder')
        print(f'error: {full}', file=sys.stderr)
        return 2


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser(argv).parse_args(argv)
        return _run(args)
    except BrokenPipeError:
        # the reader went away (`relnas-zoo list | head`): stop quietly, as a shell tool does; the
        # interpreter's last flush of stdout must not fail again
        import os
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def run_command(name: str, argv: Optional[Sequence[str]] = None, prog: Optional[str] = None,
                **options: Any) -> int:
    """Run one command with its own parser: what the scripts in ``search/`` and ``tools/`` call."""
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog=prog, formatter_class=argparse.RawDescriptionHelpFormatter)
    _configure(name, p, argv, **options)
    args = p.parse_args(argv)
    return _run(args)


if __name__ == '__main__':
    sys.exit(main())
