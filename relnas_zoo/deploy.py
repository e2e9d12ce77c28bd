"""Inference-time rewrites that keep a network's function: BN folding and channel padding.

``fold_batchnorm``: every conv in this network family is followed by a BN (ReLU-Conv-BN, the separable
and dilated convs, the stems), and a factorized reduce ends in one BN over its two concatenated convs,
which splits into one half per conv. Folding removes all BN work; outputs match to float rounding.

``pad_channels``: CPU runtimes (ONNX Runtime's blocked NCHWc kernels, oneDNN) run convolutions fastest
when channel counts are multiples of 8 or 16. The published ImageNet network has C=46 (46/92/184 channels
per node), so ONNX Runtime falls back to slower kernels plus layout reorders around most convolutions.
Padding every node with zero channels to a multiple of 8 (48/96/192) adds about 8% mult-adds and
computes exactly the same logits (the added channels stay zero through every ReLU, pool, sum and concat).
"""
from __future__ import annotations

import copy
import math
from typing import Dict, List, Optional, Tuple

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from .ops import DilConv, FactorizedReduce, ReLUConvBN, SepConv

__all__ = ['fold_batchnorm', 'pad_channels']


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


# --------------------------------------------------------------------------------------- channel padding
# A layout is, for each channel of the original tensor, its index in the padded tensor.

def _plain(n: int) -> torch.Tensor:
    return torch.arange(n)


def _node_layout(n: int, n_new: int) -> torch.Tensor:
    """A cell state's layout: each half padded at its end, because a factorized reduction builds the
    state from two half-width convolutions whose outputs are concatenated."""
    h, h_new = n // 2, n_new // 2
    return torch.cat([torch.arange(h), torch.arange(h_new, h_new + n - h)])


def _concat_layout(k: int, n: int, n_new: int) -> torch.Tensor:
    return torch.cat([j * n_new + _node_layout(n, n_new) for j in range(k)])


def _op_convs(module: nn.Module, prefix: str, state: torch.Tensor, node: torch.Tensor, half: torch.Tensor,
              maps: Dict[str, Tuple[Optional[torch.Tensor], torch.Tensor]]) -> None:
    """Layouts of every conv of one op or preprocess layer that reads a tensor laid out as ``state``."""
    if isinstance(module, FactorizedReduce):
        maps[f'{prefix}.conv_1'] = (state, half)
        maps[f'{prefix}.conv_2'] = (state, half)
    elif isinstance(module, (ReLUConvBN, SepConv, DilConv)):
        for name, conv in module.named_modules():
            if isinstance(conv, nn.Conv2d):
                depthwise = conv.groups > 1
                maps[f'{prefix}.{name}'] = (None if depthwise else (state if name == 'op.1' else node), node)
    elif any(isinstance(m, nn.Conv2d) for m in module.modules()):
        raise TypeError(f'pad_channels does not know the op at {prefix} ({type(module).__name__})')


def _layouts(model, padded) -> Tuple[Dict[str, Tuple[Optional[torch.Tensor], torch.Tensor]], List[torch.Tensor]]:
    """conv/linear name -> (input layout or None for depthwise, output layout); layout per feature level."""
    maps: Dict[str, Tuple[Optional[torch.Tensor], torch.Tensor]] = {}
    C, C_new = model.C, padded.C
    image = _plain(model.in_chans)
    if model.stem_type == 'cifar':
        s0 = s1 = _plain(3 * C)
        maps['stem.0'] = (image, s0)
    else:
        maps['stem0.0'] = (image, _plain(C // 2))
        s0 = s1 = _node_layout(C, C_new)
        maps['stem0.3'] = (_plain(C // 2), s0)
        maps['stem1.1'] = (s0, s1)
    levels = [s0]
    for i, (cell, new_cell) in enumerate(zip(model.cells, padded.cells)):
        k = len(cell.concat)
        n, n_new = cell.out_channels // k, new_cell.out_channels // k
        node, half = _node_layout(n, n_new), _plain(n // 2)
        for name, state in (('preprocess0', s0), ('preprocess1', s1)):
            _op_convs(getattr(cell, name), f'cells.{i}.{name}', state, node, half, maps)
        for key, nd in cell.nodes.items():
            for which in ('op1', 'op2'):
                _op_convs(getattr(nd, which), f'cells.{i}.nodes.{key}.{which}', node, node, half, maps)
        s0, s1 = s1, _concat_layout(k, n, n_new)
        if i in model.level_cells:
            levels.append(s1)
    if isinstance(model.classifier, nn.Linear):
        maps['classifier'] = (s1, _plain(model.classifier.out_features))
    return maps, levels


@torch.no_grad()
def pad_channels(model: nn.Module, multiple: int = 8) -> nn.Module:
    """A BN-folded eval copy of a ``RelativeNASNet`` whose cell states have a multiple of ``multiple``
    channels, zero-padded, computing the same outputs.

    The copy's ``channel_layouts`` gives, per ``feature_info`` level, where the original channels sit in
    the padded feature map (``relnas_zoo.export`` uses it to return unpadded backbone features).
    """
    from .networks import ArchitectureError, RelativeNASNet
    if not isinstance(model, RelativeNASNet):
        raise TypeError(f'pad_channels needs a RelativeNASNet, got {type(model).__name__}')
    if multiple < 2 or multiple % 2:
        raise ArchitectureError(f'multiple={multiple}: need an even number >= 2 (states are split in halves)')
    if model.auxiliary_head is not None and model.training:
        raise ValueError('pad_channels is for inference: call model.eval() first')
    C_new = math.ceil(model.C / multiple) * multiple
    dd = dict(device=next(model.parameters()).device, dtype=next(model.parameters()).dtype)
    padded = RelativeNASNet(genotype=model.genotype, C=C_new, layers=model.layers, num_classes=model.num_classes,
                            in_chans=model.in_chans, stem_type=model.stem_type,
                            global_pool=model.global_pool.pool_type or '', prune_unused=model.prune_unused, **dd)
    padded.cells = padded.cells[:len(model.cells)]  # a pruned backbone (prune_intermediate_layers)
    padded = fold_batchnorm(padded, inplace=True)
    source = fold_batchnorm(model)
    maps, levels = _layouts(source, padded)
    new_modules = dict(padded.named_modules())
    weighted = {n for n, m in source.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))}
    if weighted != set(maps):
        raise RuntimeError(f'pad_channels: layouts missing for {sorted(weighted - set(maps))[:5]}')
    for name, old in source.named_modules():
        if name not in maps:
            continue
        new, (src, dst) = new_modules[name], maps[name]
        new.weight.zero_()
        if src is None:  # depthwise: one filter per channel
            new.weight[dst] = old.weight
        else:
            new.weight[dst.view(-1, 1), src.view(1, -1)] = old.weight
        if old.bias is not None:
            new.bias.zero_()
            new.bias[dst] = old.bias
    padded.channel_layouts = levels
    return padded.eval()
