"""The weight set Omega (paper §3.3, Eq. 5 and 6): weights for every (cell, edge, op) of the proxy network.

An edge is a connection from an input node to an intermediate node: intermediate node k (k = 0..3)
can read nodes 0 .. k+1, so a cell has 2 + 3 + 4 + 5 = 14 edges, and Omega keeps every op on each of
them (the authors' search network holds one module per (node, input node, op)). In a reduction cell
the edges from the two cell inputs hold stride-2 ops, the others stride-1 ops.

Candidates are ordinary :class:`~relnas_zoo.networks.RelativeNASNet` instances holding only their own
ops. A candidate key ``cells.3.nodes.1.op2.op.1.weight`` is the second input of node 1 of cell 3; if
the genotype reads node 2 through ``sep_conv_3x3`` there, Omega stores it under
``cells.3.nodes.1.from2.sep_conv_3x3.op.1.weight``. Stem, preprocess and classifier keys are shared and
stored as they are.
"""
from __future__ import annotations

import re
from typing import Any, Dict, Iterable, Mapping

import torch

from ..genotypes import NUM_INPUT_NODES, NUM_INTERMEDIATE_NODES, OPS, Genotype
from ..networks import RelativeNASNet, reduction_layers

__all__ = ['WeightSet', 'omega_key', 'PROXY_NET_ARGS']

# Every proxy network the search builds: a node whose two inputs are the same (op, input node) is one
# edge with one weight, applied twice (as in the authors' search network), so Omega receives one
# trained value per edge rather than two competing copies.
PROXY_NET_ARGS = dict(share_duplicate_edges=True)

_NODE_KEY = re.compile(r'^cells\.(\d+)\.nodes\.(\d+)\.op([12])\.(.*)$')


def omega_key(key: str, genotype: Genotype, layers: int) -> str:
    """Omega's name for a candidate's state-dict ``key``: (cell, node, input node, op)."""
    m = _NODE_KEY.match(key)
    if not m:
        return key
    cell, node, slot, rest = int(m.group(1)), int(m.group(2)), int(m.group(3)), m.group(4)
    edges, _ = genotype.cell(cell in reduction_layers(layers))
    op, src = edges[2 * node + slot - 1]
    return f'cells.{cell}.nodes.{node}.from{src}.{op}.{rest}'


def _all_edge_genotypes() -> Iterable[Genotype]:
    """Genotypes that together instantiate every op on every edge (node k reads each of 0 .. k+1)."""
    max_inputs = NUM_INPUT_NODES + NUM_INTERMEDIATE_NODES - 1
    for op in OPS:
        for first in range(0, max_inputs, 2):
            edges = tuple((op, min(first + slot, k + 1))
                          for k in range(NUM_INTERMEDIATE_NODES) for slot in range(2))
            yield Genotype(normal=edges, reduce=edges, name=f'all_{op}_{first}')


class WeightSet:
    """Omega as a flat dict of tensors (parameters and BN buffers)."""

    def __init__(self, tensors: Mapping[str, torch.Tensor], layers: int):
        self.tensors: Dict[str, torch.Tensor] = dict(tensors)
        self.layers = layers

    @classmethod
    def initial(cls, seed: int, device: torch.device = torch.device('cpu'), **net_args: Any) -> 'WeightSet':
        """Freshly initialised weights for every op on every edge (deterministic in ``seed``)."""
        tensors: Dict[str, torch.Tensor] = {}
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            for g in _all_edge_genotypes():
                net = RelativeNASNet(genotype=g, **PROXY_NET_ARGS, **net_args)
                for k, v in net.state_dict().items():
                    tensors.setdefault(omega_key(k, g, net.layers), v.detach().to(device).clone())
        return cls(tensors, net_args['layers'])

    def __len__(self) -> int:
        return len(self.tensors)

    def num_elements(self) -> int:
        return sum(t.numel() for t in self.tensors.values())

    def load_into(self, model: RelativeNASNet) -> None:
        """Give ``model`` its ops' weights from Omega (Eq. 5: the candidate inherits)."""
        with torch.no_grad():
            for k, v in model.state_dict(keep_vars=True).items():
                v.copy_(self.tensors[omega_key(k, model.genotype, self.layers)])

    def extract(self, model: RelativeNASNet) -> Dict[str, torch.Tensor]:
        """A trained candidate's weights under Omega's names (copies, detached)."""
        return {omega_key(k, model.genotype, self.layers): v.detach().clone()
                for k, v in model.state_dict().items()}

    def merge(self, fast: Mapping[str, torch.Tensor], slow: Mapping[str, torch.Tensor]) -> None:
        """Eq. 6: all of the fast-learner's weights; the slow-learner's for what the fast one lacks."""
        for k, v in slow.items():
            if k not in fast:
                self.tensors[k].copy_(v)
        for k, v in fast.items():
            self.tensors[k].copy_(v)

    def merge_single(self, weights: Mapping[str, torch.Tensor]) -> None:
        """Take one candidate's weights (its pair partner's loss was not finite)."""
        self.merge(weights, {})

    def state_dict(self) -> Dict[str, torch.Tensor]:
        return {k: v.detach().cpu() for k, v in self.tensors.items()}

    def load_state_dict(self, state: Mapping[str, torch.Tensor]) -> None:
        missing = set(self.tensors) - set(state)
        unexpected = set(state) - set(self.tensors)
        if missing or unexpected:
            raise ValueError(f'weight set does not match this proxy network: {len(missing)} missing, '
                             f'{len(unexpected)} unexpected tensors (e.g. {sorted(missing or unexpected)[:3]})')
        for k, v in state.items():
            self.tensors[k].copy_(v)
