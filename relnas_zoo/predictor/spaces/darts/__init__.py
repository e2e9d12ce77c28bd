"""The DARTS space RelativeNAS searches: NASLib's NAS-Bench-301 keys, the cell graph, costs measured on a
proxy network and ReNAS's feature tensor (``cells``); :class:`DartsSpace` carries them for the predictor."""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from ...graph_features import CellGraph
from ....genotypes import resolve_genotype
from ..base import CODES_SETS, Recipe, Space
from .cells import (NODE_CODES, NUM_NODES, OP_TYPES, OPS, PAPER_PROXY, PROXY, NASLibKeyError, cell_graph, feature_tensors,
                    from_naslib_key, network_scores, num_channels, one_hot, proxy_net, to_naslib_key)

__all__ = ['DartsSpace', 'NASLibKeyError', 'from_naslib_key', 'to_naslib_key', 'cell_graph', 'feature_tensors',
           'network_scores', 'num_channels', 'one_hot', 'proxy_net', 'PROXY', 'PAPER_PROXY', 'OP_TYPES', 'NODE_CODES',
           'NUM_NODES', 'OPS']


class DartsSpace(Space):
    """The DARTS space RelativeNAS searches: NAS-Bench-301 tables (NASLib's compact keys) and this package's
    genotypes (search folders, genotype files) alike; ``relnas`` is its name for a search's genotypes. Costs
    and the feature tensor's cost channels are measured on a proxy network, ``(C, layers)``: the paper's
    (16, 8) unless a search gives its own."""
    name = 'nb301'
    aliases = ('relnas',)
    scores_available = ('params', 'mult_adds')
    has_codes_tensor = True
    # ReNAS's full batches overfit the few hundred architectures a table or a search has here: smaller
    # batches and fewer epochs rank better (bench/README.md, NAS-Bench-301)
    renas_recipe = Recipe(50, 16)
    # ops of a kind in one group: 127 unions of the 7 single ops are more figures than a few hundred
    # architectures can teach (bench/README.md)
    op_groups = (('skip_connect',), ('max_pool_3x3', 'avg_pool_3x3'), ('sep_conv_3x3', 'sep_conv_5x5'),
                 ('dil_conv_3x3', 'dil_conv_5x5'))
    builtin_tables = {'naslib': ('naslib_nb301', 'cifar10')}
    file_tables = True
    bench_train_sizes = (100, 200, 400, 600)  # of NASLib's 725
    bench_variants = ('graph', 'renas', 'renas+cost', 'params', 'mult_adds', 'rf')  # beside its baselines

    def __init__(self, proxy: Optional[Tuple[int, int]] = None):
        self.proxy = tuple(proxy) if proxy is not None else PAPER_PROXY

    def parse_arch(self, text):
        return from_naslib_key(text)

    def arch_name(self, arch):
        return to_naslib_key(arch)

    def cell_graphs(self, arch):
        g = resolve_genotype(arch)
        graphs = []
        for reduction in (False, True):
            adj, labels = cell_graph(*g.cell(reduction))
            graphs.append(CellGraph(np.asarray(adj), tuple(labels), (0, 1), len(adj) - 1))
        return graphs

    def _tensors(self, archs, feature_set):
        return feature_tensors(archs, op_types='codes' if feature_set in CODES_SETS else 'onehot', proxy=self.proxy)

    def _scores(self, archs):
        s = network_scores(archs, proxy=self.proxy)
        return dict(params=s[:, 0], mult_adds=s[:, 1])

    def one_hot(self, archs):
        return one_hot(archs)
