"""The search configuration: one dataclass, YAML files, ``--set key=value`` overrides, checked at start."""
from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass
from typing import Any, Dict, Optional, Union

from ..config_io import ConfigError, apply_overrides, load_config_file

__all__ = ['SearchConfig', 'ConfigError', 'load_config', 'apply_overrides']


@dataclass
class SearchConfig:
    # data
    dataset: str = 'cifar10'            # cifar10 | cifar100 | digits (scikit-learn, ships with the package)
    data: Optional[str] = None          # dataset root (CIFAR python layout); unused for digits
    train_fraction: float = 0.5         # share of the training images used as search-train
    subset: Optional[int] = None        # cap on images per split (smoke runs, benchmarks)
    # slow-fast learning
    population: int = 20                # N, even: individuals are paired
    generations: int = 50               # G
    seed: int = 0                       # seeds the split, the population and every candidate
    mode: str = 'sequential'            # sequential: each pair inherits the previous pair's Omega;
                                        # parallel: all pairs of a generation start from the same Omega
    # proxy network
    C: int = 16                         # proxy network channels
    layers: int = 8                     # proxy network cells (reductions at layers//3, 2*layers//3)
    # one-epoch training of each candidate
    batch_size: int = 256               # training batch of each candidate's one epoch
    eval_batch_size: Union[str, int] = 'auto'  # validation batch; auto: 512 on CUDA, 64 on the CPU. In eval
                                        # mode every image is scored alone, so only speed depends on it: on
                                        # 2 CPU cores (C=16) a batch of 512 validated 1.5-2x slower than 64,
                                        # whose activations stay in the caches
    lr: float = 0.1                     # SGD learning rate at generation 0
    lr_min: float = 0.001               # cosine over generations (paper: to zero; authors' code: 1e-3)
    momentum: float = 0.9               # SGD momentum
    weight_decay: float = 3e-4          # SGD weight decay
    grad_clip: float = 5.0              # gradient-norm clipping (0 disables)
    cutout: int = 16                    # cutout square side in pixels (0 disables)
    drop_path: float = 0.3              # drop-path rate (at the last generation when ramped)
    drop_path_ramp: bool = True         # authors' code: rate * generation / generations
    val_augment: bool = False           # validate on clean images (paper: "validation set"); true
                                        # reproduces the authors' code, which validates on the training
                                        # transform (crop, flip, cutout)
    final_ranking: bool = True          # after the last generation, evaluate every individual from the
                                        # same final Omega (one epoch each, no write-back) and pick the
                                        # best of that ranking; false: lowest loss of the last generation
    # ReNAS-decided pairs (off by default: the paper's procedure evaluates every candidate)
    predictor: str = 'none'             # none | renas: from generation predictor_warmup on, a ReNAS predictor
                                        # trained on every pair evaluated so far decides the pairs whose
                                        # order it is confident about; neither candidate of such a pair is
                                        # trained, Omega takes no weights from it, the slow-learner still
                                        # moves (search.predicted_pairs)
    predictor_warmup: int = 2           # generations evaluated in full before the predictor decides a pair
    predictor_threshold: float = 1.0    # confident: the two predicted scores differ by at least this many
                                        # score standard deviations (over the predictor's training genotypes)
    predictor_epochs: Optional[int] = None      # training epochs of each fit; None: the feature set's recipe
                                        # (relnas_zoo.predictor.spaces: graph 300)
    predictor_batch_size: Optional[int] = None  # evaluated pairs per optimizer step; None: the recipe's (1024)
    predictor_features: Optional[str] = None    # a feature set (graph, renas, renas+cost, ...); None: graph, the
                                        # path figures of both cells and the proxy network's size
    predictor_prior: str = 'auto'       # auto | none | nb301: learn NAS-Bench-301's CIFAR-10 accuracies of 725
                                        # trained DARTS-space networks beside the search's own pairs, so the
                                        # first decisions rest on hundreds of architectures; auto: nb301 when
                                        # dataset is cifar10, none otherwise
    predictor_retrain_every: int = 1    # refit once this many new evaluated pairs came in (1: every generation
                                        # that evaluated a pair)
    # execution
    device: str = 'auto'                # auto | cpu | cuda | cuda:N
    amp: str = 'none'                   # none | bf16 | fp16
    channels_last: Union[str, bool] = 'auto'  # auto: on for the CPU (2x faster, bench/search_pair.py),
                                        # off for CUDA (NCHW was 1.33x faster on an H100, and
                                        # still ahead with CUDA graphs,
                                        # bench/search_generation.py); or true / false
    cuda_graphs: bool = True            # on CUDA, record each candidate's training step and validation
                                        # forward once and replay them (bench/search_generation.py);
                                        # false: eager steps. Ignored on the CPU and with amp=fp16
    keep_freed_memory: bool = True      # CPU: keep the memory each step frees in the process for the next
                                        # instead of returning it to the kernel and faulting it in again
                                        # (glibc mallopt, process-wide; search.host_memory); false: leave
                                        # malloc as it is. Ignored on CUDA
    tensorboard: bool = True            # write TensorBoard scalars when tensorboard is installed
    plots: bool = True                  # loss-trajectory and cell plots (needs matplotlib)

    def checked(self) -> 'SearchConfig':
        def need(ok: bool, name: str, msg: str) -> None:
            if not ok:
                raise ConfigError(f'{name}={getattr(self, name)!r}: {msg}')
        need(self.dataset in ('cifar10', 'cifar100', 'digits'), 'dataset', 'choose cifar10, cifar100 or digits')
        need(self.dataset == 'digits' or bool(self.data), 'data',
             'give the dataset root with --data (CIFAR python layout)')
        need(0 < self.train_fraction < 1, 'train_fraction', 'must lie strictly between 0 and 1')
        need(self.subset is None or (isinstance(self.subset, int) and self.subset >= 2), 'subset',
             'must be empty or an int >= 2')
        need(isinstance(self.population, int) and self.population >= 2 and self.population % 2 == 0,
             'population', 'must be an even int >= 2 (individuals are paired)')
        need(isinstance(self.generations, int) and self.generations >= 1, 'generations', 'must be an int >= 1')
        need(self.mode in ('sequential', 'parallel'), 'mode', 'choose sequential or parallel')
        need(isinstance(self.C, int) and self.C >= 2 and self.C % 2 == 0, 'C', 'must be an even int >= 2')
        need(isinstance(self.layers, int) and self.layers >= 3, 'layers', 'must be an int >= 3')
        need(isinstance(self.batch_size, int) and self.batch_size >= 1, 'batch_size', 'must be an int >= 1')
        need(self.eval_batch_size == 'auto' or (isinstance(self.eval_batch_size, int)
                                                and not isinstance(self.eval_batch_size, bool)
                                                and self.eval_batch_size >= 1),
             'eval_batch_size', 'must be auto or an int >= 1')
        need(self.lr > 0, 'lr', 'must be > 0')
        need(0 <= self.lr_min <= self.lr, 'lr_min', 'must lie in [0, lr]')
        need(0 <= self.momentum < 1, 'momentum', 'must lie in [0, 1)')
        need(self.weight_decay >= 0, 'weight_decay', 'must be >= 0')
        need(self.grad_clip >= 0, 'grad_clip', 'must be >= 0 (0 disables clipping)')
        need(isinstance(self.cutout, int) and self.cutout >= 0, 'cutout', 'must be an int >= 0')
        need(0 <= self.drop_path < 1, 'drop_path', 'must lie in [0, 1)')
        need(self.predictor in ('none', 'renas'), 'predictor', 'choose none or renas')
        need(isinstance(self.predictor_warmup, int) and not isinstance(self.predictor_warmup, bool)
             and self.predictor_warmup >= 1, 'predictor_warmup',
             'must be an int >= 1 (the predictor needs evaluated pairs to learn from)')
        need(isinstance(self.predictor_threshold, (int, float)) and not isinstance(self.predictor_threshold, bool)
             and self.predictor_threshold > 0, 'predictor_threshold', 'must be a number > 0')
        need(isinstance(self.predictor_retrain_every, int) and not isinstance(self.predictor_retrain_every, bool)
             and self.predictor_retrain_every >= 1, 'predictor_retrain_every', 'must be an int >= 1')
        for name in ('predictor_epochs', 'predictor_batch_size'):
            v = getattr(self, name)
            need(v is None or (isinstance(v, int) and not isinstance(v, bool) and v >= 1), name,
                 'must be an int >= 1, or null for the feature set\'s recipe')
        need(self.predictor_prior in ('auto', 'none', 'nb301'), 'predictor_prior', 'choose auto, none or nb301')
        if self.predictor_features is not None:
            from ..predictor.spaces import FeatureError, get_space
            try:
                get_space('relnas').check_features(self.predictor_features)
            except (FeatureError, KeyError) as e:
                raise ConfigError(f'predictor_features={self.predictor_features!r}: {e}') from None
        need(self.device == 'auto' or self.device == 'cpu' or self.device.startswith('cuda'), 'device',
             'choose auto, cpu, cuda or cuda:N')
        need(self.amp in ('none', 'bf16', 'fp16'), 'amp', 'choose none, bf16 or fp16')
        need(self.channels_last in ('auto', True, False), 'channels_last', 'choose auto, true or false')
        need(isinstance(self.cuda_graphs, bool), 'cuda_graphs', 'choose true or false')
        need(isinstance(self.keep_freed_memory, bool), 'keep_freed_memory', 'choose true or false')
        return self

    def use_channels_last(self, device_type: str) -> bool:
        """The memory format for a device: ``auto`` picks what measured faster there."""
        return device_type == 'cpu' if self.channels_last == 'auto' else bool(self.channels_last)

    def eval_batch_for(self, device_type: str) -> int:
        """The validation batch on a device: ``auto`` picks what measured faster there."""
        if self.eval_batch_size == 'auto':
            return 512 if device_type == 'cuda' else 64
        return int(self.eval_batch_size)

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    def lr_at(self, generation: int) -> float:
        return self.lr_min + 0.5 * (self.lr - self.lr_min) * (1 + math.cos(math.pi * generation / self.generations))

    def drop_path_at(self, generation: int) -> float:
        return self.drop_path * generation / self.generations if self.drop_path_ramp else self.drop_path


def load_config(path: Optional[Union[str, os.PathLike]] = None) -> SearchConfig:
    return load_config_file(SearchConfig, path)
