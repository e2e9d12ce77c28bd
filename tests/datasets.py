"""Tiny datasets in the real on-disk formats, written by the tests themselves."""
import csv
import io
import pickle
from pathlib import Path
from typing import Sequence

import numpy as np


def write_cifar(root: Path, dataset: str = 'cifar10', per_batch: int = 40, seed: int = 0) -> Path:
    """A CIFAR python-pickle layout (same keys, dtypes and files as the official archive)."""
    rng = np.random.default_rng(seed)
    classes = 10 if dataset == 'cifar10' else 100
    if dataset == 'cifar10':
        folder = root / 'cifar-10-batches-py'
        files = [f'data_batch_{i}' for i in range(1, 6)] + ['test_batch']
        label_key, meta, names_key = b'labels', 'batches.meta', b'label_names'
    else:
        folder = root / 'cifar-100-python'
        files = ['train', 'test']
        label_key, meta, names_key = b'fine_labels', 'meta', b'fine_label_names'
    folder.mkdir(parents=True, exist_ok=True)
    for name in files:
        n = per_batch * (5 if dataset == 'cifar100' and name == 'train' else 1)
        labels = rng.integers(0, classes, size=n)
        # class-dependent mean colour so that a network can learn something
        base = (labels[:, None] * 37 % 200).astype(np.float64)
        data = np.clip(base + rng.normal(0, 40, size=(n, 3072)), 0, 255).astype(np.uint8)
        batch = {b'batch_label': name.encode(), label_key: labels.tolist(), b'data': data,
                 b'filenames': [f'img_{i}.png'.encode() for i in range(n)]}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    (folder / meta).write_bytes(pickle.dumps({names_key: [f'class{i}'.encode() for i in range(classes)],
                                              b'num_cases_per_batch': per_batch}, protocol=2))
    return root


def jpeg_bytes(rng, w=48, h=40) -> bytes:
    """A random JPEG of w x h pixels."""
    from PIL import Image
    arr = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format='JPEG', quality=90)
    return buf.getvalue()


def write_imagenet(root: Path, wnids: Sequence[str]) -> Path:
    """An ILSVRC layout: train/ and val_folders/ class folders, a flat val/ with LOC_val_solution.csv."""
    rng = np.random.default_rng(0)
    for wnid in wnids:
        (root / 'train' / wnid).mkdir(parents=True)
        (root / 'val_folders' / wnid).mkdir(parents=True)
        for i in range(4):
            (root / 'train' / wnid / f'{wnid}_{i}.JPEG').write_bytes(jpeg_bytes(rng, 40 + 8 * i))
        (root / 'val_folders' / wnid / f'ILSVRC2012_val_{wnid}.JPEG').write_bytes(jpeg_bytes(rng))
    (root / 'val').mkdir()
    with open(root / 'LOC_val_solution.csv', 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['ImageId', 'PredictionString'])
        for k, wnid in enumerate(list(wnids) * 2):
            name = f'ILSVRC2012_val_{k:08d}'
            (root / 'val' / f'{name}.JPEG').write_bytes(jpeg_bytes(rng))
            w.writerow([name, f'{wnid} 1 2 3 4'])
    return root
