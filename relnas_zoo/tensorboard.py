"""TensorBoard scalars of the long jobs (search, training): a writer when asked for and installed."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

__all__ = ['open_writer']


def open_writer(folder: Path, enabled: bool) -> Optional[Any]:
    """A ``SummaryWriter`` on ``folder`` (a run's ``tb/``), or None when not ``enabled`` or when
    tensorboard is not installed (it is optional: the logs hold the same figures)."""
    if not enabled:
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(str(folder))
