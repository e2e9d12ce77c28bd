"""mmdet parts for SSDLite on RelativeNAS: the extra-level neck, the head, its anchors and post-processing
as the authors' SSDLite (EMI-Group/TransferLearning-Tasks, SSDLite/vision/ssd/), which their released
models were trained and tested with.

* ``SSDLiteHead``: mmdet's ``SSDHead`` that can validate (mmdet 3.3.0's shared prediction code reads
  ``self.loss_cls``, which ``SSDHead`` never builds: open-mmlab/mmdetection#11063), with two options of the
  authors' heads (``ops.py:6-14``, ``ssd_mobile.py:23-39``): a bias on the depthwise convolution before its
  BN (``depthwise_bias``) and levels whose heads are one plain 1x1 convolution (``plain_levels``); and,
  when ``test_cfg`` has ``per_class_candidates``, the authors' post-processing (``predictor.py:47-58``,
  ``box_utils.py:198-223``): per class, scores above ``score_thr``, the ``per_class_candidates`` best, hard
  NMS on image-relative boxes with the authors' IoU (``iou_eps``), no cap per image unless ``max_per_img`` > 0.
* ``ClampedSSDAnchorGenerator``: SSD anchors whose width and height are clamped to the input size, as the
  authors clamp their priors to [0, 1] in centre form (``box_utils.py:58``).
"""
from __future__ import annotations

import copy
from typing import List, Optional, Sequence, Tuple

import torch
from mmcv.cnn import ConvModule
from mmdet.models.dense_heads import SSDHead
from mmdet.models.layers import InvertedResidual
from mmdet.models.task_modules.prior_generators import SSDAnchorGenerator
from mmdet.registry import MODELS, TASK_UTILS
from mmengine.model import BaseModule
from mmengine.structures import InstanceData
from torch import nn

__all__ = ['SSDLiteHead', 'SSDLiteExtraLevels', 'ClampedSSDAnchorGenerator', 'greedy_nms']


class _NoCustomClassLoss:
    """Stands in for the classification loss object SSDHead does not have (its loss is built in)."""
    custom_cls_channels = False


