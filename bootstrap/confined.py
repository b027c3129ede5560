"""The one writer of everything bootstrap changes in an image after unpacking.

Every operation takes an image path ("/etc/passwd") and never touches the host:

- the path is resolved component by component from a descriptor of the root, each
  directory opened with ``O_NOFOLLOW | O_DIRECTORY`` relative to its parent's
  descriptor, so a directory swapped for a symlink is refused, never followed;
- ``..`` pops the resolver's own stack of descriptors (the kernel's ``..`` is never
  used), so it stops at the root;
- a symlink met on the way is read with ``readlink(dir_fd=...)`` and its target
  spliced in, an absolute target restarting at the root: the image path resolves as
  it would for a process chrooted into the image (what openat2's RESOLVE_IN_ROOT
  does). ``strict=True`` refuses every symlink instead (dpkg's database, the account
  files: nothing legitimate puts a symlink there);
- the last component of a write is never followed: data goes to a fresh temporary
  (``O_CREAT | O_EXCL | O_NOFOLLOW``, a random name) in the resolved directory, which
  is then renamed over the name. A symlink planted under the final name is replaced,
  one planted under a temporary's name is never met;
- modes and owners are changed through a descriptor opened with ``O_PATH |
  O_NOFOLLOW`` of the fully resolved path (``/proc/self/fd``), never by a host path.

A failure is a `Confinement` error (a ValueError) naming the image path.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Confinement", "ImageRoot"]

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_MAX_LINKS = 40
_CHUNK = 1 << 20


class Confinement(ValueError):
    """An image path that cannot be used safely (a symlink refused, a loop, a type)."""


def components(path: str) -> list[str]:
    """The components of an image path; '.' and empty ones dropped; NUL refused."""
    if "\0" in path:
        raise Confinement(f"{path!r}: contains a NUL byte")
    return [part for part in path.split("/") if part not in ("", ".")]


@dataclass
class _Where:
    """A resolved image path: an open descriptor of its directory and its last name."""

    parent: int
    name: str  # "" when the path is the root itself
    parts: tuple[str, ...]  # canonical components, name included

    @property
    def shown(self) -> str:
        return "/" + "/".join(self.parts)


class ImageRoot:
    """Reads and writes inside the image directory `root`, never outside it."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    # -- resolution ----------------------------------------------------------------
    @contextlib.contextmanager
    def _at(self, path: str, *, follow_last: bool, make: bool = False,
            strict: bool = False) -> Iterator[_Where]:
        where = self._locate(path, follow_last=follow_last, make=make, strict=strict)
        try:
            yield where
        finally:
            os.close(where.parent)

    def _locate(self, path: str, *, follow_last: bool, make: bool, strict: bool) -> _Where:
        pending = components(path)
        stack: list[tuple[int, str]] = []
        root = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        hops = 0
        try:
            while pending:
                part = pending.pop(0)
                if part == "..":
                    if stack:
                        os.close(stack.pop()[0])
                    continue
                top = stack[-1][0] if stack else root
                last = not pending
                shown = "/" + "/".join([name for _, name in stack] + [part])
                try:
                    status: os.stat_result | None = os.lstat(part, dir_fd=top)
                except FileNotFoundError:
                    status = None
                if status is not None and stat.S_ISLNK(status.st_mode) \
                        and (follow_last or not last):
                    if strict:
                        raise Confinement(f"{shown} is a symlink in the image (refused)")
                    hops += 1
                    if hops > _MAX_LINKS:
                        raise Confinement(f"{path}: too many levels of symbolic links")
                    target = os.readlink(part, dir_fd=top)
                    if target.startswith("/"):
                        for fd, _ in stack:
                            os.close(fd)
                        stack = []
                    pending = components(target) + pending
                    continue
                if last:
                    names = tuple(name for _, name in stack)
                    return _Where(os.dup(top), part, (*names, part))
                if status is None:
                    if not make:
                        raise FileNotFoundError(errno.ENOENT, f"no such directory in the image "
                                                f"(resolving {path})", shown)
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(part, 0o755, dir_fd=top)
                        _fix_mode(top, part, 0o755)
                elif not stat.S_ISDIR(status.st_mode):
                    raise Confinement(f"{shown} is not a directory")
                try:
                    child = os.open(part, _DIR_FLAGS, dir_fd=top)
                except OSError as exc:  # swapped meanwhile
                    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                        raise Confinement(f"{shown} changed while in use") from None
                    raise
                stack.append((child, part))
            # the path names a directory (it ended in '..', or is the root)
            if not stack:
                return _Where(os.dup(root), "", ())
            fd, name = stack.pop()
            os.close(fd)
            parent = stack[-1][0] if stack else root
            names = tuple(n for _, n in stack)
            return _Where(os.dup(parent), name, (*names, name))
        finally:
            for fd, _ in stack:
                os.close(fd)
            os.close(root)

    def canonical(self, path: str) -> str:
        """The image path `path` resolves to ("/usr/bin/x" for "/bin/x" on merged /usr)."""
        where = self._locate(path, follow_last=True, make=False, strict=False)
        os.close(where.parent)
        return where.shown

    # -- queries -------------------------------------------------------------------
    def lstat(self, path: str, *, follow: bool = True) -> os.stat_result | None:
        """The status of `path` (its last symlink followed in the image when `follow`)."""
        try:
            with self._at(path, follow_last=follow) as where:
                if not where.name:
                    return os.stat(where.parent)
                return os.lstat(where.name, dir_fd=where.parent)
        except (FileNotFoundError, NotADirectoryError, Confinement):
            return None

    def exists(self, path: str) -> bool:
        return self.lstat(path) is not None

    def lexists(self, path: str) -> bool:
        return self.lstat(path, follow=False) is not None

    def is_dir(self, path: str) -> bool:
        status = self.lstat(path)
        return status is not None and stat.S_ISDIR(status.st_mode)

    def is_file(self, path: str) -> bool:
        status = self.lstat(path)
        return status is not None and stat.S_ISREG(status.st_mode)

    def is_symlink(self, path: str) -> bool:
        status = self.lstat(path, follow=False)
        return status is not None and stat.S_ISLNK(status.st_mode)

    def readlink(self, path: str) -> str | None:
        """The target of symlink `path` (its parents resolved in the image); None when
        `path` is not a symlink."""
        try:
            with self._at(path, follow_last=False) as where:
                if not where.name:
                    return None
                return os.readlink(where.name, dir_fd=where.parent)
        except (FileNotFoundError, NotADirectoryError, OSError, Confinement):
            return None

    def listdir(self, path: str) -> list[str]:
        """The names in directory `path`, sorted; [] when it is not a directory."""
        try:
            fd = self._open_dir(path)
        except (FileNotFoundError, NotADirectoryError, Confinement):
            return []
        try:
            return sorted(os.listdir(fd))
        finally:
            os.close(fd)

    def tree(self, directory: str, *, follow: bool = False,
             depth: int = 32) -> list[tuple[str, os.stat_result]]:
        """Every path under `directory` with its status, in name order, directories
        walked (symlinked ones too when `follow`) at most `depth` deep."""
        found: list[tuple[str, os.stat_result]] = []
        for name in self.listdir(directory):
            path = f"{directory.rstrip('/')}/{name}"
            status = self.lstat(path, follow=follow)
            if status is None:
                continue
            found.append((path, status))
            if stat.S_ISDIR(status.st_mode) and depth > 0:
                found += self.tree(path, follow=follow, depth=depth - 1)
        return found

    def symlinks_under(self, directory: str) -> list[str]:
        """The symlinks under `directory` (real subdirectories walked), in name order."""
        return [path for path, status in self.tree(directory) if stat.S_ISLNK(status.st_mode)]

    def _open_dir(self, path: str, *, strict: bool = False) -> int:
        with self._at(path, follow_last=True, strict=strict) as where:
            if not where.name:
                return os.dup(where.parent)
            try:
                return os.open(where.name, _DIR_FLAGS, dir_fd=where.parent)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise Confinement(f"{where.shown} is not a directory") from None
                raise

    def read_bytes(self, path: str, *, strict: bool = False, limit: int = 64 << 20) -> bytes:
        """The bytes of regular file `path` (at most `limit`: a bigger file is refused)."""
        with self._at(path, follow_last=True, strict=strict) as where:
            fd = os.open(where.name or ".", os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
                         | os.O_NONBLOCK, dir_fd=where.parent)
            try:
                status = os.fstat(fd)
                if not stat.S_ISREG(status.st_mode):
                    raise Confinement(f"{where.shown} is not a regular file")
                if status.st_size > limit:
                    raise Confinement(f"{where.shown} is larger than {limit} bytes")
                chunks = []
                while chunk := os.read(fd, _CHUNK):
                    chunks.append(chunk)
                    limit -= len(chunk)
                    if limit < 0:
                        raise Confinement(f"{where.shown} grew while read")
                return b"".join(chunks)
            finally:
                os.close(fd)

    def read_text(self, path: str, *, strict: bool = False) -> str:
        return self.read_bytes(path, strict=strict).decode("utf-8", "surrogateescape")

    # -- changes -------------------------------------------------------------------
    def makedirs(self, path: str, *, strict: bool = False) -> None:
        """Create directory `path` and its missing parents (mode 0755); existing ones kept."""
        with self._at(path, follow_last=True, make=True, strict=strict) as where:
            if not where.name:
                return
            try:
                os.mkdir(where.name, 0o755, dir_fd=where.parent)
                _fix_mode(where.parent, where.name, 0o755)
            except FileExistsError:
                status = os.lstat(where.name, dir_fd=where.parent)
                if not stat.S_ISDIR(status.st_mode):
                    raise Confinement(f"{where.shown} exists and is not a directory") \
                        from None

    def write_bytes(self, path: str, data: bytes, *, mode: int = 0o644,
                    strict: bool = False, mtime: int | None = None) -> None:
        """Replace `path` by a regular file holding `data` (temporary file + rename).

        Missing parent directories are created; a symlink at `path` itself is replaced,
        never written through; a directory there is refused."""
        with self._at(path, follow_last=False, make=True, strict=strict) as where:
            if not where.name:
                raise Confinement("refusing to write the image root")
            existing = _lstat_at(where.parent, where.name)
            if existing is not None and stat.S_ISDIR(existing.st_mode):
                raise Confinement(f"{where.shown} is a directory")

            def make(temporary: str) -> None:
                fd = os.open(temporary, _NEW_FILE, 0o600, dir_fd=where.parent)
                try:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fd, view):]
                    os.fchmod(fd, mode)
                    if mtime is not None:
                        os.utime(fd, (mtime, mtime))
                finally:
                    os.close(fd)

            _swap_in(where, make)

    def write_text(self, path: str, text: str, *, mode: int = 0o644,
                   strict: bool = False) -> None:
        self.write_bytes(path, text.encode("utf-8"), mode=mode, strict=strict)

    def copy(self, source: str, target: str) -> None:
        """Copy regular file `source` to `target` (mode and mtime kept, like cp -p)."""
        with self._at(source, follow_last=True) as where:
            status = _lstat_at(where.parent, where.name) if where.name else None
        if status is None or not stat.S_ISREG(status.st_mode):
            raise Confinement(f"{source} is not a regular file in the image")
        data = self.read_bytes(source)
        self.write_bytes(target, data, mode=stat.S_IMODE(status.st_mode) & 0o777,
                         mtime=int(status.st_mtime))

    def symlink(self, path: str, target: str, *, replace: bool = False) -> None:
        """Make `path` a symlink to `target`; with `replace`, an existing symlink is
        swapped atomically (anything else in the way is refused)."""
        if not target or "\0" in target:
            raise Confinement(f"{path}: empty or invalid symlink target")
        with self._at(path, follow_last=False, make=True) as where:
            if not where.name:
                raise Confinement("refusing to replace the image root")
            existing = _lstat_at(where.parent, where.name)
            if existing is None:
                os.symlink(target, where.name, dir_fd=where.parent)
                return
            if not replace or not stat.S_ISLNK(existing.st_mode):
                raise Confinement(f"{where.shown} exists and is not a symlink")
            _swap_in(where, lambda temporary: os.symlink(target, temporary,
                                                         dir_fd=where.parent))

    def remove(self, path: str, *, recursive: bool = False) -> bool:
        """Remove `path` (not followed); False when it is absent."""
        try:
            where = self._locate(path, follow_last=False, make=False, strict=False)
        except (FileNotFoundError, NotADirectoryError):
            return False
        with contextlib.closing(_Fd(where.parent)):
            if not where.name:
                raise Confinement("refusing to remove the image root")
            existing = _lstat_at(where.parent, where.name)
            if existing is None:
                return False
            if stat.S_ISDIR(existing.st_mode):
                if recursive:
                    shutil.rmtree(where.name, dir_fd=where.parent)
                else:
                    os.rmdir(where.name, dir_fd=where.parent)
            else:
                os.unlink(where.name, dir_fd=where.parent)
            return True

    def rename(self, source: str, target: str) -> bool:
        """mv SOURCE TARGET, neither followed (into TARGET when it is a directory, as mv
        does); False when SOURCE is absent."""
        if self.is_dir(target) and not self.is_symlink(target):
            target = target.rstrip("/") + "/" + source.rstrip("/").rsplit("/", 1)[-1]
        try:
            where = self._locate(source, follow_last=False, make=False, strict=False)
        except (FileNotFoundError, NotADirectoryError):
            return False
        with contextlib.closing(_Fd(where.parent)):
            if not where.name:
                raise Confinement("refusing to move the image root")
            if _lstat_at(where.parent, where.name) is None:
                return False
            with self._at(target, follow_last=False) as to:
                if not to.name:
                    raise Confinement("refusing to replace the image root")
                os.replace(where.name, to.name, src_dir_fd=where.parent,
                           dst_dir_fd=to.parent)
        return True

    def chmod(self, path: str, mode: int) -> None:
        """Set the permission bits of `path` (its symlinks resolved in the image)."""
        with self._opened(path) as (fd, _):
            os.chmod(f"/proc/self/fd/{fd}", mode)

    def set_xattr(self, path: str, name: str, value: bytes) -> None:
        """Set extended attribute `name` of the regular file `path` resolves to."""
        with self._regular(path) as fd:
            os.setxattr(fd, name, value)

    def remove_xattr(self, path: str, name: str) -> bool:
        """Remove extended attribute `name` of a regular file; whether it had one."""
        with self._regular(path) as fd:
            try:
                os.removexattr(fd, name)
            except OSError as exc:
                if exc.errno == errno.ENODATA:
                    return False
                raise
            return True

    @contextlib.contextmanager
    def _regular(self, path: str) -> Iterator[int]:
        """A read-only descriptor of the regular file `path` resolves to in the image
        (O_PATH descriptors do not carry xattrs, so it is opened)."""
        with self._at(path, follow_last=True) as where:
            fd = os.open(where.name or ".", os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC |
                         os.O_NONBLOCK, dir_fd=where.parent)
            try:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    raise Confinement(f"{where.shown} is not a regular file")
                yield fd
            finally:
                os.close(fd)

    def chown(self, path: str, uid: int, gid: int) -> None:
        """Set the owner of `path` (its symlinks resolved in the image); -1 keeps one."""
        with self._opened(path) as (fd, _):
            os.chown(f"/proc/self/fd/{fd}", uid, gid)

    @contextlib.contextmanager
    def _opened(self, path: str) -> Iterator[tuple[int, str]]:
        """An O_PATH descriptor of what `path` resolves to, and its canonical path."""
        with self._at(path, follow_last=True) as where:
            fd = os.open(where.name or ".", os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC,
                         dir_fd=where.parent)
            try:
                if stat.S_ISLNK(os.fstat(fd).st_mode):
                    raise Confinement(f"{where.shown} changed while in use")
                yield fd, where.shown
            finally:
                os.close(fd)


def _swap_in(where: _Where, make: Callable[[str], None]) -> None:
    """Make a new entry under a fresh random name beside `where` and rename it over."""
    temporary = f".{where.name[:64]}.{secrets.token_hex(8)}.tmp"
    try:
        make(temporary)
        os.replace(temporary, where.name, src_dir_fd=where.parent, dst_dir_fd=where.parent)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary, dir_fd=where.parent)
        raise


class _Fd:
    def __init__(self, fd: int) -> None:
        self.fd = fd

    def close(self) -> None:
        os.close(self.fd)


def _lstat_at(parent: int, name: str) -> os.stat_result | None:
    try:
        return os.lstat(name, dir_fd=parent)
    except FileNotFoundError:
        return None


def _fix_mode(parent: int, name: str, mode: int) -> None:
    """chmod a directory just made (mkdir's mode is masked by the umask)."""
    fd = os.open(name, _DIR_FLAGS, dir_fd=parent)
    try:
        os.fchmod(fd, mode)
    finally:
        os.close(fd)
