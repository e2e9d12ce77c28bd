"""State dicts: our layout and the authors', and readable reports of a checkpoint that does not fit.

The one place that knows how a state dict maps onto a network: ``RelativeNASNet.load_state_dict`` and
timm's pretrained filter call it, and it builds nothing itself (a report's candidate networks are built
from the class it is given), so the network module and the checkpoint-file module both import it and
neither imports the other.
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Mapping, Optional, Tuple

import torch
from torch import nn

from .errors import InputError
from .genotypes import PUBLISHED, Genotype
from .keymap import authors_key_to_ours, drop_prefixed, is_authors_layout, strip_wrappers
from .variants import VARIANTS

__all__ = ['FORMAT', 'CheckpointMismatchError', 'arch_of', 'checkpoint_filter_fn', 'prepare_state_dict',
           'describe_checkpoint', 'identify_checkpoint', 'check_arch_record', 'compare_state_dicts']

FORMAT = 'relnas_zoo'


class CheckpointMismatchError(InputError, RuntimeError):
    """A checkpoint whose keys or shapes do not fit the model; says which model it probably fits."""


def arch_of(model: nn.Module) -> Dict[str, Any]:
    """The constructor arguments that rebuild ``model``'s architecture."""
    return dict(genotype=model.genotype.to_dict(), C=model.C, layers=model.layers,
                num_classes=model.num_classes, in_chans=model.in_chans, stem_type=model.stem_type,
                auxiliary=model.auxiliary_head is not None)


def checkpoint_filter_fn(state_dict: Mapping[str, Any], model: Optional[nn.Module] = None) -> Dict[str, Any]:
    """timm's pretrained filter, and our loaders': unwrap, rename to our layout and, given the ``model``
    the file is loaded into, leave out the parts it was built without (an auxiliary head, a classifier,
    pruned cells: ``optional_state_prefixes``). Those who call it asked for that model from that file.

    The authors' dead keys stay until ``model.load_state_dict`` converts them, so a misfit is still
    diagnosed from the whole file.
    """
    sd = strip_wrappers(state_dict)
    sd = {authors_key_to_ours(k): v for k, v in sd.items()} if is_authors_layout(sd) else dict(sd)
    if model is not None:
        drop_prefixed(sd, model.optional_state_prefixes())
    return sd


def _to_our_keys(state_dict: Mapping[str, Any], model: nn.Module) -> Dict[str, Any]:
    sd = checkpoint_filter_fn(state_dict)
    drop_prefixed(sd, model.dead_state_prefixes())
    return sd


def _optional_hint(unexpected: List[str], model: nn.Module) -> str:
    """The way out when the only surplus keys are parts the model was built without."""
    optional = model.optional_state_prefixes()
    if not unexpected or not all(k.startswith(optional) for k in unexpected):
        return ''
    parts = sorted({'an auxiliary head' if k.startswith('auxiliary_head.') else
                    'a classifier' if k.startswith('classifier.') else 'cells pruned away' for k in unexpected})
    return (f'\n  The file also holds {" and ".join(parts)}, which this model was built without. Build it with '
            f'them (e.g. auxiliary=True), or load only what it uses: timm.create_model(..., pretrained=True, '
            f'pretrained_cfg_overlay=dict(file=...)), relnas_zoo.model_from_checkpoint(file) or '
            f'load_state_dict(..., strict=False).')


def _shape(v: Any) -> Optional[Tuple[int, ...]]:
    return tuple(v.shape) if isinstance(v, torch.Tensor) else None


def compare_state_dicts(sd: Mapping[str, Any], expected: Mapping[str, torch.Tensor]
                        ) -> Tuple[List[str], List[str], List[str]]:
    """Keys ``expected`` has that ``sd`` lacks, keys ``sd`` has that ``expected`` lacks, and keys of both
    whose shapes differ (in ``sd``'s order)."""
    missing = [k for k in expected if k not in sd]
    unexpected = [k for k in sd if k not in expected]
    mismatched = [k for k in sd if k in expected and _shape(sd[k]) != tuple(expected[k].shape)]
    return missing, unexpected, mismatched


