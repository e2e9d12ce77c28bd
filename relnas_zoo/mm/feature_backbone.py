"""Any ImageNet classifier as an OpenMMLab backbone: the baselines of the paper's transfer tables.

``FeatureExtractorBackbone`` returns a network's feature maps at strides 4, 8, 16 and 32 (levels 0-3, like
``RelativeNASBackbone``). The network comes from a well-kept implementation, so its ImageNet weights load
unchanged: torchvision (MobileNet-V2 1x, MnasNet 1.0, ShuffleNet-V2 1x: the exact modules the authors'
transfer code copied), Cadene's ``pretrainedmodels`` (NASNet-A Mobile, which the authors used), or any
timm model (``model='timm:NAME'``, timm's own ``features_only`` levels). The levels of the paper's
baselines are the ones the authors' transfer code read: the output of the stride-8, stride-16 and final
stride-32 stages, where the final stage includes the last 1x1 convolution (1280 channels for MobileNet-V2
and MnasNet, 1024 for ShuffleNet-V2).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.model import BaseModule
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from ..torch_files import load_torch_file
from .backbone import StageFreezing

__all__ = ['FeatureExtractorBackbone', 'PRESETS', 'ExtractorPreset']


@dataclass(frozen=True)
class ExtractorPreset:
    """How to build one network and which of its modules output the stride-4/8/16/32 levels."""
    build: Callable[[], nn.Module]
    nodes: Tuple[str, str, str, str]
    channels: Tuple[int, int, int, int]
    leaf_modules: Callable[[], List[type]] = lambda: []  # modules fx must not trace into


def _torchvision(name: str) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        import torchvision
        return getattr(torchvision.models, name)(weights=None)
    return build


def _nasnet_mobile() -> nn.Module:
    try:
        import pretrainedmodels
    except ImportError as e:
        raise ImportError('NASNet-A Mobile comes from Cadene\'s pretrainedmodels package: '
                          'pip install "relnas_zoo[comparison]" (or pip install pretrainedmodels)') from e
    return pretrainedmodels.nasnetamobile(num_classes=1000, pretrained=None)


def _nasnet_leaves() -> List[type]:
    # Cadene's separable branches build a ZeroPad2d inside forward, which fx cannot trace: keep them whole.
    from pretrainedmodels.models import nasnet_mobile
    return [nasnet_mobile.BranchSeparables, nasnet_mobile.BranchSeparablesStem,
            nasnet_mobile.BranchSeparablesReduction]


PRESETS: Dict[str, ExtractorPreset] = {
    'mobilenet_v2': ExtractorPreset(_torchvision('mobilenet_v2'), ('features.3', 'features.6', 'features.13',
                                                                   'features.18'), (24, 32, 96, 1280)),
    'mnasnet1_0': ExtractorPreset(_torchvision('mnasnet1_0'), ('layers.8', 'layers.9', 'layers.11', 'layers.16'),
                                  (24, 40, 96, 1280)),
    'shufflenet_v2_x1_0': ExtractorPreset(_torchvision('shufflenet_v2_x1_0'), ('maxpool', 'stage2', 'stage3', 'conv5'),
                                          (24, 116, 232, 1024)),
    'nasnetamobile': ExtractorPreset(_nasnet_mobile, ('cell_stem_0', 'cell_3', 'cell_9', 'cell_15'),
                                     (44, 264, 528, 1056), _nasnet_leaves),
}


class _TimmLevels(nn.Module):
    """A timm ``features_only`` model restricted to its stride-4/8/16/32 levels; a local ImageNet file is
    loaded by timm itself (its key mapping and classifier filtering)."""

    def __init__(self, name: str, checkpoint: Optional[str] = None):
        super().__init__()
        import timm
        probe = timm.create_model(name, features_only=True, pretrained=False)
        strides = probe.feature_info.reduction()
        wanted = [strides.index(s) for s in (4, 8, 16, 32) if s in strides]
        if len(wanted) != 4:
            raise ValueError(f'timm:{name} has feature strides {strides}; a backbone needs 4, 8, 16 and 32')
        kwargs = dict(pretrained=True, pretrained_cfg_overlay=dict(file=checkpoint)) if checkpoint else {}
        self.model = timm.create_model(name, features_only=True, out_indices=wanted, **kwargs)
        self.channels = tuple(self.model.feature_info.channels())

    def forward(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        return {str(i): f for i, f in enumerate(self.model(x))}

    def modules_in_order(self) -> List[str]:
        """Modules holding weights, in registration order (the execution order of timm's CNN trunks)."""
        return [f'model.{n}' for n, m in self.model.named_modules()
                if n and (list(m.parameters(recurse=False)) or isinstance(m, _BatchNorm))]

    def level_modules(self, levels: int) -> List[str]:
        """The module (or its '_' spelling in timm's feature wrappers) that outputs each level."""
        return [f'model.{m}' for m in self.model.feature_info.module_name()[:levels]]


def _split_by_level(ordered: List[str], level_modules: Sequence[str]) -> List[List[str]]:
    """``ordered`` module names cut after the last module inside each level's output module."""
    def inside(name: str, node: str) -> bool:
        return any(name == n or name.startswith(n + '.') for n in (node, node.replace('.', '_')))
    stages, start = [], 0
    for node in level_modules:
        end = max(j for j, name in enumerate(ordered) if inside(name, node)) + 1
        stages.append(ordered[start:end])
        start = end
    return stages


class FeatureExtractorBackbone(StageFreezing, BaseModule):
    """Feature maps of an ImageNet classifier at strides 4, 8, 16, 32 (levels 0-3).

    Args:
        model: a preset (``mobilenet_v2``, ``mnasnet1_0``, ``shufflenet_v2_x1_0``, ``nasnetamobile``) or
            ``'timm:NAME'`` for any timm model with those four strides.
        out_indices: which levels to return.
        frozen_stages: freeze every module that runs up to level ``frozen_stages``'s output; -1: none.
        norm_eval: keep BatchNorm layers in eval mode while training.
        norm_cfg: ``dict(type='BN')`` (default) or ``dict(type='SyncBN')``.
        init_cfg: ``dict(type='Pretrained', checkpoint=PATH)``: the network's own ImageNet state dict
            (torchvision's, Cadene's or timm's file; classifier weights are ignored).
    """

    def __init__(self, model: str, out_indices: Sequence[int] = (0, 1, 2, 3), frozen_stages: int = -1,
                 norm_eval: bool = False, norm_cfg: Optional[dict] = None, init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=None)  # weights are loaded by init_weights below, not by mmengine's initialisers
        out_indices = tuple(out_indices)
        if not out_indices or list(out_indices) != sorted(set(out_indices)) or not set(out_indices) <= {0, 1, 2, 3}:
            raise ValueError(f'out_indices={out_indices}: give increasing levels in 0..3 (strides 4, 8, 16, 32)')
        if not -1 <= frozen_stages <= max(out_indices):
            raise ValueError(f'frozen_stages={frozen_stages}: must lie in -1..{max(out_indices)}')
        if init_cfg is not None and init_cfg.get('type') != 'Pretrained':
            raise ValueError(f"init_cfg={init_cfg}: only dict(type='Pretrained', checkpoint=PATH) is supported")
        self.model_name = model
        self.out_indices = out_indices
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.checkpoint = init_cfg.get('checkpoint') if init_cfg else None
        levels = max(out_indices) + 1  # nothing after the last level asked for is built or run
        if model.startswith('timm:'):
            self.body = _TimmLevels(model[len('timm:'):], self.checkpoint)
            self.checkpoint = None  # timm has loaded it
            self._channels = self.body.channels
            ordered, level_modules = self.body.modules_in_order(), self.body.level_modules(levels)
        elif model in PRESETS:
            from torchvision.models.feature_extraction import create_feature_extractor
            preset = PRESETS[model]
            self.body = create_feature_extractor(preset.build(), {preset.nodes[i]: str(i) for i in range(levels)},
                                                 tracer_kwargs=dict(leaf_modules=preset.leaf_modules()))
            self._channels = preset.channels
            ordered = [n.target for n in self.body.graph.nodes if n.op == 'call_module']  # execution order
            level_modules = preset.nodes[:levels]
        else:
            raise ValueError(f'model={model!r}: choose a preset ({", ".join(PRESETS)}) or "timm:NAME"')
        # module names (not objects: SyncBN conversion replaces modules) that each level's computation adds
        self._stage_names = _split_by_level(ordered, level_modules)
        kind = (norm_cfg or {}).get('type', 'BN')
        if kind in ('SyncBN', 'MMSyncBN'):
            self.body = nn.SyncBatchNorm.convert_sync_batchnorm(self.body)
        elif kind not in ('BN', 'BN2d'):
            raise ValueError(f"norm_cfg type {kind!r}: FeatureExtractorBackbone supports 'BN' and 'SyncBN'")
        self._freeze_stages()

    @property
    def out_channels(self) -> Tuple[int, ...]:
        return tuple(self._channels[i] for i in self.out_indices)

    def _stage_modules(self, level: int) -> List[nn.Module]:
        return [self.body.get_submodule(name) for name in self._stage_names[level]]

    def init_weights(self) -> None:
        if self.checkpoint is None:
            return
        state = load_torch_file(self.checkpoint, 'backbone checkpoint')
        for wrapper in ('state_dict', 'model'):
            if isinstance(state, dict) and isinstance(state.get(wrapper), dict):
                state = state[wrapper]
        own = self.body.state_dict()
        missing = sorted(set(own) - set(state))
        if missing:
            raise KeyError(f'{self.checkpoint} lacks {len(missing)} weights of the {self.model_name} backbone, '
                           f'e.g. {missing[:3]}: is it that network\'s ImageNet state dict?')
        wrong = [k for k in own if tuple(state[k].shape) != tuple(own[k].shape)]
        if wrong:
            raise ValueError(f'{self.checkpoint}: shapes differ from the {self.model_name} backbone for {wrong[:3]}')
        self.body.load_state_dict({k: state[k] for k in own}, strict=True)  # the classifier's keys are unused
        from mmengine.logging import print_log
        print_log(f'FeatureExtractorBackbone: loaded {len(own)} tensors of {self.model_name} from {self.checkpoint}',
                  logger='current')

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        feats = self.body(x)
        return tuple(feats[str(i)] for i in self.out_indices)
