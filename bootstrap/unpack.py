"""Safe unpack of a package's data.tar into an image root (not the host).

The data archive is streamed (never held decompressed in memory) and every member is
checked before anything is written:

- paths: a leading ``./`` is accepted (dpkg's form); absolute paths, ``..`` components
  and NUL bytes are refused;
- no symlink is ever followed: each parent directory is opened component by component
  from a descriptor of the root with ``O_NOFOLLOW | O_DIRECTORY``, so a symlink planted
  by an earlier member (``./etc -> /etc``) or already in the root makes the member
  refused, never written through. Symlinks themselves are created as they are (their
  targets may be absolute: they are resolved inside the image at run time, not here);
- hard links must point to a regular file extracted earlier by the same call;
- device nodes and FIFOs are refused unless ``UnpackLimits.allow_devices``;
- size bombs: a member larger than ``max_file``, a total of file sizes above
  ``max_total``, more than ``max_members`` members, oversized tar meta headers.

Merged /usr: with ``aliases`` (e.g. ``{"bin": "usr/bin", "lib": "usr/lib"}``) a member
under an aliased top-level directory is written to its canonical place instead, as on a
merged-/usr system where ``/bin`` is a symlink to ``usr/bin`` (never followed here);
``UnpackedFile.path`` keeps the path as the package ships it, as dpkg lists it.

Sharing the root with other packages: a directory that already exists is merged (its
mode and owner are kept). An existing file, symlink or node is never replaced: when
the existing one is identical (a regular file with the same bytes, a symlink with the
same target) the member is accepted and the existing one kept; otherwise the unpack is
refused with ``would overwrite /path from another package`` (dpkg's file conflict).

Metadata: modes (setuid/setgid only with ``owners=True``), numeric owners when running
as root with ``owners=True``, mtimes (clamped to ``mtime`` when given, for reproducible
trees; directory mtimes are set last), xattrs from PAX ``SCHILY.xattr.*`` headers on a
best-effort basis (failures are ignored).

On any error everything this call created is removed again (in reverse order of
creation), so no half-unpacked package remains; then the error is raised.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import secrets
import stat
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from archive.debfile import (
    DATA_EXTENSIONS,
    TYPE_CODES,
    MiB,
    _Bad,
    _decompress_iter,
    _extension,
    _quote,
    _Stream,
    read_deb,
)
from base.errors import FormatError
from bootstrap.paths import PathFilter

__all__ = ["PathFilterFailed", "UnpackedFile", "UnpackLimits", "UnsafeArchive", "unpack_deb"]

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_CHUNK = 1 * MiB
#: Largest PAX or GNU long-name header (tarfile reads those into memory).
_META_LIMIT = 16 * MiB
_META_TYPES = (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE,
               tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK)
_XATTR_PREFIX = "SCHILY.xattr."


class UnsafeArchive(FormatError):
    """A data archive that would write outside the root, bomb it, or clobber a file."""

    kind = "unsafe-archive"


@dataclass(frozen=True)
class UnpackedFile:
    """One member as unpacked. `path` is absolute in the image ("/usr/bin/x", "/.")."""

    path: str
    kind: str  # 'f' file, 'd' directory, 'l' symlink, 'h' hard link, 'c'/'b' device, 'p' FIFO
    size: int  # bytes of a regular file, 0 otherwise
    mode: int  # permission bits as applied (setuid/setgid dropped unless owners=True)
    uid: int  # as in the archive
    gid: int
    target: str | None  # symlink target as stored; hard link target as an image path


@dataclass
class UnpackLimits:
    max_total: int = 8 << 30  # sum of regular file sizes
    max_file: int = 4 << 30  # one regular file
    max_members: int = 1_000_000
    allow_devices: bool = False


class PathFilterFailed(FormatError):
    """Path filters that leave out the directory of a member they keep."""

    kind = "path-filter"


class _LeftOut(Exception):
    """Internal: a kept member's directory was left out; becomes PathFilterFailed."""


class _Unsafe(Exception):
    """Internal: refuse the current member; becomes UnsafeArchive(deb, member: cause)."""


class _BoundedTarInfo(tarfile.TarInfo):
    """A TarInfo that refuses oversized PAX/long-name headers before reading them."""

    def _proc_member(self, tar: tarfile.TarFile) -> tarfile.TarInfo:
        if self.type in _META_TYPES and self.size > _META_LIMIT:
            raise _Unsafe(f"tar meta header of {self.size} bytes (limit {_META_LIMIT})")
        return super()._proc_member(tar)  # type: ignore[misc]


