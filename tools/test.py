#!/usr/bin/env python
"""Evaluate a trained OpenMMLab checkpoint with a config's test set and metric.

  python tools/test.py transfer/ssdlite_voc.py work_dirs/ssdlite_voc/epoch_200.pth
  tools/dist_test.sh transfer/ssdlite_voc.py work_dirs/ssdlite_voc/epoch_200.pth 4
Checkpoints written by mmengine load under torch >= 2.6 with safe loading kept on (only the globals
such files need are allowed); --launcher pytorch works on CPU-only machines.
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
    p.add_argument('checkpoint', help='checkpoint written by tools/train.py')
    p.add_argument('--out', help='also dump the raw predictions to this pickle file (mmengine DumpResults)')
    p.add_argument('--show-dir', help='write visualised predictions into this folder (relative to the work dir)')
    p.add_argument('--tta', action='store_true',
                   help='test-time augmentation from the config\'s tta_model / tta_pipeline (BiSeNet: the paper\'s '
                        'multi-scale + flip protocol)')
    add_runner_arguments(p)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from relnas_zoo.mm.runtime import (allow_mmengine_checkpoints, build_runner, check_data,
                                       input_errors_in_one_line, load_run_config)
    from relnas_zoo.distributed import finish

    cfg = load_run_config(args)
    with input_errors_in_one_line():
        check_data(cfg, ('test_dataloader',))
    cfg.load_from = args.checkpoint
    if args.tta:
        if 'tta_model' not in cfg or 'tta_pipeline' not in cfg:
            print(f'error: --tta needs tta_model and tta_pipeline in {args.config}', file=sys.stderr)
            return 2
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model
    if args.show_dir:
        vis = cfg.default_hooks.get('visualization')
        if vis is None:
            print(f'error: --show-dir needs a visualization hook in {args.config}', file=sys.stderr)
            return 2
        vis.draw = True
        key = 'test_out_dir' if vis.type in ('DetVisualizationHook', 'SegVisualizationHook') else 'out_dir'
        vis[key] = args.show_dir
    if args.out:
        if not args.out.endswith(('.pkl', '.pickle')):
            print('error: --out must be a .pkl file', file=sys.stderr)
            return 2
        evaluator = cfg.test_evaluator if isinstance(cfg.test_evaluator, list) else [cfg.test_evaluator]
        cfg.test_evaluator = [*evaluator, dict(type='DumpResults', out_file_path=args.out)]
    runner = build_runner(cfg)
    with input_errors_in_one_line(), allow_mmengine_checkpoints():
        metrics = runner.test()
    if runner.rank == 0:
        print({k: round(float(v), 4) for k, v in metrics.items()})
    finish()
    return 0


if __name__ == '__main__':
    sys.exit(main())
