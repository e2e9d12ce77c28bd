#!/usr/bin/env python
"""CPU inference latency of the ImageNet RelativeNAS network, as ratios to eager, measured in one run.

Variants: eager (NCHW), channels_last, torch.compile, BN folded into the convs (relnas_zoo.deploy), and
BN folded + channels_last. Each is timed on the same inputs, interleaved round by round so drift in
machine load hits all variants alike; the median of the rounds is reported.

    python bench/inference_latency.py                      # batch 1 and 32, 224x224
    python bench/inference_latency.py --batch-sizes 1 --rounds 10 --json out.json
"""
from __future__ import annotations

import argparse
import copy
import json
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import timm  # noqa: E402

import relnas_zoo  # noqa: E402,F401
from relnas_zoo.deploy import fold_batchnorm  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--model', default='relativenas', help='registered model (default: relativenas)')
    p.add_argument('--batch-sizes', type=int, nargs='+', default=[1, 32], help='batch sizes to time')
    p.add_argument('--rounds', type=int, default=7, help='timed rounds per variant (median reported)')
    p.add_argument('--warmup', type=int, default=2, help='untimed calls per variant before timing')
    p.add_argument('--threads', type=int, default=0, help='torch threads (0: leave the default)')
    p.add_argument('--no-compile', action='store_true', help='skip torch.compile (it takes minutes to compile)')
    p.add_argument('--json', help='also write the results to this JSON file')
    return p.parse_args(argv)


def build_variants(model: torch.nn.Module, use_compile: bool) -> Dict[str, tuple]:
    """name -> (callable, memory format of its input)."""
    folded = fold_batchnorm(model)
    variants = {
        'eager': (model, torch.contiguous_format),
        'channels_last': (_cl(model), torch.channels_last),
        'bn_folded': (folded, torch.contiguous_format),
        'bn_folded+channels_last': (_cl(folded), torch.channels_last),
    }
    if use_compile:
        variants['torch.compile'] = (torch.compile(model), torch.contiguous_format)
    return variants


def _cl(model: torch.nn.Module) -> torch.nn.Module:
    return copy.deepcopy(model).to(memory_format=torch.channels_last)


@torch.inference_mode()
def time_variants(variants: Dict[str, tuple], x: torch.Tensor, rounds: int, warmup: int) -> Dict[str, float]:
    inputs = {fmt: x.contiguous(memory_format=fmt) for _, fmt in variants.values()}
    reference = None
    for name, (fn, fmt) in variants.items():
        t0 = time.perf_counter()
        for _ in range(warmup):
            out = fn(inputs[fmt])
        print(f'  warm-up {name}: {time.perf_counter() - t0:.1f}s', flush=True)
        if reference is None:
            reference = out
        else:
            err = (out - reference).abs().max().item()
            if err > 1e-3:
                raise RuntimeError(f'{name} differs from eager by {err:.3g}')
    times: Dict[str, List[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, (fn, fmt) in variants.items():
            t0 = time.perf_counter()
            fn(inputs[fmt])
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    model = timm.create_model(args.model).eval()
    size = model.pretrained_cfg['input_size']
    variants = build_variants(model, not args.no_compile)
    results = dict(model=args.model, input_size=list(size), torch=torch.__version__,
                   threads=torch.get_num_threads(), cpu=platform.processor() or platform.machine(), batches={})
    for bs in args.batch_sizes:
        print(f'batch {bs}:', flush=True)
        x = torch.randn(bs, *size)
        med = time_variants(variants, x, args.rounds, args.warmup)
        results['batches'][bs] = {n: dict(ms=1e3 * t, speedup=med['eager'] / t) for n, t in med.items()}
    print(f"\n{args.model} at {'x'.join(map(str, size))}, torch {torch.__version__}, "
          f"{results['threads']} threads; median of {args.rounds} rounds")
    print(f"{'variant':<26}" + ''.join(f'{f"bs={bs} ms":>12}{"x eager":>9}' for bs in args.batch_sizes))
    for name in variants:
        row = ''.join(f"{results['batches'][bs][name]['ms']:>12.1f}{results['batches'][bs][name]['speedup']:>9.2f}"
                      for bs in args.batch_sizes)
        print(f'{name:<26}{row}')
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
