#!/usr/bin/env python
"""Training throughput (images/s) with and without mixed precision and channels_last, in one run.

Full training steps (forward with the auxiliary head, cross-entropy + 0.4 * auxiliary loss, backward,
gradient clipping, SGD) of a zoo network on random data already on the device; variants alternate
round by round and the median is reported as a ratio to fp32 NCHW.

    python bench/train_throughput.py                                  # CIFAR net, batch 64, on CPU
    python bench/train_throughput.py --model relativenas --batch-size 32 --image-size 224 --device cuda

With --loader it measures the ImageNet input pipeline instead (images/s through the DataLoader alone,
including the copy to the device and normalisation there): float32 tensors normalised in the workers
(ToTensor + Normalize, the usual torchvision recipe) vs uint8 tensors normalised on the device (what
tools/train_imagenet.py does), on seeded random 500x375 JPEGs in class folders.

    python bench/train_throughput.py --loader --workers 2 --images 512
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import timm  # noqa: E402

import relnas_zoo  # noqa: E402,F401
from relnas_zoo.atomic import atomic_write_json  # noqa: E402
from relnas_zoo.latency import interleaved_rounds  # noqa: E402

VARIANTS = {'fp32': ('none', False), 'channels_last': ('none', True), 'bf16': ('bf16', False),
            'bf16+channels_last': ('bf16', True)}


def run_steps(model, x, y, amp: str, channels_last: bool, steps: int) -> float:
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    ctx = (torch.autocast(x.device.type, dtype=torch.bfloat16) if amp == 'bf16' else contextlib.nullcontext())
    model.train()
    if x.device.type == 'cuda':
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        with ctx:
            out = model.forward_with_aux(x)
            loss = F.cross_entropy(out.logits, y) + 0.4 * F.cross_entropy(out.aux_logits, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
    if x.device.type == 'cuda':
        torch.cuda.synchronize()
    return steps * len(x) / (time.perf_counter() - t0)


def _jpeg_folder(root: Path, n: int) -> Path:
    import io
    import numpy as np
    from PIL import Image
    rng = np.random.default_rng(0)
    for i in range(n):
        d = root / f'n{i % 8:08d}'
        d.mkdir(parents=True, exist_ok=True)
        arr = rng.integers(0, 256, size=(375, 500, 3), dtype=np.uint8)
        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, format='JPEG', quality=90)
        (d / f'{i}.JPEG').write_bytes(buf.getvalue())
    return root


def loader_throughput(args) -> int:
    """float32-in-workers vs uint8 collate + normalisation on the device, side by side."""
    import tempfile
    from torch.utils.data import DataLoader
    from torchvision import transforms as T
    from torchvision.datasets import ImageFolder
    from relnas_zoo.normalization import IMAGENET_MEAN, IMAGENET_STD
    from relnas_zoo.train.data import (DeviceNormalize, imagenet_train_transform,
                                       uint8_collate)
    device = torch.device(args.device)
    float_tf = T.Compose([T.RandomResizedCrop(224), T.RandomHorizontalFlip(),
                          T.ColorJitter(0.4, 0.4, 0.4, 0.2), T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
    with tempfile.TemporaryDirectory() as tmp:
        root = _jpeg_folder(Path(tmp), args.images)
        variants = {
            'float32 (normalised in workers)': (DataLoader(ImageFolder(str(root), float_tf), batch_size=args.batch_size,
                                                           num_workers=args.workers, pin_memory=device.type == 'cuda'),
                                                lambda x: x),
            'uint8 (normalised on the device)': (DataLoader(ImageFolder(str(root), imagenet_train_transform(0.4)),
                                                            batch_size=args.batch_size, num_workers=args.workers,
                                                            pin_memory=device.type == 'cuda', collate_fn=uint8_collate),
                                                 DeviceNormalize(IMAGENET_MEAN, IMAGENET_STD)),
        }

        def images_per_s(loader, finish):
            def measure() -> float:
                t0 = time.perf_counter()
                n = 0
                for x, _ in loader:
                    x = finish(x.to(device, non_blocking=True))
                    n += len(x)
                if device.type == 'cuda':
                    torch.cuda.synchronize()
                return n / (time.perf_counter() - t0)
            return measure
        rates = interleaved_rounds({name: images_per_s(*v) for name, v in variants.items()}, args.rounds,
                                   _print_round(34))
    _summary(args, rates, f'loader alone: {args.images} JPEGs 500x375, batch {args.batch_size}, {args.workers} '
                          f'workers, to {device}; median of {args.rounds} rounds (bytes per image: float32 602 KB, '
                          f'uint8 150 KB)', width=36)
    return 0


def _print_round(width: int):
    return lambda r, name, rate: print(f'round {r}: {name:<{width}} {rate:8.1f} img/s', flush=True)


def _summary(args, rates, title: str, width: int) -> None:
    """Medians as images/s and as ratios to the first variant; --json writes the raw rounds too."""
    med = {k: statistics.median(v) for k, v in rates.items()}
    first = next(iter(med.values()))
    print(f'\n{title}')
    for k, v in med.items():
        print(f'{k:<{width}}{v:10.1f} img/s{v / first:8.2f}x')
    if args.json:
        atomic_write_json(args.json, dict(args=vars(args), rates=rates, median=med))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--model', default='relativenas_cifar10', help='registered zoo model')
    p.add_argument('--batch-size', type=int, default=64)
    p.add_argument('--image-size', type=int, default=0, help='default: the model\'s own input size')
    p.add_argument('--steps', type=int, default=5, help='timed steps per round')
    p.add_argument('--rounds', type=int, default=3)
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--json', help='also write the results here')
    p.add_argument('--loader', action='store_true', help='measure the ImageNet input pipeline instead (see above)')
    p.add_argument('--workers', type=int, default=2, help='--loader: DataLoader workers')
    p.add_argument('--images', type=int, default=512, help='--loader: JPEGs to read per round')
    args = p.parse_args(argv)
    if args.loader:
        return loader_throughput(args)

    device = torch.device(args.device)
    base = timm.create_model(args.model, auxiliary=True, drop_path_rate=0.2).to(device)
    size = args.image_size or base.pretrained_cfg['input_size'][-1]
    x = torch.randn(args.batch_size, 3, size, size, device=device)
    y = torch.randint(0, base.num_classes, (args.batch_size,), device=device)
    models = {}
    for name, (_, cl) in VARIANTS.items():
        m = timm.create_model(args.model, auxiliary=True, drop_path_rate=0.2).to(device)
        m.load_state_dict(base.state_dict())
        models[name] = m.to(memory_format=torch.channels_last) if cl else m
    for name, (amp, cl) in VARIANTS.items():  # warm-up
        run_steps(models[name], x, y, amp, cl, 1)
    rates = interleaved_rounds({name: functools.partial(run_steps, models[name], x, y, amp, cl, args.steps)
                                for name, (amp, cl) in VARIANTS.items()}, args.rounds, _print_round(20))
    _summary(args, rates, f'{args.model}, batch {args.batch_size} at {size}x{size}, {device}, torch '
                          f'{torch.__version__}, {torch.get_num_threads()} threads; median of {args.rounds} rounds '
                          f'of {args.steps} steps', width=20)
    return 0


if __name__ == '__main__':
    sys.exit(main())
