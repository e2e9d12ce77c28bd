"""Build, verify and read ImageNet-style LMDB databases (format in :mod:`.lmdb_format`).

Class indices follow the sorted wnids (the authors' packer used directory listing order, which can
differ between train and val). The original image bytes are stored unchanged unless a shorter-side
resize is asked for. Builds commit in batches with their progress in the same transaction, so an
interrupted build resumes where the last commit ended, without redoing or duplicating records.
"""
from __future__ import annotations

import csv
import hashlib
import io
import logging
import multiprocessing as mp
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from ..run_folder import claim_folder
from .lmdb_format import (CHECKED_VERSION, FORMAT_VERSION, LABELS_PREFIX, META_KEY, RecordError, labels_key,
                          meta_bytes, pack_labels, pack_record, read_meta, record_key, unpack_labels, unpack_record)

__all__ = ['ImageSource', 'scan_class_folders', 'scan_flat_with_labels', 'read_devkit_labels', 'build_lmdb',
           'verify_lmdb', 'read_build_meta', 'open_readonly', 'close_readonly', 'is_checked',
           'ImageNetLMDB', 'BuildError', 'IMAGE_EXTENSIONS']

log = logging.getLogger('relnas_zoo.lmdb')
IMAGE_EXTENSIONS = ('.jpeg', '.jpg', '.png')
_WNID = re.compile(r'^n\d{8}$')
PathLike = Union[str, os.PathLike]


class BuildError(RuntimeError):
    """Bad input to the LMDB builder; the message names the path or value."""


