"""Inference-time rewrites: fold every BatchNorm into the convolution before it.

Every conv in this network family is followed by a BN (ReLU-Conv-BN, the separable and dilated convs,
the stems), and a factorized reduce ends in one BN over its two concatenated convs, which splits into
one half per conv. Folding removes all BN work from the cells; outputs match to float rounding.
"""
from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from .ops import FactorizedReduce

__all__ = ['fold_batchnorm']


def _bn_slice(bn: nn.BatchNorm2d, start: int, stop: int) -> nn.BatchNorm2d:
    part = nn.BatchNorm2d(stop - start, eps=bn.eps, affine=bn.affine).eval()
    part.running_mean.copy_(bn.running_mean[start:stop])
    part.running_var.copy_(bn.running_var[start:stop])
    if bn.affine:
        part.weight.data.copy_(bn.weight.data[start:stop])
        part.bias.data.copy_(bn.bias.data[start:stop])
    return part


@torch.no_grad()
def fold_batchnorm(model: nn.Module, inplace: bool = False) -> nn.Module:
    """An eval-mode copy of ``model`` (or ``model`` itself) with BN folded into the preceding convs."""
    if not inplace:
        model = copy.deepcopy(model)
    model.eval()
    for module in list(model.modules()):
        if isinstance(module, FactorizedReduce) and isinstance(module.bn, nn.BatchNorm2d):
            half = module.conv_1.out_channels
            module.conv_1 = fuse_conv_bn_eval(module.conv_1, _bn_slice(module.bn, 0, half))
            module.conv_2 = fuse_conv_bn_eval(module.conv_2, _bn_slice(module.bn, half, 2 * half))
            module.bn = nn.Identity()
        elif isinstance(module, nn.Sequential):
            for i in range(len(module) - 1):
                conv, bn = module[i], module[i + 1]
                if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                    module[i] = fuse_conv_bn_eval(conv, bn)
                    module[i + 1] = nn.Identity()
    return model
