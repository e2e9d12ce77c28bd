"""Mixed precision in one place: the autocast context the search and the trainers run their steps in."""
from __future__ import annotations

import contextlib

import torch

__all__ = ['autocast']


def autocast(device: torch.device, amp: str, cache: bool = True):
    """``amp``: 'none' (fp32), 'bf16' or 'fp16'. ``cache=False`` for a step recorded as a CUDA graph: a
    graph must not keep autocast's per-forward weight copies (PyTorch's advice for graphs)."""
    if amp == 'none':
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if amp == 'bf16' else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype, cache_enabled=cache)