@dataclass
class ImageSource:
    """The ordered list of (relative path, label) of one split, and its class list."""
    root: Path
    items: List[Tuple[str, int]]
    classes: List[str]

    def fingerprint(self) -> str:
        h = hashlib.sha1()
        for path, label in self.items:
            h.update(os.fsencode(path) + f'\t{label}\n'.encode())
        return h.hexdigest()


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
        raise BuildError(f'{data} is truncated: {size} bytes, but its pages need {needed} (an interrupted copy or '
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
            raise BuildError(f'{path} is not an LMDB directory (no data.mdb); build it with relnas-zoo pack-lmdb')
        try:
            env = lmdb.open(str(path), readonly=True, lock=False, readahead=readahead, meminit=False, subdir=True,
                            max_readers=2048)
        except lmdb.Error as e:
            raise BuildError(f'cannot open {Path(path, "data.mdb")} as an LMDB: {e} (a damaged or truncated '
                             f'file?)') from None
        try:
            _check_complete_file(env, path)
        except BuildError:
            env.close()
            raise
        _READERS[key] = env
    return env


def _meta_of(txn, path: PathLike) -> Dict:
    try:
        return read_meta(txn)
    except ValueError as e:
        raise BuildError(f'{path}: {e}') from None


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
        meta = _meta_of(txn, path) if found else None
    close_readonly(path)
    return meta


def _images_in(folder: Path) -> List[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)


def scan_class_folders(root: PathLike, classes: Optional[Sequence[str]] = None,
                       expected_classes: Optional[int] = None) -> ImageSource:
    """``root/<wnid>/<image>``; labels are positions in the sorted wnid list (or ``classes``).

    Only folders named like a wnid (``n`` + 8 digits) are classes: anything else a real disk holds
    (``lost+found``, ``.Trash-1000``, dot-folders, stray files) is skipped with one warning naming it,
    instead of silently becoming class 0 and shifting every real label. ``expected_classes`` (1000 for
    ImageNet-1k) turns another count into an error that names the flag for subsets.
    """
    root = Path(root)
    if not root.is_dir():
        raise BuildError(f'{root} is not a directory; expected class folders like {root}/n01440764/*.JPEG')
    entries = sorted(root.iterdir(), key=lambda p: p.name)
    found = [p.name for p in entries if p.is_dir() and _WNID.match(p.name)]
    skipped = [p.name + ('/' if p.is_dir() else '') for p in entries if not (p.is_dir() and _WNID.match(p.name))]
    if skipped:
        log.warning('%s: skipping %d entr%s that %s not class folders named like a wnid (n + 8 digits): %s', root,
                    len(skipped), 'y' if len(skipped) == 1 else 'ies', 'is' if len(skipped) == 1 else 'are',
                    ', '.join(skipped[:10]) + (' ...' if len(skipped) > 10 else ''))
    if not found:
        raise BuildError(f'{root} has no class folders named like a wnid; expected {root}/n01440764/*.JPEG')
    if expected_classes and classes is None and len(found) != expected_classes:
        raise BuildError(f'{root} has {len(found)} class folders, not {expected_classes}: an incomplete copy, or a '
                         f'subset (then pass --num-classes {len(found)}, or --num-classes 0 for any count)')
    classes = list(classes) if classes is not None else found
    index = {c: i for i, c in enumerate(classes)}
    unknown = [c for c in found if c not in index]
    if unknown:
        raise BuildError(f'{root}: class folders {unknown[:5]} are not in the class list of the train split')
    items = [(f'{c}/{name}', index[c]) for c in found for name in _images_in(root / c)]
    if not items:
        raise BuildError(f'{root}: the class folders hold no images ({", ".join(IMAGE_EXTENSIONS)})')
    return ImageSource(root, items, classes)


def _read_label_file(path: Path) -> Dict[str, str]:
    """filename -> wnid or index, from LOC_val_solution.csv or a 'filename label' text file."""
    labels: Dict[str, str] = {}
    if path.suffix.lower() == '.csv':
        with open(path, newline='') as f:
            for row in csv.DictReader(f):
                if 'ImageId' not in row or 'PredictionString' not in row:
                    raise BuildError(f'{path}: expected the columns ImageId,PredictionString (LOC_val_solution.csv)')
                labels[row['ImageId']] = row['PredictionString'].split()[0]
        return labels
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2:
            raise BuildError(f'{path}:{n}: expected "<filename> <wnid or class index>", got {line!r}')
        labels[parts[0]] = parts[1]
    return labels


def read_devkit_labels(ground_truth: PathLike, meta_mat: PathLike) -> Dict[str, str]:
    """filename stem -> wnid from the ILSVRC2012 devkit: ``ILSVRC2012_validation_ground_truth.txt`` holds one
    ILSVRC2012_ID (1..1000, the devkit's own order, not sorted wnids) per image in file order, and
    ``meta.mat`` maps those ids to wnids."""
    try:
        from scipy.io import loadmat
    except ImportError as e:
        raise BuildError('reading meta.mat needs scipy: pip install scipy') from e
    synsets = loadmat(str(meta_mat), squeeze_me=True)['synsets']
    id_to_wnid = {int(s['ILSVRC2012_ID']): str(s['WNID']) for s in synsets if int(s['num_children']) == 0}
    labels = {}
    for n, line in enumerate(Path(ground_truth).read_text().split(), 1):
        ilsvrc_id = int(line)
        if ilsvrc_id not in id_to_wnid:
            raise BuildError(f'{ground_truth}:{n}: ILSVRC2012_ID {ilsvrc_id} is not a leaf synset of {meta_mat}')
        labels[f'ILSVRC2012_val_{n:08d}'] = id_to_wnid[ilsvrc_id]
    return labels


def scan_flat_with_labels(root: PathLike, label_file: PathLike, classes: Sequence[str],
                          devkit_meta: Optional[PathLike] = None) -> ImageSource:
    """A flat folder of images with a ground-truth file: LOC_val_solution.csv, "<filename> <wnid|index>"
    lines, or the devkit's ground-truth file with ``devkit_meta`` (its meta.mat). The folder must hold
    exactly the labelled files: a missing or an unlabelled image is an error."""
    root, label_file = Path(root), Path(label_file)
    if not label_file.is_file():
        raise BuildError(f'label file {label_file} does not exist')
    if devkit_meta is not None:
        if not Path(devkit_meta).is_file():
            raise BuildError(f'devkit meta file {devkit_meta} does not exist')
        labels = read_devkit_labels(label_file, devkit_meta)
    else:
        labels = _read_label_file(label_file)
    index = {c: i for i, c in enumerate(classes)}
    items = []
    for name in _images_in(root):
        key = name if name in labels else Path(name).stem
        if key not in labels:
            raise BuildError(f'{root / name}: no label in {label_file}')
        raw = labels[key]
        if _WNID.match(raw):
            if raw not in index:
                raise BuildError(f'{label_file}: {name} has wnid {raw}, which is not a training class')
            label = index[raw]
        elif raw.isdigit() and int(raw) < len(classes):
            label = int(raw)
        else:
            raise BuildError(f'{label_file}: label {raw!r} of {name} is neither a wnid nor an index < {len(classes)}')
        items.append((name, label))
    if not items:
        raise BuildError(f'{root} holds no images')
    present = {n for n, _ in items} | {Path(n).stem for n, _ in items}
    missing = sorted(k for k in labels if k not in present)
    if missing:
        raise BuildError(f'{root}: {len(missing)} labelled image(s) of {label_file} are missing, e.g. {missing[:3]} '
                         f'(an incomplete copy of the validation set)')
    return ImageSource(root, items, list(classes))


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
            meta = _meta_of(txn, out)
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


def verify_lmdb(path: PathLike, full: bool = False, sample: int = 200, compare_root: Optional[PathLike] = None,
                progress: bool = True) -> Dict:
    """Check the database at ``path``: counts and completeness (a BuildError), then each record of a sample
    (all of them with ``full``): its checksum, label range, that the image decodes and, with
    ``compare_root``, that its bytes equal the source file. Returns the metadata with ``checked`` (records
    read), ``checksums`` (whether the format has them) and ``bad``: one ``(index, key, problem)`` per
    bad record, every one of them, in index order."""
    from PIL import Image
    from tqdm import tqdm

    env = open_readonly(path)
    with env.begin() as txn:
        meta = _meta_of(txn, path)
        checked = is_checked(meta)
        n = meta['num_records']
        chunk_values = list(_prefixed(txn, LABELS_PREFIX))
        keys = env.stat()['entries'] - 1 - len(chunk_values)
        if keys != n:
            raise BuildError(f'{path}: {keys} records stored but the metadata says {n}')
        if not meta['complete']:
            raise BuildError(f'{path}: the build is incomplete ({meta["next_source"]} of {meta["num_sources"]} '
                             f'source files); run the builder again to resume it')
        bad: List[Tuple[int, str, str]] = []
        stored = _stored_labels(chunk_values, checked, bad)
        if stored is not None and len(stored) != n:
            raise BuildError(f'{path}: {len(stored)} stored labels for {n} records')
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


def _prefixed(txn, prefix: bytes) -> Iterator[Tuple[bytes, bytes]]:
    cursor = txn.cursor()
    if not cursor.set_range(prefix):
        return
    for key, value in cursor:
        if not bytes(key).startswith(prefix):
            break
        yield bytes(key), value


def _read_labels(txn, path: PathLike, checked: bool) -> np.ndarray:
    """Every record's label from the label index, in record order (empty without an index)."""
    try:
        chunks = [unpack_labels(v, checked) for _, v in _prefixed(txn, LABELS_PREFIX)]
    except RecordError as e:
        raise BuildError(f'{path}: {e}; find the damaged records with relnas-zoo pack-lmdb --verify {path} '
                         f'--full, and rebuild the database') from None
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int64)


