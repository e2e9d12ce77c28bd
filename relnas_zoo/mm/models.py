"""The models of the transfer configs, built as OpenMMLab's tools build them (for conversion and counts)."""
from __future__ import annotations

import os
from typing import Union

from torch import nn

from ..config_files import transfer_config

__all__ = ['load_transfer_config', 'build_transfer_model']


def load_transfer_config(name_or_path: Union[str, os.PathLike]):
    from mmengine.config import Config
    return Config.fromfile(transfer_config(name_or_path))


def build_transfer_model(cfg, dead_weights: bool = False) -> nn.Module:
    """The model of a transfer config (a Config, a path or a name) without pretrained weights, in eval mode,
    with plain BN for one process; ``dead_weights`` builds RelativeNAS backbones as the authors' code does."""
    from mmengine.registry import MODELS, DefaultScope
    if not hasattr(cfg, 'model'):
        cfg = load_transfer_config(cfg)
    from .runtime import replace_sync_bn  # (importing relnas_zoo.mm registered its modules: custom_imports)
    model_cfg = replace_sync_bn(cfg.model.copy())
    model_cfg.pop('data_preprocessor', None)

    def adjust(node):
        if isinstance(node, dict):
            if isinstance(node.get('init_cfg'), dict) and node['init_cfg'].get('type') == 'Pretrained':
                node['init_cfg'] = None
            if node.get('type') == 'RelativeNASBackbone' and dead_weights:
                node['prune_unused'] = False
            for v in node.values():
                adjust(v)
    adjust(model_cfg)
    with DefaultScope.overwrite_default_scope(cfg.default_scope):  # the caller's scope stays as it was
        return MODELS.build(model_cfg).eval()
