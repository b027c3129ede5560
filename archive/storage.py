"""Local storage failures (disk full, read-only file system, permission) as one line."""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from base.errors import StorageError

STORAGE_ERRNOS = frozenset({
    errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO,
    errno.EFBIG, errno.EMFILE, errno.ENFILE, errno.ENAMETOOLONG, errno.EMLINK,
    errno.ENOTDIR, errno.EISDIR,
})
"""What a file system says when it refuses a write or a read, rather than a bug."""


def is_storage_error(exc: BaseException) -> bool:
    """An OSError of the local file system (not a network error, which is an OSError too)."""
    if not isinstance(exc, OSError) or isinstance(exc, ConnectionError | TimeoutError):
        return False
    return exc.errno in STORAGE_ERRNOS


def storage_error(exc: OSError, where: Path | str) -> StorageError:
    """The one-line error of `exc`, naming its file (or `where` when it names none)."""
    subject = exc.filename if exc.filename is not None else where
    cause = exc.strerror or errno.errorcode.get(exc.errno or 0, type(exc).__name__)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        cause += " (free some space and run the command again)"
    return StorageError(str(subject), cause)


@contextmanager
def storage_errors(where: Path | str) -> Iterator[None]:
    """Turn a file system refusal inside the block into a StorageError naming the file."""
    try:
        yield
    except OSError as exc:
        if not is_storage_error(exc):
            raise
        raise storage_error(exc, where) from exc
