"""Deterministic tar layers of a root directory (rootfs tarball, OCI/docker layer).

The tree is walked without following any symlink and written as a POSIX (PAX) tar:

- member names are relative (``usr/bin/python3``, directories ``usr/bin/``), the root
  itself is not a member, members are sorted bytewise by name;
- numeric uid/gid and the mode (setuid, setgid, sticky included) from lstat, empty
  uname/gname; mtimes clamped to ``mtime`` when given (``min(actual, mtime)``);
- symlinks as symlinks, a second path of an inode already written as a hard link to the
  first one, character/block devices and FIFOs as such; sockets are skipped;
- xattrs in the ``user.`` namespace and ``security.capability`` as PAX
  ``SCHILY.xattr.*`` records (what ``bootstrap.unpack`` restores); others (SELinux
  labels, ACLs) depend on the host and are left out.

File contents are streamed and hashed while written: nothing big is held in memory.
"""

from __future__ import annotations

import contextlib
import contextvars
import gzip
import hashlib
import io
import os
import stat
import tarfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from base.atomic import open_atomic
from base.errors import InstallError

_XATTRS = ("user.", "security.capability")
_GZIP_LEVEL = 6
_ZSTD_LEVEL = 19  # slow to write, small; decompression speed does not depend on it


class ImageError(InstallError):
    """A root directory, layer or image output that cannot be written."""


@dataclass(frozen=True)
class LayerInfo:
    """An uncompressed layer: its digest ("sha256:<hex>") and size in bytes."""

    digest: str
    size: int


@dataclass(frozen=True)
class GzipLayerInfo:
    """A gzip-compressed layer: uncompressed digest (diff_id), compressed digest and size."""

    diff_id: str
    digest: str
    size: int
    uncompressed_size: int


class _Digesting(io.RawIOBase):
    """A write-only stream that hashes and counts what goes through to `target`."""

    def __init__(self, target: BinaryIO | io.RawIOBase | gzip.GzipFile) -> None:
        super().__init__()
        self._target = target
        self._hash = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(data)
        self._hash.update(view)
        self._target.write(view)
        self.size += view.nbytes
        return view.nbytes

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        """Nothing is buffered here; never flush the target (a gzip stream would sync)."""

    @property
    def digest(self) -> str:
        return f"sha256:{self._hash.hexdigest()}"


@dataclass(frozen=True)
class _Entry:
    name: str  # member name, directories with a trailing slash
    path: Path
    status: os.stat_result


# ---------------------------------------------------------------------------------
# public


def write_layer(root: Path, out: BinaryIO, *, mtime: int | None) -> LayerInfo:
    """Write the tree `root` to `out` as a deterministic uncompressed tar."""
    _check_root(root)
    sink = _Digesting(out)
    _write_tree(root, sink, mtime)
    return LayerInfo(digest=sink.digest, size=sink.size)


def write_gzip_layer(root: Path, out: BinaryIO, *, mtime: int | None) -> GzipLayerInfo:
    """Write the layer of `root` gzip-compressed (no name, header mtime 0) to `out`."""
    _check_root(root)
    compressed = _Digesting(out)
    with gzip.GzipFile(filename="", mode="wb", fileobj=compressed, mtime=0,
                       compresslevel=_GZIP_LEVEL) as zipped:
        plain = _Digesting(zipped)
        _write_tree(root, plain, mtime)
    return GzipLayerInfo(diff_id=plain.digest, digest=compressed.digest,
                         size=compressed.size, uncompressed_size=plain.size)


def write_zstd_layer(root: Path, out: BinaryIO, *, mtime: int | None) -> GzipLayerInfo:
    """Write the layer of `root` zstd-compressed (one frame, content size and checksum
    in it, no dictionary: the same tree gives the same bytes) to `out`."""
    import zstandard

    _check_root(root)
    compressed = _Digesting(out)
    compressor = zstandard.ZstdCompressor(level=_ZSTD_LEVEL, write_checksum=True,
                                          threads=0)
    with compressor.stream_writer(compressed, closefd=False) as zipped:  # type: ignore[arg-type]
        plain = _Digesting(zipped)
        _write_tree(root, plain, mtime)
    return GzipLayerInfo(diff_id=plain.digest, digest=compressed.digest,
                         size=compressed.size, uncompressed_size=plain.size)


def write_rootfs_tar(root: Path, path: Path, *, mtime: int | None) -> LayerInfo:
    """Write the layer tar of `root` to the file `path` atomically."""
    _check_root(root)
    with os_errors(path), atomic_writer(path) as out:
        return write_layer(root, out, mtime=mtime)


def pack_directory(source: Path, out: BinaryIO, *, mtime: int) -> LayerInfo:
    """Tar `source` with normalised metadata: owner 0:0, modes 0755/0644, this mtime.

    For the wrappers of image layouts (OCI archive, docker archive), whose members are
    blobs written by us: only directories and regular files are expected.
    """
    _check_root(source)
    sink = _Digesting(out)
    with _tar(sink) as tar:
        for entry in _walk(source):
            info = tarfile.TarInfo(entry.name)
            info.mtime = max(mtime, 0)
            if stat.S_ISDIR(entry.status.st_mode):
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            elif stat.S_ISREG(entry.status.st_mode):
                info.mode = 0o644
                with _open_file(entry.path) as (handle, status):
                    info.size = status.st_size
                    tar.addfile(info, handle)
            else:
                raise ImageError(str(entry.path), "not a directory or regular file")
    return LayerInfo(digest=sink.digest, size=sink.size)


@contextlib.contextmanager
def os_errors(subject: Path) -> Iterator[None]:
    """Report an OSError (unreadable tree, full disk, ...) as an ImageError on `subject`."""
    try:
        yield
    except OSError as exc:
        raise ImageError(str(subject), str(exc)) from exc


