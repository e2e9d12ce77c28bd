"""Performance estimation of one candidate: inherit from Omega, train one epoch, validate (paper §3.3)."""
from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass
from typing import Dict, Optional

import torch
import torch.nn.functional as F

from ..data.tensor_batches import TensorBatches
from ..genotypes import Genotype
from ..networks import RelativeNASNet
from .weight_set import PROXY_NET_ARGS, WeightSet

__all__ = ['TrainSettings', 'CandidateResult', 'evaluate_candidate', 'train_one_epoch', 'validate']


@dataclass
class TrainSettings:
    lr: float
    momentum: float = 0.9
    weight_decay: float = 3e-4
    grad_clip: float = 5.0
    drop_path: float = 0.0
    amp: str = 'none'            # 'none' | 'bf16' | 'fp16'
    channels_last: bool = False


@dataclass
class CandidateResult:
    train_loss: float
    train_acc: float
    val_loss: float
    val_acc: float
    seconds: float
    weights: Optional[Dict[str, torch.Tensor]] = None  # under Omega's names; None if the loss is not finite

    @property
    def finite(self) -> bool:
        return math.isfinite(self.val_loss)


def _autocast(device: torch.device, amp: str):
    if amp == 'none':
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if amp == 'bf16' else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


def train_one_epoch(model: RelativeNASNet, batches: TensorBatches, settings: TrainSettings,
                    generator: torch.Generator) -> tuple:
    """One epoch of SGD from a fresh optimizer; returns (mean loss, accuracy)."""
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=settings.lr, momentum=settings.momentum,
                          weight_decay=settings.weight_decay)
    scaler = torch.amp.GradScaler(batches.device.type, enabled=settings.amp == 'fp16')
    total = torch.zeros((), device=batches.device)
    correct = torch.zeros((), device=batches.device, dtype=torch.long)
    seen = 0
    for x, y in batches.epoch(generator, shuffle=True):
        with _autocast(batches.device, settings.amp):
            logits = model(x)
            loss = F.cross_entropy(logits, y)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if settings.grad_clip > 0:
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(model.parameters(), settings.grad_clip)
        scaler.step(opt)
        scaler.update()
        # accumulate on the device: no host sync per step
        total += loss.detach().float() * len(y)
        correct += (logits.detach().argmax(1) == y).sum()
        seen += len(y)
    return total.item() / max(seen, 1), correct.item() / max(seen, 1)


@torch.inference_mode()
def validate(model: RelativeNASNet, batches: TensorBatches, amp: str = 'none',
             generator: Optional[torch.Generator] = None) -> tuple:
    """Loss and accuracy without autograd (the authors kept the graph alive here: 2x peak memory).

    ``generator`` drives the augmentation of batches built with ``augment=True`` (the authors'
    augmented validation); clean batches ignore it.
    """
    model.eval()
    total = torch.zeros((), device=batches.device)
    correct = torch.zeros((), device=batches.device, dtype=torch.long)
    for x, y in batches.epoch(generator, shuffle=False):
        with _autocast(batches.device, amp):
            logits = model(x)
        total += F.cross_entropy(logits.float(), y, reduction='sum')
        correct += (logits.argmax(1) == y).sum()
    n = batches.num_samples
    return total.item() / n, correct.item() / n


def evaluate_candidate(genotype: Genotype, omega: WeightSet, net_args: dict, train: TensorBatches,
                       val: TensorBatches, settings: TrainSettings, seed: int,
                       write_back: bool = True) -> CandidateResult:
    """Build the candidate from the shared network code, inherit, train one epoch, validate.

    All randomness (initialisation is overwritten by Omega; data order, augmentation and drop-path)
    comes from ``seed``, so the result does not depend on which process or when it runs. The caller's
    global random state is left as it was. ``write_back=False`` skips copying the trained weights out
    (a ranking that must not change Omega).
    """
    t0 = time.perf_counter()
    device = train.device
    gen = torch.Generator(device='cpu').manual_seed(seed)
    val_gen = torch.Generator(device='cpu').manual_seed(seed + 1)
    # Construction initialises from, and drop-path draws from, the global generator: both run
    # inside a fork so that a library caller's random state is left as it was.
    with torch.random.fork_rng(devices=[device] if device.type == 'cuda' else []):
        model = RelativeNASNet(genotype=genotype, drop_path_rate=settings.drop_path, **PROXY_NET_ARGS,
                               **net_args).to(device)
        if settings.channels_last:
            model = model.to(memory_format=torch.channels_last)
        omega.load_into(model)  # overwrites every initial value: construction randomness does not matter
        torch.manual_seed(seed)  # after construction: the drop-path stream does not depend on the network size
        train_loss, train_acc = train_one_epoch(model, train, settings, gen)
    val_loss, val_acc = validate(model, val, settings.amp, val_gen)
    if not math.isfinite(train_loss):
        val_loss = float('nan')  # diverged in training: never let its weights into Omega
    weights = omega.extract(model) if write_back and math.isfinite(val_loss) else None
    return CandidateResult(train_loss, train_acc, val_loss, val_acc, time.perf_counter() - t0, weights)
