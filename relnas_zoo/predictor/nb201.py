"""NAS-Bench-201: the cell space, its architecture strings, and the benchmark's network.

A cell has 4 nodes and 6 edges ``i -> j`` (i < j); each edge carries one of 5 ops and node ``j`` is the
sum of its incoming edges. Cells are held as a tuple of 6 op names in NASLib's edge order
``(0->1, 0->2, 0->3, 1->2, 1->3, 2->3)``; the benchmark's own string lists the edges by target node,
``|e01|+|e02|e12|+|e03|e13|e23|``.

The network is written from the NAS-Bench-201 paper (Dong & Yang, ICLR 2020): a 3x3 stem of C=16
channels, three stages of 5 cells (C, 2C, 4C) joined by residual reduction blocks, BN-ReLU, global
pooling and a linear classifier. It exists to measure what the predictor's features need (per-op FLOPs
and parameters, a data-free synflow score); it is stock PyTorch and is not part of the model zoo.
"""
from __future__ import annotations

import itertools
import re
from typing import Dict, Iterator, List, Sequence, Tuple

import torch
from torch import nn

from ..errors import InputError

__all__ = [
    'OPS', 'EDGES', 'NASLIB_OP_IDS', 'Cell', 'ArchStringError', 'parse_arch_string', 'to_arch_string',
    'from_naslib_key', 'to_naslib_key', 'all_cells', 'NB201Network', 'STAGES',
]

#: The 5 candidate ops, in NAS-Bench-201's own order.
OPS: Tuple[str, ...] = ('none', 'skip_connect', 'nor_conv_1x1', 'nor_conv_3x3', 'avg_pool_3x3')
#: The 6 edges (source, target) in NASLib's order, the order of every tuple in this module.
EDGES: Tuple[Tuple[int, int], ...] = ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3))
#: NASLib's (and analog-nasbench's) integer op ids.
NASLIB_OP_IDS: Dict[str, int] = {'skip_connect': 0, 'none': 1, 'nor_conv_3x3': 2, 'nor_conv_1x1': 3,
                                 'avg_pool_3x3': 4}
_OP_OF_ID = {v: k for k, v in NASLIB_OP_IDS.items()}
# Position in the architecture string (edges sorted by target, then source) -> position in EDGES.
_STRING_ORDER = sorted(range(6), key=lambda e: (EDGES[e][1], EDGES[e][0]))
#: (channels, resolution) of each stage's cells for C=16 at 32x32.
STAGES: Tuple[Tuple[int, int], ...] = ((16, 32), (32, 16), (64, 8))

Cell = Tuple[str, ...]


class ArchStringError(InputError, ValueError):
    """An architecture string or key that does not name a NAS-Bench-201 cell; the message names it."""


def _check_cell(ops: Sequence[str], what: str) -> Cell:
    if len(ops) != 6:
        raise ArchStringError(f'{what}: expected 6 edge ops, got {len(ops)}')
    for op in ops:
        if op not in OPS:
            raise ArchStringError(f'{what}: unknown op {op!r}; choose one of {", ".join(OPS)}')
    return tuple(ops)


_NODE_RE = re.compile(r'^\|([^|]+(?:\|[^|]+)*)\|$')


def parse_arch_string(arch: str) -> Cell:
    """``'|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|...|'`` -> the cell in NASLib edge order."""
    if not isinstance(arch, str):
        raise ArchStringError(f'architecture string expected, got {arch!r}')
    nodes = arch.strip().split('+')
    if len(nodes) != 3:
        raise ArchStringError(f'{arch!r}: expected 3 node groups joined by "+", got {len(nodes)}')
    by_string: List[str] = []
    for target, group in enumerate(nodes, start=1):
        m = _NODE_RE.match(group)
        entries = m.group(1).split('|') if m else []
        if len(entries) != target:
            raise ArchStringError(f'{arch!r}: node {target} should list {target} inputs as |op~src|, got {group!r}')
        for src, entry in enumerate(entries):
            op, _, s = entry.partition('~')
            if s != str(src):
                raise ArchStringError(f'{arch!r}: node {target}, entry {entry!r}: expected input ~{src}')
            by_string.append(op)
    _check_cell(by_string, repr(arch))
    cell = [''] * 6
    for pos, edge in enumerate(_STRING_ORDER):
        cell[edge] = by_string[pos]
    return tuple(cell)


def to_arch_string(cell: Sequence[str]) -> str:
    cell = _check_cell(cell, 'cell')
    groups = []
    for target in (1, 2, 3):
        groups.append('|' + '|'.join(f'{cell[EDGES.index((s, target))]}~{s}' for s in range(target)) + '|')
    return '+'.join(groups)


def from_naslib_key(key: Sequence[int]) -> Cell:
    """NASLib's / analog-nasbench's 6 op ids (edge order as EDGES) -> the cell."""
    if len(key) != 6 or any(k not in _OP_OF_ID for k in key):
        raise ArchStringError(f'NAS-Bench-201 key {tuple(key)!r}: expected 6 op ids in 0..4')
    return tuple(_OP_OF_ID[int(k)] for k in key)


def to_naslib_key(cell: Sequence[str]) -> Tuple[int, ...]:
    return tuple(NASLIB_OP_IDS[op] for op in _check_cell(cell, 'cell'))


def all_cells() -> Iterator[Cell]:
    """All 15,625 cells, in the order of NASLib keys counted in base 5."""
    for key in itertools.product(range(5), repeat=6):
        yield from_naslib_key(key)


# ---------------------------------------------------------------------------------------- the network
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


