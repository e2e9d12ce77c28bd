"""timm registrations: ``timm.create_model('relativenas')`` and friends.

No weights can be downloaded (the authors host them on a cloud drive); pass the file you have:
``timm.create_model('relativenas', pretrained=True, pretrained_cfg_overlay=dict(file='imagenet_model.pt'))``.
Both our checkpoint format and the authors' load.
"""
from __future__ import annotations

from typing import Any, Dict

from timm.models import build_model_with_cfg, generate_default_cfgs, register_model

from .errors import InputError
from .normalization import CIFAR10_MEAN, CIFAR10_STD, CIFAR100_MEAN, CIFAR100_STD, IMAGENET_MEAN, IMAGENET_STD
from .networks import RelativeNASNet
from .variants import VARIANTS
from .state_dicts import checkpoint_filter_fn

__all__: list = []  # registers the models with timm; nothing to import from here


_ORIGIN = 'https://github.com/EMI-Group/RelativeNAS'
_PAPER = 'arXiv:2009.06193'


class NoDownloadError(InputError, ValueError):
    """``pretrained=True`` without a file: the weights cannot be downloaded; the message says what to pass."""


def _create(variant: str, pretrained: bool = False, **kwargs: Any) -> RelativeNASNet:
    given = [kwargs.get('pretrained_cfg_overlay') or {}, kwargs.get('pretrained_cfg') or {}]  # local-dir/hf-hub: the cfg
    sources = [cfg if isinstance(cfg, dict) else cfg.to_dict() for cfg in given if not isinstance(cfg, str)]
    if pretrained and not any(cfg.get(k) for cfg in sources for k in ('file', 'state_dict', 'url', 'hf_hub_id')):
        raise NoDownloadError(
            f"{variant}: no weights can be downloaded (the authors host them on a cloud drive). Pass the file "
            f"you have: timm.create_model('{variant}', pretrained=True, "
            f"pretrained_cfg_overlay=dict(file='path/to/weights.pt')); ours and the authors' format both load.")
    args = dict(VARIANTS[variant])
    args.update(kwargs)
    num_levels = 4
    return build_model_with_cfg(
        RelativeNASNet, variant, pretrained,
        pretrained_filter_fn=checkpoint_filter_fn,
        feature_cfg=dict(feature_cls='getter', out_indices=tuple(range(num_levels))),
        **args,
    )


def _imagenet_cfg(**kwargs: Any) -> Dict[str, Any]:
    return dict(dict(
        url='', num_classes=1000, input_size=(3, 224, 224), pool_size=(7, 7), crop_pct=0.875,
        interpolation='bilinear', mean=IMAGENET_MEAN, std=IMAGENET_STD,
        first_conv='stem0.0', classifier='classifier', origin_url=_ORIGIN, paper_ids=_PAPER,
        license='unknown'), **kwargs)


def _cifar_cfg(num_classes: int, mean, std, **kwargs: Any) -> Dict[str, Any]:
    return dict(dict(
        url='', num_classes=num_classes, input_size=(3, 32, 32), pool_size=(8, 8), crop_pct=1.0,
        interpolation='bilinear', mean=mean, std=std, first_conv='stem.0', classifier='classifier',
        origin_url=_ORIGIN, paper_ids=_PAPER, license='unknown'), **kwargs)


default_cfgs = generate_default_cfgs({
    'relativenas.paper': _imagenet_cfg(
        notes=('RelativeNAS cells searched on CIFAR-10, trained on ImageNet for 250 epochs.',
               'Paper: 24.88% top-1 / 7.7% top-5 error, 5.05M params (as published), 563M mult-adds.'),
        paper_name='RelativeNAS: Relative Neural Architecture Search via Slow-Fast Learning'),
    'relativenas_cifar10.paper': _cifar_cfg(
        10, CIFAR10_MEAN, CIFAR10_STD,
        notes=('Trained 600 epochs on CIFAR-10.', 'Paper: 2.34% test error (released model: 2.26%).')),
    'relativenas_cifar100.paper': _cifar_cfg(
        100, CIFAR100_MEAN, CIFAR100_STD,
        notes=('RelativeNAS cells transferred to CIFAR-100.', 'Paper: 15.86% test error.')),
    'darts_v2.paper': _imagenet_cfg(
        notes=('DARTS (second order) cells, the usual baseline in this search space.',
               'DARTS paper: 26.7% top-1 error.'),
        origin_url='https://github.com/quark0/darts'),
    'darts_v2_cifar10.paper': _cifar_cfg(
        10, CIFAR10_MEAN, CIFAR10_STD,
        notes=('DARTS (second order) cells on CIFAR-10.', 'DARTS paper: 2.76% test error.'),
        origin_url='https://github.com/quark0/darts'),
})


@register_model
def relativenas(pretrained: bool = False, **kwargs: Any) -> RelativeNASNet:
    """RelativeNAS for ImageNet: 14 cells, C=46, 224x224."""
    return _create('relativenas', pretrained, **kwargs)


@register_model
def relativenas_cifar10(pretrained: bool = False, **kwargs: Any) -> RelativeNASNet:
    """RelativeNAS for CIFAR-10: 20 cells, C=36, 32x32."""
    return _create('relativenas_cifar10', pretrained, **kwargs)


@register_model
def relativenas_cifar100(pretrained: bool = False, **kwargs: Any) -> RelativeNASNet:
    """RelativeNAS for CIFAR-100: 20 cells, C=36, 32x32."""
    return _create('relativenas_cifar100', pretrained, **kwargs)


@register_model
def darts_v2(pretrained: bool = False, **kwargs: Any) -> RelativeNASNet:
    """DARTS_V2 cells in the same ImageNet network: 14 cells, C=48."""
    return _create('darts_v2', pretrained, **kwargs)


@register_model
def darts_v2_cifar10(pretrained: bool = False, **kwargs: Any) -> RelativeNASNet:
    """DARTS_V2 cells in the CIFAR network: 20 cells, C=36."""
    return _create('darts_v2_cifar10', pretrained, **kwargs)
