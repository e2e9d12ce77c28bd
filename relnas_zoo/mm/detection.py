"""mmdet parts for SSDLite on RelativeNAS: the extra-level neck and an SSD head that can validate.

mmdet 3.3.0's shared dense-head prediction code reads ``self.loss_cls``, which ``SSDHead`` never builds
(open-mmlab/mmdetection#11063, fixed by the unreleased PR #11524): training works, the first validation
dies. ``SSDLiteHead`` is ``SSDHead`` with that attribute present, so configs that use it validate.
"""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import torch
from mmdet.models.dense_heads import SSDHead
from mmdet.models.layers import InvertedResidual
from mmdet.registry import MODELS
from mmengine.model import BaseModule
from torch import nn

__all__ = ['SSDLiteHead', 'SSDLiteExtraLevels']


class _NoCustomClassLoss:
    """Stands in for the classification loss object SSDHead does not have (its loss is built in)."""
    custom_cls_channels = False


@MODELS.register_module(force=True)
class SSDLiteHead(SSDHead):
    """``SSDHead`` that can run mmdet 3.3.0's prediction path (see the module docstring)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.loss_cls = _NoCustomClassLoss()


@MODELS.register_module(force=True)
class SSDLiteExtraLevels(BaseModule):
    """Pass the backbone levels through and add stride-2 inverted-residual levels after the last one.

    Each extra level is a MobileNetV2 inverted residual (1x1 conv to the hidden width, stride-2 depthwise
    3x3, linear 1x1 projection to ``out``). The hidden width is ``int(in * ratio)`` for
    ``expand_ratios`` (the authors' SSDLite: 0.2, 0.25, 0.5, 0.25, i.e. 147, 128, 128 and 64 channels after
    736 input channels), or ``out // 2`` (the usual SSDLite extra block) without them. The paper's
    RelativeNAS SSDLite uses four levels with 512, 256, 256 and 64 channels.
    """

    def __init__(self, in_channels: Sequence[int], extra_channels: Sequence[int] = (512, 256, 256, 64),
                 expand_ratios: Optional[Sequence[float]] = None,
                 norm_cfg: dict = dict(type='BN', eps=0.001, momentum=0.03), act_cfg: dict = dict(type='ReLU6'),
                 init_cfg=dict(type='TruncNormal', layer='Conv2d', std=0.03)):
        super().__init__(init_cfg)
        self.in_channels = tuple(in_channels)
        if expand_ratios is not None and len(expand_ratios) != len(extra_channels):
            raise ValueError(f'expand_ratios={tuple(expand_ratios)} needs one ratio per extra level '
                             f'({len(extra_channels)})')
        layers: List[nn.Module] = []
        prev = self.in_channels[-1]
        for i, out in enumerate(extra_channels):
            hidden = int(prev * expand_ratios[i]) if expand_ratios is not None else out // 2
            layers.append(InvertedResidual(prev, out, mid_channels=hidden, kernel_size=3, stride=2,
                                           norm_cfg=norm_cfg, act_cfg=act_cfg))
            prev = out
        self.extra_layers = nn.ModuleList(layers)
        self.out_channels = self.in_channels + tuple(extra_channels)

    def forward(self, inputs: Tuple[torch.Tensor, ...]) -> Tuple[torch.Tensor, ...]:
        outs = list(inputs)
        x = outs[-1]
        for layer in self.extra_layers:
            x = layer(x)
            outs.append(x)
        return tuple(outs)
