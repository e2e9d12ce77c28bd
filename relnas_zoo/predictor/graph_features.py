"""Path features of a cell graph: what its ops are, and how the input reaches the output through them.

A predictor that has seen a few dozen architectures cannot learn from a one-hot code which op placements
matter; it can learn from a handful of figures that already say it: how many ops of each kind a cell
has and, for every union of op groups, how many input-to-output paths run through those ops alone and
how short and how long they are (the "neural graph features" of Kadlecova et al., ICML 2024, which they
found to rank NAS-Bench-201 and -301 cells better than zero-cost proxies). A cell here is ReNAS's form:
ops on the nodes of a DAG whose node order is topological, one or more source nodes and one sink.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import List, Sequence, Tuple

import numpy as np

__all__ = ['CellGraph', 'path_features', 'path_feature_count']


@dataclass(frozen=True)
class CellGraph:
    """``adjacency[i][j]`` = 1 for an edge ``i -> j`` (``i < j``; the diagonal is ignored), a label per node
    (an op name for op nodes), the source nodes and the sink."""
    adjacency: np.ndarray
    labels: Tuple[str, ...]
    sources: Tuple[int, ...]
    sink: int


def _paths(edges: np.ndarray, through: np.ndarray, sources: Sequence[int], sink: int) -> List[np.ndarray]:
    """For each graph: the number of source-to-sink paths whose inner nodes all pass ``through``, and the
    fewest and most edges on such a path (0, 0 when there is none). ``edges``: ``[B, N, N]`` bool."""
    b, n = through.shape
    count = np.zeros((b, n))
    shortest = np.full((b, n), np.inf)
    longest = np.full((b, n), -np.inf)
    count[:, list(sources)] = 1.0
    shortest[:, list(sources)] = longest[:, list(sources)] = 0.0
    for j in range(n):
        if j in sources:
            continue
        reach = edges[:, :j, j] & (count[:, :j] > 0)
        ok = reach.any(axis=1) & (through[:, j] | (j == sink))
        count[:, j] = np.where(ok, (count[:, :j] * reach).sum(axis=1), 0.0)
        shortest[:, j] = np.where(ok, np.where(reach, shortest[:, :j], np.inf).min(axis=1, initial=np.inf) + 1, np.inf)
        longest[:, j] = np.where(ok, np.where(reach, longest[:, :j], -np.inf).max(axis=1, initial=-np.inf) + 1,
                                 -np.inf)
    found = count[:, sink] > 0
    return [count[:, sink], np.where(found, shortest[:, sink], 0.0), np.where(found, longest[:, sink], 0.0)]


def path_feature_count(groups: Sequence[Sequence[str]], num_sources: int) -> int:
    """The number of figures :func:`path_features` gives per cell graph for these groups."""
    ops = sum(len(g) for g in groups)
    return ops + 3 * (2 ** len(groups) - 1) + (num_sources + 1) * len(groups)


def path_features(graphs: Sequence[CellGraph], groups: Sequence[Sequence[str]]) -> np.ndarray:
    """``[B, k]`` the figures of cell graphs of one shape (node count, sources, sink), for op ``groups``
    (each a tuple of op names; a group of one op is that op alone): the count of each op on a live node,
    then for every non-empty union of groups the number of paths through its ops only and their fewest
    and most edges, then the ops of each group each source feeds, and those no source feeds."""
    if not graphs:
        return np.zeros((0, path_feature_count(groups, 1)))
    sources, sink = graphs[0].sources, graphs[0].sink
    if any(g.sources != sources or g.sink != sink or len(g.labels) != len(graphs[0].labels) for g in graphs):
        raise ValueError('path_features: the cell graphs differ in node count, sources or sink')
    edges = np.stack([np.asarray(g.adjacency) != 0 for g in graphs])
    edges &= ~np.eye(edges.shape[1], dtype=bool)                  # a self-loop is no path
    labels = np.array([g.labels for g in graphs], dtype=object)
    live = edges.any(axis=1) | edges.any(axis=2)                   # a node on no edge computes nothing
    cols: List[np.ndarray] = [((labels == op) & live).sum(axis=1) for group in groups for op in group]
    member = [np.isin(labels, list(group)) & live for group in groups]
    for r in range(1, len(groups) + 1):
        for union in itertools.combinations(range(len(groups)), r):
            cols.extend(_paths(edges, np.logical_or.reduce([member[g] for g in union]), sources, sink))
    fed_by_source = np.zeros_like(live)
    for s in sources:
        fed_by_source |= edges[:, s]
        cols.extend((edges[:, s] & m).sum(axis=1) for m in member)
    cols.extend((~fed_by_source & m).sum(axis=1) for m in member)  # ops that read only other ops
    return np.stack(cols, axis=1).astype(np.float64)