class ImageNetLMDB:
    """A map-style dataset over a built LMDB: (transformed PIL image, label).

    The environment opens lazily, read-only and without locks, once per process (DataLoader workers
    each open their own), so it works with any sampler, DistributedSampler included.
    """

    def __init__(self, path: PathLike, transform: Optional[Callable] = None, allow_incomplete: bool = False,
                 readahead: bool = True):
        self.path = str(path)
        self.transform = transform
        # OS readahead on the map: a record (~110 KB) spans ~27 pages; without readahead each faults
        # separately (bench/lmdb_vs_folder.py: 0.79x a folder cold, 1.13x with it)
        self.readahead = readahead
        with open_readonly(self.path, readahead).begin() as txn:
            self.meta = _meta_of(txn, self.path)
        if not self.meta['complete'] and not allow_incomplete:
            raise BuildError(f'{self.path}: the build is incomplete; run the builder again to resume it')
        self.classes: List[str] = self.meta['classes']
        self.checked = is_checked(self.meta)
        if not self.checked:
            log.warning('%s was built by an older version whose records carry no checksums: damaged bytes are not '
                        'detected (rebuild it with relnas-zoo pack-lmdb for checked reads)', self.path)

    def __len__(self) -> int:
        return self.meta['num_records']

    def _txn(self):
        # the process's one environment for this database (a fork gets its own: the key holds the pid)
        return open_readonly(self.path, self.readahead).begin(buffers=True)

    def close(self) -> None:
        """Release this process's LMDB handle, shared by every reader of this database in the process
        (it reopens on the next read)."""
        close_readonly(self.path)

    def raw(self, index: int) -> Tuple[int, str, bytes]:
        if not 0 <= index < len(self):
            raise IndexError(index)
        with self._txn() as txn:
            value = txn.get(record_key(index))
            try:
                if value is None:
                    raise RecordError('missing')
                return unpack_record(value)
            except RecordError as e:
                raise BuildError(f'{self.path}: record {index} (key {record_key(index).decode()}) is damaged: {e}; '
                                 f'list every damaged record with relnas-zoo pack-lmdb --verify {self.path} --full '
                                 f'and rebuild the database') from None

    def __getitem__(self, index: int):
        from PIL import Image
        label, _, data = self.raw(index)
        img = Image.open(io.BytesIO(data)).convert('RGB')
        return (self.transform(img) if self.transform else img), label

    @property
    def targets(self) -> List[int]:
        """Every record's label, from the label keys written at build time (no image is read); a database
        built before those existed falls back to reading every record."""
        with self._txn() as txn:
            labels = _read_labels(txn, self.path, self.checked)
        if len(labels) == len(self):
            return labels.tolist()
        log.warning('%s has no stored label index (built by an older version): reading every record', self.path)
        return [self.raw(i)[0] for i in range(len(self))]
