"""CPU training speed-ups as a module swap, in the style of ``nn.SyncBatchNorm.convert_sync_batchnorm``.

The network (``relnas_zoo.networks``, ``cells``, ``ops``) is stock PyTorch. Two of its modules have
faster CPU-training stand-ins with the same function, parameters and state-dict keys:

- every depthwise ``nn.Conv2d`` becomes a :class:`~relnas_zoo.depthwise.DepthwiseConv2d`, whose CPU
  backward avoids oneDNN's slow depthwise kernels (its own docstring says when it applies);
- every cell's :class:`~relnas_zoo.cells.ChannelConcat` becomes a :class:`DenseGradConcat`, whose backward
  hands each state a dense gradient.

Elsewhere (CUDA, autocast, inference, scripting, tracing, ``torch.compile``) both compute exactly what
the stock modules compute. The search's estimator and the trainers apply the swap on the CPU; the
measurements are in bench/README.md.
"""
from __future__ import annotations

from typing import List

import torch
from torch import nn

from .cells import ChannelConcat
from .depthwise import DepthwiseConv2d

__all__ = ['apply_cpu_training_speedups', 'DenseGradConcat']


class _ConcatDenseGrads(torch.autograd.Function):
    """``torch.cat`` over channels whose backward hands every input a dense gradient.

    Plain ``cat`` passes each input a channel slice of the output's gradient. In channels_last that slice
    is strided, and without drop-path (whose multiply makes a dense gradient) it reaches the BatchNorm
    ending the op that produced the state (the node's sum passes gradients on unchanged), where CPU BN
    backward on a strided gradient is many times slower than on a dense one. One copy per state is cheaper.
    """

    @staticmethod
    def forward(ctx, *states: torch.Tensor) -> torch.Tensor:
        ctx.widths = [s.shape[1] for s in states]
        cl = states[0].dim() == 4 and states[0].is_contiguous(memory_format=torch.channels_last)
        ctx.memory_format = torch.channels_last if cl else torch.contiguous_format
        return torch.cat(states, dim=1)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return tuple(g.contiguous(memory_format=ctx.memory_format) for g in grad.split(ctx.widths, dim=1))


class DenseGradConcat(ChannelConcat):
    """:class:`~relnas_zoo.cells.ChannelConcat` whose backward gives every state a dense gradient."""

    def forward(self, states: List[torch.Tensor]) -> torch.Tensor:
        if torch.jit.is_scripting() or not torch.is_grad_enabled() or isinstance(states[0], torch.fx.Proxy):
            return torch.cat(states, dim=1)
        return _ConcatDenseGrads.apply(*states)


def _is_depthwise(m: nn.Module) -> bool:
    return (type(m) is nn.Conv2d and m.groups == m.in_channels == m.out_channels and m.bias is None
            and m.padding_mode == 'zeros')


def _faster(m: nn.Module) -> nn.Module:
    if _is_depthwise(m):
        new = DepthwiseConv2d(m.in_channels, m.kernel_size, stride=m.stride, padding=m.padding,
                              dilation=m.dilation, device='meta')
        new.weight = m.weight  # the same Parameter: an optimizer built before the swap still holds it
    elif type(m) is ChannelConcat:
        new = DenseGradConcat()
    else:
        return m
    new.train(m.training)
    return new


def apply_cpu_training_speedups(model: nn.Module) -> nn.Module:
    """Swap the modules above into ``model`` (in place; also returned). Every parameter, buffer and
    state-dict key stays as it is; hooks registered on a swapped module do not move with it."""
    for name, child in list(model.named_children()):
        new = _faster(child)
        if new is not child:
            setattr(model, name, new)
        else:
            apply_cpu_training_speedups(child)
    return model
