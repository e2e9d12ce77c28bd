"""ONNX export of zoo models (classifier or backbone), checked in ONNX Runtime before it is trusted.

BN is folded into the convolutions first (``relnas_zoo.deploy.fold_batchnorm``), the batch axis is
dynamic, and the written file is run in ONNX Runtime on a batch of another size than the one exported
with; the largest difference from eager PyTorch is reported, and an export above the tolerance fails.
ONNX and ONNX Runtime are the ``deploy`` extra: ``pip install "relnas_zoo[deploy]"``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple, Union

import torch
from torch import nn

from .deploy import fold_batchnorm
from .networks import RelativeNASNet

__all__ = ['ExportError', 'ExportReport', 'FeatureOutputs', 'export_onnx']


class ExportError(RuntimeError):
    """The export could not run, or its file does not reproduce the model; the message says which."""


@dataclass
class ExportReport:
    path: str
    outputs: List[str]
    max_abs_diff: float
    checked_batch: int
    folded_bn: bool


class FeatureOutputs(nn.Module):
    """A network's feature levels as a tuple (the backbone of a detector or segmenter), cells after the last
    requested level removed."""

    def __init__(self, model: RelativeNASNet, out_indices: Sequence[int]):
        super().__init__()
        self.out_indices = list(out_indices)
        model.prune_intermediate_layers(self.out_indices, prune_head=True)
        self.model = model

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        return tuple(self.model.forward_intermediates(x, indices=self.out_indices, stop_early=True,
                                                     intermediates_only=True))


def _require_onnx():
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError as e:
        raise ExportError(f'ONNX export needs onnx, onnxscript and onnxruntime ({e.name} is missing): '
                          f'pip install "relnas_zoo[deploy]"') from e


@torch.no_grad()
def export_onnx(model: nn.Module, path: Union[str, os.PathLike], input_size: Sequence[int],
                fold_bn: bool = True, tolerance: float = 1e-4, opset: Optional[int] = None) -> ExportReport:
    """Write ``model`` (eval mode) to ``path`` with a dynamic batch axis and check it in ONNX Runtime."""
    _require_onnx()
    import numpy as np
    import onnxruntime as ort

    model = model.eval()
    reference = model
    if fold_bn:
        model = fold_batchnorm(model)
    example = torch.randn(1, *input_size)
    out = reference(example)
    n_out = len(out) if isinstance(out, (tuple, list)) else 1
    outputs = ['logits'] if n_out == 1 else [f'feature{i}' for i in range(n_out)]
    tmp = f'{os.fspath(path)}.tmp'
    try:
        kwargs = dict(input_names=['image'], output_names=outputs, dynamic_shapes=({0: torch.export.Dim('batch')},))
        if opset is not None:
            kwargs['opset_version'] = opset
        torch.onnx.export(model, (example,), tmp, **kwargs)
    except Exception as e:  # the exporter raises many kinds; name the stage
        raise ExportError(f'torch.onnx.export failed: {type(e).__name__}: {e}') from e
    check = torch.randn(3, *input_size)  # another batch size than exported: the axis must be dynamic
    session = ort.InferenceSession(tmp, providers=['CPUExecutionProvider'])
    got = session.run(None, {'image': check.numpy()})
    want = reference(check)
    want = [want] if isinstance(want, torch.Tensor) else list(want)
    diff = max(float(np.abs(g - w.numpy()).max()) for g, w in zip(got, want))
    if len(got) != len(want) or diff > tolerance:
        os.remove(tmp)
        raise ExportError(f'the exported model differs from PyTorch by {diff:.3g} (> tolerance {tolerance:g}); '
                          f'nothing was written to {path}')
    os.replace(tmp, path)
    return ExportReport(os.fspath(path), outputs, diff, len(check), fold_bn)
