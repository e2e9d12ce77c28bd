"""Atomic file writes: a crash or a full disk never leaves a half-written file under the final name.

On a full disk the partial temporary file is removed, the file under the final name (the previous
checkpoint, say) is left as it was, and a :class:`DiskFullError` names the path.
"""
from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import shutil
from pathlib import Path
from typing import Any, Iterator, Optional, Union

__all__ = ['DiskFullError', 'is_disk_full', 'atomic_write_bytes', 'atomic_write_text', 'atomic_write_json',
           'atomic_torch_save', 'previous_path']

_FULL = (errno.ENOSPC, errno.EDQUOT)


class DiskFullError(OSError):
    """No space (or quota) left where a file was being written; ``filename`` is that file."""

    def __str__(self) -> str:
        return (f'no space left on the disk (or quota) of {self.filename}: nothing was written there and the '
                f'previous file, if any, is intact; free space and run the command again (long jobs: --resume)')


def is_disk_full(e: BaseException) -> bool:
    return isinstance(e, OSError) and e.errno in _FULL


@contextlib.contextmanager
def _replacing(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` for the block to fill, renamed over ``path`` when the block ends;
    removed on any failure, a full disk raised as :class:`DiskFullError` naming ``path``."""
    tmp = path.with_name(f'.{path.name}.{os.getpid()}.tmp')  # processes writing one path do not collide
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException as e:
        tmp.unlink(missing_ok=True)
        if is_disk_full(e):
            raise DiskFullError(e.errno, os.strerror(e.errno), str(path)) from e
        raise


def atomic_write_bytes(path: Union[str, Path], data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, flush it to disk, then rename it over ``path``."""
    with _replacing(Path(path)) as tmp, open(tmp, 'wb') as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def previous_path(path: Union[str, Path]) -> Path:
    """Where :func:`atomic_torch_save` with ``keep_previous`` keeps the file it replaced: ``x.prev.pt``."""
    path = Path(path)
    return path.with_name(f'{path.stem}.prev{path.suffix}')


def _keep_previous(path: Path) -> None:
    """Make ``previous_path(path)`` the current ``path``, atomically (a hard link; a copy where links fail)."""
    if not path.is_file():
        return
    with _replacing(previous_path(path)) as tmp:
        tmp.unlink(missing_ok=True)
        try:
            os.link(path, tmp)
        except OSError:
            shutil.copyfile(path, tmp)


def atomic_write_text(path: Union[str, Path], text: str) -> None:
    atomic_write_bytes(path, text.encode('utf-8'))


def atomic_write_json(path: Union[str, Path], obj: Any, indent: Optional[int] = 2) -> None:
    """``obj`` as JSON text (one trailing newline)."""
    atomic_write_text(path, json.dumps(obj, indent=indent) + '\n')


def atomic_torch_save(obj: Any, path: Union[str, Path], keep_previous: bool = False) -> None:
    """``torch.save`` made atomic; ``keep_previous``: the replaced file stays as ``previous_path(path)``, so
    a checkpoint damaged after it was written (a bad copy, a disk error) still has an intact predecessor."""
    import torch
    buf = io.BytesIO()
    torch.save(obj, buf)
    if keep_previous:
        _keep_previous(Path(path))
    atomic_write_bytes(path, buf.getvalue())
