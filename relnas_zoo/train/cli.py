"""``relnas-zoo train`` (also tools/train_imagenet.py and tools/train_cifar.py)."""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any, Optional, Sequence

from ..command_line import add_resume_argument, resumed_run_dir, show_progress
from ..config_io import field_help
from ..distributed import finish
from ..config_files import find_config, list_configs
from .config import ConfigError, TrainConfig, apply_overrides, load_train_config, recipe_path
from .trainer import LAST, train

__all__ = ['configure', 'resolve_config']


def _task_override(overrides: Sequence[str]) -> Optional[str]:
    for item in overrides:
        key, _, value = item.partition('=')
        if key.strip() == 'task':
            return value.strip()
    return None


def _help_defaults(argv: Optional[Sequence[str]], default_config: str) -> Optional[TrainConfig]:
    """The config ``--help`` should show: the one this command line would load."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument('--config', default=default_config)
    known, _ = pre.parse_known_args(argv)
    try:
        return load_train_config(find_config('train', known.config))
    except ConfigError:
        return None


def resolve_config(config_arg: Optional[str], default_config: str, overrides: Sequence[str]) -> TrainConfig:
    """Load the recipe; choosing another task with ``--set task=...`` chooses that task's recipe.

    Without --config, ``task=cifar100`` loads configs/train/cifar100.yaml (batch 96, weight decay 5e-4)
    instead of patching CIFAR-10's recipe; with an explicit --config of another task it is refused, so
    nobody trains one task with another's recipe by accident.
    """
    task = _task_override(overrides)
    path = find_config('train', config_arg) if config_arg else default_config
    cfg = load_train_config(path)
    if task and task != cfg.task:
        if config_arg:
            raise ConfigError(f'task={task!r} does not match --config {config_arg} (a {cfg.task} recipe): use '
                              f'--config {recipe_path(task)} for the paper\'s {task} recipe')
        if not os.path.isfile(recipe_path(task)):
            raise ConfigError(f'task={task!r}: no recipe {recipe_path(task)}; choose imagenet, cifar10 or cifar100')
        cfg = load_train_config(recipe_path(task))
    return apply_overrides(cfg, overrides)


DESCRIPTION = """Train a zoo network with the paper's recipes (any genotype): ImageNet or CIFAR-10/100.

  torchrun --nproc_per_node 8 tools/train_imagenet.py --data ~/imagenet-lmdb --out runs/in1k
  torchrun --nproc_per_node 1 tools/train_cifar.py --data ~/data/cifar10 --genotype runs/s1/genotype.json \\
      --out runs/c10
  relnas-zoo train --config configs/train/cifar10.yaml --data ~/data/cifar10 --out runs/c10
  relnas-zoo train --resume runs/c10                   # continue after an interruption
Runs on one process without torchrun too (CPU or GPU). ImageNet data is an LMDB from relnas-zoo pack-lmdb
or class folders; CIFAR data is the python-pickle layout.
"""


def _arguments(p: argparse.ArgumentParser, argv: Sequence[str], default_config: str) -> None:
    shown = _help_defaults(argv, default_config)
    p.description = (DESCRIPTION + '\nConfig fields and the values this command uses (from --config, default '
                     f'{default_config}; override with --set key=value; values are YAML):\n'
                     + field_help(TrainConfig, shown))
    p.add_argument('--config', help=f'YAML recipe: a file, or a name of the package\'s ({", ".join(list_configs("train"))}) '
                                    f'(default: {default_config}); --set task=X without --config loads the recipe '
                                    f'of task X')
    p.add_argument('--data', help='dataset root (same as --set data=...)')
    p.add_argument('--genotype', help='genotype name or JSON file, e.g. a search\'s genotype.json '
                                      '(same as --set genotype=...)')
    p.add_argument('--out', help='run directory: last.pth (every epoch), final.pth (the result: the last epoch, '
                                 'zoo format), best_on_test.pth (epoch selected on the test set; not a result), '
                                 'log.jsonl, config.yaml, tb/')
    add_resume_argument(p, 'training')
    p.add_argument('--force', action='store_true',
                   help='start a new run in a folder that is not empty (a previous run\'s files there are replaced; '
                        'other files are kept)')
    p.add_argument('--set', dest='overrides', action='append', default=[], metavar='KEY=VALUE',
                   help='override a config field (repeatable)')
    p.add_argument('--no-progress', action='store_true', help='no progress bars')
    p.set_defaults(func=lambda args: run_training(args, default_config))


def configure(name: str, parser: argparse.ArgumentParser, argv: Sequence[str] = (),
              default_config: Optional[str] = None, **options: Any) -> None:
    """Give ``parser`` the ``train`` arguments; ``default_config`` is the recipe loaded without --config."""
    _arguments(parser, argv, default_config or recipe_path('imagenet'))


# reported as one line naming the value or file, exit status 2


def run_training(args: argparse.Namespace, default_config: str) -> int:
    if args.resume is not None:
        out = resumed_run_dir(args, LAST, {'config': '--config', 'overrides': '--set', 'data': '--data',
                                           'genotype': '--genotype'})
        cfg = load_train_config(out / 'config.yaml')
    else:
        if not args.out:
            raise ConfigError('--out is required (the run directory)')
        out = Path(args.out)
        extra = [f'data={args.data}'] if args.data else []
        extra += [f'genotype={args.genotype}'] if args.genotype else []
        cfg = resolve_config(args.config, default_config, [*args.overrides, *extra]).validate()
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(levelname)s %(message)s')
    try:
        result = train(cfg, out, resume=args.resume is not None, progress=show_progress(args), force=args.force)
    except KeyboardInterrupt:
        print(f'\ninterrupted: the last finished epoch is saved; continue with --resume {out}', file=sys.stderr)
        return 130
    if result:
        final = result['final']
        print(f"result (final epoch {final['epoch']}, fp32): top-1 error {100 - final['top1']:.2f}%, top-5 error "
              f"{100 - final['top5']:.2f}% on {final['images']} test images -> {out / 'final.pth'}")
        best = result['best']
        print(f"(epoch {best['epoch']} had the highest test top-1, {best['top1']:.2f}%: it was selected on the "
              f"test set, so it is not a test error; weights in {out / 'best_on_test.pth'})")
    finish()
    return 0
