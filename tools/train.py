#!/usr/bin/env python
"""Train an OpenMMLab model from a config (transfer/*.py) with mmengine's Runner.

  python tools/train.py transfer/ssdlite_voc.py --cfg-options model.backbone.init_cfg.checkpoint=weights.pth
  tools/dist_train.sh transfer/ssdlite_voc.py 4            # 4 GPUs (torchrun, --launcher pytorch)
  python tools/train.py transfer/ssdlite_voc.py --resume   # continue from the work dir's last checkpoint
Beyond the stock OpenMMLab script: resuming works on torch >= 2.6 without turning safe loading off,
and --launcher pytorch works on CPU-only machines (gloo, no SyncBN).
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
    p.add_argument('--work-dir', help='where logs and checkpoints go (default: work_dirs/<config name>)')
    p.add_argument('--amp', action='store_true', help='mixed precision (AmpOptimWrapper, dynamic loss scale)')
    p.add_argument('--resume', nargs='?', type=str, const='auto',
                   help='resume from this checkpoint, or with no value from the latest one in the work dir')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override config entries, key=value (e.g. train_dataloader.batch_size=8)')
    p.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
                   help='job launcher (tools/dist_train.sh uses pytorch)')
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
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume:
        cfg.resume, cfg.load_from = True, args.resume
    if args.launcher == 'pytorch':
        setup_cpu_distributed(cfg)
    runner = Runner.from_cfg(cfg)
    with allow_mmengine_checkpoints():
        runner.train()
    return 0


if __name__ == '__main__':
    sys.exit(main())
