"""ImageNet splits in LMDB: where the images come from (``sources``), the resumable builder (``build``),
the record format (``format``), reading (``store``), checking (``verify``), the training dataset
(``dataset``) and the ``pack-lmdb`` command (``cli``)."""
from .build import build_lmdb
from .dataset import ImageNetLMDB
from .errors import BuildError, CorruptRecordError, DatabaseError, LMDBError
from .sources import IMAGE_EXTENSIONS, ImageSource, read_devkit_labels, scan_class_folders, scan_flat_with_labels
from .store import close_readonly, is_checked, open_readonly, read_build_meta
from .verify import verify_lmdb

__all__ = ['ImageSource', 'scan_class_folders', 'scan_flat_with_labels', 'read_devkit_labels', 'build_lmdb',
           'verify_lmdb', 'read_build_meta', 'open_readonly', 'close_readonly', 'is_checked', 'ImageNetLMDB',
           'LMDBError', 'BuildError', 'DatabaseError', 'CorruptRecordError', 'IMAGE_EXTENSIONS']
