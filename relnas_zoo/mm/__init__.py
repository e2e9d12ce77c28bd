"""OpenMMLab integration; importing it registers ``RelativeNASBackbone`` and ``FeatureExtractorBackbone`` (the
paper's baseline networks, or any timm model) with every installed registry, and the modules the transfer
configs use (``transfer/``) with mmdet, mmseg and mmpose.

Use in a config: ``custom_imports = dict(imports=['relnas_zoo.mm'], allow_failed_imports=False)`` and
``backbone=dict(type='RelativeNASBackbone', out_indices=(1, 2, 3), init_cfg=dict(type='Pretrained',
checkpoint='relativenas_imagenet.pth'))``. Needs the OpenMMLab stack (``make mm``).
"""
import importlib

from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.runner.checkpoint import CheckpointLoader

from .backbone import RelativeNASBackbone
from .feature_backbone import FeatureExtractorBackbone

__all__ = ['RelativeNASBackbone', 'FeatureExtractorBackbone', 'registered_in']


def _load_safetensors(filename: str, map_location=None) -> dict:
    from ..weights import load_checkpoint_file
    return load_checkpoint_file(filename)


# mmengine picks a checkpoint loader by matching each scheme as a regular expression at the start of the
# path; this one takes every local path ending in .safetensors (init_cfg=dict(type='Pretrained', ...))
CheckpointLoader.register_scheme(prefixes=r'(?=[^:]*\.safetensors$)', loader=_load_safetensors, force=True)

registered_in = ['mmengine']
for _backbone in (RelativeNASBackbone, FeatureExtractorBackbone):
    MMENGINE_MODELS.register_module(module=_backbone, force=True)
for _package in ('mmdet', 'mmseg', 'mmpose', 'mmpretrain'):
    try:
        _registry = importlib.import_module(f'{_package}.registry').MODELS
    except ImportError:
        continue
    for _backbone in (RelativeNASBackbone, FeatureExtractorBackbone):
        _registry.register_module(module=_backbone, force=True)
    registered_in.append(_package)

# the task modules of the transfer configs, registered with their package by importing them
if 'mmdet' in registered_in:
    from . import detection, voc_metric  # noqa: F401  (SSDLite head, neck, anchors; the authors' VOC AP)
if 'mmseg' in registered_in:
    from . import segmentation  # noqa: F401  (BiSeNet as the paper and the authors' code; its norm and test)
if 'mmpose' in registered_in:
    from . import pose  # noqa: F401  (SimpleBaseline's augmentation, boxes and decoding)
