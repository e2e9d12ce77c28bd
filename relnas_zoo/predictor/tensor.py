"""The ReNAS feature tensor: a cell graph's adjacency matrix times broadcast per-node vectors."""
from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ['renas_tensor', 'live_nodes']


def live_nodes(adjacency: Sequence[Sequence[int]], sources: Sequence[int], sink: int) -> set:
    """Nodes on some path from a source to ``sink`` of a DAG whose node order is topological; the
    others compute nothing the output sees."""
    a = np.asarray(adjacency)
    n = len(a)
    fwd, bwd = set(sources), {sink}
    for i in range(n):
        if i in fwd:
            fwd.update(np.flatnonzero(a[i]).tolist())
    for j in reversed(range(n)):
        if j in bwd:
            bwd.update(np.flatnonzero(a[:, j]).tolist())
    return fwd & bwd


def renas_tensor(adjacency: Sequence[Sequence[int]], codes: Sequence[float],
                 node_vectors: Sequence[Sequence[float]]) -> np.ndarray:
    """``[1 + len(node_vectors), N, N]``: channel 0 is ``A * codes``, channel k is ``A * node_vectors[k-1]``.

    Each vector is broadcast along the columns, so entry ``(i, j)`` of an edge ``i -> j`` holds the value
    of its target node ``j`` (ReNAS's code leaves row or column open; the target is the node the edge
    feeds, and an input node has no incoming edge, so nothing is lost).
    """
    a = np.asarray(adjacency, dtype=np.float32)
    rows = [np.asarray(codes, dtype=np.float32), *(np.asarray(v, dtype=np.float32) for v in node_vectors)]
    return np.stack([a * r[None, :] for r in rows])
