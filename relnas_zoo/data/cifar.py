"""CIFAR-10/100 from the standard python-pickle layout, read without running anything a file carries.

The official archives pickle a dict of numpy arrays. A restricted unpickler admits exactly the globals
that format needs (numpy's array reconstruction), so a tampered file fails instead of executing code.
No checksums are required (tiny test copies of the layout are fine) and nothing is ever downloaded.
"""
from __future__ import annotations

import io
import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Tuple, Union

import numpy as np

from ..errors import InputError

__all__ = ['ImageArrays', 'DatasetError', 'load_cifar', 'load_digits', 'split_indices', 'CIFAR_LAYOUTS']

PathLike = Union[str, os.PathLike]


class DatasetError(InputError, RuntimeError):
    """A missing or malformed dataset; the message shows the expected layout."""


@dataclass
class ImageArrays:
    """Images as uint8 (N, H, W, 3) and int64 labels, plus class names."""
    images: np.ndarray
    labels: np.ndarray
    classes: List[str]

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: np.ndarray) -> 'ImageArrays':
        return ImageArrays(self.images[index], self.labels[index], self.classes)


CIFAR_LAYOUTS = {
    'cifar10': dict(folder='cifar-10-batches-py', train=[f'data_batch_{i}' for i in range(1, 6)],
                    test=['test_batch'], meta='batches.meta', label_key=b'labels', names_key=b'label_names'),
    'cifar100': dict(folder='cifar-100-python', train=['train'], test=['test'], meta='meta',
                     label_key=b'fine_labels', names_key=b'fine_label_names'),
}

_ALLOWED_GLOBALS = {
    ('numpy.core.multiarray', '_reconstruct'), ('numpy._core.multiarray', '_reconstruct'),
    ('numpy', 'ndarray'), ('numpy', 'dtype'), ('numpy.core.multiarray', 'scalar'),
    ('numpy._core.multiarray', 'scalar'), ('_codecs', 'encode'),
}


class _CifarUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f'global {module}.{name} is not allowed in a CIFAR batch file')
        if module.startswith('numpy.core'):
            module = 'numpy._core' + module[len('numpy.core'):]
        return super().find_class(module, name)


def _read_pickle(path: Path) -> Dict:
    try:
        data = _CifarUnpickler(io.BytesIO(path.read_bytes()), encoding='bytes').load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as e:
        raise DatasetError(f'{path}: not a readable CIFAR batch ({e})') from None
    if not isinstance(data, dict):
        raise DatasetError(f'{path}: expected a pickled dict, got {type(data).__name__}')
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in data.items()}


def _layout_text(dataset: str, root: Path) -> str:
    lay = CIFAR_LAYOUTS[dataset]
    files = '\n'.join(f'      {f}' for f in lay['train'] + lay['test'] + [lay['meta']])
    return (f'expected the python version of {dataset} under {root}:\n'
            f"  {root}/\n    {lay['folder']}/\n{files}\n"
            f'(the archive from the CIFAR website, extracted; nothing is downloaded for you)')


def _find_folder(root: Path, dataset: str) -> Path:
    lay = CIFAR_LAYOUTS[dataset]
    for cand in (root / lay['folder'], root):
        if (cand / lay['meta']).is_file():
            return cand
    raise DatasetError(_layout_text(dataset, root))


def load_cifar(root: PathLike, dataset: str = 'cifar10', train: bool = True) -> ImageArrays:
    """Read the train (50K) or test (10K) split of CIFAR-10/100 from ``root``."""
    if dataset not in CIFAR_LAYOUTS:
        raise DatasetError(f'unknown dataset {dataset!r}; choose one of {sorted(CIFAR_LAYOUTS)}')
    root = Path(root).expanduser()
    folder = _find_folder(root, dataset)
    lay = CIFAR_LAYOUTS[dataset]
    names = [n.decode() if isinstance(n, bytes) else str(n)
             for n in _read_pickle(folder / lay['meta']).get(lay['names_key'].decode(), [])]
    images, labels = [], []
    for name in lay['train'] if train else lay['test']:
        path = folder / name
        if not path.is_file():
            raise DatasetError(f'missing {path}\n' + _layout_text(dataset, root))
        batch = _read_pickle(path)
        key = lay['label_key'].decode()
        if 'data' not in batch or key not in batch:
            raise DatasetError(f"{path}: a batch needs 'data' and '{key}' entries, found {sorted(batch)}")
        data = np.asarray(batch['data'], dtype=np.uint8)
        if data.ndim != 2 or data.shape[1] != 3072 or len(data) != len(batch[key]):
            raise DatasetError(f'{path}: data must be (N, 3072) uint8 with N labels, got {data.shape} '
                               f'and {len(batch[key])} labels')
        images.append(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        labels.append(np.asarray(batch[key], dtype=np.int64))
    out = ImageArrays(np.ascontiguousarray(np.concatenate(images)), np.concatenate(labels), names)
    n_classes = 10 if dataset == 'cifar10' else 100
    if out.labels.min() < 0 or out.labels.max() >= n_classes:
        raise DatasetError(f'{folder}: labels must lie in 0..{n_classes - 1}')
    if not out.classes:
        out.classes = [str(i) for i in range(n_classes)]
    return out


def load_digits(size: int = 32) -> ImageArrays:
    """scikit-learn's 8x8 handwritten digits (1797 images, shipped inside the package), resized to
    ``size`` x ``size`` RGB: a real dataset for demos and smoke runs that needs no download."""
    try:
        from sklearn.datasets import load_digits as _sk_digits
    except ImportError as e:
        raise DatasetError('the digits dataset needs scikit-learn: pip install "relnas_zoo[demo]"') from e
    import torch
    import torch.nn.functional as F
    d = _sk_digits()
    x = torch.from_numpy(d.images.astype(np.float32) / 16.0)[:, None]
    x = F.interpolate(x, size=(size, size), mode='bilinear', align_corners=False).clamp_(0, 1)
    img = (x * 255).round().to(torch.uint8).repeat(1, 3, 1, 1).permute(0, 2, 3, 1).numpy()
    return ImageArrays(np.ascontiguousarray(img), d.target.astype(np.int64), [str(i) for i in range(10)])


def split_indices(n: int, seed: int, train_fraction: float = 0.5) -> Tuple[np.ndarray, np.ndarray]:
    """A seeded random split of ``range(n)`` into search-train and search-validation indices."""
    if not 0 < train_fraction < 1:
        raise ValueError(f'train_fraction must be in (0, 1), got {train_fraction}')
    perm = np.random.default_rng([seed, 0xDA7A]).permutation(n)
    cut = int(round(n * train_fraction))
    return np.sort(perm[:cut]), np.sort(perm[cut:])
