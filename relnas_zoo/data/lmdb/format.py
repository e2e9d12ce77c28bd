"""The ImageNet LMDB record format: raw image bytes behind a small fixed header, never pickle.

Record key ``b'%09d' % index``; value (format version 3)::

    b'RNZ2' | uint32 crc32 | uint32 label | uint16 len(path) | path (file-system bytes, relative to the
    split root) | image

The CRC-32 covers everything after it, so a damaged image or label byte is found on every read.
Databases of version 2 (records ``b'RNZ1' | label | len | path | image``, no checksum) still read,
unchecked.

Paths are stored as the file system's bytes (``os.fsencode``), so names that are not UTF-8 survive.
Metadata lives under ``b'__meta__'`` as JSON: classes (sorted wnids), split, record count, build
progress (``next_source``, so an interrupted build resumes), skipped files and whether it is complete.
The labels of each committed batch of records are also kept under ``b'__labels__<first index>'``
(little-endian int32, after a uint32 CRC-32 of them from version 3 on), so a sampler can read every
label without reading the images.
"""
from __future__ import annotations

import json
import os
import struct
import zlib
from typing import Any, Dict, Sequence, Tuple

import numpy as np

__all__ = ['FORMAT_VERSION', 'CHECKED_VERSION', 'RecordError', 'META_KEY', 'LABELS_PREFIX', 'record_key',
           'labels_key', 'pack_record', 'unpack_record', 'read_meta', 'meta_bytes', 'pack_labels', 'unpack_labels']

FORMAT_VERSION = 3     # what new builds write
CHECKED_VERSION = 3    # the first version whose records and label chunks carry a CRC-32
_MAGIC_V2, _MAGIC = b'RNZ1', b'RNZ2'
META_KEY = b'__meta__'
LABELS_PREFIX = b'__labels__'
_HEADER_V2 = struct.Struct('<4sIH')       # magic, label, len(path)
_HEADER = struct.Struct('<4sIIH')         # magic, crc32, label, len(path)
_CRC = struct.Struct('<I')


class RecordError(ValueError):
    """A record or label chunk whose bytes are damaged (checksum or header)."""


def record_key(index: int) -> bytes:
    return b'%09d' % index


def labels_key(first_index: int) -> bytes:
    return LABELS_PREFIX + b'%09d' % first_index


def pack_labels(labels: Sequence[int], checked: bool = True) -> bytes:
    data = np.asarray(labels, dtype='<i4').tobytes()
    return (_CRC.pack(zlib.crc32(data)) + data) if checked else data


def unpack_labels(value: bytes, checked: bool = True) -> np.ndarray:
    raw = bytes(value)
    if checked:
        (crc,), raw = _CRC.unpack_from(raw, 0), raw[_CRC.size:]
        if zlib.crc32(raw) != crc:
            raise RecordError('label chunk checksum mismatch')
    return np.frombuffer(raw, dtype='<i4').astype(np.int64)


def pack_record(label: int, path: str, image: bytes, checked: bool = True) -> bytes:
    """A record of the current format (``checked=False``: version 2's, to continue an old build)."""
    p = os.fsencode(path)
    if not checked:
        return _HEADER_V2.pack(_MAGIC_V2, label, len(p)) + p + image
    body = struct.pack('<IH', label, len(p)) + p + image
    return _MAGIC + _CRC.pack(zlib.crc32(body)) + body


def unpack_record(value: bytes) -> Tuple[int, str, bytes]:
    """(label, relative path, image bytes) of a record; a RecordError when its bytes are damaged."""
    mv = memoryview(value)
    if len(mv) < _HEADER_V2.size:
        raise RecordError(f'record of {len(mv)} bytes is shorter than its header')
    magic = bytes(mv[:4])
    if magic == _MAGIC:
        if len(mv) < _HEADER.size:
            raise RecordError(f'record of {len(mv)} bytes is shorter than its header')
        _, crc, label, n = _HEADER.unpack_from(mv, 0)
        if zlib.crc32(mv[8:]) != crc:
            raise RecordError('checksum mismatch (damaged bytes)')
        start = _HEADER.size
    elif magic == _MAGIC_V2:
        _, label, n = _HEADER_V2.unpack_from(mv, 0)
        start = _HEADER_V2.size
    else:
        raise RecordError(f'not a relnas_zoo image record (magic {magic!r})')
    return label, os.fsdecode(bytes(mv[start:start + n])), bytes(mv[start + n:])


def meta_bytes(meta: Dict[str, Any]) -> bytes:
    return json.dumps(meta, sort_keys=True).encode('utf-8')


def read_meta(txn) -> Dict[str, Any]:
    raw = txn.get(META_KEY)
    if raw is None:
        raise ValueError('no __meta__ record: not a relnas_zoo ImageNet LMDB (build it with relnas-zoo pack-lmdb)')
    try:
        meta = json.loads(bytes(raw).decode('utf-8'))
    except (UnicodeDecodeError, ValueError) as e:
        raise ValueError(f'the __meta__ record is damaged ({e})') from None
    if not isinstance(meta, dict):
        raise ValueError('the __meta__ record is damaged (not a JSON object)')
    return meta
