"""Checkpoint files: safe loading, our format, the authors' format, and readable mismatch reports.

Our file is a dict ``{'format': 'relnas_zoo', 'version': 1, 'arch': {...}, 'state_dict': {...}}``; the
arch record lets a file rebuild its own model; a ``.safetensors`` file holds the same record in its
metadata. The authors' file is a bare DARTS-style state dict (possibly under ``state_dict`` and with
``module.`` prefixes). Every load uses ``torch.load(weights_only=True)`` or safetensors: a checkpoint can
never run code.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

import torch
from torch import nn

from .atomic import atomic_torch_save, atomic_write_bytes
from .genotypes import PUBLISHED, Genotype, resolve_genotype
from .keymap import authors_key_to_ours, drop_prefixed, is_authors_layout, strip_wrappers
from .networks import RelativeNASNet
from .torch_files import UnreadableFileError, file_problem, load_torch_file
from .variants import VARIANTS

__all__ = [
    'FORMAT', 'CheckpointMismatchError', 'UnreadableFileError', 'load_checkpoint_file', 'save_checkpoint', 'prepare_state_dict',
    'checkpoint_filter_fn', 'describe_checkpoint', 'arch_of', 'model_from_checkpoint', 'create_model_for_checkpoint',
]

FORMAT = 'relnas_zoo'
VERSION = 1
SAFETENSORS_SUFFIX = '.safetensors'
PathLike = Union[str, os.PathLike]


class CheckpointMismatchError(RuntimeError):
    """A checkpoint whose keys or shapes do not fit the model; says which model it probably fits."""


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


def arch_of(model: RelativeNASNet) -> Dict[str, Any]:
    """The constructor arguments that rebuild ``model``'s architecture."""
    return dict(genotype=model.genotype.to_dict(), C=model.C, layers=model.layers,
                num_classes=model.num_classes, in_chans=model.in_chans, stem_type=model.stem_type,
                auxiliary=model.auxiliary_head is not None)


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
                raise ValueError(f'{path}: safetensors metadata holds JSON values only ({e}); save extras '
                                 f'that hold tensors or objects to a .pth file') from e
        atomic_write_bytes(path, save({k: v.contiguous() for k, v in tensors.items()}, metadata=meta))
        return
    payload: Dict[str, Any] = dict(format=FORMAT, version=VERSION, arch=arch_of(model), state_dict=tensors)
    if extra:
        payload.update(extra)
    atomic_torch_save(payload, path)


def checkpoint_filter_fn(state_dict: Mapping[str, Any], model: Optional[nn.Module] = None) -> Dict[str, Any]:
    """timm pretrained filter: unwrap and rename to our layout.

    Dead keys stay until ``model.load_state_dict``, so a misfit is still diagnosed from the full file.
    """
    sd = strip_wrappers(state_dict)
    return {authors_key_to_ours(k): v for k, v in sd.items()} if is_authors_layout(sd) else sd


def _to_our_keys(state_dict: Mapping[str, Any], model: RelativeNASNet) -> Dict[str, Any]:
    sd = checkpoint_filter_fn(state_dict)
    drop_prefixed(sd, model.unused_state_prefixes())
    return sd


def _shape(v: Any) -> Optional[Tuple[int, ...]]:
    return tuple(v.shape) if isinstance(v, torch.Tensor) else None


def _diff(sd: Mapping[str, Any], expected: Mapping[str, torch.Tensor]) -> Tuple[List[str], List[str], List[str]]:
    missing = [k for k in expected if k not in sd]
    unexpected = [k for k in sd if k not in expected]
    shapes = [f'{k}: checkpoint {_shape(sd[k])} vs model {tuple(expected[k].shape)}'
              for k in sd if k in expected and _shape(sd[k]) != tuple(expected[k].shape)]
    return missing, unexpected, shapes


def _list(title: str, items: List[str], limit: int = 8) -> str:
    more = f', ... ({len(items) - limit} more)' if len(items) > limit else ''
    return f'\n  {len(items)} {title}: ' + ', '.join(items[:limit]) + more


def prepare_state_dict(state_dict: Mapping[str, Any], model: RelativeNASNet, strict: bool = True) -> Dict[str, Any]:
    """Our-key state dict for ``model``, or a :class:`CheckpointMismatchError` that explains the misfit."""
    if isinstance(state_dict, Mapping) and isinstance(state_dict.get('arch'), Mapping):
        _check_arch_record('the checkpoint', state_dict['arch'], state_dict.get('state_dict', {}))
    sd = _to_our_keys(state_dict, model)
    missing, unexpected, shapes = _diff(sd, model.state_dict())
    if shapes or (strict and (missing or unexpected)):
        msg = (f'checkpoint does not fit {_arch_text(arch_of(model))}:'
               + (_list('missing keys', missing) if strict and missing else '')
               + (_list('unexpected keys', unexpected) if strict and unexpected else '')
               + (_list('shape mismatches', shapes) if shapes else '')
               + f'\n  {describe_checkpoint(state_dict)}')
        raise CheckpointMismatchError(msg)
    return sd


