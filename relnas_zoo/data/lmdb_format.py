"""The ImageNet LMDB record format: raw image bytes behind a small fixed header, never pickle.

Record key ``b'%09d' % index``; value::

    b'RNZ1' | uint32 label | uint16 len(path) | path (file-system bytes, relative to the split root) | image

Paths are stored as the file system's bytes (``os.fsencode``), so names that are not UTF-8 survive.
Metadata lives under ``b'__meta__'`` as JSON: classes (sorted wnids), split, record count, build
progress (``next_source``, so an interrupted build resumes), skipped files and whether it is complete.
The labels of each committed batch of records are also kept under ``b'__labels__<first index>'``
(little-endian int32), so a sampler can read every label without reading the images.
"""
from __future__ import annotations

import json
import os
import struct
from typing import Any, Dict, Sequence, Tuple

import numpy as np

__all__ = ['MAGIC', 'META_KEY', 'LABELS_PREFIX', 'record_key', 'labels_key', 'pack_record', 'unpack_record',
           'read_meta', 'meta_bytes', 'pack_labels', 'unpack_labels']

MAGIC = b'RNZ1'
META_KEY = b'__meta__'
LABELS_PREFIX = b'__labels__'
_HEADER = struct.Struct('<4sIH')


def record_key(index: int) -> bytes:
    return b'%09d' % index


def labels_key(first_index: int) -> bytes:
    return LABELS_PREFIX + b'%09d' % first_index


def pack_labels(labels: Sequence[int]) -> bytes:
    return np.asarray(labels, dtype='<i4').tobytes()


def unpack_labels(value: bytes) -> np.ndarray:
    return np.frombuffer(bytes(value), dtype='<i4').astype(np.int64)


def pack_record(label: int, path: str, image: bytes) -> bytes:
    p = os.fsencode(path)
    return _HEADER.pack(MAGIC, label, len(p)) + p + image


def unpack_record(value: bytes) -> Tuple[int, str, bytes]:
    """(label, relative path, image bytes) of a record."""
    mv = memoryview(value)
    magic, label, n = _HEADER.unpack_from(mv, 0)
    if magic != MAGIC:
        raise ValueError(f'not a relnas_zoo image record (magic {bytes(magic)!r})')
    start = _HEADER.size
    return label, os.fsdecode(bytes(mv[start:start + n])), bytes(mv[start + n:])


def meta_bytes(meta: Dict[str, Any]) -> bytes:
    return json.dumps(meta, sort_keys=True).encode('utf-8')


def read_meta(txn) -> Dict[str, Any]:
    raw = txn.get(META_KEY)
    if raw is None:
        raise ValueError('no __meta__ record: not a relnas_zoo ImageNet LMDB (build it with relnas-zoo pack-lmdb)')
    return json.loads(bytes(raw).decode('utf-8'))
