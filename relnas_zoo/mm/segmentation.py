"""BiSeNet (V1) wired as the paper and the RelativeNAS authors' code build it, on mmseg's modules.

mmseg's ``BiSeNetV1`` feeds its feature-fusion module ``context_channels[1]`` channels, the width of the
backbone's stride-16 level, and so forces ``spatial_channels[-1] = context_channels[1] - context_channels[0]``.
BiSeNet itself (and the authors' transfer code) fuses the 128-channel spatial path with the 128-channel
context path whatever the backbone: a backbone narrower than 128 channels at stride 16 (MobileNet-V2 and
MnasNet: 96) cannot be expressed in mmseg's wiring, and a wider one changes the fusion module's size. The
authors' fusion attention is also a 1x1 bottleneck (out/4, ReLU, no BN) where mmseg uses one out x out
1x1 conv with BN. ``BiSeNetV1Paper`` restores both, so every backbone of Table 6 sits in the same head.
"""
from __future__ import annotations

import torch
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from mmseg.models.backbones.bisenetv1 import BiSeNetV1
from mmseg.registry import MODELS
from torch import nn

__all__ = ['BiSeNetV1Paper', 'PaperFeatureFusion']


class PaperFeatureFusion(BaseModule):
    """Concatenated paths -> 1x1 conv-BN-ReLU -> x + x * sigmoid(bottleneck(global average of x))."""

    def __init__(self, in_channels: int, out_channels: int, norm_cfg: dict = dict(type='BN'), init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.conv1 = ConvModule(in_channels, out_channels, 1, norm_cfg=norm_cfg, act_cfg=dict(type='ReLU'))
        self.gap = nn.AdaptiveAvgPool2d((1, 1))
        self.conv_atten = nn.Sequential(
            nn.Conv2d(out_channels, out_channels // 4, 1, bias=False),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels // 4, out_channels, 1, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, x_sp: torch.Tensor, x_cp: torch.Tensor) -> torch.Tensor:
        fused = self.conv1(torch.cat([x_sp, x_cp], dim=1))
        return fused + fused * self.conv_atten(self.gap(fused))


@MODELS.register_module()
class BiSeNetV1Paper(BiSeNetV1):
    """mmseg's BiSeNetV1 whose fusion module reads ``spatial_channels[-1] + context_channels[0]`` channels
    and has the paper's attention bottleneck; ``context_channels[1:]`` are the backbone's stride-16 and
    stride-32 widths, nothing else depends on them."""

    def __init__(self, backbone_cfg: dict, spatial_channels=(64, 64, 64, 128), context_channels=(128, 256, 512),
                 out_channels: int = 256, norm_cfg: dict = dict(type='BN', requires_grad=True), **kwargs):
        super().__init__(backbone_cfg, spatial_channels=spatial_channels, context_channels=context_channels,
                         out_channels=out_channels, norm_cfg=norm_cfg, **kwargs)
        self.ffm = PaperFeatureFusion(spatial_channels[-1] + context_channels[0], out_channels, norm_cfg=norm_cfg)
