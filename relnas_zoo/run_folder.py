"""One run per folder, for every long job (search, training, LMDB build).

A new run starts only in an empty or new folder, so it never overwrites another run's files or appends
to its logs; and a live run holds its folder's lock, so a second process started on the same folder
stops with a message instead of interleaving with it. The lock is a POSIX record lock: the kernel drops
it when the process ends however it ends (kill -9 included), and forked workers do not inherit it.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import socket
import time
from pathlib import Path
from typing import Callable, Iterator, Optional, Sequence

from .errors import InputError

__all__ = ['LOCK_NAME', 'FolderError', 'check_new_folder', 'folder_lock', 'claim_folder', 'live_holder']

LOCK_NAME = '.relnas_zoo.lock'


class FolderError(InputError, RuntimeError):
    """A run folder that cannot be used (another run's files, or a live run); the message says what to do."""


def _listing(names: Sequence[str], limit: int = 5) -> str:
    return ', '.join(names[:limit]) + (f' and {len(names) - limit} more' if len(names) > limit else '')


def check_new_folder(out: Path, job: str, marker: str, outputs: Sequence[str], force: bool = False) -> None:
    """Refuse to start a new ``job`` in ``out`` when it holds anything (the lock file aside).

    ``marker``: the file whose presence means a ``job`` to continue (then ``--resume`` is offered).
    ``force`` (where the command offers it) first removes ``outputs``, the files this job writes, and
    only those; anything else in the folder is kept.
    """
    held = sorted(p.name for p in out.iterdir() if p.name != LOCK_NAME) if out.is_dir() else []
    if force:
        for name in set(held) & set(outputs):
            path = out / name
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
        return
    if marker in held:
        raise FolderError(f'{out} already holds a {job}; continue it with --resume {out} or choose another '
                          f'--out')
    if held:
        way_out = (f'choose another --out, or pass --force to start a new {job} there (it replaces only the files '
                   f'a {job} writes)' if outputs else 'choose an empty or new folder')
        raise FolderError(f'{out} is not empty ({_listing(held)}) and holds no {job} to resume; {way_out}')


def live_holder(out: Path) -> Optional[str]:
    """What holds ``out``'s lock now (the job, its pid, host and start time), or None when no live process
    does: a stopped or killed run's folder, or one that never held a run."""
    try:
        import fcntl
    except ImportError:
        return None
    try:
        fd = os.open(Path(out) / LOCK_NAME, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # refused while a live run holds its exclusive lock
        except OSError:
            return os.pread(fd, 200, 0).decode('utf-8', 'replace').strip() or 'another process'
        return None
    finally:
        os.close(fd)  # (and with it the shared lock, if this took one)


@contextlib.contextmanager
def folder_lock(out: Path, job: str, check: Optional[Callable[[], None]] = None) -> Iterator[None]:
    """Hold ``out``'s lock while the block runs; a FolderError naming the holder if a live process has it.

    ``check`` runs once the lock is held and before this process signs the lock file, so a folder it
    refuses is left exactly as it was."""
    try:
        import fcntl
    except ImportError:  # no POSIX locks (Windows): one run per folder is then the user's to keep
        yield
        return
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    path = out / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    failed = False
    try:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 200, 0).decode('utf-8', 'replace').strip() or 'another process'
            raise FolderError(f'{out} is in use by a running {holder}; wait for it to end (or stop it), or choose '
                              f'another --out') from None
        if check is not None:
            check()
        os.ftruncate(fd, 0)
        os.pwrite(fd, f'{job} (pid {os.getpid()} on {socket.gethostname()}, since '
                      f'{time.strftime("%Y-%m-%d %H:%M:%S")})\n'.encode(), 0)
        try:
            yield
        except BaseException:
            failed = True
            raise
    finally:
        os.close(fd)  # releases the lock; the file stays (removing it would race with a process opening it)
        if failed and created and [p.name for p in out.iterdir()] == [LOCK_NAME]:
            # a run that failed before writing anything leaves no folder behind (it made it)
            path.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                out.rmdir()


@contextlib.contextmanager
def claim_folder(out: Path, job: str, marker: str, outputs: Sequence[str], resume: bool,
                 force: bool = False) -> Iterator[None]:
    """The folder of one run of ``job``: checked as new (unless ``resume``) and locked while the block runs.

    The check runs under the lock (a live run's files are never touched, ``force`` included, and a run
    that started and ended meanwhile is not overwritten) and, where no lock file exists yet, also before
    it, so that a refused folder gets nothing written, not even the lock file.
    """
    def check() -> None:
        if not resume:
            check_new_folder(out, job, marker, outputs, force)
    if not (force or (out / LOCK_NAME).exists()):
        check()
    with folder_lock(out, job, check):
        yield
