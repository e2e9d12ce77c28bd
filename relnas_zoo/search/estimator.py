"""Performance estimation of one candidate: inherit from Omega, train one epoch, validate (paper §3.3)."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Dict, Iterable, Iterator, Optional, Tuple

import torch
import torch.nn.functional as F

from ..data.tensor_batches import TensorBatches
from ..deploy import fold_batchnorm
from ..genotypes import Genotype
from ..networks import RelativeNASNet
from ..precision import autocast
from .graphs import CapturedStep, run_on_side_stream
from ..speedups import apply_cpu_training_speedups
from .weight_set import PROXY_NET_ARGS, WeightSet

__all__ = ['TrainSettings', 'CandidateResult', 'evaluate_candidate', 'train_one_epoch', 'validation_loss',
           'uses_cuda_graphs']


@dataclass
class TrainSettings:
    lr: float
    momentum: float = 0.9
    weight_decay: float = 3e-4
    grad_clip: float = 5.0
    drop_path: float = 0.0
    amp: str = 'none'            # 'none' | 'bf16' | 'fp16'
    channels_last: bool = False
    cuda_graphs: bool = True     # replay each full-batch step as a CUDA graph (CUDA only; see graphs.py)


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


def uses_cuda_graphs(enabled: bool, amp: str, device: torch.device) -> bool:
    """Graphs on CUDA unless switched off; fp16's loss scaling decides on the host at every step."""
    return enabled and device.type == 'cuda' and amp != 'fp16'


def phase(name: str) -> torch.profiler.record_function:
    """A labelled span for torch.profiler (``search.<name>``; bench/search_pair.py --profile sums them)."""
    return torch.profiler.record_function(f'search.{name}')


def phased(name: str, items: Iterable) -> Iterator:
    """``items``, with the work of producing each one labelled as a phase."""
    it = iter(items)
    while True:
        with phase(name):
            item = next(it, _END)
        if item is _END:
            return
        yield item


_END = object()


# eager steps before a candidate's step is recorded (PyTorch's recipe uses a few; one already creates
# the momentum buffers and runs cuDNN's algorithm search, the others cost little)
GRAPH_WARMUP_STEPS = 3


class _BatchRunner:
    """Runs ``fn(x, y)`` for each batch of an epoch: eagerly, or with ``graphs`` eagerly on a side stream
    for the first ``warmup`` full batches and then as one recorded CUDA graph replayed for every further
    full batch. A partial batch (always the last) runs eagerly, after the graph's memory is freed."""

    def __init__(self, fn: Callable[[torch.Tensor, torch.Tensor], Tuple[torch.Tensor, torch.Tensor]],
                 batch_size: int, graphs: bool, warmup: int, before_recording: Optional[Callable[[], None]] = None):
        self.fn, self.batch_size, self.graphs, self.warmup = fn, batch_size, graphs, warmup
        self.before_recording = before_recording
        self.captured: Optional[CapturedStep] = None
        self.eager_full = 0

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        if not self.graphs:
            return self.fn(x, y)
        full = len(y) == self.batch_size
        if full and self.captured is None and self.eager_full >= self.warmup:
            if self.before_recording is not None:
                self.before_recording()
            with phase('record_graph'):
                self.captured = CapturedStep(self.fn, (x, y))
        if full and self.captured is not None:
            with phase('replay'):
                return self.captured(x, y)
        self.captured = None
        self.eager_full += full
        return run_on_side_stream(self.fn, x, y)


def train_one_epoch(model: RelativeNASNet, batches: TensorBatches, settings: TrainSettings,
                    generator: torch.Generator) -> tuple:
    """One epoch of SGD from a fresh optimizer; returns (mean loss, accuracy)."""
    model.train()
    device = batches.device
    graphs = uses_cuda_graphs(settings.cuda_graphs, settings.amp, device)
    opt = torch.optim.SGD(model.parameters(), lr=settings.lr, momentum=settings.momentum,
                          weight_decay=settings.weight_decay)
    scaler = torch.amp.GradScaler(device.type, enabled=settings.amp == 'fp16')
    params = [p for p in model.parameters() if p.requires_grad]

    def step(x: torch.Tensor, y: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        with phase('forward'), autocast(device, settings.amp, cache=not graphs):
            logits = model(x)
            loss = F.cross_entropy(logits, y)
        with phase('backward'):
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
        with phase('optimizer'):
            if settings.grad_clip > 0:
                scaler.unscale_(opt)
                torch.nn.utils.clip_grad_norm_(params, settings.grad_clip)
            scaler.step(opt)
            scaler.update()
        return loss.detach().float(), (logits.detach().argmax(1) == y).sum()

    # the graph's backward allocates the gradients it replays into
    run = _BatchRunner(step, batches.batch_size, graphs, GRAPH_WARMUP_STEPS,
                       before_recording=lambda: opt.zero_grad(set_to_none=True))
    total = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    seen = 0
    for x, y in phased('data', batches.epoch(generator, shuffle=True)):
        loss, hits = run(x, y)
        # accumulate on the device: no host sync per step
        total += loss * len(y)
        correct += hits
        seen += len(y)
    return total.item() / max(seen, 1), correct.item() / max(seen, 1)


@torch.inference_mode()
def validation_loss(model: RelativeNASNet, batches: TensorBatches, amp: str = 'none',
             generator: Optional[torch.Generator] = None, cuda_graphs: bool = False) -> tuple:
    """Loss and accuracy without autograd (the authors kept the graph alive here: 2x peak memory).

    Runs an eval-mode copy of ``model`` with every BN folded into the conv before it (``model`` itself
    is left as it is): the same function up to float rounding, without a BN pass per conv.
    ``generator`` drives the augmentation of batches built with ``augment=True`` (the authors'
    augmented validation); clean batches ignore it. ``cuda_graphs`` replays the forward of full
    batches as a CUDA graph (on CUDA only; see :mod:`relnas_zoo.search.graphs`).
    """
    model = fold_batchnorm(model)
    device = batches.device
    graphs = uses_cuda_graphs(cuda_graphs, amp, device)

    def forward(x: torch.Tensor, y: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        with autocast(device, amp, cache=not graphs):
            logits = model(x)
        return F.cross_entropy(logits.float(), y, reduction='sum'), (logits.argmax(1) == y).sum()

    run = _BatchRunner(forward, batches.batch_size, graphs, warmup=1)
    total = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    for x, y in phased('data', batches.epoch(generator, shuffle=False)):
        loss, hits = run(x, y)
        total += loss
        correct += hits
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
        with phase('build'):
            model = RelativeNASNet(genotype=genotype, drop_path_rate=settings.drop_path, **PROXY_NET_ARGS,
                                   **net_args).to(device)
            if device.type == 'cpu':
                apply_cpu_training_speedups(model)
            if settings.channels_last:
                model = model.to(memory_format=torch.channels_last)
        with phase('omega_in'):
            omega.load_into(model)  # overwrites every initial value: construction randomness does not matter
        torch.manual_seed(seed)  # after construction: the drop-path stream does not depend on the network size
        with phase('train'):
            train_loss, train_acc = train_one_epoch(model, train, settings, gen)
    with phase('validate'):
        val_loss, val_acc = validation_loss(model, val, settings.amp, val_gen, cuda_graphs=settings.cuda_graphs)
    if not math.isfinite(train_loss):
        val_loss = float('nan')  # diverged in training: never let its weights into Omega
    with phase('omega_out'):
        weights = omega.extract(model) if write_back and math.isfinite(val_loss) else None
    return CandidateResult(train_loss, train_acc, val_loss, val_acc, time.perf_counter() - t0, weights)
