"""ONNX export of zoo models (classifier or backbone), checked in ONNX Runtime before it is trusted.

BN is folded into the convolutions first (``relnas_zoo.deploy.fold_batchnorm``), cell states are
zero-padded to a multiple of 8 channels (``relnas_zoo.deploy.pad_channels``: same outputs; ONNX
Runtime's blocked CPU kernels want multiples of 8), the batch axis is dynamic, and the file is run in
ONNX Runtime on a batch of another size than the one exported with before it is written; the largest difference from eager PyTorch is reported, and an export above the tolerance fails.
ONNX and ONNX Runtime are the ``deploy`` extra: ``pip install "relnas_zoo[deploy]"``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

import torch
from torch import nn

from .atomic import atomic_write_bytes
from .deploy import fold_batchnorm, pad_channels
from .errors import InputError
from .networks import RelativeNASNet

__all__ = ['ExportError', 'ExportReport', 'FeatureOutputs', 'export_onnx', 'require_onnx']


class ExportError(InputError, RuntimeError):
    """The export could not run, or its file does not reproduce the model; the message says which."""


@dataclass
class ExportReport:
    path: str
    outputs: List[str]
    max_abs_diff: float
    checked_batch: int
    folded_bn: bool
    channel_multiple: int


class FeatureOutputs(nn.Module):
    """A network's feature levels as a tuple (the backbone of a detector or segmenter), cells after the last
    requested level removed. A channel-padded network (``pad_channels``) gets its added channels taken
    out of every level again, so the outputs keep the original widths."""

    def __init__(self, model: RelativeNASNet, out_indices: Sequence[int]):
        super().__init__()
        self.out_indices = list(out_indices)
        model.prune_intermediate_layers(self.out_indices, prune_head=True)
        self.model = model
        layouts = getattr(model, 'channel_layouts', None)
        self.unpad = layouts is not None
        if layouts is not None:
            for j, level in enumerate(self.out_indices):
                self.register_buffer(f'keep{j}', layouts[level], persistent=False)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        feats = self.model.forward_intermediates(x, indices=self.out_indices, stop_early=True,
                                                 intermediates_only=True)
        if not self.unpad:
            return tuple(feats)
        return tuple(f.index_select(1, getattr(self, f'keep{j}')) for j, f in enumerate(feats))


def _with_padded_channels(model: nn.Module, multiple: int) -> nn.Module:
    """``model`` with its cell states padded (RelativeNAS networks and their backbones; others as given)."""
    if isinstance(model, RelativeNASNet):
        return pad_channels(model, multiple)
    if isinstance(model, FeatureOutputs):
        return FeatureOutputs(pad_channels(model.model, multiple), model.out_indices)
    return model


def require_onnx() -> None:
    """Fail with the install command when the deploy extra (onnx, onnxscript, onnxruntime) is missing."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError as e:
        raise ExportError(f'ONNX export needs onnx, onnxscript and onnxruntime ({e.name} is missing): '
                          f'pip install "relnas_zoo[deploy]"') from e


@torch.no_grad()
def export_onnx(model: nn.Module, path: Union[str, os.PathLike], input_size: Sequence[int],
                fold_bn: bool = True, tolerance: float = 1e-4, opset: Optional[int] = None,
                channel_multiple: int = 8) -> ExportReport:
    """Write ``model`` (eval mode) to ``path`` with a dynamic batch axis and check it in ONNX Runtime.

    ``channel_multiple``: pad RelativeNAS cell states to a multiple of this many channels (0 or 1: as
    built); padding works on the BN-folded network, so ``fold_bn=False`` exports the widths as built.
    Other models are exported as given.
    """
    require_onnx()
    folder = Path(path).resolve().parent
    if not folder.is_dir():  # before the export work, not after
        raise ExportError(f'{path}: the folder {folder} does not exist; create it or choose another --onnx path')
    import numpy as np
    import onnxruntime as ort

    model = model.eval()
    reference = model
    padded = fold_bn and channel_multiple > 1 and isinstance(model, (RelativeNASNet, FeatureOutputs))
    if padded:  # pad_channels returns the network with BN already folded
        model = _with_padded_channels(model, channel_multiple)
    elif fold_bn:
        model = fold_batchnorm(model)
    example = torch.randn(1, *input_size)
    out = reference(example)
    n_out = len(out) if isinstance(out, (tuple, list)) else 1
    outputs = ['logits'] if n_out == 1 else [f'feature{i}' for i in range(n_out)]
    # the exporter writes a file; it is checked there, then handed to the one atomic writer
    tmp = Path(path).with_name(f'.{Path(path).name}.{os.getpid()}.export')
    try:
        kwargs = dict(input_names=['image'], output_names=outputs, dynamic_shapes=({0: torch.export.Dim('batch')},))
        if opset is not None:
            kwargs['opset_version'] = opset
        try:
            torch.onnx.export(model, (example,), str(tmp), **kwargs)
        except Exception as e:  # the exporter raises many kinds; name the stage
            raise ExportError(f'torch.onnx.export failed: {type(e).__name__}: {e}') from e
        check = torch.randn(3, *input_size)  # another batch size than exported: the axis must be dynamic
        session = ort.InferenceSession(str(tmp), providers=['CPUExecutionProvider'])
        got = session.run(None, {'image': check.numpy()})
        want = reference(check)
        want = [want] if isinstance(want, torch.Tensor) else list(want)
        diff = max(float(np.abs(g - w.numpy()).max()) for g, w in zip(got, want))
        if len(got) != len(want) or diff > tolerance:
            raise ExportError(f'the exported model differs from PyTorch by {diff:.3g} (> tolerance {tolerance:g}); '
                              f'nothing was written to {path}')
        atomic_write_bytes(path, tmp.read_bytes())
    finally:
        tmp.unlink(missing_ok=True)
    return ExportReport(os.fspath(path), outputs, diff, len(check), fold_bn,
                        channel_multiple if padded else 0)
