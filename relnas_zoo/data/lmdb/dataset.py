"""The training dataset over a built database."""
from __future__ import annotations

import io
import logging
from typing import Callable, List, Optional, Tuple

from .errors import CorruptRecordError, DatabaseError
from .format import RecordError, record_key, unpack_record
from .store import PathLike, close_readonly, is_checked, meta_of, open_readonly, read_labels

__all__ = ['ImageNetLMDB']

log = logging.getLogger('relnas_zoo.lmdb')


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
            self.meta = meta_of(txn, self.path)
        if not self.meta['complete'] and not allow_incomplete:
            raise DatabaseError(f'{self.path}: the build is incomplete; run the builder again to resume it')
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
                raise CorruptRecordError(f'{self.path}: record {index} (key {record_key(index).decode()}) is damaged: {e}; '
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
            labels = read_labels(txn, self.path, self.checked)
        if len(labels) == len(self):
            return labels.tolist()
        log.warning('%s has no stored label index (built by an older version): reading every record', self.path)
        return [self.raw(i)[0] for i in range(len(self))]
