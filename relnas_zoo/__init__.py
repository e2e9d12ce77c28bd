"""RelativeNAS model zoo: genotypes, the one network definition, timm models and weight loading.

Importing the package registers the timm models (``relativenas``, ``relativenas_cifar10``,
``relativenas_cifar100``, ``darts_v2``, ``darts_v2_cifar10``).
"""
from .genotypes import DARTS_V1, DARTS_V2, OPS, PUBLISHED, RELATIVENAS, Genotype, GenotypeError, \
    load_genotype, resolve_genotype, save_genotype
from .networks import AuxOutput, RelativeNASNet
from .weights import CheckpointMismatchError, load_checkpoint_file, model_from_checkpoint, save_checkpoint
from . import timm_models  # noqa: F401  (registers the models with timm)
from .hub import export_hub
from .variants import VARIANTS

__version__ = '0.1.0'

__all__ = [
    'OPS', 'Genotype', 'GenotypeError', 'RELATIVENAS', 'DARTS_V1', 'DARTS_V2', 'PUBLISHED', 'load_genotype',
    'save_genotype', 'resolve_genotype', 'RelativeNASNet', 'AuxOutput', 'CheckpointMismatchError',
    'load_checkpoint_file', 'save_checkpoint', 'model_from_checkpoint', 'export_hub', 'VARIANTS', '__version__',
]
