"""The paper's continuous encoding (Table 1): a genotype as a vector of 32 real numbers.

For each cell (normal, then reduction) and each intermediate node ``k`` there are four variables,
``pre1, op1, pre2, op2``; a node variable lives in ``[0, k + 2]`` and an op variable in ``[0, 7]``.
Decoding takes the integer part; the upper bound itself decodes to the last index.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, List, Sequence, Tuple

import numpy as np

from .genotypes import NUM_INPUT_NODES, NUM_INTERMEDIATE_NODES, OPS, Genotype, GenotypeError

__all__ = ['VARS_PER_NODE', 'NUM_VARIABLES', 'bounds', 'decode', 'encode', 'random_vector', 'choice_index',
           'VectorSpace', 'GENOTYPE_VECTORS']

VARS_PER_NODE = 4
NUM_VARIABLES = 2 * NUM_INTERMEDIATE_NODES * VARS_PER_NODE


def bounds() -> Tuple[np.ndarray, np.ndarray]:
    """Lower and upper bound of every variable, each an array of length :data:`NUM_VARIABLES`."""
    upper: List[float] = []
    for _cell in range(2):
        for k in range(NUM_INTERMEDIATE_NODES):
            n_inputs = k + NUM_INPUT_NODES
            upper += [n_inputs, len(OPS), n_inputs, len(OPS)]
    up = np.asarray(upper, dtype=np.float64)
    return np.zeros_like(up), up


def choice_index(value: float, size: int, error: type = GenotypeError) -> int:
    """The paper's decoding of one variable among ``size`` choices: its integer part, clamped to the
    choices (the upper bound itself is the last); a non-finite value raises ``error``."""
    if not math.isfinite(value):
        raise error(f'encoding holds a non-finite value {value!r}')
    return min(max(int(math.floor(value)), 0), size - 1)


def decode(vector: Sequence[float], name: str = '') -> Genotype:
    """Genotype of an architecture vector (values outside the bounds are clamped)."""
    vec = np.asarray(vector, dtype=np.float64).reshape(-1)
    if vec.size != NUM_VARIABLES:
        raise GenotypeError(f'an architecture vector has {NUM_VARIABLES} variables, got {vec.size}')
    cells = []
    i = 0
    for _cell in range(2):
        edges = []
        for k in range(NUM_INTERMEDIATE_NODES):
            n_inputs = k + NUM_INPUT_NODES
            pre1, op1, pre2, op2 = vec[i:i + VARS_PER_NODE]
            i += VARS_PER_NODE
            edges.append((OPS[choice_index(op1, len(OPS))], choice_index(pre1, n_inputs)))
            edges.append((OPS[choice_index(op2, len(OPS))], choice_index(pre2, n_inputs)))
        cells.append(tuple(edges))
    return Genotype(normal=cells[0], reduce=cells[1], name=name)


def encode(genotype: Genotype) -> np.ndarray:
    """A vector that decodes to ``genotype``: the middle of each chosen interval.

    Only the default concat (all intermediate nodes) is representable, as in the paper.
    """
    default = tuple(range(NUM_INPUT_NODES, NUM_INPUT_NODES + NUM_INTERMEDIATE_NODES))
    if genotype.normal_concat != default or genotype.reduce_concat != default:
        raise GenotypeError(f'the encoding only represents concat {list(default)}; '
                            f'got {list(genotype.normal_concat)} / {list(genotype.reduce_concat)}')
    out: List[float] = []
    for edges in (genotype.normal, genotype.reduce):
        for k in range(NUM_INTERMEDIATE_NODES):
            (op1, pre1), (op2, pre2) = edges[2 * k], edges[2 * k + 1]
            out += [pre1 + 0.5, OPS.index(op1) + 0.5, pre2 + 0.5, OPS.index(op2) + 0.5]
    return np.asarray(out, dtype=np.float64)


def random_vector(rng: np.random.Generator) -> np.ndarray:
    """A vector drawn uniformly inside the bounds."""
    lo, hi = bounds()
    return rng.uniform(lo, hi)


@dataclass(frozen=True)
class VectorSpace:
    """What slow-fast learning searches: a box of real vectors (``bounds()``: lower, upper) and how a vector
    decodes to an architecture. This package's genotypes are one (:data:`GENOTYPE_VECTORS`);
    NAS-Bench-201's cells another (``relnas_zoo.predictor.spaces.nb201.CELL_VECTORS``)."""
    name: str
    bounds: Callable[[], Tuple[Any, Any]]
    decode: Callable[[Sequence[float]], Any]


GENOTYPE_VECTORS = VectorSpace('darts', bounds, decode)
