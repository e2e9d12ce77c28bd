"""Parameter and mult-add counts, measured the way the paper's figures were measured.

Mult-adds are ``torch.utils.flop_counter.FlopCounterMode`` total FLOPs / 2 for one image in eval mode
(convolutions and linear layers; pooling, BN and activations count zero).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Sequence

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

__all__ = ['count_params', 'count_mult_adds', 'mult_adds_by_module', 'Complexity', 'measure']


def count_params(model: nn.Module, include_aux: bool = False) -> int:
    return sum(p.numel() for n, p in model.named_parameters()
               if include_aux or not n.startswith('auxiliary_head.'))


@torch.no_grad()
def count_mult_adds(model: nn.Module, input_size: Sequence[int]) -> int:
    """Mult-adds of one forward pass on a single image of ``input_size`` (C, H, W)."""
    was_training = model.training
    model.eval()
    try:
        x = torch.zeros(1, *input_size)
        counter = FlopCounterMode(display=False)
        with counter:
            model(x)
        return counter.get_total_flops() // 2
    finally:
        model.train(was_training)


@torch.no_grad()
def mult_adds_by_module(model: nn.Module, x: torch.Tensor) -> Dict[str, int]:
    """Mult-adds of one forward pass of ``x`` per module name (``''`` is the whole model; a module's
    count includes its children). The caller picks train/eval mode and dtype."""
    counter = FlopCounterMode(display=False)
    with counter:
        model(x)
    root = type(model).__name__
    out: Dict[str, int] = {}
    for name, ops in counter.get_flop_counts().items():
        if name == 'Global':
            continue
        key = '' if name == root else name[len(root) + 1:] if name.startswith(root + '.') else None
        if key is not None:
            out[key] = sum(ops.values()) // 2
    return out


@dataclass
class Complexity:
    params: int
    mult_adds: int
    published_params: int
    published_mult_adds: int
    feature_info: List[Dict[str, Any]]

    @property
    def dead_params(self) -> int:
        return self.published_params - self.params

    @property
    def dead_mult_adds(self) -> int:
        return self.published_mult_adds - self.mult_adds


def measure(model_name: str, input_size: Sequence[int] = (), **kwargs: Any) -> Complexity:
    """Live and as-published (authors' layout, dead weights included) counts of a registered model."""
    import timm
    live = timm.create_model(model_name, **kwargs)
    size = tuple(input_size) or tuple(live.pretrained_cfg['input_size'])
    published = timm.create_model(model_name, prune_unused=False, **kwargs)
    return Complexity(
        params=count_params(live), mult_adds=count_mult_adds(live, size),
        published_params=count_params(published), published_mult_adds=count_mult_adds(published, size),
        feature_info=[dict(f) for f in live.feature_info])
