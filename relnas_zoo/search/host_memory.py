"""Keep the memory one training step frees for the next (glibc's malloc; searches on the CPU).

A candidate's training step allocates its activations (about 1 GB at batch 64, C=16, 8 cells) and frees
them when the backward ends; the next step and the next candidate allocate the same sizes again. glibc
returns freed memory at the top of its heap to the kernel once more than a trim threshold is free there
(adaptive, at most 64 MB) and serves blocks above an mmap threshold (adaptive, 128 KB to 32 MB) with
their own mappings, unmapped on free. Either way the pages come back zero-filled through page faults,
at every step (bench/README.md and docs/search.md give the counts measured). With the mmap threshold fixed at glibc's maximum and the trim threshold at the largest mallopt takes
(2 GiB free at the heap's top), a search faults its peak in once and reuses it (the peak itself does
not change: the freed memory is what the next step needs anyway). ``mallopt`` is process-wide, so the
search applies it where it owns the process (the ``keep_freed_memory`` setting, on by default for CPU
searches); elsewhere it changes nothing.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import logging
from typing import Optional

__all__ = ['keep_freed_memory', 'MMAP_THRESHOLD', 'TRIM_THRESHOLD']

log = logging.getLogger(__name__)

# mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
# glibc's ceiling for the mmap threshold on 64-bit (DEFAULT_MMAP_THRESHOLD_MAX: larger values are refused):
# blocks above it (a 64x64x32x32 float tensor at batch 256 and up) keep their own mappings
MMAP_THRESHOLD = 32 * 2 ** 20
# mallopt takes a C int: the largest trim threshold it can express (2 GiB free at the heap's top)
TRIM_THRESHOLD = 2 ** 31 - 1

_applied: Optional[bool] = None


def _glibc() -> Optional[ctypes.CDLL]:
    name = ctypes.util.find_library('c')
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.gnu_get_libc_version  # noqa: B018  (raises AttributeError on musl, macOS, Windows)
        libc.mallopt  # noqa: B018
    except (OSError, AttributeError):
        return None
    libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    libc.mallopt.restype = ctypes.c_int
    return libc


def keep_freed_memory() -> bool:
    """Set glibc's mmap and trim thresholds so that freed memory stays in the process (module docstring).

    Returns whether both settings took effect: False where the C library is not glibc (nothing is
    changed there). Process-wide and not undone; calling it again does nothing more.
    """
    global _applied
    if _applied is not None:
        return _applied
    libc = _glibc()
    if libc is None:
        log.debug('not glibc: the allocator is left as it is')
        _applied = False
        return False
    # the mmap threshold first: setting either one ends glibc's adaptive thresholds
    ok = libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 and libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    if not ok:
        log.warning('glibc refused the allocator settings (mmap threshold %d, trim threshold %d); '
                    'freed memory is returned to the kernel as usual', MMAP_THRESHOLD, TRIM_THRESHOLD)
    _applied = ok
    return ok
