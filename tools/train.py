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
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def parse_args(argv=None):
    from relnas_zoo.mm.runtime import add_runner_arguments
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config', help='config file, e.g. transfer/ssdlite_voc.py')
    p.add_argument('--amp', action='store_true', help='mixed precision (AmpOptimWrapper, dynamic loss scale)')
    p.add_argument('--auto-scale-lr', action='store_true',
                   help='scale the learning rate linearly by (GPUs x batch per GPU) / auto_scale_lr.base_batch_size '
                        'of the config (the recipe\'s total batch), for runs on another number of GPUs')
    p.add_argument('--resume', nargs='?', type=str, const='auto',
                   help='resume from this checkpoint, or with no value from the latest one in the work dir')
    add_runner_arguments(p)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from relnas_zoo.mm.runtime import (allow_mmengine_checkpoints, build_runner, check_data,
                                       input_errors_in_one_line, load_run_config)
    from relnas_zoo.distributed import finish

    cfg = load_run_config(args)
    loaders = ('train_dataloader', 'val_dataloader') if cfg.get('val_cfg') is not None else ('train_dataloader',)
    with input_errors_in_one_line():
        check_data(cfg, loaders)
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'
    if args.auto_scale_lr:
        if 'auto_scale_lr' not in cfg or 'base_batch_size' not in cfg.auto_scale_lr:
            print(f'error: --auto-scale-lr needs auto_scale_lr = dict(base_batch_size=N) in {args.config}',
                  file=sys.stderr)
            return 2
        cfg.auto_scale_lr.enable = True
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume:
        cfg.resume, cfg.load_from = True, args.resume
    runner = build_runner(cfg)
    with input_errors_in_one_line(), allow_mmengine_checkpoints():
        runner.train()
    finish()
    return 0


if __name__ == '__main__':
    sys.exit(main())
