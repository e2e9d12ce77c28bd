"""Training configuration for ImageNet and CIFAR (the paper's §4.4/4.5 recipes are the YAML files)."""
from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass
from typing import Any, Dict, Optional, Union

from ..config_io import ConfigError, apply_overrides, load_config_file
from ..variants import VARIANTS

__all__ = ['TrainConfig', 'ConfigError', 'load_train_config', 'apply_overrides', 'TASK_ONLY_FIELDS',
           'recipe_path']

# Fields that one kind of task ignores; they are left out of its saved config.
TASK_ONLY_FIELDS = {'imagenet': ('color_jitter', 'workers'), 'cifar': ('cutout',)}
def recipe_path(task: str) -> str:
    """The paper's recipe for ``task`` (configs/train/<task>.yaml, of the checkout or the installed package)."""
    from ..config_files import config_root
    return str(config_root() / 'train' / f'{task}.yaml')


@dataclass
class TrainConfig:
    # data
    task: str = 'cifar10'            # imagenet | cifar10 | cifar100
    data: Optional[str] = None       # ImageNet: dir with train/ and val/ (LMDBs or class folders); CIFAR: root
    subset: Optional[int] = None     # cap on train and val images (smoke runs)
    workers: int = 8                 # ImageNet DataLoader workers per process
    # model
    model: str = 'relativenas_cifar10'  # registered zoo model
    genotype: Optional[str] = None   # name or JSON (e.g. a search's genotype.json); default: the model's own
    C: Optional[int] = None          # channels override (default: the model's own)
    layers: Optional[int] = None     # cells override (default: the model's own)
    auxiliary_weight: float = 0.4    # 0 disables the auxiliary head
    drop_path: float = 0.2           # ramped linearly from 0 over the epochs (authors' code)
    # optimisation
    epochs: int = 600                # training epochs
    batch_size: int = 128            # global (all processes, all accumulation steps): per process and
                                     # step it is batch_size / (processes * accum_steps)
    accum_steps: int = 1             # gradient accumulation: micro-batches per optimizer step (keeps the
                                     # recipe's global batch and schedule on fewer GPUs)
    eval_batch_size: int = 256       # global (all processes)
    lr: float = 0.025                # peak SGD learning rate
    lr_min: float = 0.0              # final learning rate
    schedule: str = 'cosine'         # cosine | warmup_linear
    warmup_epochs: int = 0           # linear warm-up epochs (warmup_linear schedule)
    momentum: float = 0.9            # SGD momentum
    weight_decay: float = 3e-4       # SGD weight decay
    label_smoothing: float = 0.0     # cross-entropy label smoothing (main and auxiliary loss)
    grad_clip: float = 5.0           # gradient-norm clipping; 0 disables
    # augmentation
    cutout: int = 16                 # CIFAR only; 0 disables
    color_jitter: float = 0.4        # ImageNet only (brightness/contrast/saturation; hue = half of it)
    # execution
    amp: str = 'none'                # training autocast: none | bf16 | fp16
    eval_amp: str = 'none'           # evaluation autocast; none = fp32, the numbers log.jsonl reports
    channels_last: bool = False      # NHWC memory format for model and batches
    compile: bool = False            # torch.compile the training forward
    ema_decay: float = 0.0           # 0 disables; e.g. 0.9998 keeps an EMA of the weights, evaluated too
    device: str = 'auto'             # auto | cpu | cuda
    seed: int = 0                    # initial weights and every epoch's random streams
    log_every: int = 50              # steps between JSON log lines
    tensorboard: bool = True         # TensorBoard scalars in tb/ when tensorboard is installed

    def checked(self) -> 'TrainConfig':
        def need(ok: bool, name: str, msg: str) -> None:
            if not ok:
                raise ConfigError(f'{name}={getattr(self, name)!r}: {msg}')
        need(self.task in ('imagenet', 'cifar10', 'cifar100'), 'task', 'choose imagenet, cifar10 or cifar100')
        need(bool(self.data), 'data', 'give the dataset root with --data')
        need(self.model in VARIANTS, 'model', f'choose one of {sorted(VARIANTS)}')
        imagenet_model = VARIANTS[self.model]['stem_type'] == 'imagenet'
        need(imagenet_model == (self.task == 'imagenet'), 'model',
             f"a {'224x224 ImageNet' if imagenet_model else '32x32 CIFAR'} model does not fit task={self.task!r}")
        need(isinstance(self.epochs, int) and self.epochs >= 1, 'epochs', 'must be an int >= 1')
        for name in ('batch_size', 'eval_batch_size'):
            need(isinstance(getattr(self, name), int) and getattr(self, name) >= 1, name, 'must be an int >= 1')
        need(self.lr > 0, 'lr', 'must be > 0')
        need(0 <= self.lr_min <= self.lr, 'lr_min', 'must lie in [0, lr]')
        need(self.schedule in ('cosine', 'warmup_linear'), 'schedule', 'choose cosine or warmup_linear')
        need(0 <= self.warmup_epochs < self.epochs or self.schedule == 'cosine', 'warmup_epochs',
             'must be below epochs')
        need(0 <= self.drop_path < 1, 'drop_path', 'must lie in [0, 1)')
        need(0 <= self.label_smoothing < 1, 'label_smoothing', 'must lie in [0, 1)')
        need(self.auxiliary_weight >= 0, 'auxiliary_weight', 'must be >= 0')
        need(self.amp in ('none', 'bf16', 'fp16'), 'amp', 'choose none, bf16 or fp16')
        need(self.eval_amp in ('none', 'bf16', 'fp16'), 'eval_amp', 'choose none, bf16 or fp16')
        need(isinstance(self.accum_steps, int) and self.accum_steps >= 1, 'accum_steps', 'must be an int >= 1')
        need(0 <= self.ema_decay < 1, 'ema_decay', 'must lie in [0, 1)')
        need(self.device in ('auto', 'cpu', 'cuda'), 'device', 'choose auto, cpu or cuda')
        need(self.subset is None or (isinstance(self.subset, int) and self.subset >= 1), 'subset',
             'must be empty or an int >= 1')
        return self

    def to_dict(self) -> Dict[str, Any]:
        """The fields that apply to this task (a saved config.yaml shows what the run used)."""
        skip = TASK_ONLY_FIELDS['cifar'] if self.task == 'imagenet' else TASK_ONLY_FIELDS['imagenet']
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in skip}

    def lr_factor(self, step: int, steps_per_epoch: int) -> float:
        """Multiplier of ``lr`` at optimizer step ``step`` (per-step schedule)."""
        total = self.epochs * steps_per_epoch
        if self.schedule == 'warmup_linear':
            warm = self.warmup_epochs * steps_per_epoch
            if step < warm:
                return (step + 1) / warm
            frac = (step - warm) / max(1, total - warm)
            return (self.lr - (self.lr - self.lr_min) * frac) / self.lr
        frac = min(step / max(1, total), 1.0)
        return (self.lr_min + 0.5 * (self.lr - self.lr_min) * (1 + math.cos(math.pi * frac))) / self.lr

    def drop_path_at(self, epoch: int) -> float:
        return self.drop_path * epoch / self.epochs


def load_train_config(path: Optional[Union[str, os.PathLike]] = None) -> TrainConfig:
    return load_config_file(TrainConfig, path)
