"""Reading torch-format files (checkpoints, search states) safely, with a diagnosis of bad files.

Every read is ``torch.load(weights_only=True)``: a file can hold tensors and plain containers, never
objects, so nothing it carries can run. A file that cannot be read raises :class:`UnreadableFileError`
naming the file and what is wrong with it (missing, a folder, empty, not a torch file, truncated).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Union

from .errors import InputError

__all__ = ['UnreadableFileError', 'load_torch_file', 'load_run_checkpoint', 'file_problem']

_ZIP = b'PK\x03\x04'       # torch.save's format since PyTorch 1.6
_PICKLE = b'\x80'           # the legacy format (a pickle stream, protocol 2 or later)


class UnreadableFileError(InputError, ValueError):
    """A file that does not hold what it should; the message names the file and the problem."""


def file_problem(path: Path, what: str) -> str:
    """Why ``path`` cannot be a ``what`` file as far as the file system says, or '' when it is a plain file."""
    if not path.exists():
        return f'{what} {str(path)!r} does not exist'
    if path.is_dir():
        return f'{what} {str(path)!r} is a directory, not a file'
    if path.stat().st_size == 0:
        return f'{what} {str(path)!r} is empty (0 bytes): an interrupted write or copy'
    return ''


def load_torch_file(path: Union[str, os.PathLike], what: str = 'checkpoint') -> Any:
    """``torch.load(path, map_location='cpu', weights_only=True)``, or an UnreadableFileError that says why not."""
    import torch
    path = Path(path)
    problem = file_problem(path, what)
    if problem:
        raise UnreadableFileError(problem)
    with open(path, 'rb') as f:
        head = f.read(16)
    if head.startswith(_ZIP):
        import zipfile
        if not zipfile.is_zipfile(path):  # the central directory at the end is gone: the file was cut short
            raise UnreadableFileError(f'{what} {str(path)!r} is truncated ({path.stat().st_size} bytes, the end of '
                                      f'its zip archive is missing): an interrupted write or copy')
    elif not head.startswith(_PICKLE):
        kind = 'a safetensors file (name it .safetensors)' if head[8:9] == b'{' else f'it starts with {head[:8]!r}'
        raise UnreadableFileError(f'{what} {str(path)!r} is not a PyTorch file ({kind})')
    try:
        return torch.load(path, map_location='cpu', weights_only=True)
    except Exception as e:  # pickle and zip errors come in many types; one message names the file and policy
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UnreadableFileError(
            f'could not read {what} {str(path)!r} with torch.load(weights_only=True): {reason}. Only tensors and '
            f'plain containers are accepted; re-save the weights as a state_dict if the file holds objects') from e


def load_run_checkpoint(path: Union[str, os.PathLike], what: str, resume_command: str) -> Any:
    """A long job's checkpoint; when it is damaged and the one before it was kept (``atomic_torch_save``'s
    ``keep_previous``), the error says how to continue from that one with ``resume_command``."""
    from .atomic import previous_path
    try:
        return load_torch_file(path, what)
    except UnreadableFileError as e:
        prev = previous_path(path)
        if not prev.is_file():
            raise
        raise UnreadableFileError(f'{e}; the previous checkpoint is kept: resume from it with mv {prev} {path} '
                                  f'&& {resume_command}') from None
