"""The resumable, multiprocess LMDB builder.

The original image bytes are stored unchanged unless a shorter-side resize is asked for. Builds commit
in batches with their progress in the same transaction, so an interrupted build resumes where the last
commit ended, without redoing or duplicating records.
"""
from __future__ import annotations

import io
import logging
import multiprocessing as mp
import os
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

from ...run_folder import claim_folder
from .errors import BuildError
from .format import (CHECKED_VERSION, FORMAT_VERSION, META_KEY, labels_key, meta_bytes, pack_labels, pack_record,
                     record_key)
from .sources import ImageSource
from .store import PathLike, close_readonly, is_checked, meta_of, read_build_meta

__all__ = ['build_lmdb']

log = logging.getLogger('relnas_zoo.lmdb')


def _load_image(task: Tuple[str, str, int]) -> Tuple[Optional[bytes], Optional[str]]:
    """Worker: read one file, check it decodes, optionally shrink it. (bytes, None) or (None, error)."""
    from PIL import Image
    path, _, resize = task
    try:
        data = Path(os.fsdecode(path)).read_bytes()
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            if resize and min(img.size) > resize:
                w, h = img.size
                scale = resize / min(w, h)
                img = img.convert('RGB').resize((max(1, round(w * scale)), max(1, round(h * scale))),
                                                Image.BICUBIC)
                out = io.BytesIO()
                img.save(out, format='JPEG', quality=95)
                data = out.getvalue()
        return data, None
    except Exception as e:  # PIL raises many types for broken files; report them all the same way
        return None, f'{type(e).__name__}: {e}'


def build_lmdb(source: ImageSource, out: PathLike, split: str, workers: int = 4, commit_every: int = 1000,
               resize: int = 0, on_error: str = 'skip', map_size: int = 1 << 40,
               progress: bool = True, stop_after: Optional[int] = None,
               arguments: Optional[Dict] = None, checksums: bool = True) -> Dict:
    """Write (or continue writing) ``source`` into the LMDB at ``out``; returns the final metadata.

    ``on_error``: 'skip' logs an unreadable image with its path and leaves it out; 'fail' stops.
    ``stop_after`` ends the build after that many source files (for tests of resuming).
    ``arguments``: the command-line settings that define the build, saved for ``--resume``.
    ``checksums=False`` writes the previous format (version 2, records without a CRC-32), which older
    versions of this package read; a resumed build keeps the format it was started in.
    """
    if on_error not in ('skip', 'fail'):
        raise BuildError(f"on_error={on_error!r}: choose 'skip' or 'fail'")
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise BuildError(f'cannot create {out}: {e.strerror}; choose a folder you can write to') from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise BuildError(f'cannot write to {out} (permission denied); choose a folder you can write to')
    # one build per folder, and never into a folder of other files (a build there is resumed)
    with claim_folder(out, 'LMDB build', 'data.mdb', (), resume=(out / 'data.mdb').is_file()):
        read_build_meta(out)  # a truncated or damaged database is named here, before a writer opens it
        return _build(source, out, split, workers, commit_every, resize, on_error, map_size, progress, stop_after,
                      arguments, FORMAT_VERSION if checksums else CHECKED_VERSION - 1)


