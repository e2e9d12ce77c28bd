"""Train/eval batch sources for the trainer: CIFAR on the device, ImageNet through DataLoaders.

Every source yields batches the trainer moves to its device and passes through ``finish`` there: the
ImageNet workers send uint8 images (a quarter of float32's bytes through the worker queues and the
host-to-device copy) that ``finish`` normalises on the device, as timm's PrefetchLoader and the
authors' fast_collate do; CIFAR batches are already normalised on the device.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Iterable, Iterator, Optional, Protocol, Sequence, Tuple

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler

from ..data import TensorBatches, load_cifar
from ..data.lmdb import ImageNetLMDB
from ..normalization import IMAGENET_MEAN, IMAGENET_STD, mean_std
from ..distributed import DistInfo
from ..seeds import derive_seed
from .config import ConfigError, TrainConfig

__all__ = ['build_loaders', 'ShardSampler', 'imagenet_dataset', 'imagenet_eval_transform', 'uint8_collate',
           'DeviceNormalize', 'micro_batch_size']



class ShardSampler(Sampler):
    """Every ``world``-th index from ``rank``: each sample on exactly one rank, no padding."""

    def __init__(self, n: int, rank: int, world: int):
        self.indices = list(range(rank, n, world))

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def micro_batch_size(global_batch: int, world: int, accum_steps: int = 1) -> int:
    """Images per process and forward pass for a global batch split over processes and accumulation."""
    return global_batch // (world * accum_steps)


def uint8_collate(batch: Sequence[Tuple[torch.Tensor, int]]) -> Tuple[torch.Tensor, torch.Tensor]:
    """Stack uint8 CHW images and int labels (no float conversion in the workers)."""
    images = torch.stack([b[0] for b in batch])
    labels = torch.tensor([int(b[1]) for b in batch], dtype=torch.int64)
    return images, labels


class DeviceNormalize:
    """uint8 batch on the device -> normalised float (``finish`` of the ImageNet sources)."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]):
        self.mean = torch.tensor(mean).view(1, 3, 1, 1) * 255
        self.std = torch.tensor(std).view(1, 3, 1, 1) * 255

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype != torch.uint8:
            return x
        if self.mean.device != x.device:
            self.mean, self.std = self.mean.to(x.device), self.std.to(x.device)
        return (x.float() - self.mean) / self.std


class EvalSource(Protocol):
    """What :func:`relnas_zoo.train.trainer.evaluate` reads: this process's share of the evaluation batches
    and their count; ``finish`` turns a batch, once on the device, into the network's input (uint8 images
    are normalised there)."""
    def eval_batches(self) -> Iterable[Tuple[torch.Tensor, torch.Tensor]]: ...
    def eval_len(self) -> int: ...
    def finish(self, x: torch.Tensor) -> torch.Tensor: ...


class TrainSource(EvalSource, Protocol):
    """What the trainer reads: the epoch's batches and their count, and the number of classes when the data
    decides it (an ImageNet subset trains a smaller head; None: the model's own)."""
    num_classes: Optional[int]
    def __len__(self) -> int: ...
    def train_batches(self, epoch: int, generator: torch.Generator) -> Iterable[Tuple[torch.Tensor, torch.Tensor]]: ...


def identity(x: torch.Tensor) -> torch.Tensor:
    return x


