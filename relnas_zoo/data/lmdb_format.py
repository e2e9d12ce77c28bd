"""The ImageNet LMDB record format: raw image bytes behind a small fixed header, never pickle.

Record key ``b'%09d' % index``; value::

    b'RNZ1' | uint32 label | uint16 len(path) | path (utf-8, relative to the split root) | image bytes

Metadata lives under ``b'__meta__'`` as JSON: classes (sorted wnids), split, record count, build
progress (``next_source``, so an interrupted build resumes), skipped files and whether it is complete.
"""
from __future__ import annotations

import json
import struct
from typing import Any, Dict, Tuple

__all__ = ['MAGIC', 'META_KEY', 'record_key', 'pack_record', 'unpack_record', 'read_meta', 'meta_bytes']

MAGIC = b'RNZ1'
META_KEY = b'__meta__'
_HEADER = struct.Struct('<4sIH')


def record_key(index: int) -> bytes:
    return b'%09d' % index


def pack_record(label: int, path: str, image: bytes) -> bytes:
    p = path.encode('utf-8')
    return _HEADER.pack(MAGIC, label, len(p)) + p + image


def unpack_record(value: bytes) -> Tuple[int, str, bytes]:
    """(label, relative path, image bytes) of a record."""
    mv = memoryview(value)
    magic, label, n = _HEADER.unpack_from(mv, 0)
    if magic != MAGIC:
        raise ValueError(f'not a relnas_zoo image record (magic {bytes(magic)!r})')
    start = _HEADER.size
    return label, bytes(mv[start:start + n]).decode('utf-8'), bytes(mv[start + n:])


def meta_bytes(meta: Dict[str, Any]) -> bytes:
    return json.dumps(meta, sort_keys=True).encode('utf-8')


def read_meta(txn) -> Dict[str, Any]:
    raw = txn.get(META_KEY)
    if raw is None:
        raise ValueError('no __meta__ record: not a relnas_zoo ImageNet LMDB (build it with tools/imagenet_to_lmdb.py)')
    return json.loads(bytes(raw).decode('utf-8'))
