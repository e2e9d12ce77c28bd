"""RelativeNAS genotypes (this package's own space) as ReNAS feature tensors.

Each cell type becomes a graph with the ops on its nodes: node 0 and 1 the cell inputs, node ``2 + e``
the op of genotype entry ``e``, node 10 the output; an op node feeds every op that reads its
intermediate node, and the output if that node is in the concat; nodes on no input-to-output path are
dropped. A live input node also has a self-loop: it has no incoming edge, so without one the column
broadcast would lose its value (its preprocess layer's cost, unlike the other spaces' inputs). Per-node mult-adds and parameters are measured on the zoo's own network (``RelativeNASNet``) at
the search proxy's size.
"""
from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

import numpy as np
import torch

from ..complexity import mult_adds_by_module
from ..genotypes import NUM_INPUT_NODES, OPS, Genotype, resolve_genotype
from ..networks import RelativeNASNet
from .tensor import live_nodes, renas_tensor

__all__ = ['cell_graph', 'encode', 'network_scores', 'PROXY']

#: The network the costs are measured on: the search proxy of the paper (C=16, 8 cells, CIFAR, 32x32).
PROXY = dict(C=16, layers=8, num_classes=10, stem_type='cifar')
NUM_NODES = NUM_INPUT_NODES + 8 + 1
#: Op-type codes: the two inputs, the ops in the order of ``relnas_zoo.OPS``, the output.
NODE_CODES: Dict[str, int] = {'input0': 1, 'input1': 2, **{op: 3 + i for i, op in enumerate(OPS)},
                              'output': 3 + len(OPS)}


def cell_graph(edges: Sequence[Tuple[str, int]], concat: Sequence[int]) -> Tuple[np.ndarray, List[str]]:
    n = NUM_NODES
    adj = np.zeros((n, n), dtype=np.int64)
    for e, (_, src) in enumerate(edges):
        node = NUM_INPUT_NODES + e
        if src < NUM_INPUT_NODES:
            adj[src, node] = 1
        else:  # reads intermediate node src: fed by that node's two ops
            k = src - NUM_INPUT_NODES
            adj[NUM_INPUT_NODES + 2 * k, node] = adj[NUM_INPUT_NODES + 2 * k + 1, node] = 1
        if NUM_INPUT_NODES + e // 2 in concat:
            adj[node, n - 1] = 1
    live = live_nodes(adj, range(NUM_INPUT_NODES), n - 1)
    dead = [i for i in range(n) if i not in live]
    adj[dead, :] = 0
    adj[:, dead] = 0
    for i in range(NUM_INPUT_NODES):  # a self-loop keeps a live input's own value (its preprocess cost)
        if i not in dead:
            adj[i, i] = 1
    return adj, ['input0', 'input1', *(op for op, _ in edges), 'output']


def _node_costs(net: RelativeNASNet, counts: Dict[str, int], k: int) -> Tuple[List[float], List[float]]:
    cell = net.cells[k]
    flops, params = [0.0] * NUM_NODES, [0.0] * NUM_NODES
    names = [f'preprocess{i}' for i in range(NUM_INPUT_NODES)]
    names += [f'nodes.{e // 2}.op{e % 2 + 1}' for e in range(8)]
    for idx, name in enumerate(names):
        try:
            module = cell.get_submodule(name)
        except AttributeError:  # a pruned (dead) node
            continue
        flops[idx] = counts.get(f'cells.{k}.{name}', 0) / 1e6
        params[idx] = sum(p.numel() for p in module.parameters()) / 1e3
    return flops, params


def encode(genotypes: Sequence[Genotype]) -> np.ndarray:
    """``[n, 2 + 2 * 8, 11, 11]``: the normal and reduction op-type matrices, then a mult-add matrix
    (millions) for each of the proxy's 8 cells, then a parameter matrix (thousands) for each, every cell's
    on its own cell type's graph."""
    out = []
    for g in genotypes:
        g = resolve_genotype(g)
        graphs = {False: cell_graph(g.normal, g.normal_concat), True: cell_graph(g.reduce, g.reduce_concat)}
        net = RelativeNASNet(genotype=g, **PROXY).eval()
        counts = mult_adds_by_module(net, torch.zeros(1, 3, 32, 32))
        flops, params = [], []
        for k, cell in enumerate(net.cells):
            f, p = _node_costs(net, counts, k)
            flops.append((cell.reduction, f))
            params.append((cell.reduction, p))
        channels = []
        for reduction in (False, True):
            adj, ops = graphs[reduction]
            channels.append(renas_tensor(adj, [NODE_CODES[o] for o in ops], [])[0])
        for red, vec in flops + params:
            channels.append(renas_tensor(graphs[red][0], vec, [])[0])
        out.append(np.stack(channels))
    return np.stack(out)


def network_scores(genotypes: Sequence[Genotype]) -> np.ndarray:
    """``[n, 2]``: parameters and mult-adds (32x32) of each genotype's proxy network."""
    rows = []
    for g in genotypes:
        net = RelativeNASNet(genotype=resolve_genotype(g), **PROXY).eval()
        rows.append([sum(p.numel() for p in net.parameters()),
                     mult_adds_by_module(net, torch.zeros(1, 3, 32, 32))['']])
    return np.asarray(rows, dtype=np.float64)
