"""Tiny datasets in the real on-disk formats, written by the tests themselves."""
import pickle
from pathlib import Path

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
