#!/usr/bin/env python
"""Evaluate a trained OpenMMLab checkpoint with a config's test set and metric.

  python tools/test.py transfer/ssdlite_voc.py work_dirs/ssdlite_voc/epoch_200.pth
  tools/dist_test.sh transfer/ssdlite_voc.py work_dirs/ssdlite_voc/epoch_200.pth 4
Checkpoints written by mmengine load under torch >= 2.6 with safe loading kept on (only the globals
such files need are allowed); --launcher pytorch works on CPU-only machines.
"""
from __future__ import annotations

import argparse
import os
import os.path as osp
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def parse_args(argv=None):
    from mmengine.config import DictAction
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config', help='config file, e.g. transfer/ssdlite_voc.py')
    p.add_argument('checkpoint', help='checkpoint written by tools/train.py')
    p.add_argument('--work-dir', help='where the evaluation logs go (default: work_dirs/<config name>)')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config entries, key=value')
    p.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none', help='job launcher')
    p.add_argument('--local_rank', '--local-rank', type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    from mmengine.config import Config
    from mmengine.runner import Runner
    from relnas_zoo.mm.runtime import allow_mmengine_checkpoints, setup_cpu_distributed

    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or osp.join('work_dirs', osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    if args.launcher == 'pytorch':
        setup_cpu_distributed(cfg)
    runner = Runner.from_cfg(cfg)
    with allow_mmengine_checkpoints():
        metrics = runner.test()
    if runner.rank == 0:
        print({k: round(float(v), 4) for k, v in metrics.items()})
    return 0


if __name__ == '__main__':
    sys.exit(main())
