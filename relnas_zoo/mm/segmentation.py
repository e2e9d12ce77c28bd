"""BiSeNet (V1) wired as the paper and the RelativeNAS authors' code build it, on mmseg's modules.

* Fusion: mmseg's ``BiSeNetV1`` feeds its feature-fusion module ``context_channels[1]`` channels, the width
  of the backbone's stride-16 level, and so forces ``spatial_channels[-1] = context_channels[1] -
  context_channels[0]``. BiSeNet itself (and the authors' ``BiSeNet/BiSeNet.py``) fuses the 128-channel
  spatial path with the 128-channel context path whatever the backbone, with a 1x1 bottleneck attention
  (out/4, ReLU, no BN) where mmseg uses one out x out 1x1 conv with BN. ``BiSeNetV1Paper`` restores both.
* Norms and activations: mmseg builds the context path, spatial path and fusion module without passing
  its ``norm_cfg``/``act_cfg`` on. ``BiSeNetV1Paper`` passes them to every conv-norm-activation it owns.
  The authors' are in-place activated batch norms (``InPlaceABNSync``): a batch norm whose scale is
  ``|weight| + eps`` (``modules/src/inplace_abn_cpu.cpp:56``) followed by LeakyReLU(0.01)
  (``modules/bn.py:19``); ``AbsAffineBN`` is that norm, synchronised over the GPUs of a distributed run.
* Test: the authors' sliding-window test sums ``exp(softmax(logits))`` over the windows (``valid.py:52``)
  where mmseg averages logits; ``WindowProbEncoderDecoder`` combines windows so (same windows).
* Heads: the authors' output convolutions have no bias (``BiSeNetOutput``) and no dropout:
  ``BiSeNetOutputHead``.
"""
from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmseg.models.backbones.bisenetv1 import AttentionRefinementModule, BiSeNetV1, ContextPath, SpatialPath
from mmseg.models.decode_heads import FCNHead
from mmseg.models.segmentors import EncoderDecoder
from mmseg.registry import MODELS
from torch import nn

__all__ = ['AbsAffineBN', 'BiSeNetV1Paper', 'PaperFeatureFusion', 'WindowProbEncoderDecoder', 'BiSeNetOutputHead']


@MMENGINE_MODELS.register_module(force=True)
class AbsAffineBN(nn.BatchNorm2d):
    """Batch norm whose scale is ``|weight| + eps``: the affine part of an in-place activated batch norm
    (the activation is the conv module's ``act_cfg``). With ``sync=True`` the statistics are synchronised
    over the processes of a distributed CUDA run, like ``SyncBN``; elsewhere it is a plain batch norm.
    ``norm_cfg=dict(type='AbsAffineBN')``."""

    _abbr_ = 'bn'

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, affine: bool = True,
                 track_running_stats: bool = True, sync: bool = True, process_group=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats)
        self.sync = sync
        self.process_group = process_group

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.weight.abs() + self.eps if self.affine else None
        if self.training and self.track_running_stats:
            self.num_batches_tracked.add_(1)
        use_batch = self.training or not self.track_running_stats
        if (self.sync and use_batch and x.is_cuda and dist.is_available() and dist.is_initialized()
                and dist.get_world_size(self.process_group) > 1):
            from torch.nn.modules._functions import SyncBatchNorm as _SyncBatchNormFunction
            return _SyncBatchNormFunction.apply(x, scale, self.bias, self.running_mean, self.running_var, self.eps,
                                                self.momentum, self.process_group or dist.group.WORLD,
                                                dist.get_world_size(self.process_group))
        return F.batch_norm(x, self.running_mean if not self.training or self.track_running_stats else None,
                            self.running_var if not self.training or self.track_running_stats else None,
                            scale, self.bias, use_batch, self.momentum, self.eps)


class PaperFeatureFusion(BaseModule):
    """Concatenated paths -> 1x1 conv-norm-act -> x + x * sigmoid(bottleneck(global average of x))."""

    def __init__(self, in_channels: int, out_channels: int, norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='ReLU'), init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.conv1 = ConvModule(in_channels, out_channels, 1, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.gap = nn.AdaptiveAvgPool2d((1, 1))
        self.conv_atten = nn.Sequential(  # a real ReLU and no norm here, also in the authors' code
            nn.Conv2d(out_channels, out_channels // 4, 1, bias=False),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels // 4, out_channels, 1, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, x_sp: torch.Tensor, x_cp: torch.Tensor) -> torch.Tensor:
        fused = self.conv1(torch.cat([x_sp, x_cp], dim=1))
        return fused + fused * self.conv_atten(self.gap(fused))


@MODELS.register_module(force=True)
class BiSeNetV1Paper(BiSeNetV1):
    """mmseg's BiSeNetV1 whose fusion module reads ``spatial_channels[-1] + context_channels[0]`` channels
    and has the paper's attention bottleneck, and whose every conv module takes ``norm_cfg`` and
    ``act_cfg``; ``context_channels[1:]`` are the backbone's stride-16 and stride-32 widths."""

    def __init__(self, backbone_cfg: dict, in_channels: int = 3, spatial_channels=(64, 64, 64, 128),
                 context_channels=(128, 256, 512), out_indices=(0, 1, 2), align_corners: bool = False,
                 out_channels: int = 256, conv_cfg=None, norm_cfg: dict = dict(type='BN', requires_grad=True),
                 act_cfg: dict = dict(type='ReLU'), init_cfg=None):
        if len(spatial_channels) != 4 or len(context_channels) != 3:
            raise ValueError(f'spatial_channels={tuple(spatial_channels)} needs 4 widths and '
                             f'context_channels={tuple(context_channels)} 3')
        BaseModule.__init__(self, init_cfg=init_cfg)  # BiSeNetV1's own would build its paths without the cfgs
        self.out_indices = out_indices
        self.align_corners = align_corners
        self.conv_cfg, self.norm_cfg, self.act_cfg = conv_cfg, norm_cfg, act_cfg
        cfgs = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.context_path = ContextPath(backbone_cfg, context_channels, align_corners, **cfgs)
        for level, width in (('arm16', context_channels[1]), ('arm32', context_channels[2])):
            # mmseg's ContextPath builds its attention refinement modules without its cfgs
            setattr(self.context_path, level, AttentionRefinementModule(width, context_channels[0], **cfgs))
        self.spatial_path = SpatialPath(in_channels, spatial_channels, **cfgs)
        self.ffm = PaperFeatureFusion(spatial_channels[-1] + context_channels[0], out_channels, norm_cfg=norm_cfg,
                                      act_cfg=act_cfg)


@MODELS.register_module(force=True)
class BiSeNetOutputHead(FCNHead):
    """``FCNHead`` whose final 1x1 classifier has no bias, as BiSeNet's output heads."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.conv_seg = nn.Conv2d(self.channels, self.out_channels, kernel_size=1, bias=False)


@MODELS.register_module(force=True)
class WindowProbEncoderDecoder(EncoderDecoder):
    """``EncoderDecoder`` whose sliding-window test combines the windows' ``exp(softmax(logits))`` (the
    authors' BiSeNet test) instead of their logits; the windows, and every other mode, are mmseg's. The
    returned map is the mean over windows, whose argmax is that of the authors' sum."""

    _window_probs = False

    def slide_inference(self, inputs, batch_img_metas):
        self._window_probs = True
        try:
            return super().slide_inference(inputs, batch_img_metas)
        finally:
            self._window_probs = False

    def encode_decode(self, inputs, batch_img_metas):
        logits = super().encode_decode(inputs, batch_img_metas)
        return logits.softmax(dim=1).exp() if self._window_probs else logits
