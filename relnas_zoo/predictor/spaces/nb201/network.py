"""The NAS-Bench-201 network, written from its paper (Dong & Yang, ICLR 2020): a 3x3 stem of C=16
channels, three stages of 5 cells (C, 2C, 4C) joined by residual reduction blocks, BN-ReLU, global pooling
and a linear classifier. It exists to measure what the predictor's features need (per-op FLOPs and
parameters, a data-free synflow score); it is stock PyTorch and is not part of the model zoo."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .cells import EDGES, OPS, ArchStringError, Cell, _check_cell

__all__ = ['NB201Network', 'make_op']

class ReLUConvBN(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int):
        super().__init__(nn.ReLU(), nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, bias=False),
                         nn.BatchNorm2d(c_out))


class Zero(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


def make_op(op: str, channels: int) -> nn.Module:
    if op == 'none':
        return Zero()
    if op == 'skip_connect':
        return nn.Identity()
    if op == 'nor_conv_1x1':
        return ReLUConvBN(channels, channels, 1, 1)
    if op == 'nor_conv_3x3':
        return ReLUConvBN(channels, channels, 3, 1)
    if op == 'avg_pool_3x3':
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    raise ArchStringError(f'unknown op {op!r}; choose one of {", ".join(OPS)}')


class NB201Cell(nn.Module):
    def __init__(self, cell: Cell, channels: int):
        super().__init__()
        self.edges = nn.ModuleList(make_op(op, channels) for op in cell)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for target in (1, 2, 3):
            nodes.append(sum(self.edges[e](nodes[s]) for e, (s, t) in enumerate(EDGES) if t == target))
        return nodes[3]


class ResidualReduction(nn.Module):
    """The reduction block between stages: a stride-2 basic residual block, avg-pool + 1x1 shortcut."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1)
        self.shortcut = nn.Sequential(nn.AvgPool2d(2, 2), nn.Conv2d(c_in, c_out, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.conv_b(self.conv_a(x))


class NB201Network(nn.Module):
    """The NAS-Bench-201 network for one cell: ``cells.{stage}.{k}`` are the 15 searched cells."""

    def __init__(self, cell: Sequence[str], C: int = 16, cells_per_stage: int = 5, num_classes: int = 10):
        super().__init__()
        cell = _check_cell(cell, 'cell')
        self.stem = nn.Sequential(nn.Conv2d(3, C, 3, padding=1, bias=False), nn.BatchNorm2d(C))
        stages, reductions = [], []
        for s in range(3):
            width = C * 2 ** s
            stages.append(nn.Sequential(*(NB201Cell(cell, width) for _ in range(cells_per_stage))))
            if s < 2:
                reductions.append(ResidualReduction(width, 2 * width))
        self.cells = nn.ModuleList(stages)
        self.reductions = nn.ModuleList(reductions)
        self.head = nn.Sequential(nn.BatchNorm2d(4 * C), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                  nn.Linear(4 * C, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for s, stage in enumerate(self.cells):
            x = stage(x)
            if s < 2:
                x = self.reductions[s](x)
        return self.head(x)


