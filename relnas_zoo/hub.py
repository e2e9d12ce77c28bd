"""timm's hub folder for a zoo model: ``config.json`` and ``model.safetensors``.

The folder is what ``timm.create_model('local-dir:DIR', pretrained=True)`` reads (after ``import
relnas_zoo``), and the same folder pushed to a model hub loads through ``hf-hub:``. ``config.json``
carries the architecture, ``num_classes``, the ``model_args`` that rebuild the network (the genotype as
data, so a searched genotype travels with its weights) and the ``pretrained_cfg`` (input size, mean/std,
crop). Written by timm's own ``save_for_hf`` into a temporary folder that then takes the final name, so
a failed export leaves nothing behind under it.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Optional, Union

from .errors import InputError
from .genotypes import resolve_genotype
from .networks import RelativeNASNet
from .variants import VARIANTS
from .weights import arch_of

__all__ = ['HubExportError', 'export_hub']


class HubExportError(InputError, ValueError):
    """The folder cannot be written as asked; the message says why and what to do."""


def _architecture(model: RelativeNASNet) -> str:
    """The registered name the folder rebuilds through: the model's own, else one with its stem layout."""
    name = getattr(model, 'pretrained_cfg', {}).get('architecture')
    if name in VARIANTS:
        return name
    return 'relativenas' if model.stem_type == 'imagenet' else 'relativenas_cifar10'


def _described(model: RelativeNASNet, name: str, weights: Optional[str]) -> dict:
    """The ``pretrained_cfg`` the folder carries: the registered model's (input size, mean/std, crop), with the
    paper's tag and figures only for the paper's own network with trained weights. A searched genotype or
    random initial weights must not travel with claims made for other weights."""
    import timm
    cfg = dict(timm.models.get_pretrained_cfg(name).to_dict(), architecture=name)
    published = model.genotype.to_dict() == resolve_genotype(VARIANTS[name]['genotype']).to_dict()
    same_net = published and all(getattr(model, k) == VARIANTS[name][k] for k in ('C', 'layers', 'num_classes'))
    if weights is not None and same_net:
        return cfg
    geno = model.genotype.name or 'a custom genotype'
    if weights is None:
        cfg['tag'] = 'random-init'
        cfg['notes'] = (f'{geno} cells, random initial weights: nothing was trained; no figures apply.',)
    else:
        cfg['tag'] = 'custom'
        cfg['notes'] = (f'{geno} cells (C={model.C}, {model.layers} cells, {model.num_classes} classes), weights from '
                        f'{Path(weights).name}; the paper\'s figures are for its own network and weights.',)
    return cfg


def export_hub(model: RelativeNASNet, folder: Union[str, os.PathLike], overwrite: bool = False,
               weights: Optional[str] = None) -> Path:
    """Write ``model`` (its current weights) as a timm hub folder at ``folder``; returns the folder.
    ``weights``: the file its weights came from (None: random initial weights), said in ``config.json``."""
    from timm.models import save_for_hf

    if not isinstance(model, RelativeNASNet):
        raise HubExportError(f'a hub folder is written for zoo networks, not {type(model).__name__}; build it '
                             f'with timm.create_model or relnas_zoo.model_from_checkpoint')
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise HubExportError(f'{folder} is a file; choose a folder path for --hub')
    if folder.is_dir() and any(folder.iterdir()) and not overwrite:
        raise HubExportError(f'{folder} is not empty; choose a new folder (or pass overwrite=True / --overwrite)')
    folder.parent.mkdir(parents=True, exist_ok=True)
    name = _architecture(model)
    model.pretrained_cfg = _described(model, name, weights)
    tmp = Path(tempfile.mkdtemp(prefix=f'.{folder.name}.', dir=folder.parent))
    try:
        # model_args: the constructor arguments our checkpoints record, genotype included
        save_for_hf(model, str(tmp), model_args=arch_of(model), safe_serialization=True)
        if folder.is_dir():
            shutil.rmtree(folder)  # empty, or overwrite asked for
        os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder
