"""The authors' released transfer models (Tables 5-7) as mmengine checkpoints of this package's configs.

The RelativeNAS authors released the 18 trained models of their transfer tables (EMI-Group/
TransferLearning-Tasks: SSDLite on VOC, BiSeNet on Cityscapes, SimpleBaseline on COCO keypoints, each with
six backbones). Their files are plain state dicts of their own networks; this module maps one onto the
model of a transfer config, key for key, so that OpenMMLab's ``tools/test.py CONFIG FILE`` (and
``load_from`` / ``init_cfg``) loads it strictly:

* the task is read from the head keys and the backbone from its keys and stem width
  (:func:`released_layout`), which names the config the file belongs to;
* head keys are renamed by the rules of :data:`HEAD_RULES`; SSDLite's class scores are reordered from the
  authors' background-first layout to mmdet's background-last one; in-place ABN norms, which keep no
  batch count, get one;
* the backbone part goes through the backbone's own loading (RelativeNAS: the authors' cell keys and dead
  preprocess layers; the baselines: their ImageNet modules, key for key).

A file that does not fit the config is refused naming the first key or shape that does not fit and the
config it belongs to.
"""
from __future__ import annotations

import re
import warnings
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import torch
from torch import nn

from ..keymap import strip_wrappers
from ..state_dicts import CheckpointMismatchError, compare_state_dicts, prepare_state_dict
from .backbone import RelativeNASBackbone

__all__ = ['ReleasedFileError', 'TASKS', 'BACKBONES', 'HEAD_RULES', 'released_layout', 'config_for',
           'read_released_file', 'convert_released', 'backbone_module']


class ReleasedFileError(CheckpointMismatchError):
    """A released file that does not fit the config it is converted for (or is no released model at all)."""


# task: (dataset suffix of its configs, the keys that identify it, the backbone's key prefix in the file)
TASKS: Dict[str, Tuple[str, str, str]] = {
    'ssdlite': ('voc', 'classification_headers.0.', 'base_net.'),
    'bisenet': ('cityscapes', 'ffm.convblk.', 'cp.net.'),
    'simplebaseline': ('coco', 'final_layer.', 'backbone.'),
}
# backbone name in the config names: the first key of that network (in their files and ImageNet weights)
BACKBONES: Dict[str, str] = {
    'relativenas': 'stem0.0.weight', 'darts': 'stem0.0.weight', 'nasnet': 'cell_stem_0.',
    'mnasnet': 'layers.0.weight', 'mobilenetv2': 'features.0.0.weight', 'shufflenetv2': 'stage2.',
}
_CELL_NETWORK_WIDTH = {46: 'relativenas', 48: 'darts'}  # the ImageNet networks' C (stem0.3 width)

# (pattern, replacement) applied in order to each head key; the first match wins. Written from the
# authors' modules: SSDLite/vision/ssd/{ssd_mobile,ops}.py, BiSeNet/BiSeNet.py, Simplebaseline/lib/models/posenet.py
HEAD_RULES: Dict[str, List[Tuple[str, str]]] = {
    'ssdlite': [
        (r'^extras\.(\d+)\.conv\.0\.0\.', r'neck.extra_layers.\1.expand_conv.conv.'),
        (r'^extras\.(\d+)\.conv\.0\.1\.', r'neck.extra_layers.\1.expand_conv.bn.'),
        (r'^extras\.(\d+)\.conv\.1\.0\.', r'neck.extra_layers.\1.depthwise_conv.conv.'),
        (r'^extras\.(\d+)\.conv\.1\.1\.', r'neck.extra_layers.\1.depthwise_conv.bn.'),
        (r'^extras\.(\d+)\.conv\.2\.', r'neck.extra_layers.\1.linear_conv.conv.'),
        (r'^extras\.(\d+)\.conv\.3\.', r'neck.extra_layers.\1.linear_conv.bn.'),
        (r'^classification_headers\.(\d+)\.0\.', r'bbox_head.cls_convs.\1.0.conv.'),
        (r'^classification_headers\.(\d+)\.1\.', r'bbox_head.cls_convs.\1.0.bn.'),
        (r'^classification_headers\.(\d+)\.3\.', r'bbox_head.cls_convs.\1.1.'),
        (r'^classification_headers\.(\d+)\.(weight|bias)$', r'bbox_head.cls_convs.\1.0.\2'),  # plain 1x1 level
        (r'^regression_headers\.(\d+)\.0\.', r'bbox_head.reg_convs.\1.0.conv.'),
        (r'^regression_headers\.(\d+)\.1\.', r'bbox_head.reg_convs.\1.0.bn.'),
        (r'^regression_headers\.(\d+)\.3\.', r'bbox_head.reg_convs.\1.1.'),
        (r'^regression_headers\.(\d+)\.(weight|bias)$', r'bbox_head.reg_convs.\1.0.\2'),
    ],
    'bisenet': [
        (r'^cp\.arm(16|32)\.conv\.', r'backbone.context_path.arm\1.conv_layer.'),
        (r'^cp\.arm(16|32)\.conv_atten\.', r'backbone.context_path.arm\1.atten_conv_layer.1.conv.'),
        (r'^cp\.arm(16|32)\.bn_atten\.', r'backbone.context_path.arm\1.atten_conv_layer.1.bn.'),
        (r'^cp\.conv_head(16|32)\.', r'backbone.context_path.conv_head\1.'),
        (r'^cp\.conv_avg\.', r'backbone.context_path.gap_conv.1.'),
        (r'^sp\.conv([123])\.', r'backbone.spatial_path.layer\1.'),
        (r'^sp\.conv_out\.', r'backbone.spatial_path.layer4.'),
        (r'^ffm\.convblk\.', r'backbone.ffm.conv1.'),
        (r'^ffm\.conv1\.', r'backbone.ffm.conv_atten.0.'),
        (r'^ffm\.conv2\.', r'backbone.ffm.conv_atten.2.'),
        (r'^conv_out\.conv\.', r'decode_head.convs.0.'),
        (r'^conv_out\.conv_out\.', r'decode_head.conv_seg.'),
        (r'^conv_out16\.conv\.', r'auxiliary_head.0.convs.0.'),
        (r'^conv_out16\.conv_out\.', r'auxiliary_head.0.conv_seg.'),
        (r'^conv_out32\.conv\.', r'auxiliary_head.1.convs.0.'),
        (r'^conv_out32\.conv_out\.', r'auxiliary_head.1.conv_seg.'),
    ],
    'simplebaseline': [
        (r'^deconv_layers\.', r'head.deconv_layers.'),
        (r'^final_layer\.', r'head.final_layer.'),
    ],
}
_COMPILED = {task: [(re.compile(p), r) for p, r in rules] for task, rules in HEAD_RULES.items()}


