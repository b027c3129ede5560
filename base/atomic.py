"""Durable atomic writes of whole files: the one writer every room uses.

A file is written to a new temporary file in its target's directory (``O_CREAT |
O_EXCL``, a random name ``.<name>.<random>.tmp``, so it is on the same file system and
never an existing file or symlink), flushed and fsynced, given its mode, and renamed
over the target; then the directory is fsynced so that the rename survives a crash.
Readers see the old file or the new one, never a part. On any failure before the
rename (including KeyboardInterrupt) the temporary file is removed and the target is
untouched.

- :func:`write_bytes`, :func:`write_text`: a whole file from memory;
- :func:`open_atomic`: a context manager yielding a binary stream, for streaming
  writes (the file replaces the target when the block ends without an exception);
- :class:`AtomicFile`: the same as an object, for callers that commit several files
  together, read their temporary file back before the rename, or copy a file in;
- :func:`rename_durably`: put a file written by someone else (a download, a tool's
  output) in place with the same guarantees;
- :func:`fsync_directory`: make a rename in a directory durable.

Modes: ``mode`` is set exactly with fchmod (the umask does not apply), unless
``umask=True``, where the file is created with ``mode`` and the process umask filters
it as open(2) would (for outputs a user asked for: an image tar, an SBOM, a .deb).
With ``replace=False`` an existing target is never replaced: the commit raises
FileExistsError instead (a hard link, which never replaces a name, is the commit; on a
file system without hard links the name is checked, then renamed).

Errors are OSError as the system gives them; each room maps them to its own error
(``archive.storage`` to StorageError).
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
#: errnos of link(2) on a file system that has no hard links
_NO_LINKS = frozenset({errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK})


class AtomicFile:
    """A temporary file beside `target` that becomes `target` on :meth:`commit`.

    Use it as a context manager (commit when the block succeeds, discard when it
    raises) or call :meth:`commit` / :meth:`discard` yourself; :attr:`path` is the
    temporary file, :attr:`stream` its binary stream.
    """

    def __init__(self, target: Path | str, *, mode: int = 0o644, umask: bool = False,
                 replace: bool = True) -> None:
        self.target = Path(target)
        self.mode = mode
        self.umask = umask
        self.replace = replace
        self.directory = self.target.parent
        # a name of at most 64 + 20 characters: a long target name still fits NAME_MAX
        self.path = self.directory / f".{self.target.name[:64]}.{secrets.token_hex(6)}.tmp"
        descriptor = os.open(self.path, _CREATE, mode if umask else 0o600)
        try:
            self.stream: BinaryIO = os.fdopen(descriptor, "wb")
        except BaseException:
            os.close(descriptor)
            self.path.unlink(missing_ok=True)
            raise
        self._done = False

    def write(self, data: bytes) -> int:
        return self.stream.write(data)

    def copy_from(self, source: Path | str) -> None:
        """Append the content of the file `source`."""
        with open(source, "rb") as handle:
            shutil.copyfileobj(handle, self.stream, 1 << 20)

    def flush(self) -> None:
        """Flush and fsync what was written (the temporary file is then complete)."""
        self.stream.flush()
        os.fsync(self.stream.fileno())

    def commit(self) -> None:
        """fsync the file, set its mode, rename it onto the target, fsync the directory."""
        if self._done:
            raise ValueError(f"{self.target}: already committed or discarded")
        try:
            self.flush()
            if not self.umask:
                os.fchmod(self.stream.fileno(), self.mode)
            self.stream.close()
            if self.replace:
                os.replace(self.path, self.target)
            else:
                _link_new(self.path, self.target)
        except BaseException:
            self.discard()
            raise
        self._done = True
        fsync_directory(self.directory)

    def discard(self) -> None:
        """Remove the temporary file; the target is untouched (no-op once done)."""
        if self._done:
            return
        self._done = True
        with contextlib.suppress(OSError):
            self.stream.close()
        with contextlib.suppress(OSError):
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> AtomicFile:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.discard()


@contextlib.contextmanager
def open_atomic(target: Path | str, *, mode: int = 0o644, umask: bool = False,
                replace: bool = True) -> Iterator[BinaryIO]:
    """A binary stream whose content replaces `target` when the block succeeds."""
    with AtomicFile(target, mode=mode, umask=umask, replace=replace) as new:
        yield new.stream


def write_bytes(target: Path | str, data: bytes, *, mode: int = 0o644,
                umask: bool = False, replace: bool = True) -> None:
    """Replace `target` with `data`, durably and atomically."""
    with AtomicFile(target, mode=mode, umask=umask, replace=replace) as new:
        new.write(data)


def write_text(target: Path | str, text: str, *, encoding: str = "utf-8",
               mode: int = 0o644, umask: bool = False, replace: bool = True) -> None:
    """Replace `target` with `text` encoded (no newline translation), durably."""
    write_bytes(target, text.encode(encoding), mode=mode, umask=umask, replace=replace)


def rename_durably(source: Path | str, target: Path | str, *,
                   mode: int | None = None) -> None:
    """Put the complete file `source` (written by someone else, in `target`'s file
    system) in place: fsync it, set `mode` if given, rename it onto `target`, fsync
    the target's directory. `source` is left where it is if this fails."""
    descriptor = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        os.fsync(descriptor)
        if mode is not None:
            os.fchmod(descriptor, mode)
    finally:
        os.close(descriptor)
    os.replace(source, target)
    fsync_directory(Path(target).parent)


def fsync_directory(directory: Path | str) -> None:
    """Make a rename (or a new name) in `directory` durable.

    Best effort: some file systems cannot fsync a directory (EINVAL), and the rename
    itself has happened already; such a failure is ignored.
    """
    with contextlib.suppress(OSError):
        descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def _link_new(temporary: Path, target: Path) -> None:
    """Give `temporary` the name `target` unless that name exists (FileExistsError)."""
    try:
        os.link(temporary, target)
    except OSError as exc:
        if exc.errno not in _NO_LINKS:
            raise
        if os.path.lexists(target):
            raise FileExistsError(errno.EEXIST, "File exists", str(target)) from exc
        os.replace(temporary, target)
        return
    with contextlib.suppress(OSError):  # the target is in place: a stray name at worst
        temporary.unlink()
