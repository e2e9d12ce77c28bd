#!/usr/bin/env python
"""RelativeNAS search: slow-fast learning of cell genotypes on CIFAR (or scikit-learn's digits).

Examples:
  python search/run.py --config configs/search/cifar10.yaml --data ~/data/cifar10 --out runs/s1
  python search/run.py --resume runs/s1                  # after a crash or Ctrl-C
  torchrun --nproc_per_node 4 search/run.py --config configs/search/cifar10.yaml --data ~/data/cifar10 \\
      --out runs/s2 --set mode=parallel                  # candidates spread over 4 GPUs
  python search/run.py --config configs/search/demo.yaml --out runs/demo   # 1-2 minutes on a CPU
  python search/run.py --summary runs/s1                 # where a running or finished search stands

Outputs in --out: genotype.json (load it with timm.create_model('relativenas_cifar10',
genotype='runs/s1/genotype.json')), population.json (the final population ranked, with every
individual's loss from the final Omega), evaluations.jsonl (every candidate evaluation),
generations.jsonl (per generation: vectors, genotypes, losses, pair decisions, diversity),
config.yaml (resolved), split.json (the search-train/validation split), losses.png (validation loss of
every individual over the generations), diversity.png, cells.png (the best cells so far; the chosen
ones at the end), checkpoint.pt, search.log, tb/. The plots are refreshed every generation.

Config fields (any of them can be overridden with --set key=value; values are YAML):
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from relnas_zoo.search import ConfigError, SearchConfig, apply_overrides, load_config, run_search  # noqa: E402
from relnas_zoo.config_io import field_help  # noqa: E402
from relnas_zoo.data import DatasetError  # noqa: E402
from relnas_zoo.train.distributed import finish  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__ + field_help(SearchConfig),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--config', help='YAML config (configs/search/*.yaml); fields not given keep their defaults')
    p.add_argument('--data', help='dataset root holding cifar-10-batches-py/ or cifar-100-python/ '
                                  '(same as --set data=...)')
    p.add_argument('--out', help='run directory (created; must not hold another search)')
    p.add_argument('--resume', metavar='RUN_DIR',
                   help='continue the search in RUN_DIR with its saved config (--config/--set are refused)')
    p.add_argument('--set', dest='overrides', action='append', default=[], metavar='KEY=VALUE',
                   help='override a config field, e.g. --set generations=10 --set amp=bf16 (repeatable)')
    p.add_argument('--summary', metavar='RUN_DIR',
                   help='print where the search in RUN_DIR stands (running or finished) and exit')
    p.add_argument('--no-progress', action='store_true', help='no progress bars (logs only)')
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.summary:
        from relnas_zoo.search.summary import summarize
        try:
            print(summarize(args.summary))
        except FileNotFoundError as e:
            print(f'error: {e}', file=sys.stderr)
            return 2
        return 0
    try:
        if args.resume:
            if args.config or args.overrides or args.data:
                raise ConfigError('--resume continues with the run\'s saved config.yaml; drop --config/--set/--data')
            out = Path(args.resume)
            if not (out / 'checkpoint.pt').is_file():
                raise ConfigError(f'nothing to resume: {out / "checkpoint.pt"} does not exist')
            cfg = load_config(out / 'config.yaml')
        else:
            if not args.out:
                raise ConfigError('--out is required (the run directory)')
            out = Path(args.out)
            cfg = load_config(args.config)
            if args.data:
                args.overrides.append(f'data={args.data}')
            cfg = apply_overrides(cfg, args.overrides).validate()
    except ConfigError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(levelname)s %(message)s',
                        handlers=[logging.StreamHandler(), logging.FileHandler(out / 'search.log')])
    try:
        result = run_search(cfg, out, resume=bool(args.resume), progress=not args.no_progress)
    except (ConfigError, DatasetError, FileExistsError, FileNotFoundError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    print(f'best genotype (val loss {result.best_val_loss:.4f}, individual {result.best_individual}) '
          f'written to {result.genotype_path}')
    finish()
    return 0


if __name__ == '__main__':
    sys.exit(main())