class CifarBatches:
    num_classes: Optional[int] = None  # the model's own (10 or 100, from the task)
    finish = staticmethod(identity)  # the batches are normalised floats already

    def __init__(self, cfg: TrainConfig, dist: DistInfo):
        train = load_cifar(cfg.data, cfg.task, train=True)
        test = load_cifar(cfg.data, cfg.task, train=False)
        if cfg.subset:
            train, test = train.subset(np.arange(min(cfg.subset, len(train)))), test.subset(np.arange(min(cfg.subset, len(test))))
        mean, std = mean_std(cfg.task)
        self.dist = dist
        self.seed = cfg.seed
        self.train = TensorBatches(train.images, train.labels, mean, std,
                                   micro_batch_size(cfg.batch_size, dist.world, cfg.accum_steps), dist.device,
                                   augment=True, cutout=cfg.cutout)
        self.test = TensorBatches(test.images, test.labels, mean, std, cfg.eval_batch_size // dist.world, dist.device)

    def __len__(self) -> int:
        return math.ceil(self.train.shard_size(self.dist.world) / self.train.batch_size)

    def train_batches(self, epoch: int, generator: torch.Generator):
        # the permutation must agree on every rank: (seed, epoch), not the rank's own stream
        order = torch.Generator().manual_seed(derive_seed(self.seed, epoch))
        return self.train.epoch(generator, shuffle=True, rank=self.dist.rank, world=self.dist.world,
                                order_generator=order)

    def eval_batches(self):
        return self.test.epoch(shuffle=False, rank=self.dist.rank, world=self.dist.world)

    def eval_len(self) -> int:
        return math.ceil(self.test.shard_size(self.dist.world, shuffle=False) / self.test.batch_size)


def imagenet_train_transform(jitter: float):
    """Random resized crop, flip, colour jitter; uint8 CHW out (normalised later, on the device)."""
    from torchvision import transforms as T
    return T.Compose([T.RandomResizedCrop(224), T.RandomHorizontalFlip(),
                      T.ColorJitter(brightness=jitter, contrast=jitter, saturation=jitter, hue=jitter / 2),
                      T.PILToTensor()])


def imagenet_eval_transform():
    """Resize 256, centre crop 224; uint8 CHW out (normalised later, on the device)."""
    from torchvision import transforms as T
    return T.Compose([T.Resize(256), T.CenterCrop(224), T.PILToTensor()])


def imagenet_dataset(path: Path, transform) -> Dataset:
    """An LMDB built by relnas-zoo pack-lmdb, or a folder of class folders (sorted wnids)."""
    path = Path(path)
    if (path / 'data.mdb').is_file():
        return ImageNetLMDB(path, transform)
    if path.is_dir():
        from torchvision.datasets import ImageFolder
        return ImageFolder(str(path), transform)
    raise FileNotFoundError(f'{path}: neither an LMDB (data.mdb) nor a folder of class folders')


def check_class_lists(train_classes: Sequence[str], val_classes: Sequence[str]) -> None:
    """Refuse a train/val pair whose stored class lists differ: label k would mean different classes."""
    if list(train_classes) != list(val_classes):
        only_train = sorted(set(train_classes) - set(val_classes))[:5]
        only_val = sorted(set(val_classes) - set(train_classes))[:5]
        raise ConfigError(f'train and val class lists differ ({len(train_classes)} vs {len(val_classes)} classes; '
                          f'only in train: {only_train}, only in val: {only_val}; or another order): label k would '
                          f'mean different classes. Rebuild both from the same class list '
                          f'(relnas-zoo pack-lmdb builds val with the train split\'s wnids)')


class ImageNetBatches:
    def __init__(self, cfg: TrainConfig, dist: DistInfo):
        root = Path(cfg.data).expanduser()
        train = imagenet_dataset(root / 'train', imagenet_train_transform(cfg.color_jitter))
        val = imagenet_dataset(root / 'val', imagenet_eval_transform())
        check_class_lists(train.classes, val.classes)
        self.num_classes = len(train.classes)
        if cfg.subset:
            train = torch.utils.data.Subset(train, range(min(cfg.subset, len(train))))
            val = torch.utils.data.Subset(val, range(min(cfg.subset, len(val))))
        self.sampler = DistributedSampler(train, num_replicas=dist.world, rank=dist.rank, shuffle=True,
                                          seed=cfg.seed, drop_last=True)
        common = dict(num_workers=cfg.workers, pin_memory=dist.device.type == 'cuda', collate_fn=uint8_collate)
        # Training workers start anew every epoch with seeds from the epoch's generator, i.e. from
        # (seed, epoch, rank) plus the worker id: persistent workers are seeded once, so a resumed run
        # would otherwise get other augmentations than an uninterrupted one.
        self.train = DataLoader(train, batch_size=micro_batch_size(cfg.batch_size, dist.world, cfg.accum_steps),
                                sampler=self.sampler, drop_last=True, persistent_workers=False, **common)
        self.val = DataLoader(val, batch_size=cfg.eval_batch_size // dist.world,
                              sampler=ShardSampler(len(val), dist.rank, dist.world),
                              persistent_workers=cfg.workers > 0, **common)
        self.finish = DeviceNormalize(IMAGENET_MEAN, IMAGENET_STD)

    def __len__(self) -> int:
        return len(self.train)

    def train_batches(self, epoch: int, generator: torch.Generator):
        """The epoch's batches; ``generator`` (seeded from (seed, epoch, rank)) seeds the workers."""
        self.sampler.set_epoch(epoch)
        self.train.generator = generator  # base seed of this epoch's workers: + worker id in each
        return iter(self.train)

    def eval_batches(self):
        return iter(self.val)

    def eval_len(self) -> int:
        return len(self.val)


def build_loaders(cfg: TrainConfig, dist: DistInfo) -> TrainSource:
    return ImageNetBatches(cfg, dist) if cfg.task == 'imagenet' else CifarBatches(cfg, dist)
