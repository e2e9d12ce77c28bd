"""DARTS-space genotypes (this package's own space, and NAS-Bench-301's) as ReNAS feature tensors.

Each cell type becomes a graph with the ops on its nodes: node 0 and 1 the cell inputs, node ``2 + e``
the op of genotype entry ``e``, node 10 the output; an op node feeds every op that reads its
intermediate node, and the output if that node is in the concat; nodes on no input-to-output path are
dropped. A live input node also has a self-loop: it has no incoming edge, so without one the column
broadcast would lose its value (its preprocess layer's cost, unlike the other spaces' inputs).

Per-node mult-adds and parameters are those of the zoo's own network (``RelativeNASNet``) at the search
proxy's size. A node's cost depends only on its op, its cell and whether it reads a cell input (stride 2
in a reduction cell), and a preprocess layer's only on its cell and the concat widths, so they are
measured once on a few reference networks and looked up (building and counting a network per genotype
costs a third of a second; a search or a 725-cell table encodes thousands).

NAS-Bench-301 / NASLib's compact key, ``[[(input, op id) x 8], [(input, op id) x 8]]`` (normal cell,
then reduction cell; op ids in the order of ``relnas_zoo.OPS``; both concats 2..5), converts with
:func:`from_naslib_key` and :func:`to_naslib_key`.
"""
from __future__ import annotations

import ast
from functools import lru_cache
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np
import torch

from ....complexity import mult_adds_by_module
from ....errors import InputError
from ....genotypes import NUM_INPUT_NODES, NUM_INTERMEDIATE_NODES, OPS, Genotype, GenotypeError, resolve_genotype
from ....cells import live_states
from ....networks import RelativeNASNet, reduction_layers
from ...tensor import live_nodes, renas_tensor

__all__ = ['cell_graph', 'feature_tensors', 'num_channels', 'network_scores', 'one_hot', 'from_naslib_key', 'to_naslib_key',
           'NASLibKeyError', 'PROXY', 'PAPER_PROXY', 'proxy_net', 'OP_TYPES']

#: The network the costs are measured on by default: the search proxy of the paper (C=16, 8 cells, CIFAR,
#: 32x32). A search measures on its own proxy (its config's C and layers: ``proxy_net``).
PROXY = dict(C=16, layers=8, num_classes=10, stem_type='cifar')
Proxy = Tuple[int, int]  # (C, layers)
PAPER_PROXY: Proxy = (PROXY['C'], PROXY['layers'])


def proxy_net(proxy: Proxy) -> Dict[str, Any]:
    """The network arguments of a proxy ``(C, layers)``."""
    return dict(PROXY, C=int(proxy[0]), layers=int(proxy[1]))
NUM_ENTRIES = 2 * NUM_INTERMEDIATE_NODES
NUM_NODES = NUM_INPUT_NODES + NUM_ENTRIES + 1
#: Op-type codes: the two inputs, the ops in the order of ``relnas_zoo.OPS``, the output.
NODE_CODES: Dict[str, int] = {'input0': 1, 'input1': 2, **{op: 3 + i for i, op in enumerate(OPS)},
                              'output': 3 + len(OPS)}


# ---------------------------------------------------------------------------------------- NASLib keys
class NASLibKeyError(InputError, ValueError):
    """A NAS-Bench-301 compact key that does not describe a genotype; the message names the value."""


def from_naslib_key(key: Any) -> Genotype:
    """A genotype from NASLib's compact key (the sequence, or its text as the NAS-Bench-301 files hold it;
    text is read with ``ast.literal_eval``, which builds literals only)."""
    text = key
    if isinstance(key, str):
        try:
            key = ast.literal_eval(key)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            raise NASLibKeyError(f'key {text!r} is not a [[(input, op id) x 8], [(input, op id) x 8]] literal') from None
    if not isinstance(key, (list, tuple)) or len(key) != 2:
        raise NASLibKeyError(f'key {text!r}: expected two cells (normal, reduction), got '
                             f'{len(key) if isinstance(key, (list, tuple)) else type(key).__name__}')
    cells = []
    for cell_name, cell in zip(('normal', 'reduction'), key):
        if not isinstance(cell, (list, tuple)) or len(cell) != NUM_ENTRIES:
            raise NASLibKeyError(f'key {text!r}: the {cell_name} cell needs {NUM_ENTRIES} (input, op id) pairs, '
                                 f'got {cell!r}')
        edges = []
        for e, pair in enumerate(cell):
            node = NUM_INPUT_NODES + e // 2
            where = f'key {text!r}: {cell_name} cell, entry {e} (node {node})'
            if (not isinstance(pair, (list, tuple)) or len(pair) != 2
                    or not all(isinstance(v, int) and not isinstance(v, bool) for v in pair)):
                raise NASLibKeyError(f'{where}: expected an (input, op id) pair of ints, got {pair!r}')
            src, op = pair
            if not 0 <= op < len(OPS):
                raise NASLibKeyError(f'{where}: op id {op} is not in 0..{len(OPS) - 1} '
                                     f'({", ".join(f"{i} {o}" for i, o in enumerate(OPS))})')
            if not 0 <= src < node:
                raise NASLibKeyError(f'{where}: input {src} is out of range; node {node} reads 0..{node - 1}')
            edges.append((OPS[op], src))
        cells.append(edges)
    try:
        return Genotype(normal=cells[0], reduce=cells[1])
    except GenotypeError as e:  # not expected after the checks above; named all the same
        raise NASLibKeyError(f'key {text!r}: {e}') from None


