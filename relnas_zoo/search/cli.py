"""``relnas-zoo search`` (also ``search/run.py``) and ``relnas-zoo search-summary``."""
from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import Any, Sequence

from ..config_files import find_config, list_configs
from ..command_line import add_resume_argument, resumed_run_dir, show_progress
from ..config_io import field_help
from .config import ConfigError, SearchConfig, apply_overrides, load_config

__all__ = ['configure']

DESCRIPTION = """RelativeNAS search: slow-fast learning of cell genotypes on CIFAR (or scikit-learn's digits).

Examples:
  relnas-zoo search --config configs/search/cifar10.yaml --data ~/data/cifar10 --out runs/s1
  relnas-zoo search --resume runs/s1                     # after a crash or Ctrl-C
  torchrun --nproc_per_node 4 search/run.py --config configs/search/cifar10.yaml --data ~/data/cifar10 \\
      --out runs/s2 --set mode=parallel                  # candidates spread over 4 GPUs
  relnas-zoo search --config configs/search/demo.yaml --out runs/demo   # 1-2 minutes on a CPU
  relnas-zoo search-summary runs/s1                      # where a running or finished search stands

Outputs in --out: genotype.json (load it with timm.create_model('relativenas_cifar10',
genotype='runs/s1/genotype.json')), population.json (the final population ranked, with every
individual's loss from the final Omega), evaluations.jsonl (every candidate evaluation),
generations.jsonl (per generation: vectors, genotypes, losses, pair decisions, diversity),
config.yaml (resolved), split.json (the search-train/validation split), losses.png (validation loss of
every individual over the generations), diversity.png, cells.png (the best cells so far; the chosen
ones at the end), checkpoint.pt, search.log, tb/. The plots are refreshed every generation.

Config fields (any of them can be overridden with --set key=value; values are YAML):
"""


def _search_arguments(p: argparse.ArgumentParser) -> None:
    p.description = DESCRIPTION + field_help(SearchConfig)
    p.add_argument('--config', help=f'YAML config: a file, or a name of the package\'s ({", ".join(list_configs("search"))}); '
                                    f'fields not given keep their defaults')
    p.add_argument('--data', help='dataset root holding cifar-10-batches-py/ or cifar-100-python/ '
                                  '(same as --set data=...)')
    p.add_argument('--out', help='run directory (created; must not hold another search)')
    add_resume_argument(p, 'search')
    p.add_argument('--set', dest='overrides', action='append', default=[], metavar='KEY=VALUE',
                   help='override a config field, e.g. --set generations=10 --set amp=bf16 (repeatable)')
    p.add_argument('--summary', metavar='RUN_DIR',
                   help='print where the search in RUN_DIR stands (running or finished) and exit: the same as '
                        '`relnas-zoo search-summary RUN_DIR`, for search/run.py, which has no other command')
    p.add_argument('--force', action='store_true',
                   help='start a new search in a folder that is not empty (a previous search\'s files there are '
                        'replaced; other files are kept)')
    p.add_argument('--no-progress', action='store_true',
                   help='no progress bars (logs only). On a terminal two bars run: "generations" (done of G, '
                        'seconds per generation) and "gen g candidates" (candidates of the N in generation g '
                        'trained and validated so far, a predictor-decided pair counting as its two), then '
                        '"final ranking" (individuals ranked from the final Omega); redirected output has none')




def run_search_command(args: argparse.Namespace) -> int:
    if args.summary:
        return _print_summary(args.summary, last=10)
    if args.resume is not None:
        out = resumed_run_dir(args, 'checkpoint.pt', {'config': '--config'})
        cfg = load_config(out / 'config.yaml')
        from .runner import RESUME_SAFE_FIELDS
        if args.data:
            args.overrides.append(f'data={args.data}')
        refused = [o for o in args.overrides if o.split('=', 1)[0].strip() not in RESUME_SAFE_FIELDS]
        if refused:
            raise ConfigError(f'--set {" ".join(refused)}: a resumed search keeps the settings it was started with; '
                              f'only {", ".join(RESUME_SAFE_FIELDS)} may change (e.g. --set generations=N for more '
                              f'generations)')
        cfg = apply_overrides(cfg, args.overrides)
    else:
        if not args.out:
            raise ConfigError('--out is required (the run directory)')
        out = Path(args.out)
        cfg = load_config(find_config('search', args.config) if args.config else None)
        if args.data:
            args.overrides.append(f'data={args.data}')
        cfg = apply_overrides(cfg, args.overrides).checked()
    from ..distributed import finish
    from .runner import run_search
    # under torchrun only the first process logs and writes search.log (each line once, not once per process);
    # the others say only what goes wrong. delay: the file opens at the first record, after run_search has
    # made and checked the folder
    main_process = int(os.environ.get('RANK', '0')) == 0
    handlers = [logging.StreamHandler()] + ([logging.FileHandler(out / 'search.log', delay=True)] if main_process
                                            else [])
    logging.basicConfig(level=logging.INFO if main_process else logging.WARNING,
                        format='%(asctime)s %(levelname)s %(message)s', handlers=handlers)
    try:
        result = run_search(cfg, out, resume=args.resume is not None, progress=show_progress(args),
                            force=args.force)
    except KeyboardInterrupt:
        return 130
    if not main_process:
        finish()
        return 0
    if result.already_finished:
        print(f'the search in {out} had already finished ({cfg.generations} generations and its final ranking); '
              f'nothing was run. More generations: relnas-zoo search --resume {out} --set generations=N')
    print(f'best genotype (val loss {result.best_val_loss:.4f}, individual {result.best_individual}) '
          f'written to {result.genotype_path}')
    print(next_steps(result.genotype_path))
    finish()
    return 0


def next_steps(genotype: Path) -> str:
    """What a user does with a searched genotype, as commands to copy."""
    g = str(genotype)
    return '\n'.join([
        'use it:',
        f"  python -c \"import timm, relnas_zoo; timm.create_model('relativenas_cifar10', genotype='{g}')\"",
        f'  relnas-zoo info relativenas_cifar10 --genotype {g}                # parameters, mult-adds, levels',
        f'  relnas-zoo train --config cifar10 --genotype {g} --data DATA --out RUN   # train it from scratch',
        f'  relnas-zoo export relativenas --genotype {g} --hub DIR --checkpoint TRAINED.pth   # a timm hub folder',
        f"  OpenMMLab: backbone=dict(type='RelativeNASBackbone', genotype='{g}', C=46, layers=14)  (docs/transfer.md)",
    ])


def _print_summary(run_dir: str, last: int) -> int:
    from .summary import summarize
    print(summarize(run_dir, last=last))
    return 0


def _summary_arguments(p: argparse.ArgumentParser) -> None:
    p.description = 'Where a running or finished search stands: generations done, best individuals, pairs.'
    p.add_argument('run_dir', help='the search\'s --out directory')
    p.add_argument('--last', type=int, default=10, help='generations to list (default: the last 10)')


def configure(name: str, parser: argparse.ArgumentParser, argv: Sequence[str] = (), **options: Any) -> None:
    """Give ``parser`` the arguments of ``search`` or ``search-summary`` and the function that runs it."""
    if name == 'search-summary':
        _summary_arguments(parser)
        parser.set_defaults(func=lambda args: _print_summary(args.run_dir, args.last))
    else:
        _search_arguments(parser)
        parser.set_defaults(func=run_search_command)
