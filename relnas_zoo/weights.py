"""Checkpoint files: safe loading and saving, our format and the authors', models rebuilt from files.

Our file is a dict ``{'format': 'relnas_zoo', 'version': 1, 'arch': {...}, 'state_dict': {...}}``; the
arch record lets a file rebuild its own model; a ``.safetensors`` file holds the same record in its
metadata. The authors' file is a bare DARTS-style state dict (possibly under ``state_dict`` and with
``module.`` prefixes). Every load uses ``torch.load(weights_only=True)`` or safetensors: a checkpoint can
never run code. How a state dict maps onto a network, and the mismatch reports, are in
:mod:`.state_dicts`.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Union

from .atomic import atomic_torch_save, atomic_write_bytes
from .genotypes import resolve_genotype
from .networks import RelativeNASNet
from .state_dicts import (FORMAT, CheckpointMismatchError, arch_of, check_arch_record, checkpoint_filter_fn,
                          prepare_state_dict)
from .state_dicts import describe_checkpoint
from .torch_files import UnreadableFileError, file_problem, load_torch_file

__all__ = [
    'FORMAT', 'CheckpointMismatchError', 'UnreadableFileError', 'load_checkpoint_file', 'save_checkpoint', 'prepare_state_dict',
    'checkpoint_filter_fn', 'describe_checkpoint', 'arch_of', 'model_from_checkpoint', 'create_model_for_checkpoint',
]

VERSION = 1
SAFETENSORS_SUFFIX = '.safetensors'
PathLike = Union[str, os.PathLike]


def _read_safetensors(path: Path) -> Dict[str, Any]:
    from safetensors import safe_open
    try:
        with safe_open(str(path), framework='pt', device='cpu') as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:  # the format holds only tensors and strings: nothing in it can run
        raise UnreadableFileError(f'could not read safetensors checkpoint {str(path)!r}: {e} (a truncated or '
                                  f'damaged file, or not safetensors)') from e
    if meta.get('format') != FORMAT:
        return tensors  # a plain state dict (e.g. a timm hub folder's model.safetensors)
    out: Dict[str, Any] = dict(format=FORMAT, version=int(meta.get('version', VERSION)), state_dict=tensors)
    if 'arch' in meta:
        out['arch'] = json.loads(meta['arch'])
    out.update(json.loads(meta.get('extra', '{}')))  # extras sit beside the record, as in a .pth file
    return out


def load_checkpoint_file(path: PathLike) -> Dict[str, Any]:
    """Read a checkpoint (``.pth``/``.pt``: torch's format; ``.safetensors``) without executing anything it
    carries; our files come back as ``{'format', 'version', 'arch', 'state_dict', ...}`` either way."""
    path = Path(path)
    if path.suffix == SAFETENSORS_SUFFIX:
        problem = file_problem(path, 'checkpoint')
        if problem:
            raise UnreadableFileError(problem)
        return _read_safetensors(path)
    checkpoint = load_torch_file(path, 'checkpoint')
    if not isinstance(checkpoint, Mapping):
        raise UnreadableFileError(f'checkpoint {str(path)!r} holds a {type(checkpoint).__name__}, not a dict of '
                                  f'tensors')
    return checkpoint


def save_checkpoint(model: RelativeNASNet, path: PathLike, extra: Optional[Mapping[str, Any]] = None) -> None:
    """Write ``model`` in our format, atomically (a crash never leaves a truncated file).

    A ``.safetensors`` path writes safetensors: the tensors, with the format, the arch record and
    ``extra`` (JSON values only) in its metadata; any other suffix writes torch's format.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    if path.suffix == SAFETENSORS_SUFFIX:
        from safetensors.torch import save
        meta = dict(format=FORMAT, version=str(VERSION), arch=json.dumps(arch_of(model)))
        if extra:
            try:
                meta['extra'] = json.dumps(dict(extra))
            except TypeError as e:
                raise UnreadableFileError(f'{path}: safetensors metadata holds JSON values only ({e}); save extras '
                                 f'that hold tensors or objects to a .pth file') from e
        atomic_write_bytes(path, save({k: v.contiguous() for k, v in tensors.items()}, metadata=meta))
        return
    payload: Dict[str, Any] = dict(format=FORMAT, version=VERSION, arch=arch_of(model), state_dict=tensors)
    if extra:
        payload.update(extra)
    atomic_torch_save(payload, path)


def create_model_for_checkpoint(model_name: str, checkpoint: Mapping[str, Any], **overrides: Any) -> RelativeNASNet:
    """``timm.create_model(model_name)`` with the architecture ``checkpoint`` records (our format; explicit
    ``overrides`` win per key), its weights loaded. Raises CheckpointMismatchError when they do not fit."""
    import timm
    kwargs = dict(overrides)
    arch = checkpoint.get('arch')
    if isinstance(arch, dict):
        check_arch_record('the checkpoint', arch, checkpoint.get('state_dict', {}))
        for key in ('genotype', 'C', 'layers', 'num_classes'):
            kwargs.setdefault(key, arch[key])
    model = timm.create_model(model_name, **kwargs)
    model.load_state_dict(checkpoint_filter_fn(checkpoint, model))  # an auxiliary head is not needed here
    return model


def model_from_checkpoint(path: PathLike, **overrides: Any) -> RelativeNASNet:
    """Rebuild and load a model from a file in our format (its arch record says what to build)."""
    ckpt = load_checkpoint_file(path)
    if ckpt.get('format') != FORMAT or not isinstance(ckpt.get('arch'), Mapping):
        raise UnreadableFileError(f'{path}: not a {FORMAT} checkpoint (no arch record); build the model yourself and '
                         f'load the file with timm.create_model(name, checkpoint_path=...)')
    check_arch_record(path, ckpt['arch'], ckpt.get('state_dict', {}))
    arch = dict(ckpt['arch'], **overrides)
    arch['genotype'] = resolve_genotype(arch['genotype'])
    model = RelativeNASNet(**arch)
    model.load_state_dict(checkpoint_filter_fn(ckpt['state_dict'], model))  # overrides may leave parts out
    return model