def _diff(sd: Mapping[str, Any], expected: Mapping[str, torch.Tensor]) -> Tuple[List[str], List[str], List[str]]:
    missing, unexpected, mismatched = compare_state_dicts(sd, expected)
    shapes = [f'{k}: checkpoint {_shape(sd[k])} vs model {tuple(expected[k].shape)}' for k in mismatched]
    return missing, unexpected, shapes


def _list(title: str, items: List[str], limit: int = 8) -> str:
    more = f', ... ({len(items) - limit} more)' if len(items) > limit else ''
    return f'\n  {len(items)} {title}: ' + ', '.join(items[:limit]) + more


def prepare_state_dict(state_dict: Mapping[str, Any], model: nn.Module, strict: bool = True) -> Dict[str, Any]:
    """Our-key state dict for ``model``, or a :class:`CheckpointMismatchError` that explains the misfit."""
    if isinstance(state_dict, Mapping) and isinstance(state_dict.get('arch'), Mapping):
        check_arch_record('the checkpoint', state_dict['arch'], state_dict.get('state_dict', {}))
    sd = _to_our_keys(state_dict, model)
    missing, unexpected, shapes = _diff(sd, model.state_dict())
    if shapes or (strict and (missing or unexpected)):
        msg = (f'checkpoint does not fit {_arch_text(arch_of(model))}:'
               + (_list('missing keys', missing) if strict and missing else '')
               + (_list('unexpected keys', unexpected) if strict and unexpected else '')
               + (_list('shape mismatches', shapes) if shapes else '')
               + (_optional_hint(unexpected, model) if strict and not missing and not shapes else '')
               + f'\n  {describe_checkpoint(state_dict, getattr(model, "checkpoint_network", type(model)))}')
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


def check_arch_record(path: str, record: Mapping[str, Any], state_dict: Mapping[str, Any]) -> None:
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


def identify_checkpoint(checkpoint: Mapping[str, Any], network: type) -> Optional[Dict[str, Any]]:
    """The architecture a checkpoint holds, read from its arch record or its keys and shapes: a dict with
    ``C``, ``layers``, ``stem_type``, ``num_classes`` and ``genotype`` (a published genotype's name, or None
    when the cells are none of them); None when it is no RelativeNAS/DARTS-space network. ``network`` (the
    RelativeNASNet class) builds the candidate networks on the meta device."""
    if isinstance(checkpoint, Mapping) and checkpoint.get('format') == FORMAT and 'arch' in checkpoint:
        arch = dict(checkpoint['arch'])
        geno = arch.get('genotype')
        arch['genotype'] = geno.get('name') if isinstance(geno, Mapping) else geno
        return arch
    sd = checkpoint_filter_fn(checkpoint)
    found = _arch_from_tensors(sd)
    if found is None:
        return None
    in_chans, auxiliary = found.pop('in_chans'), found.pop('auxiliary')
    for genotype in PUBLISHED.values():
        try:
            with torch.device('meta'):
                cand = network(genotype, in_chans=in_chans, auxiliary=auxiliary, **found)
        except ValueError:
            break
        cand_sd = dict(sd)
        drop_prefixed(cand_sd, cand.unused_state_prefixes())  # an authors' file carries them
        if not any(_diff(cand_sd, cand.state_dict())):
            return dict(found, genotype=genotype.name)
    return dict(found, genotype=None)


def describe_checkpoint(checkpoint: Mapping[str, Any], network: Optional[type] = None) -> str:
    """One line saying which model a checkpoint probably belongs to, read from its keys and shapes
    (``network``: the class to try the published genotypes with; RelativeNASNet by default)."""
    if network is None:
        from .networks import RelativeNASNet as network
    if isinstance(checkpoint, Mapping) and checkpoint.get('format') == FORMAT and 'arch' in checkpoint:
        return f'The file was written for {_arch_text(checkpoint["arch"])}.'
    arch = identify_checkpoint(checkpoint, network)
    if arch is None:
        return 'It does not look like a RelativeNAS/DARTS-space network (no stem.0 or stem0.3 weights).'
    if arch['genotype'] is not None:
        return f'It looks like a checkpoint for {_arch_text(arch)}.'
    return (f'It looks like a {arch["stem_type"]}-layout network with C={arch["C"]}, {arch["layers"]} cells and '
            f'{arch["num_classes"]} classes whose genotype is none of the published ones; pass genotype=<its '
            f'genotype .json>.')
