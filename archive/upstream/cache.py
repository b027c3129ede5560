"""The content-addressed cache under the data directory.

    <data_dir>/cache/by-hash/SHA256/<hex>     verified files (indices, .dsc, .deb, ...)
    <data_dir>/cache/releases/<slug>/         the last verified InRelease of a suite
    <data_dir>/partial/                       downloads in progress (not the cache)

Objects enter only by rename of a verified file, so the cache never holds a file
whose hash is not its name.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from archive.digests import is_digest, shown
from archive.urls import display_url
from base.atomic import rename_durably, write_bytes
from base.errors import FormatError


class Cache:
    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / "cache"
        self.objects = self.root / "by-hash" / "SHA256"
        self.releases = self.root / "releases"
        self.partial = data_dir / "partial"

    def object_path(self, sha256: str) -> Path:
        return self.objects / _checked(sha256)

    def object_file(self, sha256: str) -> str:
        """`object_path` as a string (no Path made: a publish asks for tens of thousands)."""
        return f"{self.objects}/{_checked(sha256)}"

    def lookup(self, sha256: str, size: int) -> Path | None:
        path = self.object_path(sha256)
        try:
            if path.stat().st_size == size:
                return path
        except FileNotFoundError:
            return None
        return None

    @contextmanager
    def download_lock(self, sha256: str) -> Iterator[None]:
        """Exclusive between processes: one download of a given file at a time.

        The lock file `partial/<sha256>.lock` is removed by its holder when the block
        ends (download done or failed). A waiter that then gets the lock of the removed
        file sees that the path no longer names it and locks the current file instead,
        so two processes never both hold the lock of one name.
        """
        path = self.partial / f"{_checked(sha256)}.lock"
        self.partial.mkdir(parents=True, exist_ok=True)
        while True:
            with open(path, "a") as handle:  # closing releases the lock
                fcntl.flock(handle, fcntl.LOCK_EX)
                if not _still_named(handle.fileno(), path):
                    continue  # removed by its previous holder: lock the current file
                try:
                    yield
                finally:
                    path.unlink(missing_ok=True)  # while locked: see the docstring
                return

    def remove_stale_locks(self) -> int:
        """Remove lock files no process holds (left by versions that never removed them,
        or by a process killed at the wrong moment); return how many were removed.

        Each is locked without waiting and removed only while locked and still named,
        the same protocol as `download_lock`, so a lock in use is never broken.
        """
        removed = 0
        try:
            names = [p for p in self.partial.iterdir() if p.name.endswith(".lock")]
        except OSError:
            return 0
        for path in names:
            try:
                with open(path, "rb") as handle:  # never creates one
                    try:
                        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        continue  # in use
                    if _still_named(handle.fileno(), path):
                        path.unlink(missing_ok=True)
                        removed += 1
            except OSError:
                continue
        return removed

    def commit(self, part: Path, sha256: str) -> Path:
        """Move a verified partial file into the store."""
        self.objects.mkdir(parents=True, exist_ok=True)
        target = self.object_path(sha256)
        rename_durably(part, target)  # lookups trust the name: the content must be there
        return target

    def add_bytes(self, data: bytes) -> Path:
        """Store bytes already verified by the caller; return their path."""
        sha = hashlib.sha256(data).hexdigest()
        target = self.object_path(sha)
        if target.exists():
            return target
        self.objects.mkdir(parents=True, exist_ok=True)
        write_bytes(target, data, mode=0o600)
        return target

    def release_dir(self, uri: str, suite: str) -> Path:
        masked = display_url(uri)  # a password in the URL never becomes a file name
        readable = re.sub(r"[^A-Za-z0-9.-]+", "_", f"{masked}_{suite}").strip("_")[-80:]
        digest = hashlib.sha256(f"{uri} {suite}".encode()).hexdigest()[:12]
        return self.releases / f"{readable}-{digest}"

    def load_release(self, uri: str, suite: str) -> tuple[dict[str, Any], bytes, bytes] | None:
        """The cached (meta, release, signature) of a suite, if any."""
        folder = self.release_dir(uri, suite)
        try:
            meta = json.loads((folder / "meta.json").read_text())
            release = (folder / meta["release"]).read_bytes()
            signature = (folder / meta["signature"]).read_bytes() if meta.get("signature") else b""
        except (OSError, ValueError, KeyError):
            return None
        return meta, release, signature

    def store_release(
        self, uri: str, suite: str, files: dict[str, bytes], meta: dict[str, Any]
    ) -> None:
        folder = self.release_dir(uri, suite)
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            write_bytes(folder / name, data, mode=0o600)
        write_bytes(folder / "meta.json", json.dumps(meta, indent=1, sort_keys=True).encode(),
                    mode=0o600)


def _checked(sha256: str) -> str:
    """A SHA256 digest, lower-case; FormatError if it is not one (it names a file)."""
    if not is_digest(sha256, "SHA256"):
        raise FormatError(shown(sha256), "not a SHA256 digest (64 hex digits)")
    return sha256.lower()


def _still_named(fd: int, path: Path) -> bool:
    """True if `path` is still the file open as `fd`."""
    try:
        named = os.stat(path)
    except FileNotFoundError:
        return False
    opened = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino)
