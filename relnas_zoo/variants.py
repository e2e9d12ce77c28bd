"""Architecture arguments of the registered models, by timm name (plain data, no registry)."""
from __future__ import annotations

from typing import Any, Dict

__all__ = ['VARIANTS']

VARIANTS: Dict[str, Dict[str, Any]] = {
    'relativenas': dict(genotype='RelativeNAS', C=46, layers=14, num_classes=1000, stem_type='imagenet'),
    'relativenas_cifar10': dict(genotype='RelativeNAS', C=36, layers=20, num_classes=10, stem_type='cifar'),
    'relativenas_cifar100': dict(genotype='RelativeNAS', C=36, layers=20, num_classes=100, stem_type='cifar'),
    'darts_v2': dict(genotype='DARTS_V2', C=48, layers=14, num_classes=1000, stem_type='imagenet'),
    'darts_v2_cifar10': dict(genotype='DARTS_V2', C=36, layers=20, num_classes=10, stem_type='cifar'),
}
