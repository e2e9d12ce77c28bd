"""Per-channel mean and std of each dataset: the one set the models' configs, the search and the trainers use."""
from __future__ import annotations

from typing import Dict, Tuple

from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD

__all__ = ['IMAGENET_MEAN', 'IMAGENET_STD', 'CIFAR10_MEAN', 'CIFAR10_STD', 'CIFAR100_MEAN', 'CIFAR100_STD',
           'DIGITS_MEAN', 'DIGITS_STD', 'mean_std']

Stats = Tuple[float, float, float]

IMAGENET_MEAN: Stats = tuple(IMAGENET_DEFAULT_MEAN)
IMAGENET_STD: Stats = tuple(IMAGENET_DEFAULT_STD)
CIFAR10_MEAN: Stats = (0.49139968, 0.48215827, 0.44653124)
CIFAR10_STD: Stats = (0.24703233, 0.24348505, 0.26158768)
# the authors' constants (the paper gives none)
CIFAR100_MEAN: Stats = (0.5071, 0.4867, 0.4408)
CIFAR100_STD: Stats = (0.2675, 0.2565, 0.2761)
# scikit-learn's digits, scaled to [0, 1] by the loader: centred, not measured
DIGITS_MEAN: Stats = (0.5, 0.5, 0.5)
DIGITS_STD: Stats = (0.5, 0.5, 0.5)

_BY_DATASET: Dict[str, Tuple[Stats, Stats]] = {
    'imagenet': (IMAGENET_MEAN, IMAGENET_STD),
    'cifar10': (CIFAR10_MEAN, CIFAR10_STD),
    'cifar100': (CIFAR100_MEAN, CIFAR100_STD),
    'digits': (DIGITS_MEAN, DIGITS_STD),
}


def mean_std(dataset: str) -> Tuple[Stats, Stats]:
    """``(mean, std)`` of ``dataset`` (imagenet, cifar10, cifar100 or digits)."""
    try:
        return _BY_DATASET[dataset]
    except KeyError:
        raise ValueError(f'no normalisation constants for {dataset!r}; known: {", ".join(_BY_DATASET)}') from None
