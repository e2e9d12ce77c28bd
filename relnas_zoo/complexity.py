"""Parameter and mult-add counts, measured the way the paper's figures were measured.

Mult-adds are ``torch.utils.flop_counter.FlopCounterMode`` total FLOPs / 2 for one image in eval mode
(convolutions and linear layers; pooling, BN and activations count zero).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

__all__ = ['count_params', 'count_mult_adds', 'mult_adds', 'MultAdds', 'mult_adds_by_module', 'Complexity', 'measure']


def count_params(model: nn.Module, include_aux: bool = False) -> int:
    return sum(p.numel() for n, p in model.named_parameters()
               if include_aux or not n.startswith('auxiliary_head.'))


class MultAdds(NamedTuple):
    total: int         # every layer torch's FLOP counter sees
    authors_rule: int  # only inside Conv2d and Linear modules: what the authors' hook-based counter counts


@torch.no_grad()
def mult_adds(model: nn.Module, x: torch.Tensor, forward: Optional[Callable[[torch.Tensor], Any]] = None) -> MultAdds:
    """Mult-adds (FLOPs / 2) of one call of ``forward`` (default: ``model``) on ``x``, both ways of counting.

    The caller picks train/eval mode; on the meta device (model and ``x``) nothing is computed.
    """
    counter = FlopCounterMode(display=False)
    inside, started = [0], {}

    def enter(module: nn.Module, args: Any) -> None:
        started[id(module)] = counter.get_total_flops()

    def leave(module: nn.Module, args: Any, out: Any) -> None:
        inside[0] += counter.get_total_flops() - started.pop(id(module))
    hooks = [h for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))
             for h in (m.register_forward_pre_hook(enter), m.register_forward_hook(leave))]
    try:
        with counter:
            (forward or model)(x)
    finally:
        for h in hooks:
            h.remove()
    return MultAdds(counter.get_total_flops() // 2, inside[0] // 2)


def count_mult_adds(model: nn.Module, input_size: Sequence[int], authors_rule: bool = False) -> int:
    """Mult-adds of one eval-mode forward pass on a single image of ``input_size`` (C, H, W), on the
    model's own device (a model built with ``device='meta'`` is counted without computing anything)."""
    was_training = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        counts = mult_adds(model, torch.zeros(1, *input_size, device=device))
        return counts.authors_rule if authors_rule else counts.total
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
    live = timm.create_model(model_name, device='meta', **kwargs)  # counts need shapes, not weights
    size = tuple(input_size) or tuple(live.pretrained_cfg['input_size'])
    published = timm.create_model(model_name, prune_unused=False, device='meta', **kwargs)
    return Complexity(
        params=count_params(live), mult_adds=count_mult_adds(live, size),
        published_params=count_params(published), published_mult_adds=count_mult_adds(published, size),
        feature_info=[dict(f) for f in live.feature_info])
