#!/usr/bin/env python
"""Read throughput (images/s) of the ImageNet LMDB against the same JPEGs in class folders, in one run.

Writes a synthetic ImageNet-like set (JPEG q90, about 500x375, smooth content so file sizes are
realistic), packs it with relnas_zoo's builder, then reads both through a DataLoader in shuffled order
with the same decode + eval transform, alternating rounds. With --drop-caches (root) each round starts
from a cold page cache; otherwise both read from a warm cache.

    python bench/lmdb_vs_folder.py --images 2000 --workers 2
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from relnas_zoo.atomic import atomic_write_json  # noqa: E402
from relnas_zoo.latency import interleaved_rounds  # noqa: E402

def make_images(root: Path, n: int, classes: int, seed: int = 0) -> None:
    from PIL import Image, ImageFilter
    rng = np.random.default_rng(seed)
    for i in range(n):
        wnid = f'n{1000000 + i % classes:08d}'
        (root / wnid).mkdir(parents=True, exist_ok=True)
        small = rng.integers(0, 256, size=(24, 32, 3), dtype=np.uint8)
        img = Image.fromarray(small).resize((500, 375), Image.BICUBIC).filter(ImageFilter.DETAIL)
        noise = rng.normal(0, 12, size=(375, 500, 3))
        img = Image.fromarray(np.clip(np.asarray(img) + noise, 0, 255).astype(np.uint8))
        img.save(root / wnid / f'img_{i:06d}.JPEG', quality=90)


def drop_caches() -> bool:
    try:
        import os
        os.sync()
        Path('/proc/sys/vm/drop_caches').write_text('3\n')
        return True
    except OSError:
        return False


def read_all(dataset, workers: int, batch_size: int) -> float:
    import torch
    from torch.utils.data import DataLoader
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=workers,
                        generator=torch.Generator().manual_seed(0))
    t0 = time.perf_counter()
    n = 0
    for x, _ in loader:
        n += len(x)
    return n / (time.perf_counter() - t0)


def record_read_us(dataset):
    """Microseconds per ``dataset.raw(i)`` over every record (no decode): the cost of the record check."""
    def measure() -> float:
        t0 = time.perf_counter()
        for i in range(len(dataset)):
            dataset.raw(i)
        return 1e6 * (time.perf_counter() - t0) / len(dataset)
    return measure


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--images', type=int, default=2000, help='synthetic images to write (default 2000)')
    p.add_argument('--classes', type=int, default=20, help='class folders (default 20)')
    p.add_argument('--workers', type=int, default=2, help='DataLoader workers (default 2)')
    p.add_argument('--batch-size', type=int, default=64)
    p.add_argument('--rounds', type=int, default=3, help='alternating rounds per reader (median reported)')
    p.add_argument('--drop-caches', action='store_true', help='drop the page cache before every round (root)')
    p.add_argument('--dir', help='work directory (default: a temporary one)')
    p.add_argument('--json', help='also write the results here')
    args = p.parse_args(argv)

    from torchvision.datasets import ImageFolder
    from relnas_zoo.data.lmdb import ImageNetLMDB, build_lmdb, scan_class_folders
    from relnas_zoo.train.data import imagenet_eval_transform

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        folder, lm = Path(tmp) / 'train', Path(tmp) / 'lmdb'
        t0 = time.perf_counter()
        make_images(folder, args.images, args.classes)
        size = sum(f.stat().st_size for f in folder.rglob('*.JPEG'))
        print(f'wrote {args.images} JPEGs ({size / args.images / 1024:.0f} KiB each) in {time.perf_counter() - t0:.0f}s')
        t0 = time.perf_counter()
        build_lmdb(scan_class_folders(folder), lm, 'train', workers=args.workers, progress=False)
        build_s = time.perf_counter() - t0
        print(f'packed the LMDB in {build_s:.1f}s ({args.images / build_s:.0f} img/s)')
        unchecked = Path(tmp) / 'lmdb_unchecked'  # the same records without their CRC-32 (format version 2)
        build_lmdb(scan_class_folders(folder), unchecked, 'train', workers=args.workers, progress=False,
                   checksums=False)
        tf = imagenet_eval_transform()
        readers = {'folder (ImageFolder)': ImageFolder(str(folder), tf), 'lmdb (ImageNetLMDB)': ImageNetLMDB(lm, tf),
                   'lmdb, no checksums': ImageNetLMDB(unchecked, tf),
                   'lmdb, readahead=False': ImageNetLMDB(lm, tf, readahead=False)}
        cold = args.drop_caches and drop_caches()

        def images_per_s(ds):
            def measure() -> float:
                if cold:
                    drop_caches()
                return read_all(ds, args.workers, args.batch_size)
            return measure
        rates = interleaved_rounds({name: images_per_s(ds) for name, ds in readers.items()}, args.rounds,
                                   lambda r, name, rate: print(f'round {r}: {name:<24} {rate:8.1f} img/s', flush=True))
        med = {k: statistics.median(v) for k, v in rates.items()}
        base = med['folder (ImageFolder)']
        print(f"\n{args.images} images, {args.workers} workers, decode + Resize(256) + CenterCrop(224), "
              f"{'cold' if cold else 'warm'} page cache; median of {args.rounds}")
        for k, v in med.items():
            print(f'{k:<24}{v:10.1f} img/s{v / base:8.2f}x')
        # the check alone: record reads without decoding (warm cache), checked against unchecked
        raw = interleaved_rounds({'checked': record_read_us(readers['lmdb (ImageNetLMDB)']),
                                  'unchecked': record_read_us(readers['lmdb, no checksums'])}, args.rounds)
        raw_med = {k: statistics.median(v) for k, v in raw.items()}
        per_image_us = 1e6 / med['lmdb (ImageNetLMDB)']
        extra = raw_med['checked'] - raw_med['unchecked']
        print(f"record read without decoding: {raw_med['checked']:.1f} us checked, {raw_med['unchecked']:.1f} us "
              f"unchecked: the CRC-32 adds {extra:.1f} us per image, {100 * extra / per_image_us:.2f}% of a "
              f"decoded read ({per_image_us:.0f} us per image in the DataLoader above)")
        if args.json:
            atomic_write_json(args.json, dict(args=vars(args), cold=cold, rates=rates, median=med,
                                              record_read_us=raw, record_read_us_median=raw_med))
    return 0


if __name__ == '__main__':
    sys.exit(main())