def read_released_file(path: str) -> Dict[str, torch.Tensor]:
    """The state dict of a released file: plain, under ``state_dict`` (SimpleBaseline's
    ``checkpoint.pth.tar``, whose other entries are an epoch, a score and the optimizer), with or without
    ``module.``. Read with ``torch.load(weights_only=True)`` and numpy scalars allowed, nothing else."""
    from ..torch_files import load_torch_file
    from .runtime import allow_mmengine_checkpoints
    with allow_mmengine_checkpoints():
        raw = load_torch_file(path, 'released model')
    if not isinstance(raw, Mapping):
        raise ReleasedFileError(f'{path} holds a {type(raw).__name__}, not a state dict')
    sd = strip_wrappers(raw)
    tensors = {k: v for k, v in sd.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise ReleasedFileError(f'{path} holds no tensors (keys: {", ".join(list(sd)[:5])})')
    return tensors


def released_layout(state_dict: Mapping[str, torch.Tensor]) -> Tuple[str, str]:
    """``(task, backbone)`` of a released file, read from its keys (see :data:`TASKS`, :data:`BACKBONES`)."""
    task = next((t for t, (_, marker, _) in TASKS.items() if any(k.startswith(marker) for k in state_dict)), None)
    if task is None:
        raise ReleasedFileError('the file is none of the released transfer models: it has no SSDLite '
                                '(classification_headers.*), BiSeNet (ffm.convblk.*) or SimpleBaseline '
                                f'(final_layer.*) keys; its first keys: {", ".join(list(state_dict)[:4])}')
    prefix = TASKS[task][2]
    keys = [k[len(prefix):] for k in state_dict if k.startswith(prefix)]
    backbone = next((b for b, first in BACKBONES.items() if any(k.startswith(first) for k in keys)), None)
    if backbone in ('relativenas', 'darts'):
        width = state_dict.get(prefix + 'stem0.3.weight')
        backbone = _CELL_NETWORK_WIDTH.get(int(width.shape[0])) if width is not None else None
    if backbone is None:
        raise ReleasedFileError(f'a {task} file whose backbone ({prefix}*) is none of the six of the paper '
                                f'({", ".join(BACKBONES)}); its first backbone keys: {", ".join(keys[:3])}')
    return task, backbone


def config_for(task: str, backbone: str) -> str:
    """The shipped config name for a released model (the RelativeNAS rows are the task configs)."""
    dataset = TASKS[task][0]
    return f'{task}_{dataset}' if backbone == 'relativenas' else f'comparison/{task}_{backbone}_{dataset}'


def backbone_module(model: nn.Module, task: str) -> Tuple[str, nn.Module]:
    """``(prefix, module)`` of the ImageNet network inside a transfer model."""
    if task == 'bisenet':
        return 'backbone.context_path.backbone.', model.backbone.context_path.backbone
    return 'backbone.', model.backbone


def _rename_head_key(task: str, key: str) -> Optional[str]:
    for pattern, replacement in _COMPILED[task]:
        if pattern.search(key):
            return pattern.sub(replacement, key)
    return None


def _background_last(weight: torch.Tensor, num_scores: int) -> torch.Tensor:
    """Rows ``[a * num_scores + c]`` of a class-score conv from background-first to background-last."""
    order = torch.arange(weight.shape[0]).view(-1, num_scores)
    order = torch.cat([order[:, 1:], order[:, :1]], dim=1).reshape(-1)
    return weight[order]


def _backbone_state(source: Mapping[str, torch.Tensor], module: nn.Module) -> Dict[str, torch.Tensor]:
    """The backbone's own keys for the backbone part of a released file (its load path converts)."""
    if isinstance(module, RelativeNASBackbone):  # the authors' cell layout, dead layers
        return prepare_state_dict(source, module, strict=True)
    body = module.body.state_dict()
    unknown = [k for k in source if k not in body]
    if unknown:  # the network's ImageNet modules, key for key: anything else is another network's
        raise CheckpointMismatchError(f'the file\'s backbone key {unknown[0]} is not one of {module.model_name}\'s')
    return {f'body.{k}': v for k, v in source.items()}


def _first_misfit(sd: Mapping[str, torch.Tensor], expected: Mapping[str, torch.Tensor]) -> Optional[str]:
    """The first key that does not fit, in the model's order (then the file's extras), as one phrase."""
    missing, unexpected, mismatched = compare_state_dicts(sd, expected)
    bad = set(missing) | set(mismatched)
    k = next((k for k in expected if k in bad), None)
    if k is not None:
        shape = tuple(expected[k].shape)
        return (f'the model\'s {k} {shape} has no counterpart in the file' if k not in sd
                else f'{k}: file {tuple(sd[k].shape)} vs model {shape}')
    return f'the file\'s {unexpected[0]} has no place in the model' if unexpected else None


def convert_released(source: Mapping[str, torch.Tensor], model: nn.Module, config: str) -> Dict[str, torch.Tensor]:
    """``model``'s state dict from a released file's ``source`` state dict, or a ReleasedFileError naming
    the first misfit and the config the file belongs to."""
    task, backbone = released_layout(source)
    belongs = config_for(task, backbone)
    hint = f' The file is a released {task} model with a {backbone} backbone: convert it with --config {belongs}.'
    expected = model.state_dict()
    model_task = next((t for t in TASKS if all(any(k.startswith(p) for k in expected) for p in _model_markers(t))),
                      None)
    if model_task != task:
        built = 'none of the paper\'s transfer models' if model_task is None else f'a {model_task} model'
        raise ReleasedFileError(f'{config} builds {built}.{hint}')
    file_prefix = TASKS[task][2]
    prefix, bb = backbone_module(model, task)
    config_backbone = _backbone_name(bb)
    if config_backbone != backbone:
        raise ReleasedFileError(f'{config} has a {config_backbone or type(bb).__name__} backbone.{hint}')
    try:
        sd = {prefix + k: v for k, v in _backbone_state(
            {k[len(file_prefix):]: v for k, v in source.items() if k.startswith(file_prefix)}, bb).items()}
    except CheckpointMismatchError as e:
        raise ReleasedFileError(f'the backbone of the file does not fit {config}: {str(e).splitlines()[0]}{hint}')
    unplaced = []
    score_convs = _final_convs(model) if task == 'ssdlite' else []
    for key, value in source.items():
        if key.startswith(file_prefix):
            continue
        ours = _rename_head_key(task, key)
        if ours is None:
            unplaced.append(key)
            continue
        if task == 'ssdlite' and ours.rsplit('.', 1)[0] in score_convs:
            value = _background_last(value, model.bbox_head.cls_out_channels)
        sd[ours] = value
    if unplaced:
        raise ReleasedFileError(f'the file\'s {unplaced[0]} has no place in {config}.{hint}')
    for key, value in expected.items():  # in-place ABN keeps no batch count; the model's norm does
        if key.endswith('num_batches_tracked') and key not in sd and key.rsplit('.', 1)[0] + '.running_mean' in sd:
            sd[key] = torch.zeros_like(value)
    misfit = _first_misfit(sd, expected)
    if misfit:
        elsewhere = '' if str(config).replace('.py', '').endswith(belongs) else hint
        raise ReleasedFileError(f'the file does not fit {config}: {misfit}.{elsewhere}')
    return {k: sd[k] for k in expected}


def _backbone_name(module: nn.Module) -> Optional[str]:
    """The paper's name of a config's backbone (see :data:`BACKBONES`), or None for another network."""
    if isinstance(module, RelativeNASBackbone):  # the network's width tells
        return _CELL_NETWORK_WIDTH.get(module.C)
    return {'mobilenet_v2': 'mobilenetv2', 'mnasnet1_0': 'mnasnet', 'shufflenet_v2_x1_0': 'shufflenetv2',
            'nasnetamobile': 'nasnet'}.get(getattr(module, 'model_name', None))


def _model_markers(task: str) -> Sequence[str]:
    return {'ssdlite': ('bbox_head.cls_convs.', 'neck.extra_layers.'),
            'bisenet': ('backbone.context_path.', 'backbone.spatial_path.'),
            'simplebaseline': ('head.deconv_layers.', 'head.final_layer.')}[task]


def _final_convs(model: nn.Module) -> List[str]:
    """Names of the class-score convolutions of an SSD head (the last layer of each level)."""
    return [f'bbox_head.cls_convs.{i}.{len(seq) - 1}' for i, seq in enumerate(model.bbox_head.cls_convs)]


def convert_released_file(src: str, dst: str, config: str, verify: bool = True) -> Dict[str, object]:
    """Convert the released file ``src`` for ``config`` (a path or a shipped config name) and write an
    mmengine checkpoint to ``dst``; with ``verify``, both layouts run on one input first. Returns what was
    done (task, backbone, config path, tensors, the largest output difference)."""
    from ..atomic import atomic_torch_save
    from ..config_files import transfer_config
    from .models import build_transfer_model, load_transfer_config
    from .released_reference import compare_converted
    source = read_released_file(src)
    task, backbone = released_layout(source)
    path = transfer_config(config)
    with warnings.catch_warnings():  # OpenMMLab's deprecation notes while building say nothing about the file
        warnings.simplefilter('ignore', UserWarning)
        model = build_transfer_model(load_transfer_config(path))
    state = convert_released(source, model, str(config))
    model.load_state_dict(state, strict=True)
    report: Dict[str, object] = dict(task=task, backbone=backbone, config=path, tensors=len(state))
    if verify:
        report.update(compare_converted(task, source, model))
        if report['max_abs_diff'] > 1e-4 * max(1., report['output_scale']):
            raise ReleasedFileError(f'the converted model differs from the file\'s own layout by '
                                    f'{report["max_abs_diff"]:.3g} on one input; nothing was written')
    meta = dict(source=str(src), config=path, released_layout=f'{task}/{backbone}', converted_by='relnas_zoo')
    atomic_torch_save(dict(meta=meta, state_dict=state), dst)
    return report
