#!/usr/bin/env python
"""Parameters and FLOPs of each transfer model, counted the way the paper's Tables 5-7 were counted.

Builds the model of each config exactly as training does (no weights needed) and counts with
torch.utils.flop_counter.FlopCounterMode on one input; FLOPs are mult-adds (counter total / 2), the unit
of the paper's tables. Two counting rules are reported side by side:

* ours: every convolution (transposed ones included) and matrix product the network runs;
* the authors' rule: their counter hooks only Conv2d and Linear layers, so ConvTranspose2d is not counted
  (SimpleBaseline's three deconvolutions are missing from the paper's 564 M).

Each row also follows the table's own protocol: Table 6 (BiSeNet) was counted at 1024x1024 in train mode,
i.e. with both auxiliary heads. ``--with-dead-weights`` builds the backbone as the authors' code does,
running the reduction cells' dead preprocess layers, which their figures include.

``--tables`` prints the paper's whole comparison: Tables 5, 6 and 7, every backbone (the configs in
transfer/comparison/), counted by the authors' rule (their dead preprocess layers built, Conv2d/Linear only,
BiSeNet at 1024x1024 with its auxiliary heads), next to the paper's figures, with each full model's CPU
latency at its task's input size (batch 1, eager PyTorch, median of --rounds).

    python tools/transfer_report.py                        # the RelativeNAS rows, both counting rules
    python tools/transfer_report.py --with-dead-weights    # the authors' network, to reproduce their figures
    python tools/transfer_report.py --tables               # Tables 5-7: all six backbones, ours beside the paper's
    python tools/transfer_report.py --json report.json
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# config, input (C, H, W), the paper's params (M) and FLOPs, FLOP unit, whether the auxiliary heads count
REPORTS = [
    dict(config='transfer/ssdlite_voc.py', input=(3, 320, 320), paper_params=5.07, paper_flops=1202.97, unit='M',
         table='Table 5: SSDLite, VOC', aux=False),
    dict(config='transfer/bisenet_cityscapes.py', input=(3, 1024, 1024), paper_params=6.94, paper_flops=35.35,
         unit='G', table='Table 6: BiSeNet, Cityscapes', aux=True),
    dict(config='transfer/bisenet_cityscapes.py', input=(3, 1024, 2048), paper_params=6.94, paper_flops=35.35,
         unit='G', table='  (full 2048x1024 frame, test)', aux=False),
    dict(config='transfer/simplebaseline_coco.py', input=(3, 256, 192), paper_params=9.43, paper_flops=564.19,
         unit='M', table='Table 7: SimpleBaseline, COCO', aux=False),
]

NOTES = {
    'Table 5: SSDLite, VOC': 'anchors, extra levels and heads as the authors\'; the rest of the FLOP gap is the '
                             'dead reduction-cell preprocess layers their network runs (--with-dead-weights)',
    'Table 6: BiSeNet, Cityscapes': 'counted as the authors did: 1024x1024, train mode (both auxiliary heads); '
                                    'the rest is the dead preprocess layers (--with-dead-weights)',
    '  (full 2048x1024 frame, test)': 'inference cost on a whole frame (no auxiliary heads); not the table\'s rule',
    'Table 7: SimpleBaseline, COCO': 'the paper\'s 564 M leaves out the three deconvolutions: the authors\' counter '
                                     'hooks only Conv2d and Linear (see the authors\' rule column)',
}


BACKBONES = ('shufflenetv2', 'mobilenetv2', 'nasnet', 'mnasnet', 'darts', 'relativenas')
BACKBONE_NAMES = dict(shufflenetv2='ShuffleNet-V2 (1x)', mobilenetv2='MobileNet-V2 (1x)', nasnet='NASNet-A Mobile',
                      mnasnet='MnasNet 1.0', darts='DARTS', relativenas='RelativeNAS')
# table -> config pattern, input (C, H, W), FLOP unit, auxiliary heads counted, the paper's (params M, FLOPs)
TABLES = {
    'Table 5: SSDLite, PASCAL VOC': dict(
        config='transfer/comparison/ssdlite_{}_voc.py', input=(3, 320, 320), unit='M', aux=False,
        paper=dict(shufflenetv2=(2.17, 355.76), mobilenetv2=(3.30, 680.88), nasnet=(5.22, 1238.92),
                   mnasnet=(4.18, 708.72), darts=(4.73, 1138.16), relativenas=(5.07, 1202.97))),
    'Table 6: BiSeNet, Cityscapes': dict(
        config='transfer/comparison/bisenet_{}_cityscapes.py', input=(3, 1024, 1024), unit='G', aux=True,
        paper=dict(shufflenetv2=(4.10, 26.30), mobilenetv2=(5.24, 29.21), nasnet=(7.46, 36.51),
                   mnasnet=(6.12, 29.50), darts=(6.64, 34.77), relativenas=(6.94, 35.35))),
    'Table 7: SimpleBaseline, COCO': dict(
        config='transfer/comparison/simplebaseline_{}_coco.py', input=(3, 256, 192), unit='M', aux=False,
        paper=dict(shufflenetv2=(7.55, 154.37), mobilenetv2=(9.57, 306.80), nasnet=(10.66, 569.11),
                   mnasnet=(10.45, 320.17), darts=(9.20, 531.77), relativenas=(9.43, 564.19))),
}


def build_model(config: str, dead_weights: bool = False):
    """The model of a transfer config as training builds it, without pretrained weights, in eval mode."""
    from relnas_zoo.mm.models import build_transfer_model, load_transfer_config
    return build_transfer_model(load_transfer_config(ROOT / config), dead_weights)


def _forward(model, x, aux: bool) -> None:
    import torch
    if not aux:
        model._forward(x)  # network only: no pre/post-processing, NMS or flip test
        return
    feats = model.extract_feat(x)  # train-mode graph: the decode head and every auxiliary head
    model.decode_head.forward(feats)
    heads = model.auxiliary_head
    for head in (heads if isinstance(heads, torch.nn.ModuleList) else [heads]):
        head.forward(feats)


def measure(config: str, size, aux: bool = False, dead_weights: bool = False) -> dict:
    return count(build_model(config, dead_weights), size, aux)


def count(model, size, aux: bool = False) -> dict:
    """Parameters and mult-adds (all layers, and the authors' Conv2d/Linear-only rule) of a built model."""
    import torch
    from relnas_zoo.complexity import mult_adds

    params = sum(p.numel() for p in model.parameters())
    counts = mult_adds(model, torch.zeros(1, *size), forward=lambda x: _forward(model, x, aux))
    backbone = model.backbone
    if hasattr(backbone, 'context_path'):  # BiSeNetV1 holds ours inside its context path
        backbone = backbone.context_path.backbone
    return dict(params=params, mult_adds=counts.total, authors_rule_mult_adds=counts.authors_rule,
                backbone_params=sum(p.numel() for p in backbone.parameters()))


def report(dead_weights: bool = False):
    rows = []
    for r in REPORTS:
        m = measure(r['config'], r['input'], r['aux'], dead_weights)
        scale = 1e6 if r['unit'] == 'M' else 1e9
        rows.append(dict(r, **m, flops_in_unit=m['mult_adds'] / scale,
                         authors_rule_in_unit=m['authors_rule_mult_adds'] / scale, note=NOTES[r['table']],
                         dead_weights=dead_weights))
    return rows


def latency_ms(model, size, rounds: int) -> float:
    """Median batch-1 latency of the full network (no pre/post-processing) in eager PyTorch on this CPU."""
    import torch
    from relnas_zoo.latency import time_interleaved
    x = torch.randn(1, *size)
    with torch.inference_mode():
        model._forward(x)  # warm-up
    return 1e3 * time_interleaved({'eager': (model._forward, torch.contiguous_format)}, x, rounds)['eager']


def comparison(rounds: int = 3, tables=None, backbones=BACKBONES) -> list:
    """Every row of Tables 5-7: the authors' counting rule, the paper's figures, the live network and latency."""
    rows = []
    for table, spec in TABLES.items():
        if tables and table not in tables:
            continue
        scale = 1e6 if spec['unit'] == 'M' else 1e9
        for b in backbones:
            config = spec['config'].format(b)
            authors = measure(config, spec['input'], spec['aux'], dead_weights=True)
            live_model = build_model(config)  # counted and timed
            live = count(live_model, spec['input'], spec['aux'])
            paper_params, paper_flops = spec['paper'][b]
            params, flops = authors['params'] / 1e6, authors['authors_rule_mult_adds'] / scale
            rows.append(dict(table=table, backbone=b, config=config, input=list(spec['input']), unit=spec['unit'],
                             params_m=params, paper_params_m=paper_params, params_diff=params / paper_params - 1,
                             flops=flops, paper_flops=paper_flops, flops_diff=flops / paper_flops - 1,
                             live_params_m=live['params'] / 1e6, live_flops=live['mult_adds'] / scale,
                             latency_ms=latency_ms(live_model, spec['input'], rounds) if rounds else None))
    return rows


def print_tables(rows) -> None:
    for table in dict.fromkeys(r['table'] for r in rows):
        sub = [r for r in rows if r['table'] == table]
        unit, size = sub[0]['unit'], 'x'.join(map(str, sub[0]['input'][1:]))
        print(f"\n{table} ({size}; authors' counting rule)")
        print(f"{'backbone':<20}{'params M':>9}{'paper':>7}{'diff':>7}{'FLOPs ' + unit:>10}{'paper':>9}{'diff':>7}"
              f"{'live params':>12}{'live FLOPs':>11}{'CPU ms':>8}")
        for r in sub:
            lat = f"{r['latency_ms']:>8.0f}" if r['latency_ms'] is not None else f"{'-':>8}"
            print(f"{BACKBONE_NAMES[r['backbone']]:<20}{r['params_m']:>9.2f}{r['paper_params_m']:>7.2f}"
                  f"{100 * r['params_diff']:>+6.1f}%{r['flops']:>10.2f}{r['paper_flops']:>9.2f}{100 * r['flops_diff']:>+6.1f}%"
                  f"{r['live_params_m']:>12.2f}{r['live_flops']:>11.2f}{lat}")
    worst = max(max(abs(r['params_diff']), abs(r['flops_diff'])) for r in rows)
    print(f'\nLargest difference from the paper: {100 * worst:.2f}% (README explains any row above 3%).')
    print('Authors\' rule: dead preprocess layers of the cell networks built, Conv2d/Linear only, BiSeNet in train '
          'mode (auxiliary heads); FLOPs are mult-adds. Live: the network as relnas_zoo runs it (every op counted). '
          'CPU ms: full network, batch 1, eager PyTorch, median.')


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--with-dead-weights', action='store_true',
                   help='count the backbone as the authors\' code builds it (dead preprocess layers included)')
    p.add_argument('--tables', action='store_true',
                   help='Tables 5-7: every backbone of the paper\'s comparison, ours beside the paper\'s figures')
    p.add_argument('--rounds', type=int, default=3,
                   help='with --tables: timed CPU forwards per model (median reported; 0 skips the latency column)')
    p.add_argument('--json', help='also write the results here')
    args = p.parse_args(argv)
    if args.tables:
        rows = comparison(args.rounds)
        print_tables(rows)
        if args.json:
            Path(args.json).write_text(json.dumps(rows, indent=2))
        return 0
    rows = report(args.with_dead_weights)
    print(f"{'model':<32}{'input':>10}{'params M':>10}{'paper':>7}{'FLOPs':>11}{'authors rule':>14}{'paper':>10}")
    for r in rows:
        size = 'x'.join(map(str, r['input'][1:]))
        print(f"{r['table']:<32}{size:>10}{r['params'] / 1e6:>10.2f}{r['paper_params']:>7.2f}"
              f"{r['flops_in_unit']:>10.2f}{r['unit']}{r['authors_rule_in_unit']:>13.2f}{r['unit']}"
              f"{r['paper_flops']:>9.2f}{r['unit']}")
    print('\nFLOPs are mult-adds. Notes:')
    for r in rows:
        print(f"  {r['table'].strip()}: {r['note']}")
    if args.with_dead_weights:
        print('  (backbone built with the authors\' dead preprocess layers)')
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2, default=list))
    return 0


if __name__ == '__main__':
    sys.exit(main())
