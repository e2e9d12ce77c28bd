"""The one cell definition, shared by the zoo networks, the search proxy and the OpenMMLab backbones.

A cell only builds what its output depends on: an input node that no live edge reads gets no
preprocess layer, and an intermediate node outside the concat that no live node reads gets no ops.
``prune_unused=False`` builds and runs them anyway, as the authors' code does (their published counts
include those dead weights).

The ReLU that starts every conv op (and the strided skip) is applied once per state, not once per op
that reads it (``relu_input=False`` in ``relnas_zoo.ops``): same outputs and gradients, one saved
activation per state in training and one ReLU per state in an exported graph. The same holds one level
up: a network builds its cells with ``activated_inputs`` and applies the ReLU of each cell output once
for the preprocess layers of the next two cells.
"""
from typing import List, Sequence, Tuple

import torch
from torch import nn

from .genotypes import NUM_INPUT_NODES, Edge
from .ops import FactorizedReduce, ReLUConvBN, ScheduledDropPath, build_op, is_identity_op, reads_activated_input

__all__ = ['Node', 'Cell', 'ChannelConcat', 'live_states']


class ChannelConcat(nn.Module):
    """``torch.cat`` of a cell's output states over channels (a module, so that a training speed-up can
    swap it: ``relnas_zoo.speedups``)."""

    def forward(self, states: List[torch.Tensor]) -> torch.Tensor:
        return torch.cat(states, dim=1)


def live_states(edges: Sequence[Edge], concat: Sequence[int]) -> List[bool]:
    """For each state (2 inputs + intermediate nodes): does the cell output depend on it?"""
    n_states = NUM_INPUT_NODES + len(edges) // 2
    live = [False] * n_states
    stack = list(concat)
    while stack:
        s = stack.pop()
        if live[s]:
            continue
        live[s] = True
        if s >= NUM_INPUT_NODES:
            k = s - NUM_INPUT_NODES
            stack += [edges[2 * k][1], edges[2 * k + 1][1]]
    return live


class Node(nn.Module):
    """An intermediate node: the sum of two ops, each applied to an earlier state.

    ``act1``/``act2``: the op reads the activated (ReLU'd) state rather than the state itself.
    """

    def __init__(self, op1: nn.Module, in1: int, op2: nn.Module, in2: int, drop_path_rate: float = 0.,
                 act1: bool = False, act2: bool = False, device=None):
        super().__init__()
        self.in1 = in1
        self.in2 = in2
        self.act1 = act1
        self.act2 = act2
        self.op1 = op1
        self.op2 = op2
        self.drop1 = nn.Identity() if is_identity_op(op1) else ScheduledDropPath(drop_path_rate, device=device)
        self.drop2 = nn.Identity() if is_identity_op(op2) else ScheduledDropPath(drop_path_rate, device=device)

    def forward(self, states: List[torch.Tensor], activated: List[torch.Tensor]) -> torch.Tensor:
        x1 = activated[self.in1] if self.act1 else states[self.in1]
        x2 = activated[self.in2] if self.act2 else states[self.in2]
        return self.drop1(self.op1(x1)) + self.drop2(self.op2(x2))


class Cell(nn.Module):
    """A normal or reduction cell built from one cell of a genotype.

    Args:
        edges: the cell's (op, input node) pairs, two per intermediate node.
        concat: intermediate nodes concatenated into the output.
        c_prev_prev, c_prev: channels of the two cell inputs.
        channels: channels of every node inside the cell (``C``).
        reduction: halve the resolution (ops on the input nodes get stride 2).
        reduction_prev: the previous cell reduced, so input 0 is at twice the resolution of input 1.
        drop_path_rate: per-sample drop-path on every non-identity edge.
        prune_unused: skip inputs and nodes the output does not depend on.
        share_duplicate_edges: when both inputs of a node are the same (op, input node), build one
            module and apply it twice. That is one edge of the search space with one weight, as in the
            authors' search network; the evaluation network (and the authors' model.py) keeps two.
        activated_inputs: the caller passes ``relu(s0)``, ``relu(s1)``, and the preprocess layers leave
            out their leading ReLU. A network uses it because every cell output is read by the
            preprocess layers of the next two cells: one ReLU (and one saved activation) instead of two.
    """

    def __init__(
            self,
            edges: Sequence[Edge],
            concat: Sequence[int],
            c_prev_prev: int,
            c_prev: int,
            channels: int,
            reduction: bool,
            reduction_prev: bool,
            drop_path_rate: float = 0.,
            prune_unused: bool = True,
            share_duplicate_edges: bool = False,
            activated_inputs: bool = False,
            device=None,
            dtype=None,
    ):
        super().__init__()
        dd = dict(device=device, dtype=dtype)
        pre_dd = dict(relu_input=not activated_inputs, **dd)
        self.reduction = reduction
        live = live_states(edges, concat) if prune_unused else [True] * (NUM_INPUT_NODES + len(edges) // 2)
        self.uses_input0 = live[0]
        self.uses_input1 = live[1]
        # An unread input keeps an Identity placeholder so the state list keeps its positions.
        if live[0]:
            self.preprocess0 = (FactorizedReduce(c_prev_prev, channels, **pre_dd) if reduction_prev
                                else ReLUConvBN(c_prev_prev, channels, **pre_dd))
        else:
            self.preprocess0 = nn.Identity()
        self.preprocess1 = ReLUConvBN(c_prev, channels, **pre_dd) if live[1] else nn.Identity()

        # Position of every live state in the runtime state list; dead nodes get none.
        position = {0: 0, 1: 1}
        activated = set()
        self.nodes = nn.ModuleDict()
        for k in range(len(edges) // 2):
            state = NUM_INPUT_NODES + k
            if not live[state]:
                continue
            built = []
            for name, src in (edges[2 * k], edges[2 * k + 1]):
                stride = 2 if reduction and src < NUM_INPUT_NODES else 1
                act = reads_activated_input(name, stride)
                if act:
                    activated.add(position[src])
                built.append((build_op(name, channels, stride, relu_input=not act, **dd), position[src], act))
            (op1, in1, act1), (op2, in2, act2) = built
            if share_duplicate_edges and edges[2 * k] == edges[2 * k + 1]:
                op2 = op1
            self.nodes[str(k)] = Node(op1, in1, op2, in2, drop_path_rate, act1, act2, device=device)
            position[state] = len(position)
        self.concat: List[int] = [position[c] for c in concat]
        # Per runtime state: does some op read its activation (computed once in forward)?
        self.activate: List[bool] = [i in activated for i in range(len(position))]
        self.out_channels = len(concat) * channels
        self.join = ChannelConcat()

    def forward(self, s0: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        activated = [torch.relu(s) if self.activate[i] else s for i, s in enumerate(states)]
        for node in self.nodes.values():
            out = node(states, activated)
            activated.append(torch.relu(out) if self.activate[len(states)] else out)
            states.append(out)
        return self.join([states[i] for i in self.concat])


def unused_prefixes(edges: Sequence[Edge], concat: Sequence[int]) -> Tuple[str, ...]:
    """Module names, relative to a cell, that ``prune_unused`` leaves out."""
    live = live_states(edges, concat)
    out = [f'preprocess{i}.' for i in range(NUM_INPUT_NODES) if not live[i]]
    out += [f'nodes.{s - NUM_INPUT_NODES}.' for s in range(NUM_INPUT_NODES, len(live)) if not live[s]]
    return tuple(out)
