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


def _paths(adj: np.ndarray, through: np.ndarray, sources: Sequence[int], sink: int) -> Tuple[float, float, float]:
    """(number of source-to-sink paths whose inner nodes all pass ``through``, fewest and most edges on
    such a path; 0, 0 when there is none)."""
    n = len(adj)
    count = np.zeros(n)
    shortest = np.full(n, np.inf)
    longest = np.full(n, -np.inf)
    for s in sources:
        count[s], shortest[s], longest[s] = 1.0, 0.0, 0.0
    is_source = np.zeros(n, dtype=bool)
    is_source[list(sources)] = True
    for j in range(n):
        if is_source[j] or not (through[j] or j == sink):
            continue
        inputs = [i for i in range(j) if adj[i, j] and count[i] > 0]
        if inputs:
            step = 1.0
            count[j] = count[inputs].sum()
            shortest[j] = shortest[inputs].min() + step
            longest[j] = longest[inputs].max() + step
    if count[sink] == 0:
        return 0.0, 0.0, 0.0
    return float(count[sink]), float(shortest[sink]), float(longest[sink])


def path_feature_count(groups: Sequence[Sequence[str]], num_sources: int) -> int:
    """The length of :func:`path_features`' vector for these groups (per cell graph)."""
    ops = sum(len(g) for g in groups)
    return ops + 3 * (2 ** len(groups) - 1) + (num_sources + 1) * len(groups)


def path_features(graph: CellGraph, groups: Sequence[Sequence[str]]) -> List[float]:
    """The figures of one cell graph, for op ``groups`` (each a tuple of op names; a group of one op is
    that op alone): the count of each op on a live node, then for every non-empty union of groups the number of paths
    through its ops only and their fewest and most edges, then the ops of each group each source feeds,
    and those no source feeds."""
    adj = np.asarray(graph.adjacency)
    labels = graph.labels
    off_diagonal = adj * (1 - np.eye(len(adj), dtype=adj.dtype))
    live = off_diagonal.any(axis=0) | off_diagonal.any(axis=1)  # a node on no path computes nothing
    out: List[float] = [float(sum(bool(v) and label == op for label, v in zip(labels, live)))
                        for group in groups for op in group]
    member = [np.array([label in group for label in labels]) & live for group in groups]
    for r in range(1, len(groups) + 1):
        for union in itertools.combinations(range(len(groups)), r):
            through = np.logical_or.reduce([member[g] for g in union])
            out.extend(_paths(adj, through, graph.sources, graph.sink))
    fed_by_source = np.zeros(len(adj), dtype=bool)
    for s in graph.sources:
        fed = off_diagonal[s].astype(bool)
        fed_by_source |= fed
        out.extend(float((fed & m).sum()) for m in member)
    out.extend(float((~fed_by_source & m).sum()) for m in member)  # ops that read only other ops
    return out
