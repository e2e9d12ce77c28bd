"""Opening a built database for reading: one read-only environment per database and process, its
metadata and its label index."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, Iterator, Optional, Tuple, Union

import numpy as np

from .errors import CorruptRecordError, DatabaseError
from .format import CHECKED_VERSION, LABELS_PREFIX, META_KEY, RecordError, read_meta, unpack_labels

__all__ = ['open_readonly', 'close_readonly', 'read_build_meta', 'meta_of', 'is_checked', 'prefixed', 'read_labels']

PathLike = Union[str, os.PathLike]

# One read-only environment per (database, process): LMDB refuses to open the same database twice in a
# process ("already open"), and a handle must never be used across a fork (DataLoader workers open their own).
_READERS: Dict[Tuple[str, int], object] = {}


def _check_complete_file(env, path: PathLike) -> None:
    """A data.mdb shorter than the pages its own metadata counts (an interrupted copy) would end the process
    with SIGBUS at the first read of a missing page; refuse it while a message can still be given."""
    data = Path(path, 'data.mdb')
    needed = (env.info()['last_pgno'] + 1) * env.stat()['psize']
    size = data.stat().st_size
    if size < needed:
        raise DatabaseError(f'{data} is truncated: {size} bytes, but its pages need {needed} (an interrupted copy or '
                         f'a full disk); copy it again or rebuild it with relnas-zoo pack-lmdb')


def open_readonly(path: PathLike, readahead: bool = True):
    """This process's read-only, lock-free environment for the LMDB at ``path`` (opened once)."""
    import lmdb
    key = (os.path.realpath(path), os.getpid())
    env = _READERS.get(key)
    if env is None:
        for stale in [k for k in _READERS if k[1] != key[1]]:
            _READERS.pop(stale)  # inherited through a fork: never touch it here
        if not Path(path, 'data.mdb').is_file():
            raise DatabaseError(f'{path} is not an LMDB directory (no data.mdb); build it with relnas-zoo pack-lmdb')
        try:
            env = lmdb.open(str(path), readonly=True, lock=False, readahead=readahead, meminit=False, subdir=True,
                            max_readers=2048)
        except lmdb.Error as e:
            raise DatabaseError(f'cannot open {Path(path, "data.mdb")} as an LMDB: {e} (a damaged or truncated '
                             f'file?)') from None
        try:
            _check_complete_file(env, path)
        except DatabaseError:
            env.close()
            raise
        _READERS[key] = env
    return env


def meta_of(txn, path: PathLike) -> Dict:
    try:
        return read_meta(txn)
    except ValueError as e:
        raise DatabaseError(f'{path}: {e}') from None


def is_checked(meta: Dict) -> bool:
    """Whether the database's records carry checksums (format version 3 on)."""
    return int(meta.get('version', 2)) >= CHECKED_VERSION


def close_readonly(path: PathLike) -> None:
    """Close this process's read-only environment for ``path``, if open (e.g. before writing to it)."""
    env = _READERS.pop((os.path.realpath(path), os.getpid()), None)
    if env is not None:
        env.close()


def read_build_meta(path: PathLike) -> Optional[Dict]:
    """The metadata of the (possibly unfinished) build at ``path``; None where no build is there."""
    path = Path(path)
    if not (path / 'data.mdb').is_file():
        return None
    env = open_readonly(path)
    with env.begin() as txn:
        found = txn.get(META_KEY) is not None
        meta = meta_of(txn, path) if found else None
    close_readonly(path)
    return meta


def prefixed(txn, prefix: bytes) -> Iterator[Tuple[bytes, bytes]]:
    cursor = txn.cursor()
    if not cursor.set_range(prefix):
        return
    for key, value in cursor:
        if not bytes(key).startswith(prefix):
            break
        yield bytes(key), value


def read_labels(txn, path: PathLike, checked: bool) -> np.ndarray:
    """Every record's label from the label index, in record order (empty without an index)."""
    try:
        chunks = [unpack_labels(v, checked) for _, v in prefixed(txn, LABELS_PREFIX)]
    except RecordError as e:
        raise CorruptRecordError(f'{path}: {e}; find the damaged records with relnas-zoo pack-lmdb --verify {path} '
                         f'--full, and rebuild the database') from None
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int64)