def to_naslib_key(genotype: Genotype) -> str:
    """NASLib's compact key of a genotype whose concats are 2..5 (the form NAS-Bench-301 stores)."""
    g = resolve_genotype(genotype)
    default = tuple(range(NUM_INPUT_NODES, NUM_INPUT_NODES + NUM_INTERMEDIATE_NODES))
    if g.normal_concat != default or g.reduce_concat != default:
        raise NASLibKeyError(f'{g.name or "genotype"}: NAS-Bench-301 keys concatenate nodes {list(default)}; '
                             f'this one concatenates {list(g.normal_concat)} / {list(g.reduce_concat)}')
    cells = [[(src, OPS.index(op)) for op, src in edges] for edges in (g.normal, g.reduce)]
    return str(cells)


# ---------------------------------------------------------------------------------------- graphs
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


# ---------------------------------------------------------------------------------------- measured costs
Cost = Tuple[float, float]  # (mult-adds in millions, parameters in thousands)


def _measure(genotype: Genotype, proxy: Proxy):
    """Per cell: the costs of its live preprocess layers and node ops, and the whole network's totals."""
    net = RelativeNASNet(genotype=genotype, **proxy_net(proxy)).eval()
    counts = mult_adds_by_module(net, torch.zeros(1, 3, 32, 32))
    cells = []
    for k, cell in enumerate(net.cells):
        found = {}
        names = [f'preprocess{i}' for i in range(NUM_INPUT_NODES)]
        names += [f'nodes.{e // 2}.op{e % 2 + 1}' for e in range(NUM_ENTRIES)]
        for idx, name in enumerate(names):
            try:
                module = cell.get_submodule(name)
            except AttributeError:  # a pruned (dead) node
                continue
            found[idx] = (counts.get(f'cells.{k}.{name}', 0) / 1e6, sum(p.numel() for p in module.parameters()) / 1e3)
        cells.append((cell.reduction, found))
    return cells, (counts[''] / 1e6, sum(p.numel() for p in net.parameters()) / 1e3)


def _reference_edges(op: str) -> List[Tuple[str, int]]:
    """Every entry ``op``; each node reads a cell input and (from node 3 on) an intermediate node, so every
    (cell, reads-an-input) case of the op is built."""
    edges = [(op, 0), (op, 1)]
    for k in range(1, NUM_INTERMEDIATE_NODES):
        edges += [(op, k % NUM_INPUT_NODES), (op, NUM_INPUT_NODES + k - 1)]
    return edges


@lru_cache(maxsize=None)
def _op_costs(proxy: Proxy) -> Dict[Tuple[int, str, bool], Cost]:
    """``(cell, op, reads a cell input)`` -> cost of that node op in the proxy."""
    out = {}
    for op in OPS:
        edges = _reference_edges(op)
        cells, _ = _measure(Genotype(normal=edges, reduce=edges), proxy)
        for k, (_, found) in enumerate(cells):
            for e, (_, src) in enumerate(edges):
                out[(k, op, src < NUM_INPUT_NODES)] = found[NUM_INPUT_NODES + e]
    return out


@lru_cache(maxsize=None)
def _frame_costs(normal_concat: int, reduce_concat: int, proxy: Proxy) -> Tuple[Dict[Tuple[int, int], Cost], Cost]:
    """For concats of these widths: ``(cell, input)`` -> preprocess cost, and what the network costs
    outside its cells' preprocess layers and node ops (stem, classifier)."""
    edges = [('max_pool_3x3', 0), ('max_pool_3x3', 1)] * NUM_INTERMEDIATE_NODES  # both inputs live
    first = range(NUM_INPUT_NODES, NUM_INPUT_NODES + NUM_INTERMEDIATE_NODES)
    g = Genotype(normal=edges, reduce=edges, normal_concat=tuple(first[:normal_concat]),
                 reduce_concat=tuple(first[:reduce_concat]))
    cells, total = _measure(g, proxy)
    pre = {(k, i): found[i] for k, (_, found) in enumerate(cells) for i in range(NUM_INPUT_NODES)}
    inside = [sum(c[j] for _, found in cells for c in found.values()) for j in (0, 1)]
    return pre, (total[0] - inside[0], total[1] - inside[1])


