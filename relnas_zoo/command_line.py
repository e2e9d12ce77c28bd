"""Command-line plumbing every command shares: the usage error, argument types, the output-file check,
the one resume flag, the single-command ``configure`` and when to show progress bars. Errors are not
handled here: every :class:`relnas_zoo.errors.InputError` is reported once, by ``relnas_zoo.cli``."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence, Union

from .config_io import ConfigError
from .errors import InputError

__all__ = ['UsageError', 'at_least', 'output_file', 'add_resume_argument', 'resume_dir', 'resumed_run_dir',
           'single_command', 'show_progress']


class UsageError(InputError, ValueError):
    """A bad command-line value found before any work starts; the message names the value and the fix."""


def at_least(least: int) -> Callable[[str], int]:
    """An argparse ``type``: an int no smaller than ``least`` (argparse names the flag and exits with 2)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f'expected an integer, got {text!r}') from None
        if value < least:
            raise argparse.ArgumentTypeError(f'must be at least {least}, got {value}')
        return value
    parse.__name__ = f'int >= {least}'
    return parse


def output_file(path: Union[str, os.PathLike], flag: str, suffixes: Sequence[str] = ()) -> Path:
    """``path`` checked as a file a command may write, before the command's work: its folder exists, it
    is not a folder, and its suffix is one of ``suffixes`` (when given). A UsageError otherwise."""
    path = Path(path)
    if suffixes and path.suffix.lower() not in suffixes:
        raise UsageError(f'{flag} {path}: the suffix must be one of {", ".join(suffixes)}')
    if path.is_dir():
        raise UsageError(f'{flag} {path} is a folder; give a file name')
    parent = path.parent
    if not parent.is_dir():
        raise UsageError(f'{flag} {path}: the folder {parent} does not exist; create it first')
    if not os.access(parent, os.W_OK):
        raise UsageError(f'{flag} {path}: the folder {parent} is not writable')
    return path


def add_resume_argument(p: argparse.ArgumentParser, job: str) -> None:
    """The one resume flag of every long job: ``--resume RUN_DIR``, or ``--out RUN_DIR --resume``."""
    p.add_argument('--resume', nargs='?', const='', metavar='RUN_DIR',
                   help=f'continue the unfinished {job} in RUN_DIR with the settings it was started with '
                        f'(--resume alone: the one in --out); settings may not be given again')


def resume_dir(args: argparse.Namespace, marker: Optional[str] = None) -> Path:
    """The folder ``--resume`` names; a ConfigError when neither it nor ``--out`` gives one, or when it
    lacks ``marker`` (the job's checkpoint: nothing to resume)."""
    folder = args.resume or args.out
    if not folder:
        raise ConfigError('--resume needs the run directory: --resume RUN_DIR (or --out RUN_DIR --resume)')
    if args.resume and args.out and Path(args.resume) != Path(args.out):
        raise ConfigError(f'--resume {args.resume} and --out {args.out} name two folders; give one')
    if marker is not None and not (Path(folder) / marker).is_file():
        raise ConfigError(f'nothing to resume: {Path(folder) / marker} does not exist')
    return Path(folder)


def resumed_run_dir(args: argparse.Namespace, marker: str, settings: Mapping[str, str]) -> Path:
    """For ``--resume``: the run folder (see :func:`resume_dir`), after refusing any of ``settings``
    (``dest: flag``) given again: a resumed run keeps the settings it was started with."""
    given = [flag for dest, flag in settings.items() if getattr(args, dest, None)]
    if given:
        raise ConfigError(f'--resume continues the run with the settings it was started with; drop {" ".join(given)}')
    return resume_dir(args, marker)


def single_command(arguments: Callable[[argparse.ArgumentParser], None],
                   run: Callable[[argparse.Namespace], int]) -> Callable[..., None]:
    """The ``configure(name, parser, argv, **options)`` that ``relnas_zoo.cli`` calls, for a module that
    defines one command: ``arguments`` fills the parser, ``run`` runs the parsed command."""
    def configure(name: str, parser: argparse.ArgumentParser, argv: Sequence[str] = (), **options: Any) -> None:
        arguments(parser)
        parser.set_defaults(func=run)
    return configure


def show_progress(args: argparse.Namespace) -> bool:
    """Progress bars only for a person watching: not with --no-progress, and not when stderr is redirected
    (a log file would fill with the bars' control characters; the commands log their progress anyway)."""
    return not getattr(args, 'no_progress', False) and sys.stderr.isatty()
