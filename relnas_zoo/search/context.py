"""What every candidate of a search is trained with: the device, the search-train/val split on it, the
proxy network's size and each generation's settings."""
from __future__ import annotations

import torch

from ..data import TensorBatches, load_cifar, load_digits, split_indices
from ..normalization import mean_std
from ..distributed import DistInfo
from ..genotypes import Genotype
from ..seeds import derive_seed
from .config import ConfigError, SearchConfig
from .estimator import CandidateResult, TrainSettings, evaluate_candidate
from .host_memory import keep_freed_memory
from .weight_set import WeightSet

__all__ = ['SearchContext', 'candidate_seed']


def candidate_seed(seed: int, generation: int, individual: int) -> int:
    """A candidate's data order, augmentation and drop-path seed."""
    return derive_seed(seed, generation, individual)


def _device(cfg: SearchConfig, dist: DistInfo) -> torch.device:
    if cfg.device == 'auto':
        return torch.device(f'cuda:{dist.local_rank}' if torch.cuda.is_available() else 'cpu')
    if cfg.device.startswith('cuda') and not torch.cuda.is_available():
        raise ConfigError(f"device={cfg.device!r}: CUDA is not available here; use device=cpu or auto")
    if cfg.device == 'cuda' and dist.world > 1:
        return torch.device(f'cuda:{dist.local_rank}')
    return torch.device(cfg.device)


class SearchContext:
    def __init__(self, cfg: SearchConfig, dist: DistInfo, progress: bool):
        self.cfg, self.dist = cfg, dist
        self.device = _device(cfg, dist)
        # before the data and the first candidate are allocated
        self.host_memory_kept = cfg.keep_freed_memory and self.device.type == 'cpu' and keep_freed_memory()
        self.progress = progress and dist.main
        data = load_digits(32) if cfg.dataset == 'digits' else load_cifar(cfg.data, cfg.dataset, train=True)
        mean, std = mean_std(cfg.dataset)
        train_idx, val_idx = split_indices(len(data), cfg.seed, cfg.train_fraction)
        if cfg.subset:
            train_idx, val_idx = train_idx[:cfg.subset], val_idx[:cfg.subset]
        self.split = dict(train=train_idx.tolist(), val=val_idx.tolist())
        num_classes = int(data.labels.max()) + 1 if cfg.dataset == 'digits' else len(data.classes)
        common = dict(mean=mean, std=std, device=self.device, channels_last=cfg.use_channels_last(self.device.type))
        tr, va = data.subset(train_idx), data.subset(val_idx)
        self.train = TensorBatches(tr.images, tr.labels, batch_size=cfg.batch_size, augment=True,
                                   cutout=cfg.cutout, **common)
        # the authors' code validates on the training transform; clean images by default (config comment)
        self.val = TensorBatches(va.images, va.labels, batch_size=cfg.eval_batch_for(self.device.type),
                                 augment=cfg.val_augment, cutout=cfg.cutout if cfg.val_augment else 0, **common)
        self.net_args = dict(C=cfg.C, layers=cfg.layers, num_classes=num_classes, stem_type='cifar')

    def initial_omega(self) -> WeightSet:
        return WeightSet.initial(self.cfg.seed, self.device, **self.net_args)

    def settings(self, generation: int) -> TrainSettings:
        c = self.cfg
        return TrainSettings(lr=c.lr_at(generation), momentum=c.momentum, weight_decay=c.weight_decay,
                             grad_clip=c.grad_clip, drop_path=c.drop_path_at(generation), amp=c.amp,
                             channels_last=c.use_channels_last(self.device.type), cuda_graphs=c.cuda_graphs)

    def evaluate(self, genotype: Genotype, omega: WeightSet, generation: int, individual: int,
                 final: bool = False) -> CandidateResult:
        """One candidate of ``generation``; ``final``: the final ranking (the last generation's settings,
        no write-back into Omega)."""
        settings = self.settings(self.cfg.generations - 1 if final else generation)
        return evaluate_candidate(genotype, omega, self.net_args, self.train, self.val, settings,
                                  candidate_seed(self.cfg.seed, generation, individual), write_back=not final)