def _cell_costs(g: Genotype, proxy: Proxy) -> Tuple[List[Tuple[bool, List[float], List[float]]], Cost]:
    """Per proxy cell (reduction, node mult-adds, node params) on the graph's node order, and the
    network's totals (live modules only, as the network builds them)."""
    pre, frame = _frame_costs(len(g.normal_concat), len(g.reduce_concat), proxy)
    ops = _op_costs(proxy)
    out, total = [], list(frame)
    layers = proxy[1]
    reductions = reduction_layers(layers)
    for k in range(layers):
        reduction = k in reductions
        edges, concat = g.cell(reduction)
        live = live_states(edges, concat)
        flops, params = [0.0] * NUM_NODES, [0.0] * NUM_NODES
        for i in range(NUM_INPUT_NODES):
            if live[i]:
                flops[i], params[i] = pre[(k, i)]
        for e, (op, src) in enumerate(edges):
            if live[NUM_INPUT_NODES + e // 2]:
                flops[NUM_INPUT_NODES + e], params[NUM_INPUT_NODES + e] = ops[(k, op, src < NUM_INPUT_NODES)]
        total[0] += sum(flops)
        total[1] += sum(params)
        out.append((reduction, flops, params))
    return out, (total[0], total[1])


#: Op-type channels: one per op, and one for the inputs' self-loops and the edges into the output.
TYPE_CHANNELS: Tuple[Tuple[str, ...], ...] = (*((op,) for op in OPS), ('input0', 'input1', 'output'))
OP_TYPES = ('onehot', 'codes')


def _type_channels(adj: np.ndarray, ops: Sequence[str], op_types: str) -> List[np.ndarray]:
    if op_types == 'codes':  # ReNAS's type matrix: one channel of op codes
        return [renas_tensor(adj, [NODE_CODES[o] for o in ops], [])[0]]
    return [renas_tensor(adj, [1.0 if o in names else 0.0 for o in ops], [])[0] for names in TYPE_CHANNELS]


def num_channels(op_types: str = 'onehot', proxy: Proxy = PAPER_PROXY) -> int:
    return 2 * (1 if op_types == 'codes' else len(TYPE_CHANNELS)) + 2 * proxy[1]


def feature_tensors(genotypes: Sequence[Genotype], op_types: str = 'onehot', proxy: Proxy = PAPER_PROXY) -> np.ndarray:
    """``[n, 2 * 8 + 2 * 8, 11, 11]``: the normal cell's op-type channels (one per op, then one for the
    inputs and the output), the reduction cell's, then a mult-add matrix (millions) for each of the
    proxy's 8 cells, then a parameter matrix (thousands) for each, every cell's on its own cell type's
    graph. ``op_types='codes'`` gives ReNAS's single type matrix of op codes per cell type instead
    (``[n, 18, 11, 11]``): on NAS-Bench-301 a channel per op ranks far better (bench/README.md), since a
    code's size means nothing to the convolutions that read it."""
    if op_types not in OP_TYPES:
        raise ValueError(f'op_types={op_types!r}: choose one of {", ".join(OP_TYPES)}')
    out = []
    for g in genotypes:
        g = resolve_genotype(g)
        graphs = {red: cell_graph(*g.cell(red)) for red in (False, True)}
        cells, _ = _cell_costs(g, proxy)
        channels = [c for red in (False, True) for c in _type_channels(*graphs[red], op_types)]
        channels += [renas_tensor(graphs[red][0], flops, [])[0] for red, flops, _ in cells]
        channels += [renas_tensor(graphs[red][0], params, [])[0] for red, _, params in cells]
        out.append(np.stack(channels))
    return np.stack(out) if out else np.zeros((0, num_channels(op_types, proxy), NUM_NODES, NUM_NODES), np.float32)


def network_scores(genotypes: Sequence[Genotype], proxy: Proxy = PAPER_PROXY) -> np.ndarray:
    """``[n, 2]``: parameters and mult-adds (32x32) of each genotype's proxy network."""
    rows = []
    for g in genotypes:
        _, (flops, params) = _cell_costs(resolve_genotype(g), proxy)
        rows.append([round(params * 1e3), round(flops * 1e6)])  # whole counts, summed in floats
    return np.asarray(rows, dtype=np.float64).reshape(-1, 2)


def one_hot(genotypes: Sequence[Genotype]) -> np.ndarray:
    """``[n, 2 * 8 * (7 + 5)]``: every entry's op and input node one-hot, normal cell then reduction
    (the plain encoding of NAS-Bench-301's tree-based surrogates, for baselines)."""
    width = len(OPS) + NUM_INPUT_NODES + NUM_INTERMEDIATE_NODES - 1
    out = np.zeros((len(genotypes), 2, NUM_ENTRIES, width), dtype=np.float32)
    for n, g in enumerate(genotypes):
        g = resolve_genotype(g)
        for c, edges in enumerate((g.normal, g.reduce)):
            for e, (op, src) in enumerate(edges):
                out[n, c, e, OPS.index(op)] = 1
                out[n, c, e, len(OPS) + src] = 1
    return out.reshape(len(genotypes), -1)
