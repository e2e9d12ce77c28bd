"""Atomic file writes: a crash or a full disk never leaves a half-written file under the final name."""
from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any, Optional, Union

__all__ = ['atomic_write_bytes', 'atomic_write_text', 'atomic_write_json', 'atomic_torch_save']


def atomic_write_bytes(path: Union[str, Path], data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, flush it to disk, then rename it over ``path``."""
    path = Path(path)
    tmp = path.with_name(f'.{path.name}.{os.getpid()}.tmp')  # processes writing one path do not collide
    try:
        with open(tmp, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: Union[str, Path], text: str) -> None:
    atomic_write_bytes(path, text.encode('utf-8'))


def atomic_write_json(path: Union[str, Path], obj: Any, indent: Optional[int] = 2) -> None:
    """``obj`` as JSON text (one trailing newline)."""
    atomic_write_text(path, json.dumps(obj, indent=indent) + '\n')


def atomic_torch_save(obj: Any, path: Union[str, Path]) -> None:
    import torch
    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(path, buf.getvalue())