def _build(source: ImageSource, out: Path, split: str, workers: int, commit_every: int, resize: int, on_error: str,
           map_size: int, progress: bool, stop_after: Optional[int], arguments: Optional[Dict], version: int) -> Dict:
    import lmdb
    from tqdm import tqdm

    close_readonly(out)  # a reader of this database in this process would make LMDB refuse to open it
    # workers start before the environment opens: a forked child must not inherit an LMDB handle
    ctx = mp.get_context('fork' if 'fork' in mp.get_all_start_methods() else 'spawn')
    pool = ctx.Pool(workers) if workers > 1 else None
    try:
        env = lmdb.open(str(out), map_size=map_size, subdir=True, readonly=False, meminit=False, map_async=False)
    except lmdb.Error as e:
        if pool:
            pool.terminate()
        raise BuildError(f'cannot open {out} with a map size of {map_size / 2 ** 30:.0f} GiB ({e}); the map size is '
                         f'address space, not disk: lower --map-size-gb (or raise ulimit -v)') from e
    settings = dict(split=split, classes=source.classes, fingerprint=source.fingerprint(),
                    num_sources=len(source.items), resize=resize, source_root=str(source.root))
    with env.begin() as txn:
        existing = txn.get(META_KEY)
    if existing is not None:
        with env.begin() as txn:
            meta = meta_of(txn, out)
        changed = [k for k in ('split', 'classes', 'fingerprint', 'resize') if meta.get(k) != settings[k]]
        if changed:
            env.close()
            if pool:
                pool.terminate()
            raise BuildError(f'{out} holds a build with different {changed}; choose another --out or delete it')
        if meta['complete']:
            log.info('%s is already complete (%d records)', out, meta['num_records'])
            env.close()
            if pool:
                pool.terminate()
            return meta
        log.info('resuming %s at source %d of %d (%d records)', out, meta['next_source'], len(source.items),
                 meta['num_records'])
    else:
        meta = dict(settings, format='relnas_zoo-imagenet-lmdb', version=version, num_records=0,
                    next_source=0, skipped=[], complete=False)
        if arguments is not None:
            meta['arguments'] = dict(arguments)
    checked = is_checked(meta)  # an unfinished build of the previous format continues in that format
    start = meta['next_source']
    end = len(source.items) if stop_after is None else min(len(source.items), start + stop_after)
    tasks = [(os.path.join(os.fsencode(source.root), os.fsencode(p)), p, resize) for p, _ in source.items[start:end]]
    results = _bounded_map(pool, tasks, window=max(16, 8 * workers))
    bar = tqdm(total=len(source.items), initial=start, desc=f'{split} -> {out.name}', unit='img',
               disable=not progress, dynamic_ncols=True)
    batch: List[Tuple[bytes, bytes]] = []   # records of the open transaction (redone if the map fills)
    batch_labels: List[int] = []
    batch_first = meta['num_records']

    def commit() -> None:
        nonlocal batch, batch_labels, batch_first
        writes = list(batch)
        if batch_labels:
            writes.append((labels_key(batch_first), pack_labels(batch_labels, checked)))
        writes.append((META_KEY, meta_bytes(meta)))
        while True:
            txn = env.begin(write=True)
            try:
                for k, v in writes:
                    txn.put(k, v)
                txn.commit()
                break
            except lmdb.MapFullError:
                txn.abort()
                size = env.info()['map_size'] * 2
                log.info('LMDB map full: growing it to %.1f GiB and redoing the last %d records', size / 2 ** 30,
                         len(batch))
                env.set_mapsize(size)
            except BaseException:
                txn.abort()
                raise
        batch, batch_labels, batch_first = [], [], meta['num_records']

    try:
        for offset, (data, error) in enumerate(results):
            path, label = source.items[start + offset]
            if error is not None:
                msg = f'unreadable image {source.root / path}: {error}'
                if on_error == 'fail':
                    raise BuildError(msg + ' (use --on-error skip to leave such files out)')
                log.warning('%s; skipped', msg)
                meta['skipped'].append(path)
            else:
                batch.append((record_key(meta['num_records']), pack_record(label, path, data, checked)))
                batch_labels.append(label)
                meta['num_records'] += 1
            meta['next_source'] = start + offset + 1
            bar.update(1)
            if (offset + 1) % commit_every == 0:
                commit()
        meta['complete'] = meta['next_source'] == len(source.items)
        commit()
    finally:  # an interruption loses only the records since the last commit; they are redone on resume
        bar.close()
        if pool:
            pool.terminate()
        env.sync()
        env.close()
    return meta


def _bounded_map(pool, tasks: Sequence, window: int) -> Iterator:
    """``map(_load_image, tasks)`` in order, with at most ``window`` tasks in flight.

    ``Pool.imap`` has no back-pressure: when the writer is slower than the readers (a slow disk), finished
    images pile up in the parent without bound. Here a new task is submitted only when one is taken.
    """
    if pool is None:
        yield from map(_load_image, tasks)
        return
    from collections import deque
    pending: deque = deque()
    it = iter(tasks)
    for task in it:
        pending.append(pool.apply_async(_load_image, (task,)))
        if len(pending) >= window:
            break
    while pending:
        result = pending.popleft().get()
        nxt = next(it, None)
        if nxt is not None:
            pending.append(pool.apply_async(_load_image, (nxt,)))
        yield result