# ---------------------------------------------------------------------------------------- features
#: Codes of the op-type matrix. 'none' has no code: a none edge carries no tensor, so its node keeps
#: no connections (our choice; ReNAS's code leaves the integer codes open).
NODE_CODES: Dict[str, int] = {'input': 1, 'skip_connect': 2, 'nor_conv_1x1': 3, 'nor_conv_3x3': 4,
                              'avg_pool_3x3': 5, 'output': 6}
NUM_NODES = 8  # input, one node per edge op (EDGES order), output


def op_costs() -> Dict[str, Tuple[Tuple[int, int], ...]]:
    """Mult-adds and parameters of each op in a cell of each stage, measured on the network."""
    from ..complexity import mult_adds_by_module
    costs = {}
    for op in OPS:
        net = NB201Network((op,) * 6).eval()
        counts = mult_adds_by_module(net, torch.zeros(1, 3, 32, 32))
        per_stage = []
        for s in range(3):
            name = f'cells.{s}.0.edges.0'
            module = net.get_submodule(name)
            per_stage.append((counts.get(name, 0), sum(p.numel() for p in module.parameters())))
        costs[op] = tuple(per_stage)
    return costs


def node_graph(cell: Sequence[str]) -> Tuple[List[List[int]], List[str]]:
    """The cell as a graph with the ops on its nodes (ReNAS's form): node 0 the input, node 1 + e the op of
    edge e, node 7 the output; edges through a 'none' op and nodes on no input-to-output path removed."""
    cell = _check_cell(cell, 'cell')
    n = NUM_NODES
    adj = [[0] * n for _ in range(n)]
    for e, (s, t) in enumerate(EDGES):
        if cell[e] == 'none':
            continue
        if s == 0:
            adj[0][1 + e] = 1
        if t == 3:
            adj[1 + e][n - 1] = 1
        for f, (s2, _) in enumerate(EDGES):
            if s2 == t and cell[f] != 'none':
                adj[1 + e][1 + f] = 1
    from .tensor import live_nodes
    live = live_nodes(adj, [0], n - 1)
    for i in range(n):
        for j in range(n):
            if i not in live or j not in live:
                adj[i][j] = 0
    return adj, ['input', *cell, 'output']


def feature_tensors(cells: Sequence[Sequence[str]], costs: Dict[str, Tuple[Tuple[int, int], ...]] = None):
    """ReNAS feature tensors, ``[n, 7, 8, 8]``: the op-type matrix, then a mult-add matrix per stage (in
    millions), then a parameter matrix per stage (in thousands). The 5 cells of a stage are identical in
    NAS-Bench-201, so one matrix per stage carries everything that 15 per-cell matrices would."""
    from .tensor import renas_tensor
    costs = costs or op_costs()
    out = []
    for cell in cells:
        adj, ops = node_graph(cell)
        codes = [NODE_CODES.get(op, 0) for op in ops]
        flops = [[costs[op][s][0] / 1e6 if op in costs else 0.0 for op in ops] for s in range(3)]
        params = [[costs[op][s][1] / 1e3 if op in costs else 0.0 for op in ops] for s in range(3)]
        out.append(renas_tensor(adj, codes, flops + params))
    import numpy as np
    return np.stack(out)


def cell_scores(cell: Sequence[str], seed: int = 0) -> Dict[str, float]:
    """Training-free figures of one cell on the real network: parameters, mult-adds (32x32 input) and
    log(1 + synflow) (Tanaka et al. 2020; data-free: all-ones input, absolute weights, float64, BN in
    eval mode with its initial statistics, summed over conv and linear weights)."""
    from ..complexity import mult_adds_by_module
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = NB201Network(cell).eval().double()
    with torch.no_grad():
        for p in net.parameters():
            p.abs_()
    x = torch.ones(1, 3, 32, 32, dtype=torch.float64)
    mult_adds = mult_adds_by_module(net, x)['']
    net(x).sum().backward()
    synflow = sum(float((m.weight.detach() * m.weight.grad).abs().sum()) for m in net.modules()
                  if isinstance(m, (nn.Conv2d, nn.Linear)))
    import math
    return dict(params=float(sum(p.numel() for p in net.parameters())), mult_adds=float(mult_adds),
                synflow=math.log1p(synflow))


# ---------------------------------------------------------------------------------------- continuous encoding
def bounds() -> Tuple[List[float], List[float]]:
    """One variable per edge (EDGES order) in ``[0, 5]``, as RelativeNAS encodes an op choice."""
    return [0.0] * 6, [float(len(OPS))] * 6


def decode(vector: Sequence[float]) -> Cell:
    """The integer part of each variable picks the edge's op in ``OPS`` order (none, skip_connect,
    nor_conv_1x1, nor_conv_3x3, avg_pool_3x3); the upper bound itself decodes to the last op. This is
    the paper's rule for its own op variables (Table 1)."""
    from ..encoding import choice_index
    if len(vector) != 6:
        raise ArchStringError(f'a NAS-Bench-201 vector has 6 variables, got {len(vector)}')
    return tuple(OPS[choice_index(v, len(OPS), ArchStringError)] for v in vector)


def encode_vector(cell: Sequence[str]) -> List[float]:
    """A vector that decodes to ``cell``: the middle of each op's interval."""
    return [OPS.index(op) + 0.5 for op in _check_cell(cell, 'cell')]


def _cell_vectors():
    from ..encoding import VectorSpace
    return VectorSpace('nb201', bounds, decode)


#: NAS-Bench-201 cells as slow-fast learning searches them (the vector-space protocol of relnas_zoo.encoding)
CELL_VECTORS = _cell_vectors()