def unpack_deb(deb: Path, root: Path, *, limits: UnpackLimits = UnpackLimits(),  # noqa: B008
               owners: bool = True, mtime: int | None = None,
               aliases: Mapping[str, str] | None = None,
               diversions: Mapping[str, str] | None = None,
               paths: PathFilter | None = None,
               left_out: list[str] | None = None) -> list[UnpackedFile]:
    """Unpack the data.tar of `deb` into the directory `root` (created if missing).

    `diversions` maps a path as packages ship it to where dpkg's diversions database
    sends this package's file (those held by other packages): the member is written
    there, and listed at the path it was shipped at, as dpkg does.

    `paths`: dpkg's path filters (`bootstrap.paths`): a member they leave out is not
    written, not returned, and its path is appended to `left_out`; a kept member whose
    parent directory they left out (and that no other package made) fails, as in dpkg.

    Returns the members in archive order. Raises UnsafeArchive naming `deb` and the
    member; FormatError for a corrupt package; OSError for I/O failures. On failure
    nothing created by this call remains.
    """
    package = read_deb(Path(deb))
    subject = str(deb)
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    job = _Unpacker(root_fd, limits, owners and os.geteuid() == 0, owners, mtime)
    job.aliases = {name: tuple(p for p in target.split("/") if p)
                   for name, target in (aliases or {}).items()}
    job.diversions = {_parts(path): _parts(to) for path, to in (diversions or {}).items()}
    job.paths = paths or PathFilter()
    job.left_out = left_out if left_out is not None else []
    member = package.data_name
    try:
        ext = _extension(member, "data.tar", DATA_EXTENSIONS)
        bound = limits.max_total + (limits.max_members + 16) * 4096 + 16 * MiB
        stream = _Stream(_decompress_iter(package.data, ext, member), member, bound)
        with tarfile.open(fileobj=io.BufferedReader(stream, _CHUNK), mode="r|",
                          tarinfo=_BoundedTarInfo, encoding="utf-8",
                          errors="surrogateescape") as tar:
            while True:
                member = package.data_name
                info = tar.next()
                if info is None:
                    break
                member = _quote(info.name)
                job.member(tar, info)
        job.finish()
        return job.result
    except BaseException as exc:
        job.clean_up()
        if isinstance(exc, _Unsafe):
            raise UnsafeArchive(subject, f"{member}: {exc}") from None
        if isinstance(exc, _LeftOut):
            raise PathFilterFailed(subject, f"{member}: {exc}") from None
        if isinstance(exc, _Bad):
            cls = UnsafeArchive if "decompresses to more than" in str(exc) else FormatError
            raise cls(subject, str(exc)) from None
        if isinstance(exc, (tarfile.TarError, EOFError)):
            raise FormatError(subject, f"corrupt {package.data_name}: {exc}") from None
        raise
    finally:
        os.close(root_fd)


def _parts(path: str) -> tuple[str, ...]:
    """The components of an absolute path of the image (a diversion's, checked where the
    database is written: no '..')."""
    parts = tuple(p for p in path.split("/") if p not in ("", "."))
    if ".." in parts:
        raise ValueError(f"{path!r} has a '..' component")
    return parts


def _split(name: str, what: str) -> tuple[str, ...]:
    """The checked path components of a member name (or hard link target)."""
    if "\0" in name:
        raise _Unsafe(f"{what} contains a NUL byte")
    if name.startswith("/"):
        raise _Unsafe(f"{what} is an absolute path")
    parts = tuple(p for p in name.split("/") if p not in ("", "."))
    if ".." in parts:
        raise _Unsafe(f"{what} has a '..' component (escapes the root)")
    return parts


def _image_path(parts: Sequence[str]) -> str:
    return "/" + "/".join(parts) if parts else "/."


