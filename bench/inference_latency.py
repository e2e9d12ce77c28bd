#!/usr/bin/env python
"""CPU inference latency of the ImageNet RelativeNAS network, as ratios to eager, measured in one run.

Variants: eager (NCHW), channels_last, torch.compile, BN folded into the convs (relnas_zoo.deploy),
BN folded + channels_last, and the ONNX export (`relnas-zoo export`: BN folded, cell states padded to a
multiple of 8 channels) in ONNX Runtime's CPU provider with as many threads as torch, plus the same
export without the channel padding. The timing code is relnas_zoo.latency (what `relnas-zoo bench` uses). Each is timed on the same inputs, interleaved round by round so
drift in machine load hits all variants alike; the median of the rounds is reported. With --baselines the
mobile networks of the paper's tables (timm's mobilenetv2_100 and mnasnet_100, torchvision's
shufflenet_v2_x1_0) and DARTS are timed beside RelativeNAS in eager PyTorch and in ONNX Runtime, with
their mult-adds.

    python bench/inference_latency.py                      # batch 1 and 32, 224x224
    python bench/inference_latency.py --batch-sizes 1 --rounds 10 --json out.json
    python bench/inference_latency.py --no-compile --baselines --batch-sizes 1 8
"""
from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path
from typing import Dict

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import timm  # noqa: E402

import relnas_zoo  # noqa: E402,F401
from relnas_zoo import latency  # noqa: E402
from relnas_zoo.atomic import atomic_write_json  # noqa: E402
from relnas_zoo.complexity import count_mult_adds  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--model', default='relativenas', help='registered model (default: relativenas)')
    p.add_argument('--batch-sizes', type=int, nargs='+', default=[1, 32], help='batch sizes to time')
    p.add_argument('--rounds', type=int, default=7, help='timed rounds per variant (median reported)')
    p.add_argument('--warmup', type=int, default=2, help='untimed calls per variant before timing')
    p.add_argument('--threads', type=int, default=0, help='torch threads (0: leave the default)')
    p.add_argument('--no-compile', action='store_true', help='skip torch.compile (it takes minutes to compile)')
    p.add_argument('--no-onnx', action='store_true', help='skip the ONNX Runtime variants')
    p.add_argument('--baselines', action='store_true',
                   help='also time the paper\'s mobile baselines and DARTS (eager and ONNX Runtime)')
    p.add_argument('--json', help='also write the results to this JSON file')
    return p.parse_args(argv)


def build_variants(model: torch.nn.Module, use_compile: bool, use_onnx: bool, size) -> Dict[str, tuple]:
    names = ['eager', 'channels_last', 'bn_folded', 'bn_folded_cl'] + (['compile'] if use_compile else [])
    variants = latency.build_runtimes(model, names, size)
    if use_onnx:
        variants['onnxruntime, unpadded'] = latency.build_runtimes(model, ['onnxruntime'], size, channel_multiple=0)[
            'onnxruntime']
        variants['onnxruntime'] = latency.build_runtimes(model, ['onnxruntime'], size)['onnxruntime']
    return variants


def baseline_models() -> Dict[str, torch.nn.Module]:
    import torchvision
    return {'relativenas': timm.create_model('relativenas'), 'darts_v2': timm.create_model('darts_v2'),
            'mobilenetv2_100': timm.create_model('mobilenetv2_100'), 'mnasnet_100': timm.create_model('mnasnet_100'),
            'shufflenet_v2_x1_0': torchvision.models.shufflenet_v2_x1_0()}


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    model = timm.create_model(args.model).eval()
    size = model.pretrained_cfg['input_size']
    variants = build_variants(model, not args.no_compile, not args.no_onnx, size)
    results = dict(model=args.model, input_size=list(size), torch=torch.__version__,
                   threads=torch.get_num_threads(), cpu=platform.processor() or platform.machine(), batches={})
    for bs in args.batch_sizes:
        print(f'batch {bs}:', flush=True)
        x = torch.randn(bs, *size)
        for name, sec in latency.check_outputs(model, variants, x, warmup=args.warmup).items():
            print(f'  warm-up {name}: {sec:.1f}s', flush=True)
        med = latency.time_interleaved(variants, x, args.rounds)
        results['batches'][bs] = {n: dict(ms=1e3 * t, speedup=med['eager'] / t) for n, t in med.items()}
    print(f"\n{args.model} at {'x'.join(map(str, size))}, torch {torch.__version__}, "
          f"{results['threads']} threads; median of {args.rounds} rounds")
    print(f"{'variant':<26}" + ''.join(f'{f"bs={bs} ms":>12}{"x eager":>9}' for bs in args.batch_sizes))
    for name in variants:
        row = ''.join(f"{results['batches'][bs][name]['ms']:>12.1f}{results['batches'][bs][name]['speedup']:>9.2f}"
                      for bs in args.batch_sizes)
        print(f'{name:<26}{row}')
    if args.baselines:
        results['baselines'] = run_baselines(args, size)
    if args.json:
        atomic_write_json(args.json, results)
    return 0


def run_baselines(args, size) -> Dict[str, dict]:
    """Every baseline in eager PyTorch (NCHW) and ONNX Runtime, interleaved, with its mult-adds."""
    models = {name: m.eval() for name, m in baseline_models().items()}
    variants = {}
    for name, m in models.items():
        runners = latency.build_runtimes(m, ['eager', 'onnxruntime'], size)
        variants[f'{name} eager'], variants[f'{name} onnxruntime'] = runners['eager'], runners['onnxruntime']
    out: Dict[str, dict] = {name: dict(mult_adds=count_mult_adds(m, size)) for name, m in models.items()}
    for bs in args.batch_sizes:
        x = torch.randn(bs, *size)
        for name, m in models.items():  # per model: ONNX Runtime must agree with its own eager outputs
            latency.check_outputs(m, {k: v for k, v in variants.items() if k.startswith(name + ' ')}, x)
        med = latency.time_interleaved(variants, x, args.rounds)
        for name in models:
            out[name][bs] = dict(eager_ms=1e3 * med[f'{name} eager'], onnxruntime_ms=1e3 * med[f'{name} onnxruntime'])
    print(f"\nmobile baselines, {'x'.join(map(str, size))}, {torch.get_num_threads()} threads, median of "
          f"{args.rounds} interleaved rounds; ms per image")
    print(f"{'model':<22}{'mult-adds':>12}" + ''.join(f'{f"bs={bs} eager":>14}{f"bs={bs} ORT":>12}'
                                                       for bs in args.batch_sizes))
    for name, r in out.items():
        row = ''.join(f"{r[bs]['eager_ms'] / bs:>14.2f}{r[bs]['onnxruntime_ms'] / bs:>12.2f}" for bs in args.batch_sizes)
        print(f"{name:<22}{r['mult_adds'] / 1e6:>10.1f} M{row}")
    return out


if __name__ == '__main__':
    sys.exit(main())
