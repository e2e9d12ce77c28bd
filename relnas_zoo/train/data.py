"""Train/eval batch sources for the trainer: CIFAR on the device, ImageNet through DataLoaders."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Iterator, List, Sequence, Tuple

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler

from ..data import TensorBatches, load_cifar
from ..data.imagenet_lmdb import ImageNetLMDB
from ..timm_models import CIFAR10_MEAN, CIFAR10_STD, CIFAR100_MEAN, CIFAR100_STD
from .config import TrainConfig
from .distributed import DistInfo

__all__ = ['build_loaders', 'ShardSampler', 'imagenet_dataset', 'imagenet_eval_transform']

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ShardSampler(Sampler):
    """Every ``world``-th index from ``rank``: each sample on exactly one rank, no padding."""

    def __init__(self, n: int, rank: int, world: int):
        self.indices = list(range(rank, n, world))

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


class CifarBatches:
    def __init__(self, cfg: TrainConfig, dist: DistInfo):
        train = load_cifar(cfg.data, cfg.task, train=True)
        test = load_cifar(cfg.data, cfg.task, train=False)
        if cfg.subset:
            train, test = train.subset(np.arange(min(cfg.subset, len(train)))), test.subset(np.arange(min(cfg.subset, len(test))))
        mean, std = (CIFAR10_MEAN, CIFAR10_STD) if cfg.task == 'cifar10' else (CIFAR100_MEAN, CIFAR100_STD)
        self.dist = dist
        self.seed = cfg.seed
        self.train = TensorBatches(train.images, train.labels, mean, std, cfg.batch_size // dist.world, dist.device,
                                   augment=True, cutout=cfg.cutout)
        self.test = TensorBatches(test.images, test.labels, mean, std, cfg.eval_batch_size // dist.world, dist.device)

    def __len__(self) -> int:
        return math.ceil(self.train.shard_size(self.dist.world) / self.train.batch_size)

    def train_batches(self, epoch: int, generator: torch.Generator):
        # the permutation must agree on every rank: (seed, epoch), not the rank's own stream
        order = torch.Generator().manual_seed(int(np.random.SeedSequence([self.seed, epoch]).generate_state(1)[0]))
        return self.train.epoch(generator, shuffle=True, rank=self.dist.rank, world=self.dist.world,
                                order_generator=order)

    def eval_batches(self):
        return self.test.epoch(shuffle=False, rank=self.dist.rank, world=self.dist.world)

    def eval_len(self) -> int:
        return math.ceil(self.test.shard_size(self.dist.world, shuffle=False) / self.test.batch_size)


def imagenet_train_transform(jitter: float):
    from torchvision import transforms as T
    return T.Compose([T.RandomResizedCrop(224), T.RandomHorizontalFlip(),
                      T.ColorJitter(brightness=jitter, contrast=jitter, saturation=jitter, hue=jitter / 2),
                      T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)])


def imagenet_eval_transform():
    from torchvision import transforms as T
    return T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)])


def imagenet_dataset(path: Path, transform) -> Dataset:
    """An LMDB built by tools/imagenet_to_lmdb.py, or a folder of class folders (sorted wnids)."""
    path = Path(path)
    if (path / 'data.mdb').is_file():
        return ImageNetLMDB(path, transform)
    if path.is_dir():
        from torchvision.datasets import ImageFolder
        return ImageFolder(str(path), transform)
    raise FileNotFoundError(f'{path}: neither an LMDB (data.mdb) nor a folder of class folders')


class ImageNetBatches:
    def __init__(self, cfg: TrainConfig, dist: DistInfo):
        root = Path(cfg.data).expanduser()
        train = imagenet_dataset(root / 'train', imagenet_train_transform(cfg.color_jitter))
        val = imagenet_dataset(root / 'val', imagenet_eval_transform())
        if cfg.subset:
            train = torch.utils.data.Subset(train, range(min(cfg.subset, len(train))))
            val = torch.utils.data.Subset(val, range(min(cfg.subset, len(val))))
        self.sampler = DistributedSampler(train, num_replicas=dist.world, rank=dist.rank, shuffle=True,
                                          seed=cfg.seed, drop_last=True)
        common = dict(num_workers=cfg.workers, pin_memory=dist.device.type == 'cuda',
                      persistent_workers=cfg.workers > 0)
        self.train = DataLoader(train, batch_size=cfg.batch_size // dist.world, sampler=self.sampler,
                                drop_last=True, **common)
        self.val = DataLoader(val, batch_size=cfg.eval_batch_size // dist.world,
                              sampler=ShardSampler(len(val), dist.rank, dist.world), **common)

    def __len__(self) -> int:
        return len(self.train)

    def train_batches(self, epoch: int, generator: torch.Generator):
        self.sampler.set_epoch(epoch)
        return iter(self.train)

    def eval_batches(self):
        return iter(self.val)

    def eval_len(self) -> int:
        return len(self.val)


def build_loaders(cfg: TrainConfig, dist: DistInfo):
    return ImageNetBatches(cfg, dist) if cfg.task == 'imagenet' else CifarBatches(cfg, dist)
