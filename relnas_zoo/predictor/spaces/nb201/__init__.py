"""NAS-Bench-201: its cells and their strings and keys (``cells``), the benchmark's network (``network``),
ReNAS's feature tensor (``tensor``) and the cached training-free scores (``scores``); :class:`NB201Space`
carries them for the predictor."""
from __future__ import annotations

import numpy as np

from ...graph_features import CellGraph
from ..base import Recipe, Space
from .cells import (CELL_VECTORS, EDGES, NASLIB_OP_IDS, OPS, STAGES, ArchStringError, Cell, all_cells, bounds, decode,
                    encode_vector, from_naslib_key, parse_arch_string, to_arch_string, to_naslib_key)
from .network import NB201Network
from .scores import SCORE_NAMES, cell_scores, nb201_scores_for
from .tensor import feature_tensors, node_graph, op_costs

__all__ = ['NB201Space', 'OPS', 'EDGES', 'NASLIB_OP_IDS', 'STAGES', 'Cell', 'ArchStringError', 'parse_arch_string',
           'to_arch_string', 'from_naslib_key', 'to_naslib_key', 'all_cells', 'bounds', 'decode', 'encode_vector',
           'CELL_VECTORS', 'NB201Network', 'feature_tensors', 'node_graph', 'op_costs', 'cell_scores']


class NB201Space(Space):
    name = 'nb201'
    renas_recipe = Recipe(200, 1024, 'renas+zc')  # the training-free scores rank better beside the tensor here
    op_groups = tuple((op,) for op in OPS if op != 'none')
    scores_available = ('params', 'mult_adds', 'synflow')
    builtin_tables = {'analog-nasbench': ('analog_nasbench', 'baseline_accuracy'), 'naslib': ('naslib_nb201', 'cifar10')}
    file_tables = True
    bench_train_sizes = (78, 156, 469, 781, 1563)  # 0.5/1/3/5/10% of the space
    bench_variants = ('graph', 'renas', 'renas+zc', 'rf')  # the default, ReNAS as published, a tree model

    def __init__(self):
        self._costs = None

    def parse_arch(self, text):
        return parse_arch_string(text)

    def arch_name(self, arch):
        return to_arch_string(arch)

    def cell_graphs(self, arch):
        adj, labels = node_graph(arch)
        return [CellGraph(np.asarray(adj), tuple(labels), (0,), len(adj) - 1)]

    def _tensors(self, archs, feature_set):
        if self._costs is None:
            self._costs = op_costs()
        return feature_tensors(archs, self._costs)

    def _scores(self, archs):
        table = nb201_scores_for(archs)
        return {n: table[:, i] for i, n in enumerate(SCORE_NAMES)}

    def one_hot(self, archs):
        out = np.zeros((len(archs), 6, len(OPS)), dtype=np.float32)
        for n, cell in enumerate(archs):
            for e, op in enumerate(cell):
                out[n, e, OPS.index(op)] = 1
        return out.reshape(len(archs), -1)