class _Unpacker:
    def __init__(self, root_fd: int, limits: UnpackLimits, chown: bool, keep_suid: bool,
                 mtime: int | None) -> None:
        self.root_fd = root_fd
        self.limits = limits
        self.chown = chown
        self.keep_suid = keep_suid
        self.mtime = mtime
        self.result: list[UnpackedFile] = []
        self.created: list[tuple[str, tuple[str, ...]]] = []  # ('d' | 'f', parts)
        self.temporaries: list[tuple[tuple[str, ...], str]] = []  # (parent parts, name)
        self.files: set[tuple[str, ...]] = set()  # regular files extracted by this call
        self.dir_times: dict[tuple[str, ...], int] = {}
        self.count = 0
        self.total = 0
        self.aliases: dict[str, tuple[str, ...]] = {}
        self.diversions: dict[tuple[str, ...], tuple[str, ...]] = {}
        self.paths = PathFilter()
        self.left_out: list[str] = []
        self.skipped_dirs: set[tuple[str, ...]] = set()  # canonical parts

    def canonical(self, parts: tuple[str, ...]) -> tuple[str, ...]:
        """Where `parts` goes in the image (an aliased top-level directory replaced)."""
        if parts and parts[0] in self.aliases:
            return self.aliases[parts[0]] + parts[1:]
        return parts

    # -- helpers -----------------------------------------------------------------

    def _open_dir(self, parts: Sequence[str], *, create: bool) -> int:
        """A descriptor of root/parts, never following a symlink; missing dirs made."""
        fd = os.dup(self.root_fd)
        try:
            for i, part in enumerate(parts):
                try:
                    child = os.open(part, _DIR_FLAGS, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        raise
                    os.mkdir(part, 0o700, dir_fd=fd)
                    made = tuple(parts[:i + 1])
                    self.created.append(("d", made))
                    child = os.open(part, _DIR_FLAGS, dir_fd=fd)
                    os.fchmod(child, 0o755)
                    self.dir_times.setdefault(made, self._time(None))
                except OSError as exc:
                    if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                        raise
                    shown = _image_path(parts[:i + 1])
                    if stat.S_ISLNK(os.lstat(part, dir_fd=fd).st_mode):
                        raise _Unsafe(f"parent {shown} is a symlink (never followed)") from None
                    raise _Unsafe(f"parent {shown} is not a directory") from None
                os.close(fd)
                fd = child
            return fd
        except BaseException:
            os.close(fd)
            raise

    def _time(self, value: float | None) -> int:
        if value is None:
            value = self.mtime if self.mtime is not None else 0
        if self.mtime is not None:
            value = min(value, self.mtime)
        return max(int(value), 0)

    def _mode(self, info: tarfile.TarInfo) -> int:
        keep = 0o7777 if self.keep_suid else 0o1777
        return info.mode & keep

    def _existing(self, parent: int, name: str) -> os.stat_result | None:
        try:
            return os.lstat(name, dir_fd=parent)
        except FileNotFoundError:
            return None

    def _metadata(self, fd: int, info: tarfile.TarInfo, mode: int) -> None:
        """Owner, mode, xattrs and mtime of a file or directory open as `fd`."""
        if self.chown:
            os.fchown(fd, info.uid, info.gid)
        os.fchmod(fd, mode)
        for key, value in info.pax_headers.items():
            if key.startswith(_XATTR_PREFIX):
                with contextlib.suppress(OSError):  # best effort: the fs may refuse
                    os.setxattr(fd, key[len(_XATTR_PREFIX):],
                                value.encode("utf-8", "surrogateescape"))

    # -- members -----------------------------------------------------------------

    def member(self, tar: tarfile.TarFile, info: tarfile.TarInfo) -> None:
        self.count += 1
        if self.count > self.limits.max_members:
            raise _Unsafe(f"more than {self.limits.max_members} members")
        kind = TYPE_CODES.get(info.type)
        if kind is None:
            raise _Unsafe(f"unsupported tar member type {info.type!r}")
        shipped = _split(info.name, "path")
        parts = self.canonical(self.diversions.get(shipped, shipped) if kind != "d"
                               else shipped)
        if not parts and kind != "d":
            raise _Unsafe("the root is not a directory")
        mode = self._mode(info)
        target: str | None = None
        size = 0
        if kind == "f":
            size = info.size
            if size > self.limits.max_file:
                raise _Unsafe(f"file of {size} bytes exceeds the limit of "
                              f"{self.limits.max_file} bytes")
            self.total += size
            if self.total > self.limits.max_total:
                raise _Unsafe(f"files total more than {self.limits.max_total} bytes")
        if self.paths and parts and self.paths.skips(_image_path(shipped), kind):
            self.left_out.append(_image_path(shipped))
            if kind == "d":
                self.skipped_dirs.add(parts)
            return
        if self.skipped_dirs and parts[:-1] in self.skipped_dirs:
            self._parent_left_out(parts)
        if kind in "cbp" and not self.limits.allow_devices:
            what = {"c": "character device", "b": "block device", "p": "FIFO"}[kind]
            raise _Unsafe(f"{what} refused (devices are not allowed)")

        if not parts:  # "./": the root itself; only its mtime is set (at the end)
            self.dir_times[()] = self._time(info.mtime)
        else:
            parent = self._open_dir(parts[:-1], create=True)
            try:
                if kind == "d":
                    self._directory(parent, parts, info, mode)
                elif kind == "f":
                    self._file(parent, parts, info, mode, tar)
                elif kind == "l":
                    target = info.linkname
                    self._symlink(parent, parts, info)
                elif kind == "h":
                    target = self._hardlink(parent, parts, info)
                else:
                    self._node(parent, parts, info, mode, kind)
            finally:
                os.close(parent)
        self.result.append(UnpackedFile(path=_image_path(shipped), kind=kind, size=size,
                                        mode=mode if kind != "l" else 0o777,
                                        uid=info.uid, gid=info.gid, target=target))

    def _parent_left_out(self, parts: tuple[str, ...]) -> None:
        """A kept member in a directory the path filters left out: dpkg cannot create
        it (no such directory) unless the directory is there already."""
        try:
            os.close(self._open_dir(parts[:-1], create=False))
        except FileNotFoundError:
            raise _LeftOut(f"the path filters leave out its directory "
                           f"{_image_path(parts[:-1])} (dpkg fails the same way: "
                           "include the directory too)") from None

    def _directory(self, parent: int, parts: tuple[str, ...], info: tarfile.TarInfo,
                   mode: int) -> None:
        name = parts[-1]
        existing = self._existing(parent, name)
        if existing is not None:
            if not stat.S_ISDIR(existing.st_mode):
                raise _Unsafe(f"would replace {_describe(existing)} {_image_path(parts)} "
                              "with a directory")
            # merged: mode and owner of the existing directory are kept
            self.dir_times[parts] = self._time(info.mtime)
            return
        os.mkdir(name, 0o700, dir_fd=parent)
        self.created.append(("d", parts))
        fd = os.open(name, _DIR_FLAGS, dir_fd=parent)
        try:
            self._metadata(fd, info, mode)
        finally:
            os.close(fd)
        self.dir_times[parts] = self._time(info.mtime)

    def _file(self, parent: int, parts: tuple[str, ...], info: tarfile.TarInfo, mode: int,
              tar: tarfile.TarFile) -> None:
        name = parts[-1]
        existing = self._existing(parent, name)
        if existing is not None and not stat.S_ISREG(existing.st_mode):
            raise _Unsafe(f"would overwrite {_describe(existing)} {_image_path(parts)} "
                          "from another package")
        temporary = f".unpack-{secrets.token_hex(8)}"
        fd = os.open(temporary, _FILE_FLAGS, 0o600, dir_fd=parent)
        record = (parts[:-1], temporary)
        self.temporaries.append(record)
        try:
            source = tar.extractfile(info)
            written = 0
            if source is not None:
                while chunk := source.read(_CHUNK):
                    written += len(chunk)
                    if written > info.size:  # pragma: no cover - tarfile bounds it
                        raise _Unsafe("member data longer than its header says")
                    _write_all(fd, chunk)
            if written != info.size:
                raise _Unsafe(f"member data truncated ({written} of {info.size} bytes)")
            self._metadata(fd, info, mode)
            when = self._time(info.mtime)
            os.utime(fd, (when, when))
            if existing is not None:
                if not _same_content(fd, parent, name, existing):
                    raise _Unsafe(f"would overwrite {_image_path(parts)} from another "
                                  "package (different content)")
                os.unlink(temporary, dir_fd=parent)
                self.temporaries.remove(record)
                self.files.add(parts)
                return
            try:
                os.link(temporary, name, src_dir_fd=parent, dst_dir_fd=parent,
                        follow_symlinks=False)
            except FileExistsError:
                raise _Unsafe(f"would overwrite {_image_path(parts)}") from None
            self.created.append(("f", parts))
            os.unlink(temporary, dir_fd=parent)
            self.temporaries.remove(record)
            self.files.add(parts)
        finally:
            os.close(fd)

    def _symlink(self, parent: int, parts: tuple[str, ...], info: tarfile.TarInfo) -> None:
        name = parts[-1]
        target = info.linkname
        if not target or "\0" in target:
            raise _Unsafe("symlink with an empty or invalid target")
        existing = self._existing(parent, name)
        if existing is not None:
            if stat.S_ISLNK(existing.st_mode) and os.readlink(name, dir_fd=parent) == target:
                return  # identical symlink of another package
            raise _Unsafe(f"would overwrite {_describe(existing)} {_image_path(parts)} "
                          "from another package")
        os.symlink(target, name, dir_fd=parent)
        self.created.append(("f", parts))
        if self.chown:
            os.chown(name, info.uid, info.gid, dir_fd=parent, follow_symlinks=False)
        when = self._time(info.mtime)
        os.utime(name, (when, when), dir_fd=parent, follow_symlinks=False)

    def _hardlink(self, parent: int, parts: tuple[str, ...], info: tarfile.TarInfo) -> str:
        target = _split(info.linkname, "hard link target")
        source = self.canonical(self.diversions.get(target, target))  # (where it went)
        shown = _image_path(source)
        if source not in self.files:
            raise _Unsafe(f"hard link to {shown}, which is not a file unpacked from this "
                          "package")
        name = parts[-1]
        existing = self._existing(parent, name)
        source_dir = self._open_dir(source[:-1], create=False)
        try:
            if existing is not None:
                # accepted when the existing file has the same bytes (kept as it is)
                fd = os.open(source[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC,
                             dir_fd=source_dir)
                try:
                    same = (stat.S_ISREG(existing.st_mode)
                            and _same_content(fd, parent, name, existing))
                finally:
                    os.close(fd)
                if not same:
                    raise _Unsafe(f"would overwrite {_describe(existing)} "
                                  f"{_image_path(parts)} from another package")
                return shown
            os.link(source[-1], name, src_dir_fd=source_dir, dst_dir_fd=parent,
                    follow_symlinks=False)
        finally:
            os.close(source_dir)
        self.created.append(("f", parts))
        return shown

    def _node(self, parent: int, parts: tuple[str, ...], info: tarfile.TarInfo, mode: int,
              kind: str) -> None:
        name = parts[-1]
        existing = self._existing(parent, name)
        if existing is not None:
            raise _Unsafe(f"would overwrite {_describe(existing)} {_image_path(parts)} "
                          "from another package")
        if kind == "p":
            os.mkfifo(name, 0o600, dir_fd=parent)
        else:
            flag = stat.S_IFCHR if kind == "c" else stat.S_IFBLK
            os.mknod(name, 0o600 | flag, os.makedev(info.devmajor, info.devminor),
                     dir_fd=parent)
        self.created.append(("f", parts))
        if self.chown:
            os.chown(name, info.uid, info.gid, dir_fd=parent, follow_symlinks=False)
        os.chmod(name, mode, dir_fd=parent, follow_symlinks=True)  # a node we just made
        when = self._time(info.mtime)
        os.utime(name, (when, when), dir_fd=parent, follow_symlinks=False)

    # -- end ---------------------------------------------------------------------

    def finish(self) -> None:
        """Directory mtimes, deepest first (adding entries changed them)."""
        for parts in sorted(self.dir_times, key=len, reverse=True):
            fd = self._open_dir(parts, create=False)
            try:
                when = self.dir_times[parts]
                os.utime(fd, (when, when))
            finally:
                os.close(fd)

    def clean_up(self) -> None:
        """Remove what this call created, newest first; best effort."""
        undo: list[tuple[str, tuple[str, ...], str | None]] = [
            ("t", parent, name) for parent, name in self.temporaries]
        undo += [(kind, parts, None) for kind, parts in reversed(self.created)]
        for kind, parts, temporary in undo:
            parent_parts = parts if kind == "t" else parts[:-1]
            try:
                parent = self._open_dir(parent_parts, create=False)
            except (OSError, _Unsafe):
                continue
            try:
                if kind == "t":
                    os.unlink(temporary or "", dir_fd=parent)
                elif kind == "d":
                    os.rmdir(parts[-1], dir_fd=parent)
                else:
                    os.unlink(parts[-1], dir_fd=parent)
            except OSError:
                pass
            finally:
                os.close(parent)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        done = os.write(fd, view)
        view = view[done:]


def _describe(existing: os.stat_result) -> str:
    mode = existing.st_mode
    if stat.S_ISDIR(mode):
        return "directory"
    if stat.S_ISLNK(mode):
        return "symlink"
    if stat.S_ISREG(mode):
        return "file"
    return "special file"


def _same_content(fd: int, parent: int, name: str, existing: os.stat_result) -> bool:
    """Whether the regular file `name` (lstat `existing`) has the bytes of open `fd`."""
    if existing.st_size != os.fstat(fd).st_size:
        return False
    try:
        other = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
    except OSError:
        return False
    try:
        if not stat.S_ISREG(os.fstat(other).st_mode):
            return False
        offset = 0
        while True:
            mine = os.pread(fd, _CHUNK, offset)
            theirs = os.pread(other, _CHUNK, offset)
            if mine != theirs:
                return False
            if not mine:
                return True
            offset += len(mine)
    finally:
        os.close(other)

