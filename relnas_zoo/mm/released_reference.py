"""The heads of the authors' transfer networks computed straight from a released state dict.

A check of the conversion, not a second model: each function evaluates the layers of the authors' code
(SSDLite/vision/ssd/{ssd_mobile,ops,trainer}.py, BiSeNet/BiSeNet.py, Simplebaseline/lib/models/posenet.py)
with ``torch.nn.functional`` on the tensors under *their* key names, in eval mode, so that a converted
checkpoint can be run side by side with the file it came from (``relnas-zoo convert --config``, the
tests). The backbone features come from the converted model: its keys are the network's own, loaded
through the backbone's own loading.
"""
from __future__ import annotations

from typing import Dict, Mapping, Sequence, Tuple

import torch
import torch.nn.functional as F

__all__ = ['ssdlite_outputs', 'bisenet_logits', 'simplebaseline_heatmaps', 'compare_converted']

Weights = Mapping[str, torch.Tensor]


def _conv(w: Weights, name: str, x: torch.Tensor, stride: int = 1, groups: int = 1) -> torch.Tensor:
    weight = w[name + 'weight']
    return F.conv2d(x, weight, w.get(name + 'bias'), stride, weight.shape[-1] // 2, groups=groups)


def _bn(w: Weights, name: str, x: torch.Tensor, abs_scale: bool = False, eps: float = 1e-5) -> torch.Tensor:
    scale = w[name + 'weight'].abs() + eps if abs_scale else w[name + 'weight']
    return F.batch_norm(x, w[name + 'running_mean'], w[name + 'running_var'], scale, w[name + 'bias'], False, 0., eps)


def ssdlite_outputs(w: Weights, features: Sequence[torch.Tensor], num_scores: int = 21
                    ) -> Tuple[torch.Tensor, torch.Tensor]:
    """Class scores ``(B, priors, num_scores)`` (background first) and box deltas ``(B, priors, 4)`` of the
    authors' SSDLite, from the backbone's last two levels ``features``."""
    feats = list(features)
    x = feats[-1]
    for i in range(4):  # InvertedResidual: 1x1 expand, 3x3 depthwise stride 2, 1x1 project (ops.py)
        p = f'extras.{i}.conv.'
        x = F.relu6(_bn(w, p + '0.1.', _conv(w, p + '0.0.', x)))
        x = F.relu6(_bn(w, p + '1.1.', _conv(w, p + '1.0.', x, stride=2, groups=x.shape[1])))
        x = _bn(w, p + '3.', _conv(w, p + '2.', x))
        feats.append(x)
    outputs = []
    for kind, size in (('classification_headers', num_scores), ('regression_headers', 4)):
        per_level = []
        for level, f in enumerate(feats):
            p = f'{kind}.{level}.'
            if p + 'weight' in w:  # the last level: a plain 1x1 conv
                y = _conv(w, p, f)
            else:  # SeperableConv2d: depthwise 3x3 with bias, BN, ReLU6, 1x1 with bias
                y = _conv(w, p + '3.', F.relu6(_bn(w, p + '1.', _conv(w, p + '0.', f, groups=f.shape[1]))))
            per_level.append(y.permute(0, 2, 3, 1).reshape(y.shape[0], -1, size))
        outputs.append(torch.cat(per_level, dim=1))
    return outputs[0], outputs[1]


def _abn_conv(w: Weights, name: str, x: torch.Tensor, stride: int = 1) -> torch.Tensor:
    """ConvBNReLU of the authors' BiSeNet: conv without bias, in-place ABN (|w| + eps), LeakyReLU(0.01)."""
    return F.leaky_relu(_bn(w, name + 'bn.', _conv(w, name + 'conv.', x, stride), abs_scale=True), 0.01)


def _arm(w: Weights, name: str, x: torch.Tensor) -> torch.Tensor:
    feat = _abn_conv(w, name + 'conv.', x)
    atten = _bn(w, name + 'bn_atten.', _conv(w, name + 'conv_atten.', feat.mean((2, 3), keepdim=True)),
                abs_scale=True)
    return feat * torch.sigmoid(atten)


def bisenet_logits(w: Weights, image: torch.Tensor, feat16: torch.Tensor, feat32: torch.Tensor) -> torch.Tensor:
    """The authors' BiSeNet output logits at the image's size (``mode='eval'``), from the backbone's
    stride-16 and stride-32 levels."""
    h16, w16 = feat16.shape[2:]
    avg = _abn_conv(w, 'cp.conv_avg.', feat32.mean((2, 3), keepdim=True))
    up32 = F.interpolate(_arm(w, 'cp.arm32.', feat32) + avg, (h16, w16), mode='nearest')
    up32 = _abn_conv(w, 'cp.conv_head32.', up32)
    up16 = F.interpolate(_arm(w, 'cp.arm16.', feat16) + up32, (2 * h16, 2 * w16), mode='nearest')
    cp8 = _abn_conv(w, 'cp.conv_head16.', up16)
    sp = image
    for name, stride in (('sp.conv1.', 2), ('sp.conv2.', 2), ('sp.conv3.', 2), ('sp.conv_out.', 1)):
        sp = _abn_conv(w, name, sp, stride)
    fused = _abn_conv(w, 'ffm.convblk.', torch.cat([sp, cp8], dim=1))
    atten = torch.sigmoid(_conv(w, 'ffm.conv2.', F.relu(_conv(w, 'ffm.conv1.', fused.mean((2, 3), keepdim=True)))))
    fused = fused + fused * atten
    out = _conv(w, 'conv_out.conv_out.', _abn_conv(w, 'conv_out.conv.', fused))
    return F.interpolate(out, image.shape[2:], mode='bilinear', align_corners=True)


def simplebaseline_heatmaps(w: Weights, feature: torch.Tensor) -> torch.Tensor:
    """The authors' SimpleBaseline heatmaps from the backbone's stride-32 level: three 4x4 stride-2
    deconvolutions (padding 1, no bias) with BN and ReLU, then the 1x1 ``final_layer``."""
    x = feature
    for i in (0, 3, 6):
        x = F.conv_transpose2d(x, w[f'deconv_layers.{i}.weight'], stride=2, padding=1)
        x = F.relu(_bn(w, f'deconv_layers.{i + 1}.', x))
    return _conv(w, 'final_layer.', x)


def compare_converted(task: str, source: Weights, model: torch.nn.Module, seed: int = 0) -> Dict[str, float]:
    """Run the converted ``model`` and the authors' layout (``source``) on one seeded input of the task's
    size; returns the largest absolute difference of the raw outputs and the outputs' scale."""
    g = torch.Generator().manual_seed(seed)
    size = {'ssdlite': (320, 320), 'bisenet': (512, 1024), 'simplebaseline': (256, 192)}[task]
    x = torch.randn(1, 3, *size, generator=g)
    model = model.eval()
    with torch.no_grad():
        if task == 'ssdlite':
            feats = model.backbone(x)
            cls, reg = model.bbox_head(model.neck(feats))
            n = model.bbox_head.cls_out_channels
            ours_cls = torch.cat([c.permute(0, 2, 3, 1).reshape(1, -1, n) for c in cls], dim=1)
            ours_cls = torch.cat([ours_cls[..., -1:], ours_cls[..., :-1]], dim=-1)  # background first
            ours_reg = torch.cat([r.permute(0, 2, 3, 1).reshape(1, -1, 4) for r in reg], dim=1)
            ref_cls, ref_reg = ssdlite_outputs(source, feats[-2:], n)
            diff = max((ours_cls - ref_cls).abs().max().item(), (ours_reg - ref_reg).abs().max().item())
            scale = max(ref_cls.abs().max().item(), ref_reg.abs().max().item())
        elif task == 'bisenet':
            feats = model.backbone.context_path.backbone(x)
            ref = bisenet_logits(source, x, feats[-2], feats[-1])
            ours = model.encode_decode(x, [dict(img_shape=size)])
            diff, scale = (ours - ref).abs().max().item(), ref.abs().max().item()
        else:
            feats = model.backbone(x)
            ref = simplebaseline_heatmaps(source, feats[-1])
            ours = model.head(feats)
            diff, scale = (ours - ref).abs().max().item(), ref.abs().max().item()
    return dict(max_abs_diff=diff, output_scale=scale)