@contextlib.contextmanager
def atomic_writer(path: Path) -> Iterator[BinaryIO]:
    """A new file next to `path`, renamed onto it when the block succeeds, else removed
    (`base.atomic`: fsynced, mode 0644 less the umask, directory fsynced)."""
    path = Path(path)
    if not path.parent.is_dir():
        raise ImageError(str(path), f"directory {path.parent} does not exist")
    if path.is_dir():
        raise ImageError(str(path), "is a directory")
    with open_atomic(path, mode=0o644, umask=True) as out:
        yield out


# ---------------------------------------------------------------------------------
# walking and writing


def _check_root(root: Path) -> None:
    if not Path(root).is_dir():
        raise ImageError(str(root), "root directory does not exist")


def _tar(sink: _Digesting) -> tarfile.TarFile:
    return tarfile.open(fileobj=sink, mode="w", format=tarfile.PAX_FORMAT,  # noqa: SIM115
                        encoding="utf-8", errors="surrogateescape")


def _walk(root: Path) -> list[_Entry]:
    """Every path below `root` (not followed through symlinks), sorted bytewise by name."""
    found: list[_Entry] = []
    pending = [(Path(root), "")]
    while pending:
        directory, prefix = pending.pop()
        with os.scandir(directory) as listing:
            for item in listing:
                status = item.stat(follow_symlinks=False)
                path = directory / item.name
                if stat.S_ISDIR(status.st_mode):
                    found.append(_Entry(f"{prefix}{item.name}/", path, status))
                    pending.append((path, f"{prefix}{item.name}/"))
                else:
                    found.append(_Entry(f"{prefix}{item.name}", path, status))
    found.sort(key=lambda entry: os.fsencode(entry.name))
    return found


def _write_tree(root: Path, sink: _Digesting, mtime: int | None) -> None:
    seen: dict[tuple[int, int], str] = {}
    with _tar(sink) as tar:
        for entry in _walk(root):
            _add(tar, entry, mtime, seen)


def _add(tar: tarfile.TarFile, entry: _Entry, mtime: int | None,
         seen: dict[tuple[int, int], str]) -> None:
    status = entry.status
    mode = status.st_mode
    if stat.S_ISSOCK(mode):
        return
    key = (status.st_dev, status.st_ino)
    if not stat.S_ISDIR(mode) and status.st_nlink > 1:
        if key in seen:
            info = _info(entry.name, status, mtime)
            info.type, info.linkname = tarfile.LNKTYPE, seen[key]
            tar.addfile(info)
            return
        seen[key] = entry.name
    if stat.S_ISREG(mode):
        with _open_file(entry.path) as (handle, opened):
            info = _info(entry.name, opened, mtime)
            info.size = opened.st_size
            info.pax_headers = _xattrs(handle.fileno())
            tar.addfile(info, handle)
        return
    info = _info(entry.name, status, mtime)
    if stat.S_ISDIR(mode):
        info.type = tarfile.DIRTYPE
        info.pax_headers = _xattrs(os.fspath(entry.path))
    elif stat.S_ISLNK(mode):
        info.type, info.linkname = tarfile.SYMTYPE, os.readlink(entry.path)
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        info.type = tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE
        info.devmajor, info.devminor = os.major(status.st_rdev), os.minor(status.st_rdev)
    elif stat.S_ISFIFO(mode):
        info.type = tarfile.FIFOTYPE
    else:
        raise ImageError(str(entry.path), "unsupported file type")
    tar.addfile(info)


OWNERS: contextvars.ContextVar[Mapping[str, tuple[int, int]] | None] = \
    contextvars.ContextVar("OWNERS", default=None)
"""Owners to record instead of the files' own (a bootstrap run without root, where the
files belong to the user): path relative to the root (no trailing slash) -> (uid, gid);
paths not listed are recorded as 0:0. Set with `recorded_owners(...)`."""


@contextlib.contextmanager
def recorded_owners(owners: Mapping[str, tuple[int, int]] | None) -> Iterator[None]:
    """Within the block, layers record `owners` (see OWNERS) instead of lstat's."""
    token = OWNERS.set(owners)
    try:
        yield
    finally:
        OWNERS.reset(token)


def _info(name: str, status: os.stat_result, mtime: int | None) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mode = stat.S_IMODE(status.st_mode)
    owners = OWNERS.get()
    if owners is None:
        info.uid, info.gid = status.st_uid, status.st_gid
    else:
        info.uid, info.gid = owners.get(name.rstrip("/"), (0, 0))
    info.uname = info.gname = ""
    actual = int(status.st_mtime)
    info.mtime = max(actual if mtime is None else min(actual, mtime), 0)
    return info


@contextlib.contextmanager
def _open_file(path: Path) -> Iterator[tuple[BinaryIO, os.stat_result]]:
    """Open a regular file without following a symlink; its fstat (what is read)."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    with os.fdopen(descriptor, "rb") as handle:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            raise ImageError(str(path), "changed while being read")
        yield handle, status


def _xattrs(target: int | str) -> dict[str, str]:
    """The xattrs worth keeping as PAX records (user.*, security.capability)."""
    follow = isinstance(target, int)  # a descriptor: nothing to follow
    try:
        names = sorted(os.listxattr(target, follow_symlinks=follow))
    except OSError:  # the filesystem has none
        return {}
    records: dict[str, str] = {}
    for name in names:
        if name.startswith(_XATTRS):
            with contextlib.suppress(OSError):
                value = os.getxattr(target, name, follow_symlinks=follow)
                records[f"SCHILY.xattr.{name}"] = value.decode("utf-8", "surrogateescape")
    return records
