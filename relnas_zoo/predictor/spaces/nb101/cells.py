"""NAS-Bench-101 cells and their ReNAS feature tensor (19 x 7 x 7).

A cell is a DAG of at most 7 vertices (input, up to 5 ops, output) given by an upper-triangular adjacency
matrix and a label per vertex. NASLib's key is the 49 matrix entries row by row, then 7 op ids (its
order: 0 input, 1 output, 2 maxpool3x3, 3 conv1x1-bn-relu, 4 conv3x3-bn-relu).

Per-vertex mult-adds and parameters follow the NAS-Bench-101 network (Ying et al., 2019): a 3x3 stem of
128 channels, 3 stacks of 3 cells at 32, 16 and 8 pixels, the channels doubled by the first cell of the
second and third stack, a 10-way classifier. Inside a cell, the vertices feeding the output split the
output channels between them, every other vertex takes the widest of its successors, and every vertex
fed by the input gets a 1x1 projection from the cell input (counted as that vertex's cost; the output's
projection as the output vertex's). Convs are conv-BN-ReLU; BN has a scale and a shift.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Sequence, Tuple

import numpy as np

from ....errors import InputError
from ...tensor import live_nodes, renas_tensor

__all__ = ['NASLIB_OPS', 'Spec', 'SpecError', 'from_naslib_key', 'prune', 'padded_cell', 'vertex_channels', 'cell_costs',
           'feature_tensors', 'network_params', 'network_mult_adds', 'NETWORK_CELLS', 'NODE_CODES']

NASLIB_OPS: Tuple[str, ...] = ('input', 'output', 'maxpool3x3', 'conv1x1-bn-relu', 'conv3x3-bn-relu')
#: Codes of the op-type matrix (our choice; ReNAS's code leaves them open).
NODE_CODES = {'input': 1, 'conv1x1-bn-relu': 2, 'conv3x3-bn-relu': 3, 'maxpool3x3': 4, 'output': 5}
MAX_VERTICES = 7
STEM_CHANNELS = 128
#: (input channels, output channels, resolution) of the network's 9 cells.
NETWORK_CELLS: Tuple[Tuple[int, int, int], ...] = (
    (128, 128, 32), (128, 128, 32), (128, 128, 32),
    (128, 256, 16), (256, 256, 16), (256, 256, 16),
    (256, 512, 8), (512, 512, 8), (512, 512, 8))


class SpecError(InputError, ValueError):
    """A NAS-Bench-101 key or spec that does not describe a cell; the message names the value."""


@dataclass(frozen=True)
class Spec:
    matrix: Tuple[Tuple[int, ...], ...]
    ops: Tuple[str, ...]


def from_naslib_key(key: Sequence[int]) -> Spec:
    key = tuple(int(k) for k in key)
    if len(key) != MAX_VERTICES ** 2 + MAX_VERTICES:
        raise SpecError(f'NAS-Bench-101 key of {len(key)} entries: expected 49 adjacency entries and 7 op ids')
    m = np.array(key[:49]).reshape(7, 7)
    if not np.isin(m, (0, 1)).all() or np.tril(m).any():
        raise SpecError(f'NAS-Bench-101 key {key!r}: the adjacency must be a 0/1 upper-triangular matrix')
    if any(not 0 <= k < len(NASLIB_OPS) for k in key[49:]):
        raise SpecError(f'NAS-Bench-101 key {key!r}: op ids must be in 0..{len(NASLIB_OPS) - 1}')
    ops = tuple(NASLIB_OPS[k] for k in key[49:])
    if ops[0] != 'input' or ops[-1] != 'output' or {'input', 'output'} & set(ops[1:-1]):
        raise SpecError(f'NAS-Bench-101 key {key!r}: ops must be input, 5 op vertices, output; got {ops}')
    return Spec(tuple(map(tuple, m.tolist())), ops)


def prune(spec: Spec) -> Spec:
    """Remove the vertices on no input-to-output path, as NAS-Bench-101 does before building a cell."""
    m = np.array(spec.matrix)
    n = len(m)
    keep = sorted(live_nodes(m, [0], n - 1))
    if 0 not in keep or n - 1 not in keep:
        raise SpecError(f'NAS-Bench-101 cell {spec.ops}: the output is not reachable from the input')
    sub = m[np.ix_(keep, keep)]
    return Spec(tuple(map(tuple, sub.tolist())), tuple(spec.ops[k] for k in keep))


def vertex_channels(c_in: int, c_out: int, matrix: np.ndarray) -> List[int]:
    n = len(matrix)
    ch = [0] * n
    ch[0], ch[-1] = c_in, c_out
    if n == 2:
        return ch
    feeding_output = [v for v in range(1, n - 1) if matrix[v, n - 1]]
    share, extra = divmod(c_out, len(feeding_output))
    for k, v in enumerate(feeding_output):
        ch[v] = share + (1 if k < extra else 0)
    for v in range(n - 2, 0, -1):
        if not matrix[v, n - 1]:
            ch[v] = max(ch[d] for d in range(v + 1, n - 1) if matrix[v, d])
    return ch


def _conv_bn(c_in: int, c_out: int, k: int, res: int) -> Tuple[int, int]:
    return res * res * c_in * c_out * k * k, c_in * c_out * k * k + 2 * c_out


def cell_costs(spec: Spec, c_in: int, c_out: int, res: int) -> Tuple[List[int], List[int]]:
    """Per-vertex (mult-adds, parameters) of a pruned spec's cell in the network."""
    m = np.array(spec.matrix)
    n = len(m)
    ch = vertex_channels(c_in, c_out, m)
    flops, params = [0] * n, [0] * n
    for v in range(1, n):
        f = p = 0
        if m[0, v]:
            f, p = _conv_bn(c_in, ch[v], 1, res)
        op = spec.ops[v]
        if op.startswith('conv'):
            k = 3 if op.startswith('conv3x3') else 1
            f2, p2 = _conv_bn(ch[v], ch[v], k, res)
            f, p = f + f2, p + p2
        flops[v], params[v] = f, p
    return flops, params


