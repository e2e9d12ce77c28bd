"""Checking a built database record by record: checksums, labels, decoding, bytes against the source."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .errors import DatabaseError
from .format import LABELS_PREFIX, RecordError, record_key, unpack_labels, unpack_record
from .store import PathLike, is_checked, meta_of, open_readonly, prefixed

__all__ = ['verify_lmdb']


def verify_lmdb(path: PathLike, full: bool = False, sample: int = 200, compare_root: Optional[PathLike] = None,
                progress: bool = True) -> Dict:
    """Check the database at ``path``: counts and completeness (a DatabaseError), then each record of a sample
    (all of them with ``full``): its checksum, label range, that the image decodes and, with
    ``compare_root``, that its bytes equal the source file. Returns the metadata with ``checked`` (records
    read), ``checksums`` (whether the format has them) and ``bad``: one ``(index, key, problem)`` per
    bad record, every one of them, in index order."""
    from PIL import Image
    from tqdm import tqdm

    env = open_readonly(path)
    with env.begin() as txn:
        meta = meta_of(txn, path)
        checked = is_checked(meta)
        n = meta['num_records']
        chunk_values = list(prefixed(txn, LABELS_PREFIX))
        keys = env.stat()['entries'] - 1 - len(chunk_values)
        if keys != n:
            raise DatabaseError(f'{path}: {keys} records stored but the metadata says {n}')
        if not meta['complete']:
            raise DatabaseError(f'{path}: the build is incomplete ({meta["next_source"]} of {meta["num_sources"]} '
                             f'source files); run the builder again to resume it')
        bad: List[Tuple[int, str, str]] = []
        stored = _stored_labels(chunk_values, checked, bad)
        if stored is not None and len(stored) != n:
            raise DatabaseError(f'{path}: {len(stored)} stored labels for {n} records')
        step = 1 if full or n <= sample else max(1, n // sample)
        for i in tqdm(range(0, n, step), desc='verify', unit='img', disable=not progress):
            key = record_key(i).decode()
            raw = txn.get(record_key(i))
            if raw is None:
                bad.append((i, key, 'missing'))
                continue
            try:
                label, rel, data = unpack_record(raw)
            except RecordError as e:
                bad.append((i, key, str(e)))
                continue
            if not 0 <= label < len(meta['classes']):
                bad.append((i, key, f'{rel}: label {label} outside 0..{len(meta["classes"]) - 1}'))
                continue
            try:
                with Image.open(io.BytesIO(data)) as img:
                    img.load()
            except Exception as e:  # PIL raises many types for broken images
                bad.append((i, key, f'{rel}: the image does not decode ({type(e).__name__}: {e})'))
                continue
            if compare_root is not None and not meta['resize'] and Path(compare_root, rel).read_bytes() != data:
                bad.append((i, key, f'{rel}: differs from {Path(compare_root, rel)}'))
            if stored is not None and stored[i] >= 0 and stored[i] != label:  # (-1: its chunk is reported)
                bad.append((i, key, f'{rel}: the label index says {stored[i]}, the record {label}'))
    bad.sort(key=lambda b: (b[0], b[1]))
    return dict(meta, checked=len(range(0, n, step)), checksums=checked, bad=bad)


def _stored_labels(chunk_values: Sequence[Tuple[bytes, bytes]], checked: bool,
                   bad: List[Tuple[int, str, str]]) -> Optional[np.ndarray]:
    """The label index, with a damaged chunk reported in ``bad`` (its labels then read -1 and are not
    compared); None when the database has no label index (built before it existed)."""
    if not chunk_values:
        return None
    chunks = []
    for key, value in chunk_values:
        first = int(key[len(LABELS_PREFIX):])
        try:
            chunks.append(unpack_labels(value, checked))
        except RecordError as e:
            bad.append((first, key.decode(), f'label index chunk: {e}'))
            size = (len(bytes(value)) - 4) // 4
            chunks.append(np.full(max(size, 0), -1, dtype=np.int64))
    return np.concatenate(chunks)


