"""Cell genotypes as plain data: the op list, the published genotypes, validation and JSON I/O.

A genotype names, for each of the two cell types, the (op, input node) pair of every edge. Nodes 0
and 1 are the cell inputs (outputs of the two previous cells), nodes 2..5 the intermediate nodes;
intermediate node ``k`` (0-based) owns entries ``2k`` and ``2k + 1`` and may read nodes ``0..k+1``.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, Mapping, Sequence, Tuple, Union

from .atomic import atomic_write_text
from .errors import InputError

__all__ = [
    'OPS', 'NUM_INPUT_NODES', 'NUM_INTERMEDIATE_NODES', 'Genotype', 'GenotypeError',
    'PUBLISHED', 'RELATIVENAS', 'DARTS_V1', 'DARTS_V2', 'resolve_genotype', 'load_genotype', 'save_genotype',
]

#: The candidate operations, in the index order of the paper's Table 1 (the encoding depends on it).
OPS: Tuple[str, ...] = (
    'max_pool_3x3',
    'avg_pool_3x3',
    'skip_connect',
    'sep_conv_3x3',
    'sep_conv_5x5',
    'dil_conv_3x3',
    'dil_conv_5x5',
)
NUM_INPUT_NODES = 2
NUM_INTERMEDIATE_NODES = 4
_DEFAULT_CONCAT = tuple(range(NUM_INPUT_NODES, NUM_INPUT_NODES + NUM_INTERMEDIATE_NODES))

Edge = Tuple[str, int]
GenotypeLike = Union['Genotype', str, os.PathLike, Mapping[str, Any]]


class GenotypeError(InputError, ValueError):
    """A genotype that does not describe a valid cell pair; the message names cell, node and value."""


def _check_cell(cell: str, edges: Sequence[Edge], concat: Sequence[int]) -> None:
    expected = 2 * NUM_INTERMEDIATE_NODES
    if len(edges) != expected:
        raise GenotypeError(
            f'{cell} cell: expected {expected} (op, input) entries, 2 for each of the '
            f'{NUM_INTERMEDIATE_NODES} intermediate nodes, got {len(edges)}')
    for pos, edge in enumerate(edges):
        node = pos // 2
        where = f'{cell} cell, node {node + NUM_INPUT_NODES} (entry {pos})'
        if not isinstance(edge, (tuple, list)) or len(edge) != 2:
            raise GenotypeError(f'{where}: expected an (op, input node) pair, got {edge!r}')
        op, src = edge
        if op not in OPS:
            raise GenotypeError(f'{where}: unknown op {op!r}; choose one of {", ".join(OPS)}')
        if isinstance(src, bool) or not isinstance(src, int):
            raise GenotypeError(f'{where}: input node must be an int, got {src!r}')
        if not 0 <= src < node + NUM_INPUT_NODES:
            raise GenotypeError(
                f'{where}: input node {src} is out of range; this node may read nodes '
                f'0..{node + NUM_INPUT_NODES - 1}')
    last = NUM_INPUT_NODES + NUM_INTERMEDIATE_NODES
    if not concat:
        raise GenotypeError(f'{cell} cell: concat is empty; it lists the intermediate nodes whose '
                            f'outputs form the cell output, normally {list(_DEFAULT_CONCAT)}')
    for c in concat:
        if isinstance(c, bool) or not isinstance(c, int) or not NUM_INPUT_NODES <= c < last:
            raise GenotypeError(
                f'{cell} cell: concat entry {c!r} is not an intermediate node ({NUM_INPUT_NODES}..{last - 1})')
    if len(set(concat)) != len(concat):
        raise GenotypeError(f'{cell} cell: concat {list(concat)} repeats a node')


@dataclass(frozen=True)
class Genotype:
    """A normal/reduction cell pair, validated on construction."""

    normal: Tuple[Edge, ...]
    reduce: Tuple[Edge, ...]
    normal_concat: Tuple[int, ...] = _DEFAULT_CONCAT
    reduce_concat: Tuple[int, ...] = _DEFAULT_CONCAT
    name: str = field(default='', compare=False)

    def __post_init__(self) -> None:
        for attr in ('normal', 'reduce'):
            value = getattr(self, attr)
            if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
                raise GenotypeError(f'{attr} cell: expected a list of (op, input node) pairs, got {value!r}')
            edges = tuple(tuple(e) if isinstance(e, (list, tuple)) else e for e in value)
            object.__setattr__(self, attr, edges)
        for attr in ('normal_concat', 'reduce_concat'):
            value = getattr(self, attr)
            if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
                raise GenotypeError(f'{attr[:-7]} cell: concat must be a list of node indices, got {value!r}')
            object.__setattr__(self, attr, tuple(value))
        _check_cell('normal', self.normal, self.normal_concat)
        _check_cell('reduce', self.reduce, self.reduce_concat)

    def cell(self, reduction: bool) -> Tuple[Tuple[Edge, ...], Tuple[int, ...]]:
        """(edges, concat) of the reduction cell if ``reduction`` else of the normal cell."""
        return (self.reduce, self.reduce_concat) if reduction else (self.normal, self.normal_concat)

    def to_dict(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {
            'normal': [list(e) for e in self.normal],
            'normal_concat': list(self.normal_concat),
            'reduce': [list(e) for e in self.reduce],
            'reduce_concat': list(self.reduce_concat),
        }
        if self.name:
            out['name'] = self.name
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> 'Genotype':
        if not isinstance(data, Mapping):
            raise GenotypeError(f'a genotype must be a mapping with normal/reduce entries, got {type(data).__name__}')
        allowed = {'normal', 'reduce', 'normal_concat', 'reduce_concat', 'name'}
        unknown = set(data) - allowed
        if unknown:
            raise GenotypeError(f'unknown genotype field(s) {sorted(unknown)}; allowed: {sorted(allowed)}')
        for req in ('normal', 'reduce'):
            if req not in data:
                raise GenotypeError(f'genotype is missing the {req!r} cell')
        return cls(
            normal=data['normal'],
            reduce=data['reduce'],
            normal_concat=data.get('normal_concat', _DEFAULT_CONCAT),
            reduce_concat=data.get('reduce_concat', _DEFAULT_CONCAT),
            name=str(data.get('name', '')),
        )

    def __str__(self) -> str:
        return self.name or json.dumps(self.to_dict())


RELATIVENAS = Genotype(
    name='RelativeNAS',
    normal=(('sep_conv_3x3', 0), ('dil_conv_5x5', 1), ('sep_conv_3x3', 1), ('sep_conv_3x3', 1),
            ('sep_conv_3x3', 1), ('sep_conv_5x5', 1), ('skip_connect', 0), ('sep_conv_3x3', 0)),
    reduce=(('avg_pool_3x3', 1), ('max_pool_3x3', 1), ('dil_conv_5x5', 1), ('max_pool_3x3', 1),
            ('avg_pool_3x3', 3), ('skip_connect', 1), ('dil_conv_5x5', 3), ('sep_conv_3x3', 1)),
)
DARTS_V1 = Genotype(
    name='DARTS_V1',
    normal=(('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('skip_connect', 0), ('sep_conv_3x3', 1),
            ('skip_connect', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('skip_connect', 2)),
    reduce=(('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 0),
            ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('avg_pool_3x3', 0)),
)
DARTS_V2 = Genotype(
    name='DARTS_V2',
    normal=(('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1),
            ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)),
    reduce=(('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1),
            ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)),
)

#: Published genotypes by lower-case name.
PUBLISHED: Dict[str, Genotype] = {g.name.lower(): g for g in (RELATIVENAS, DARTS_V1, DARTS_V2)}


_MAX_GENOTYPE_BYTES = 1 << 20  # a genotype file is ~1 KB; a larger one is something else, not read whole


def load_genotype(path: Union[str, os.PathLike]) -> Genotype:
    """Read a genotype JSON file (as written by :func:`save_genotype` or the search)."""
    path = Path(path)
    if path.is_dir():
        raise GenotypeError(f'genotype file {str(path)!r} is a directory (give the .json file in it)')
    if path.is_file() and path.stat().st_size > _MAX_GENOTYPE_BYTES:
        raise GenotypeError(f'genotype file {str(path)!r} is {path.stat().st_size} bytes, far larger than '
                            f'any genotype file')
    try:
        data = json.loads(path.read_bytes().decode('utf-8'))
    except FileNotFoundError:
        raise GenotypeError(f'genotype file {str(path)!r} does not exist') from None
    except UnicodeDecodeError as e:
        raise GenotypeError(f'genotype file {str(path)!r} is not UTF-8 text (byte {e.start}): not a JSON '
                            f'file') from None
    except json.JSONDecodeError as e:
        raise GenotypeError(f'genotype file {str(path)!r} is not valid JSON: {e}') from None
    except RecursionError:
        raise GenotypeError(f'genotype file {str(path)!r} nests too deeply to be a genotype') from None
    except OSError as e:
        raise GenotypeError(f'genotype file {str(path)!r} cannot be read: {e.strerror}') from None
    if isinstance(data, Mapping) and 'genotype' in data and 'normal' not in data:
        data = data['genotype']  # a search result record that wraps the genotype
    try:
        geno = Genotype.from_dict(data)
    except GenotypeError as e:
        raise GenotypeError(f'{path}: {e}') from None
    if not geno.name:
        object.__setattr__(geno, 'name', path.stem)
    return geno


def save_genotype(genotype: Genotype, path: Union[str, os.PathLike]) -> None:
    """Write ``genotype`` as JSON (atomically, so a crash never leaves half a file)."""
    path = Path(path)
    # one edge per line: readable, and diffs between genotypes show the changed edges
    body = ',\n'.join(f'  {json.dumps(k)}: ' + (
        '[\n' + ',\n'.join(f'    {json.dumps(e)}' for e in v) + '\n  ]' if k in ('normal', 'reduce')
        else json.dumps(v)) for k, v in genotype.to_dict().items())
    atomic_write_text(path, '{\n' + body + '\n}\n')


def resolve_genotype(genotype: GenotypeLike) -> Genotype:
    """Accept a Genotype, a published name (case-insensitive), a JSON file path, or a dict."""
    if isinstance(genotype, Genotype):
        return genotype
    if isinstance(genotype, Mapping):
        return Genotype.from_dict(genotype)
    if isinstance(genotype, (str, os.PathLike)):
        key = str(genotype)
        if key.lower() in PUBLISHED:
            return PUBLISHED[key.lower()]
        if key.endswith('.json') or os.path.sep in key or os.path.exists(key):
            return load_genotype(key)
        raise GenotypeError(
            f'unknown genotype {key!r}: give one of {sorted(g.name for g in PUBLISHED.values())} '
            f'or the path of a genotype .json file')
    raise GenotypeError(f'cannot make a genotype from {type(genotype).__name__}: {genotype!r}')
