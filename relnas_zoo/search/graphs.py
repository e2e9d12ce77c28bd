"""Replaying a candidate's training step and validation forward as CUDA graphs.

The search's proxy network (C=16, 8 cells) is small: one training step of batch 256 launches more than a
thousand kernels, and on an H100 an eager step took 50 ms of which 38 ms were GPU work; the rest was
Python and launch overhead. A candidate trains for a whole epoch at one batch shape, so its step is
recorded once and replayed for every full batch: the same kernels on the same addresses, launched by one
call. Each candidate is a new network, so each records its own graphs; a few eager steps first (they are
real training steps) let cuDNN pick its algorithms and the optimizer create its momentum buffers, which
recording must not do.

Randomness inside a graph (drop-path masks) comes from the default CUDA generator, which PyTorch
advances at every replay: each replay draws new masks, reproducibly for a given seed.
"""
from __future__ import annotations

from typing import Callable, Sequence, Tuple

import torch

__all__ = ['CapturedStep', 'run_on_side_stream']


def run_on_side_stream(fn: Callable[..., Tuple[torch.Tensor, ...]], *args: torch.Tensor
                       ) -> Tuple[torch.Tensor, ...]:
    """Run ``fn`` eagerly on a side stream, ordered after and before the current stream's work.

    PyTorch's recipe for graphs: the steps before recording run off the default stream, so that lazily
    created state (cuDNN's choices, optimizer buffers, autograd's stream bookkeeping) is not tied to it.
    """
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        out = fn(*args)
    torch.cuda.current_stream().wait_stream(side)
    return out


class CapturedStep:
    """``fn(*inputs)`` recorded once into a CUDA graph; calling it copies new inputs in and replays.

    The outputs are the graph's own tensors: read (or copy) them before the next call overwrites them.
    Recording does not run ``fn``; the first call does.
    """

    def __init__(self, fn: Callable[..., Tuple[torch.Tensor, ...]], example: Sequence[torch.Tensor]):
        self.inputs = [t.clone() for t in example]
        self.graph = torch.cuda.CUDAGraph()
        try:
            with torch.cuda.graph(self.graph):
                self.outputs = fn(*self.inputs)
        except RuntimeError as e:
            raise RuntimeError(f'recording the step as a CUDA graph failed ({e}); set cuda_graphs=false in '
                               'the search config (or TrainSettings.cuda_graphs=False) to train eagerly') from e

    def __call__(self, *args: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        for dst, src in zip(self.inputs, args):
            dst.copy_(src)
        self.graph.replay()
        return self.outputs