@MODELS.register_module(force=True)
class SSDLiteHead(SSDHead):
    """``SSDHead`` that validates, with the authors' head options (module docstring).

    Args:
        depthwise_bias: the depthwise 3x3 convolution of each depthwise head has a bias (before its norm).
        plain_levels: levels whose two heads are a single 1x1 convolution (the authors': the last level).
        *args, **kwargs: ``SSDHead``'s.
    """

    def __init__(self, *args, depthwise_bias: bool = False, plain_levels: Sequence[int] = (), **kwargs):
        self.depthwise_bias = depthwise_bias
        self.plain_levels = tuple(plain_levels)
        super().__init__(*args, **kwargs)
        self.loss_cls = _NoCustomClassLoss()

    def _init_layers(self) -> None:
        if not self.use_depthwise or self.stacked_convs:
            if self.depthwise_bias or self.plain_levels:
                raise ValueError('depthwise_bias and plain_levels describe SSDLite heads: use_depthwise=True, '
                                 'stacked_convs=0')
            return super()._init_layers()
        self.cls_convs, self.reg_convs = nn.ModuleList(), nn.ModuleList()
        for level, (channels, priors) in enumerate(zip(self.in_channels, self.num_base_priors)):
            for convs, out in ((self.cls_convs, priors * self.cls_out_channels), (self.reg_convs, priors * 4)):
                layers: List[nn.Module] = []
                if level not in self.plain_levels:
                    depthwise = ConvModule(channels, channels, 3, padding=1, groups=channels, conv_cfg=self.conv_cfg,
                                           norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
                    if self.depthwise_bias:  # added after building: ConvModule warns about a bias before a norm
                        depthwise.conv.bias = nn.Parameter(torch.zeros(channels))
                    layers.append(depthwise)
                layers.append(nn.Conv2d(channels, out, kernel_size=1))
                convs.append(nn.Sequential(*layers))

    def _predict_by_feat_single(self, cls_score_list, bbox_pred_list, score_factor_list, mlvl_priors, img_meta,
                                cfg=None, rescale=False, with_nms=True):
        cfg = copy.deepcopy(self.test_cfg if cfg is None else cfg)
        if cfg.get('per_class_candidates') is None:
            return super()._predict_by_feat_single(cls_score_list, bbox_pred_list, score_factor_list, mlvl_priors,
                                                   img_meta, cfg, rescale, with_nms)
        if self.use_sigmoid_cls:
            raise ValueError('test_cfg.per_class_candidates needs a softmax classifier (background as a class)')
        scores = torch.cat([s.permute(1, 2, 0).reshape(-1, self.cls_out_channels) for s in cls_score_list])
        scores = scores.softmax(-1)[:, :-1]
        deltas = torch.cat([b.permute(1, 2, 0).reshape(-1, self.bbox_coder.encode_size) for b in bbox_pred_list])
        boxes = self.bbox_coder.decode(torch.cat(list(mlvl_priors)), deltas, max_shape=img_meta['img_shape'],
                                       wh_ratio_clip=cfg.get('wh_ratio_clip', 16 / 1000))
        # per class: the best candidates among the scores above the threshold, in descending order
        thr = cfg.get('score_thr', 0.)
        top, idx = scores.masked_fill(scores <= thr, -1.).topk(min(int(cfg.per_class_candidates), len(scores)), dim=0)
        top, idx = top.t(), idx.t()  # (classes, candidates)
        keep = top > thr
        candidates = boxes[idx]
        if with_nms:
            h, w = img_meta['img_shape'][:2]  # IoU on image-relative coordinates, as the authors' priors
            relative = candidates / candidates.new_tensor([w, h, w, h])
            keep = greedy_nms(relative, keep, cfg.nms.iou_threshold, cfg.get('iou_eps', 0.))
        labels = torch.arange(len(top), device=top.device)[:, None].expand_as(top)
        results = InstanceData(bboxes=candidates[keep], scores=top[keep], labels=labels[keep])
        results = results[results.scores.argsort(descending=True)]
        if cfg.get('max_per_img', -1) > 0:
            results = results[:cfg.max_per_img]
        if rescale:
            results.bboxes = results.bboxes / results.bboxes.new_tensor(img_meta['scale_factor']).repeat(2)
        return results


def greedy_nms(boxes: torch.Tensor, valid: torch.Tensor, iou_threshold: float, eps: float = 0.) -> torch.Tensor:
    """Hard NMS of each row's candidates at once: ``boxes`` ``(rows, k, 4)`` in descending score order,
    ``valid`` ``(rows, k)``; a candidate is kept unless a kept earlier one overlaps it by IoU above the
    threshold, IoU being ``inter / (union + eps)`` (the authors' ``box_utils.iou_of`` uses eps 1e-5 on
    image-relative boxes). Returns the kept mask."""
    lt = torch.maximum(boxes[:, :, None, :2], boxes[:, None, :, :2])
    rb = torch.minimum(boxes[:, :, None, 2:], boxes[:, None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    area = (boxes[..., 2:] - boxes[..., :2]).clamp(min=0).prod(-1)
    overlaps = inter / (area[:, :, None] + area[:, None, :] - inter + eps) > iou_threshold
    suppressed = ~valid
    keep = torch.zeros_like(valid)
    for i in range(boxes.shape[1]):
        current = ~suppressed[:, i]
        keep[:, i] = current
        suppressed = suppressed | (current[:, None] & overlaps[:, i])
    return keep


@TASK_UTILS.register_module(force=True)
class ClampedSSDAnchorGenerator(SSDAnchorGenerator):
    """``SSDAnchorGenerator`` whose anchor widths and heights are at most ``clamp_size`` (the input size),
    the centre kept: the authors' priors, clamped to [0, 1] of the image in centre form."""

    def __init__(self, *args, clamp_size: Optional[float] = None, **kwargs):
        self.clamp_size = clamp_size
        super().__init__(*args, **kwargs)

    def gen_base_anchors(self) -> List[torch.Tensor]:
        anchors = super().gen_base_anchors()
        if self.clamp_size is None:
            return anchors
        clamped = []
        for base in anchors:
            centre, size = (base[:, :2] + base[:, 2:]) / 2, (base[:, 2:] - base[:, :2]).clamp(max=self.clamp_size)
            clamped.append(torch.cat([centre - size / 2, centre + size / 2], dim=1))
        return clamped


@MODELS.register_module(force=True)
class SSDLiteExtraLevels(BaseModule):
    """Pass the backbone levels through and add stride-2 inverted-residual levels after the last one.

    Each extra level is a MobileNetV2 inverted residual (1x1 conv to the hidden width, stride-2 depthwise
    3x3, linear 1x1 projection to ``out``). The hidden width is ``round(in * ratio)`` (the authors' ``ops.py``) for
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
            hidden = int(round(prev * expand_ratios[i])) if expand_ratios is not None else out // 2
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
