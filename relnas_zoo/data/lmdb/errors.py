"""The errors of the ImageNet LMDB code: one base, so a command catches every LMDB problem in one place."""
from __future__ import annotations

from ...errors import InputError

__all__ = ['LMDBError', 'BuildError', 'DatabaseError', 'CorruptRecordError']


class LMDBError(InputError, RuntimeError):
    """An ImageNet LMDB problem; the message names the path or value, and the fix."""


class BuildError(LMDBError):
    """Bad input to the builder: a source folder, a label file or a setting."""


class DatabaseError(LMDBError):
    """A database that cannot be read as built: not an LMDB, truncated, incomplete, or unlike its metadata."""


class CorruptRecordError(DatabaseError):
    """A record or label chunk whose bytes fail their checksum or header when read."""
