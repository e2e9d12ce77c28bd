"""NAS-Bench-101: cell specs, their costs and ReNAS's feature tensor (``cells``); :class:`NB101Space`
carries them for the predictor."""
from __future__ import annotations

import numpy as np

from ...graph_features import CellGraph
from ..base import Space
from .cells import (MAX_VERTICES, NODE_CODES, Spec, SpecError, feature_tensors, from_naslib_key, network_mult_adds,
                    network_params, padded_cell, prune)

__all__ = ['NB101Space', 'Spec', 'SpecError', 'from_naslib_key', 'prune', 'feature_tensors', 'network_params',
           'network_mult_adds', 'NODE_CODES', 'MAX_VERTICES']


class NB101Space(Space):
    name = 'nb101'
    scores_available = ('params', 'mult_adds')
    builtin_tables = {'naslib': ('naslib_nb101', 'cifar10')}
    bench_train_sizes = (78, 156, 469, 781, 1563)
    op_groups = (('conv1x1-bn-relu',), ('conv3x3-bn-relu',), ('maxpool3x3',))

    def arch_name(self, arch):
        import json
        return json.dumps(dict(matrix=arch.matrix, ops=arch.ops))

    def cell_graphs(self, arch):
        adj, labels = padded_cell(arch)  # 7 vertices, as the tensor pads them: one shape for every cell
        return [CellGraph(adj, tuple(labels), (0,), MAX_VERTICES - 1)]

    def _tensors(self, archs, feature_set):
        return feature_tensors(archs)

    def _scores(self, archs):
        params, flops = [], []
        for spec in archs:
            spec = prune(spec)
            params.append(network_params(spec))
            flops.append(network_mult_adds(spec))
        return dict(params=np.asarray(params, float), mult_adds=np.asarray(flops, float))
