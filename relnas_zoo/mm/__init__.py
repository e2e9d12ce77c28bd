"""OpenMMLab integration; importing it registers ``RelativeNASBackbone`` with every installed registry.

Use in a config: ``custom_imports = dict(imports=['relnas_zoo.mm'], allow_failed_imports=False)`` and
``backbone=dict(type='RelativeNASBackbone', out_indices=(1, 2, 3), init_cfg=dict(type='Pretrained',
checkpoint='relativenas_imagenet.pth'))``. Needs the OpenMMLab stack (``make mm``).
"""
import importlib

from mmengine.registry import MODELS as MMENGINE_MODELS

from .backbone import RelativeNASBackbone

__all__ = ['RelativeNASBackbone', 'registered_in']

registered_in = ['mmengine']
MMENGINE_MODELS.register_module(module=RelativeNASBackbone, force=True)
for _package in ('mmdet', 'mmseg', 'mmpose', 'mmpretrain'):
    try:
        _registry = importlib.import_module(f'{_package}.registry').MODELS
    except ImportError:
        continue
    _registry.register_module(module=RelativeNASBackbone, force=True)
    registered_in.append(_package)

if 'mmdet' in registered_in:
    from .detection import SSDLiteExtraLevels, SSDLiteHead  # noqa: F401  (register with mmdet)
if 'mmpose' in registered_in:
    from .pose import ClippedNormalBBoxTransform  # noqa: F401  (register with mmpose)
