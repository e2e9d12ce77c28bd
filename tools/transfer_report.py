#!/usr/bin/env python
"""Parameters and FLOPs of each transfer model at its input size, beside the paper's Tables 5-7.

Builds the model of each config exactly as training does (no weights needed) and counts with
torch.utils.flop_counter.FlopCounterMode in eval mode on one input; FLOPs are reported as mult-adds
(counter total / 2), the unit the paper's classification figures use. The FLOP counter sees convolutions
and matrix products only.

    python tools/transfer_report.py                # all three configs
    python tools/transfer_report.py --json report.json
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# config, input (C, H, W) the paper states, the paper's params (M) and FLOPs, FLOP unit
REPORTS = [
    dict(config='transfer/ssdlite_voc.py', input=(3, 320, 320), paper_params=5.07, paper_flops=1202.97, unit='M',
         table='Table 5 (SSDLite, VOC)'),
    dict(config='transfer/bisenet_cityscapes.py', input=(3, 1024, 2048), paper_params=6.94, paper_flops=35.35,
         unit='G', table='Table 6 (BiSeNet, Cityscapes)'),
    dict(config='transfer/bisenet_cityscapes.py', input=(3, 1024, 1024), paper_params=6.94, paper_flops=35.35,
         unit='G', table='Table 6, at the 1024x1024 crop'),
    dict(config='transfer/simplebaseline_coco.py', input=(3, 256, 192), paper_params=9.43, paper_flops=564.19,
         unit='M', table='Table 7 (SimpleBaseline, COCO)'),
]


def measure(config: str, size) -> dict:
    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from torch.utils.flop_counter import FlopCounterMode

    cfg = Config.fromfile(str(ROOT / config))
    init_default_scope(cfg.default_scope)
    import relnas_zoo.mm  # noqa: F401  (the config's custom_imports, for this process)
    from mmengine.registry import MODELS
    model_cfg = cfg.model.copy()
    model_cfg.pop('data_preprocessor', None)

    def strip_pretrained(node):
        if isinstance(node, dict):
            if isinstance(node.get('init_cfg'), dict) and node['init_cfg'].get('type') == 'Pretrained':
                node['init_cfg'] = None
            for v in node.values():
                strip_pretrained(v)
    strip_pretrained(model_cfg)
    model = MODELS.build(model_cfg).eval()
    params = sum(p.numel() for p in model.parameters())
    x = torch.zeros(1, *size)
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model._forward(x)  # network only: no pre/post-processing, NMS or flip test
    backbone = model.backbone
    if hasattr(backbone, 'context_path'):  # BiSeNetV1 holds ours inside its context path
        backbone = backbone.context_path.backbone
    return dict(params=params, mult_adds=counter.get_total_flops() // 2,
                backbone_params=sum(p.numel() for p in backbone.parameters()))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--json', help='also write the results here')
    args = p.parse_args(argv)
    rows = []
    for r in REPORTS:
        m = measure(r['config'], r['input'])
        scale = 1e6 if r['unit'] == 'M' else 1e9
        rows.append(dict(r, params=m['params'], mult_adds=m['mult_adds'], backbone_params=m['backbone_params'],
                         flops_in_unit=m['mult_adds'] / scale))
    print(f"{'model':<34}{'input':>12}{'params (M)':>12}{'paper':>8}{'backbone (M)':>14}{'FLOPs':>11}{'paper':>10}")
    for r in rows:
        size = 'x'.join(map(str, r['input'][1:]))
        print(f"{r['table']:<34}{size:>12}{r['params'] / 1e6:>12.2f}{r['paper_params']:>8.2f}"
              f"{r['backbone_params'] / 1e6:>14.2f}{r['flops_in_unit']:>10.2f}{r['unit']}{r['paper_flops']:>9.2f}{r['unit']}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2, default=list))
    return 0


if __name__ == '__main__':
    sys.exit(main())