def _arch_text(arch: Mapping[str, Any]) -> str:
    geno = arch['genotype']
    name = geno.name if isinstance(geno, Genotype) else (geno.get('name') if isinstance(geno, Mapping) else geno)
    for variant, args in VARIANTS.items():
        if (str(name).lower() == args['genotype'].lower() and arch['C'] == args['C']
                and arch['layers'] == args['layers'] and arch['stem_type'] == args['stem_type']):
            extra = '' if arch.get('num_classes') == args['num_classes'] else f", num_classes={arch.get('num_classes')}"
            return f"timm.create_model('{variant}'{extra})"
    return (f"RelativeNASNet(genotype={name or 'a custom genotype'!r}, C={arch['C']}, layers={arch['layers']}, "
            f"num_classes={arch.get('num_classes')}, stem_type={arch['stem_type']!r})")


def _arch_from_tensors(sd: Mapping[str, Any]) -> Optional[Dict[str, Any]]:
    """The architecture figures an our-key state dict's tensors fix; None without stem weights."""
    if 'stem0.3.weight' in sd:
        stem_type, C, stem = 'imagenet', sd['stem0.3.weight'].shape[0], 'stem0.0.weight'
    elif 'stem.0.weight' in sd:
        stem_type, C, stem = 'cifar', sd['stem.0.weight'].shape[0] // 3, 'stem.0.weight'
    else:
        return None
    cells = [int(m.group(1)) for k in sd for m in [re.match(r'cells\.(\d+)\.', k)] if m]
    return dict(C=C, layers=max(cells) + 1 if cells else 0, stem_type=stem_type,
                num_classes=sd['classifier.weight'].shape[0] if 'classifier.weight' in sd else 0,
                in_chans=sd[stem].shape[1] if stem in sd else None,
                auxiliary=any(k.startswith('auxiliary_head.') for k in sd))


def _check_arch_record(path: PathLike, record: Mapping[str, Any], state_dict: Mapping[str, Any]) -> None:
    """Refuse an arch record its own tensors contradict, before anything is built from it (a damaged or
    edited record could otherwise ask for any size of network)."""
    found = _arch_from_tensors(checkpoint_filter_fn(state_dict))
    if found is None:
        raise CheckpointMismatchError(f'{path}: its arch record describes a network, but the file holds no stem '
                                      f'weights (stem.0.weight or stem0.3.weight)')
    wrong = [f'{k}={record[k]!r} (its tensors say {found[k]!r})' for k in found
             if k in record and record[k] != found[k]]
    if wrong:
        raise CheckpointMismatchError(f'{path}: the arch record does not match the tensors the file holds: '
                                      f'{", ".join(wrong)}; the file is damaged or was edited')


def describe_checkpoint(checkpoint: Mapping[str, Any]) -> str:
    """One line saying which model a checkpoint probably belongs to, read from its keys and shapes."""
    if isinstance(checkpoint, Mapping) and checkpoint.get('format') == FORMAT and 'arch' in checkpoint:
        return f'The file was written for {_arch_text(checkpoint["arch"])}.'
    sd = checkpoint_filter_fn(checkpoint)
    found = _arch_from_tensors(sd)
    if found is None:
        return 'It does not look like a RelativeNAS/DARTS-space network (no stem.0 or stem0.3 weights).'
    in_chans, auxiliary = found.pop('in_chans'), found.pop('auxiliary')
    arch = found
    stem_type, C, layers, num_classes = arch['stem_type'], arch['C'], arch['layers'], arch['num_classes']
    for genotype in PUBLISHED.values():
        try:
            with torch.device('meta'):
                cand = RelativeNASNet(genotype, in_chans=in_chans, auxiliary=auxiliary, **arch)
        except ValueError:
            break
        cand_sd = dict(sd)
        drop_prefixed(cand_sd, cand.unused_state_prefixes())  # an authors' file carries them
        if not any(_diff(cand_sd, cand.state_dict())):
            return f'It looks like a checkpoint for {_arch_text(dict(arch, genotype=genotype.name))}.'
    return (f'It looks like a {stem_type}-layout network with C={C}, {layers} cells and {num_classes} classes '
            f'whose genotype is none of the published ones; pass genotype=<its genotype .json>.')


def create_model_for_checkpoint(model_name: str, checkpoint: Mapping[str, Any], **overrides: Any) -> RelativeNASNet:
    """``timm.create_model(model_name)`` with the architecture ``checkpoint`` records (our format; explicit
    ``overrides`` win per key), its weights loaded. Raises CheckpointMismatchError when they do not fit."""
    import timm
    kwargs = dict(overrides)
    arch = checkpoint.get('arch')
    if isinstance(arch, dict):
        _check_arch_record('the checkpoint', arch, checkpoint.get('state_dict', {}))
        for key in ('genotype', 'C', 'layers', 'num_classes'):
            kwargs.setdefault(key, arch[key])
    model = timm.create_model(model_name, **kwargs)
    model.load_state_dict(checkpoint)
    return model


def model_from_checkpoint(path: PathLike, **overrides: Any) -> RelativeNASNet:
    """Rebuild and load a model from a file in our format (its arch record says what to build)."""
    ckpt = load_checkpoint_file(path)
    if ckpt.get('format') != FORMAT or not isinstance(ckpt.get('arch'), Mapping):
        raise ValueError(f'{path}: not a {FORMAT} checkpoint (no arch record); build the model yourself and '
                         f'load the file with timm.create_model(name, checkpoint_path=...)')
    _check_arch_record(path, ckpt['arch'], ckpt.get('state_dict', {}))
    arch = dict(ckpt['arch'], **overrides)
    arch['genotype'] = resolve_genotype(arch['genotype'])
    model = RelativeNASNet(**arch)
    model.load_state_dict(ckpt['state_dict'])
    return model
