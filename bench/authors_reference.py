"""The authors' search candidate, written independently of relnas_zoo's network: the baseline of
bench/search_pair.py.

It follows the authors' DARTS-style code, not the zoo's arithmetic: every (input node, op) of every cell
is built (all 7 ops on each of the 14 edges; the genotype's ops run, the others only take memory and
the copies from Omega), every preprocess layer and node is built and run whether or not the output reads
it, each op applies its own leading ReLU, the factorized reduction pads and shifts the full-size input
before its second stride-2 conv, cells end in a plain concat, drop-path divides the activation and then
masks it, and depthwise convolutions are stock ``nn.Conv2d`` layers. Its state-dict keys are Omega's
(``cells.{i}.nodes.{k}.from{src}.{op}...``), so it loads and returns weights without any key mapping
through the zoo. Editing ``relnas_zoo/cells.py`` or ``ops.py`` cannot change this baseline.
"""
from __future__ import annotations

from typing import Dict, List

import torch
import torch.nn.functional as F
from torch import nn

OPS = ('max_pool_3x3', 'avg_pool_3x3', 'skip_connect', 'sep_conv_3x3', 'sep_conv_5x5', 'dil_conv_3x3',
       'dil_conv_5x5')


class _FactorizedReduce(nn.Module):
    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        y = F.pad(x, (0, 1, 0, 1))
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(y[:, :, 1:, 1:])], dim=1))


class _Sequential(nn.Module):
    def __init__(self, *layers: nn.Module):
        super().__init__()
        self.op = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


def _relu_conv_bn(c_in: int, c_out: int) -> nn.Module:
    return _Sequential(nn.ReLU(inplace=False), nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out))


def _sep_conv(c: int, k: int, stride: int) -> nn.Module:
    p = k // 2
    return _Sequential(nn.ReLU(inplace=False), nn.Conv2d(c, c, k, stride, p, groups=c, bias=False),
                       nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c),
                       nn.ReLU(inplace=False), nn.Conv2d(c, c, k, 1, p, groups=c, bias=False),
                       nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c))


def _dil_conv(c: int, k: int, stride: int) -> nn.Module:
    p = k - 1  # dilation 2
    return _Sequential(nn.ReLU(inplace=False), nn.Conv2d(c, c, k, stride, p, dilation=2, groups=c, bias=False),
                       nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c))


def _op(name: str, c: int, stride: int) -> nn.Module:
    if name == 'max_pool_3x3':
        return nn.MaxPool2d(3, stride=stride, padding=1)
    if name == 'avg_pool_3x3':
        return nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False)
    if name == 'skip_connect':
        return nn.Identity() if stride == 1 else _FactorizedReduce(c, c)
    kind, k = name[:8], int(name[-1])
    return _sep_conv(c, k, stride) if kind == 'sep_conv' else _dil_conv(c, k, stride)


class _Cell(nn.Module):
    def __init__(self, edges, concat, c_pp: int, c_p: int, c: int, reduction: bool, reduction_prev: bool):
        super().__init__()
        self.preprocess0 = _FactorizedReduce(c_pp, c) if reduction_prev else _relu_conv_bn(c_pp, c)
        self.preprocess1 = _relu_conv_bn(c_p, c)
        self.edges = list(edges)
        self.concat = list(concat)
        self.nodes = nn.ModuleDict()
        for k in range(len(self.edges) // 2):
            node = nn.ModuleDict()
            for src in range(k + 2):
                stride = 2 if reduction and src < 2 else 1
                node[f'from{src}'] = nn.ModuleDict({name: _op(name, c, stride) for name in OPS})
            self.nodes[str(k)] = node
        self.drop_rate = 0.0

    def _edge(self, k: int, slot: int, states: List[torch.Tensor]) -> torch.Tensor:
        name, src = self.edges[2 * k + slot]
        op = self.nodes[str(k)][f'from{src}'][name]
        h = op(states[src])
        if self.training and self.drop_rate > 0 and not isinstance(op, nn.Identity):
            keep = 1.0 - self.drop_rate
            mask = torch.bernoulli(torch.full((h.shape[0], 1, 1, 1), keep, dtype=h.dtype, device=h.device))
            h = h / keep * mask
        return h

    def forward(self, s0: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for k in range(len(self.edges) // 2):
            states.append(self._edge(k, 0, states) + self._edge(k, 1, states))
        return torch.cat([states[i] for i in self.concat], dim=1)


class AuthorsCandidate(nn.Module):
    """The authors' CIFAR search candidate for ``genotype`` (``C`` channels, ``layers`` cells)."""

    def __init__(self, genotype, C: int, layers: int, num_classes: int = 10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 3 * C, 3, padding=1, bias=False), nn.BatchNorm2d(3 * C))
        c_pp, c_p, c = 3 * C, 3 * C, C
        reductions = (layers // 3, 2 * layers // 3)
        self.cells = nn.ModuleList()
        reduction_prev = False
        for i in range(layers):
            reduction = i in reductions
            c = 2 * c if reduction else c
            edges, concat = genotype.cell(reduction)
            self.cells.append(_Cell(edges, concat, c_pp, c_p, c, reduction, reduction_prev))
            reduction_prev = reduction
            c_pp, c_p = c_p, len(concat) * c
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_p, num_classes)

    def set_drop_path_rate(self, rate: float) -> None:
        for cell in self.cells:
            cell.drop_rate = rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1)
        return self.classifier(torch.flatten(self.global_pool(s1), 1))

    @torch.no_grad()
    def load_omega(self, omega) -> None:
        """Every tensor from Omega (a ``relnas_zoo.search.WeightSet``), the ops the genotype does not use too."""
        for key, t in self.state_dict(keep_vars=True).items():
            t.copy_(omega.tensors[key])

    def own_weights(self) -> Dict[str, torch.Tensor]:
        """The tensors of the genotype's own ops, stem, preprocess layers and classifier (what Omega takes
        back from a candidate), by Omega key."""
        own = {f'cells.{i}.nodes.{k}.from{src}.{name}.'
               for i, cell in enumerate(self.cells) for k in range(len(cell.edges) // 2)
               for name, src in cell.edges[2 * k:2 * k + 2]}
        return {key: t for key, t in self.state_dict(keep_vars=True).items()
                if '.nodes.' not in key or any(key.startswith(p) for p in own)}