def network_params(spec: Spec, num_classes: int = 10) -> int:
    """All parameters of the network of a pruned spec (stem, 9 cells, classifier)."""
    total = _conv_bn(3, STEM_CHANNELS, 3, 32)[1]
    for c_in, c_out, res in NETWORK_CELLS:
        total += sum(cell_costs(spec, c_in, c_out, res)[1])
    return total + NETWORK_CELLS[-1][1] * num_classes + num_classes


def network_mult_adds(spec: Spec, num_classes: int = 10) -> int:
    """Mult-adds of the network of a pruned spec for one 32x32 image (convs and the classifier)."""
    total = _conv_bn(3, STEM_CHANNELS, 3, 32)[0]
    for c_in, c_out, res in NETWORK_CELLS:
        total += sum(cell_costs(spec, c_in, c_out, res)[0])
    return total + NETWORK_CELLS[-1][1] * num_classes


def _pad(values: Sequence[Any], n: int, fill: Any = 0.0) -> List[Any]:
    """A vector of n vertices to 7: ``fill`` inserted before the output vertex."""
    return [*values[:-1], *([fill] * (MAX_VERTICES - n)), values[-1]]


def padded_cell(spec: Spec) -> Tuple[np.ndarray, List[str]]:
    """The pruned cell on 7 vertices: its adjacency and op labels, empty vertices (no edges, label '')
    inserted before the output, so every cell has the output last."""
    spec = prune(spec)
    n = len(spec.ops)
    m = np.zeros((MAX_VERTICES, MAX_VERTICES), dtype=np.int64)
    idx = [*range(n - 1), MAX_VERTICES - 1]
    m[np.ix_(idx, idx)] = np.array(spec.matrix)
    return m, _pad(list(spec.ops), n, fill='')


def feature_tensors(specs: Sequence[Spec]) -> np.ndarray:
    """``[n, 19, 7, 7]``: the op-type matrix, a mult-add matrix (millions) for each of the 9 cells, then a
    parameter matrix (thousands) for each; cells of fewer than 7 vertices zero-padded before the output."""
    out = []
    for spec in specs:
        spec = prune(spec)
        n = len(spec.ops)
        m, _ = padded_cell(spec)
        flops, params = [], []
        for c_in, c_out, res in NETWORK_CELLS:
            f, p = cell_costs(spec, c_in, c_out, res)
            flops.append(_pad([x / 1e6 for x in f], n))
            params.append(_pad([x / 1e3 for x in p], n))
        codes = _pad([NODE_CODES[o] for o in spec.ops], n)
        out.append(renas_tensor(m, codes, flops + params))
    return np.stack(out)
