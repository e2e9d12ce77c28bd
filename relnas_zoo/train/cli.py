"""The command line shared by tools/train_imagenet.py and tools/train_cifar.py."""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Optional, Sequence

from ..config_io import field_help
from ..data import DatasetError
from .config import ConfigError, TrainConfig, apply_overrides, load_train_config
from .trainer import train

__all__ = ['main']


def main(argv: Optional[Sequence[str]], doc: str, default_config: str) -> int:
    p = argparse.ArgumentParser(description=doc + '\nConfig fields (override with --set key=value; values are '
                                'YAML):\n' + field_help(TrainConfig),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--config', default=default_config, help=f'YAML recipe (default: {default_config})')
    p.add_argument('--data', help='dataset root (same as --set data=...)')
    p.add_argument('--genotype', help='genotype name or JSON file, e.g. a search\'s genotype.json '
                                      '(same as --set genotype=...)')
    p.add_argument('--out', required=True, help='run directory: last.pth (every epoch), model_best.pth '
                                                '(zoo format), log.jsonl, config.yaml, tb/')
    p.add_argument('--resume', action='store_true', help='continue the run in --out from last.pth')
    p.add_argument('--set', dest='overrides', action='append', default=[], metavar='KEY=VALUE',
                   help='override a config field (repeatable)')
    p.add_argument('--no-progress', action='store_true', help='no progress bars')
    args = p.parse_args(argv)
    try:
        if args.resume:
            cfg = load_train_config(Path(args.out) / 'config.yaml')
            if args.overrides or args.data or args.genotype:
                raise ConfigError('--resume continues with the run\'s saved config.yaml; drop --set/--data/--genotype')
        else:
            cfg = load_train_config(args.config)
            extra = [f'data={args.data}'] if args.data else []
            extra += [f'genotype={args.genotype}'] if args.genotype else []
            cfg = apply_overrides(cfg, [*args.overrides, *extra]).validate()
    except ConfigError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(levelname)s %(message)s')
    try:
        result = train(cfg, args.out, resume=args.resume, progress=not args.no_progress)
    except (ConfigError, DatasetError, FileExistsError, FileNotFoundError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f'\ninterrupted: the last finished epoch is saved; continue with --out {args.out} --resume',
              file=sys.stderr)
        return 130
    if result:
        print(f"done: best top-1 {result['best']['top1']:.2f}% at epoch {result['best']['epoch']} "
              f"-> {Path(args.out) / 'model_best.pth'}")
    return 0
