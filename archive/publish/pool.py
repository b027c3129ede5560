"""The pool of a published archive: a file name, once published, keeps its bytes.

Older snapshots (and so `snapshot rollback`), apt's caches and mirrors of the archive
all name a pool file by its path and expect the SHA256 they were given for it. So a
publish never replaces or skips a pool file whose content differs from what it is
about to list: as dak refuses an upload of the same name with other content, the
publish fails before anything is switched in, naming the file and both digests.

Checking means hashing an existing pool file; its SHA256 is remembered with its stat
(device, inode, size, mtime, ctime), so a publish re-reads only files that changed on
disk since a publish last read them (a copy, a restore or an edit changes the ctime).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from archive.digests import is_digest, is_relative_path, shown
from archive.publish.journal import JournalMap
from archive.upstream.download import sha256_file
from base.atomic import AtomicFile, fsync_directory
from base.errors import FormatError, IntegrityError, NotFoundError

SYNCFS_ABOVE = 32  # directories: more, and one syncfs of the pool's file system is cheaper


def _syncfs(path: Path) -> bool:
    """syncfs(2) of the file system holding `path` (Linux); False where unavailable."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except (OSError, AttributeError):
        return False
    try:
        return bool(libc.syncfs(descriptor) == 0)
    except AttributeError:
        return False
    finally:
        os.close(descriptor)


@dataclass(frozen=True)
class PoolEntry:
    """One file a publish lists: where it goes and what it must contain."""

    relative: str  # pool/main/h/hello/hello_2.10-3_amd64.deb
    source: Path | str  # a verified copy (artifact store or upstream cache)
    sha256: str
    label: str  # what it is, for messages: "hello 2.10-3"


