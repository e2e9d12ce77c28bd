"""NAS-Bench-201's cells: 4 nodes, 6 edges ``i -> j`` (i < j), each edge one of 5 ops, node ``j`` the sum
of its incoming edges. A cell is a tuple of 6 op names in NASLib's edge order ``(0->1, 0->2, 0->3, 1->2,
1->3, 2->3)``; the benchmark's own string lists the edges by target node, ``|e01|+|e02|e12|+|e03|e13|e23|``.
Also the cells as slow-fast learning searches them: 6 variables in ``[0, 5]``, the integer part an op."""
from __future__ import annotations

import itertools
import re
from typing import Dict, Iterator, List, Sequence, Tuple

from ....encoding import VectorSpace, choice_index
from ....errors import InputError

__all__ = ['OPS', 'EDGES', 'NASLIB_OP_IDS', 'STAGES', 'Cell', 'ArchStringError', 'parse_arch_string', 'to_arch_string',
           'from_naslib_key', 'to_naslib_key', 'all_cells', 'bounds', 'decode', 'encode_vector', 'CELL_VECTORS']

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




def bounds() -> Tuple[List[float], List[float]]:
    """One variable per edge (EDGES order) in ``[0, 5]``, as RelativeNAS encodes an op choice."""
    return [0.0] * 6, [float(len(OPS))] * 6


def decode(vector: Sequence[float]) -> Cell:
    """The integer part of each variable picks the edge's op in ``OPS`` order (none, skip_connect,
    nor_conv_1x1, nor_conv_3x3, avg_pool_3x3); the upper bound itself decodes to the last op. This is
    the paper's rule for its own op variables (Table 1)."""
    if len(vector) != 6:
        raise ArchStringError(f'a NAS-Bench-201 vector has 6 variables, got {len(vector)}')
    return tuple(OPS[choice_index(v, len(OPS), ArchStringError)] for v in vector)


def encode_vector(cell: Sequence[str]) -> List[float]:
    """A vector that decodes to ``cell``: the middle of each op's interval."""
    return [OPS.index(op) + 0.5 for op in _check_cell(cell, 'cell')]


#: NAS-Bench-201 cells as slow-fast learning searches them (the vector-space protocol of relnas_zoo.encoding)
CELL_VECTORS = VectorSpace('nb201', bounds, decode)
