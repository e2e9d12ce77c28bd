"""ReNAS's feature tensor of a NAS-Bench-201 cell: the op-type matrix and per-stage cost matrices."""
from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

import numpy as np
import torch

from ...tensor import live_nodes, renas_tensor
from .cells import EDGES, OPS, _check_cell
from .network import NB201Network

__all__ = ['NODE_CODES', 'NUM_NODES', 'op_costs', 'node_graph', 'feature_tensors']

#: Codes of the op-type matrix. 'none' has no code: a none edge carries no tensor, so its node keeps
#: no connections (our choice; ReNAS's code leaves the integer codes open).
NODE_CODES: Dict[str, int] = {'input': 1, 'skip_connect': 2, 'nor_conv_1x1': 3, 'nor_conv_3x3': 4,
                              'avg_pool_3x3': 5, 'output': 6}
NUM_NODES = 8  # input, one node per edge op (EDGES order), output


def op_costs() -> Dict[str, Tuple[Tuple[int, int], ...]]:
    """Mult-adds and parameters of each op in a cell of each stage, measured on the network."""
    from ....complexity import mult_adds_by_module
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
    costs = costs or op_costs()
    out = []
    for cell in cells:
        adj, ops = node_graph(cell)
        codes = [NODE_CODES.get(op, 0) for op in ops]
        flops = [[costs[op][s][0] / 1e6 if op in costs else 0.0 for op in ops] for s in range(3)]
        params = [[costs[op][s][1] / 1e3 if op in costs else 0.0 for op in ops] for s in range(3)]
        out.append(renas_tensor(adj, codes, flops + params))
    return np.stack(out)