class Pool:
    def __init__(self, root: Path, state_dir: Path) -> None:
        self.root = root
        self._root = str(root)
        digest = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]
        self.state_file = state_dir / f"pool-{digest}.json"
        self._state = JournalMap(self.state_file, "pool-1", _stat_and_digest)
        self._linked: set[Path] = set()
        self._made: set[Path] = set()

    def plan(self, entries: list[PoolEntry]) -> list[PoolEntry]:
        """The entries to copy; IntegrityError if any pool name would change content.

        Checks every entry before anything is copied, so a refused publish adds no file.
        """
        wanted: dict[str, PoolEntry] = {}
        for entry in entries:
            known = self._state.get(entry.relative)
            if known is not None and known[5] == entry.sha256 and entry.relative not in wanted:
                wanted[entry.relative] = entry  # checked when it was recorded
                continue
            if not entry.relative.startswith("pool/") or not is_relative_path(entry.relative):
                raise FormatError(entry.label, f"unsafe pool file name {shown(entry.relative)}")
            if not is_digest(entry.sha256, "SHA256"):
                raise FormatError(entry.label, f"not a SHA256 digest: {shown(entry.sha256)}")
            other = wanted.get(entry.relative)
            if other is not None and other.sha256 != entry.sha256:
                raise IntegrityError(
                    entry.relative,
                    f"named by two different files in this publish: {other.label} (SHA256 "
                    f"{other.sha256}) and {entry.label} (SHA256 {entry.sha256}); nothing "
                    "was published")
            wanted[entry.relative] = entry
        missing = []
        for relative, entry in sorted(wanted.items()):
            present = self.sha256(relative)
            if present is None:
                if not os.path.isfile(entry.source):
                    raise NotFoundError(str(self.root / relative), (
                        f"is not in the pool, and {entry.label}'s copy {entry.source} is "
                        "gone: nothing was published"))
                missing.append(entry)
            elif present != entry.sha256.lower():
                raise IntegrityError(
                    str(self.root / relative),
                    f"already published with SHA256 {present}, but {entry.label} now has "
                    f"SHA256 {entry.sha256}: a pool file never changes content (older "
                    "snapshots and apt caches name the old bytes); publish the rebuild "
                    "under a new version. Nothing was published")
        return missing

    def recorded(self, relative: str) -> str | None:
        """The SHA256 a publish last found or put at `relative` (not checked on disk:
        `plan` does that)."""
        known = self._state.get(relative)
        return str(known[5]) if known is not None else None

    def sha256(self, relative: str) -> str | None:
        """The SHA256 of the pool file `relative`, None if there is none."""
        path = f"{self._root}/{relative}"
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            return None
        if not stat.S_ISREG(info.st_mode):
            raise IntegrityError(str(path), "is in the pool but not a regular file "
                                 "(a symbolic link or a directory): refused")
        key: list[int | str] = [info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns,
                                info.st_ctime_ns]
        known = self._state.entries.get(relative)  # checked below
        if isinstance(known, list) and len(known) == 6 and known[:5] == key:
            return str(known[5])
        digest = sha256_file(Path(path))
        self._remember(relative, path, digest)
        return digest

    def copy(self, entry: PoolEntry) -> None:
        """Put a verified file into the pool under a name it does not have yet.

        A hard link to the verified copy where it can be (the same file system, a
        world-readable file: the artifact store's and the upstream cache's are), checked
        against its SHA256: no byte is written and nothing needs to be synced but the
        directory (`sync`). Otherwise written by `base.atomic` with `replace=False`: a
        hard link gives the copy its name, and a hard link never replaces a name (on a
        file system without hard links the name is checked, then renamed; publishes of
        one root are serialised by a lock)."""
        target = self.root / entry.relative
        if target.parent not in self._made:
            target.parent.mkdir(parents=True, exist_ok=True)
            self._made.add(target.parent)
        if self._link(entry, target):
            return
        new = AtomicFile(target, mode=0o644, replace=False)
        try:
            new.copy_from(entry.source)
            new.flush()
            if sha256_file(new.path) != entry.sha256.lower():
                raise FormatError(str(entry.source), "changed while being copied into the pool")
            new.commit()
        except FileExistsError as exc:
            raise IntegrityError(str(target), "appeared in the pool during this publish: "
                                 "nothing was published, run it again") from exc
        finally:
            new.discard()
        self._remember(entry.relative, target, entry.sha256.lower())

    def _link(self, entry: PoolEntry, target: Path) -> bool:
        try:
            info = os.lstat(entry.source)  # a link of a symbolic link would be one too
            if not stat.S_ISREG(info.st_mode) or stat.S_IMODE(info.st_mode) != 0o644:
                return False
            os.link(entry.source, target, follow_symlinks=False)
        except FileExistsError as exc:
            raise IntegrityError(str(target), "appeared in the pool during this publish: "
                                 "nothing was published, run it again") from exc
        except OSError:
            return False  # another file system, no hard links: a copy
        if sha256_file(target) != entry.sha256.lower():
            target.unlink()
            raise FormatError(str(entry.source), "is not the file the catalog recorded "
                              f"(SHA256 {entry.sha256}): refused")
        self._linked.add(target.parent)
        self._remember(entry.relative, target, entry.sha256.lower())
        return True

    def sync(self) -> None:
        """Make the links made durable: their directories fsynced, once each, or, for
        many, the pool's whole file system synced at once (syncfs)."""
        if len(self._linked) > SYNCFS_ABOVE and _syncfs(self.root):
            self._linked.clear()
            return
        for folder in sorted(self._linked):
            fsync_directory(folder)
        self._linked.clear()

    def _remember(self, relative: str, path: Path | str, digest: str) -> None:
        info = os.lstat(path)
        self._state.put(relative, [info.st_dev, info.st_ino, info.st_size,
                                   info.st_mtime_ns, info.st_ctime_ns, digest])

    def save(self) -> None:
        """Remember the digests read (best effort: a lost file only costs a re-read)."""
        self._state.save()


def _stat_and_digest(value: object) -> bool:
    """[device, inode, size, mtime_ns, ctime_ns, SHA256]: `sha256` compares the first
    five with a new lstat (anything else differs from it), so only the digest's type is
    checked here (called tens of thousands of times a publish)."""
    return type(value) is list and len(value) == 6 and type(value[5]) is str

