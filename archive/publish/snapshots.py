"""Snapshots of one suite and the atomic switch of `dists/<suite>` between them."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from base.atomic import fsync_directory
from base.deb822 import parse_one
from base.errors import NotFoundError

BY_HASH_GENERATIONS = 3  # earlier snapshots whose by-hash files a new snapshot keeps


@dataclass(frozen=True)
class SnapshotInfo:
    id: str
    date: str
    valid_until: str
    current: bool


class Snapshots:
    def __init__(self, root: Path, suite: str) -> None:
        self.root = root
        self.suite = suite
        self.folder = root / "snapshots" / suite
        self.link = root / "dists" / suite

    def path(self, snapshot: str) -> Path:
        return self.folder / snapshot

    def exists(self, snapshot: str) -> bool:
        return (self.folder / snapshot / "InRelease").is_file()

    def ids(self) -> list[str]:
        """Snapshot ids, oldest first (they start with a sequence number)."""
        if not self.folder.is_dir():
            return []
        return sorted(p.name for p in self.folder.iterdir()
                      if p.is_dir() and not p.name.startswith("."))

    def new_id(self, stamp: str, release_sha256: str) -> str:
        """`<sequence>-<date>-<Release digest>`: ordered by publication, not by Date."""
        ids = self.ids()
        sequence = int(ids[-1].split("-", 1)[0]) + 1 if ids else 1
        return f"{sequence:06d}-{stamp}-{release_sha256[:12]}"

    def with_release(self, release_sha256: str) -> str | None:
        """The newest snapshot whose Release has this digest, if any."""
        for snapshot in reversed(self.ids()):
            if snapshot.endswith(f"-{release_sha256[:12]}") and self.exists(snapshot):
                return snapshot
        return None

    def current(self) -> str | None:
        try:
            return Path(os.readlink(self.link)).name
        except OSError:
            return None

    @contextmanager
    def staging(self, snapshot: str) -> Iterator[Path]:
        """A private folder that becomes snapshot `snapshot` only if the block succeeds."""
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=self.folder, prefix=f".{snapshot}."))
        try:
            yield tmp
            os.chmod(tmp, 0o755)
            _fsync_directories(tmp)  # the names in it (files are fsynced by their writer)
            os.replace(tmp, self.folder / snapshot)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        fsync_directory(self.folder)

    def switch(self, snapshot: str) -> None:
        """Point dists/<suite> at `snapshot` with one rename (readers see old or new)."""
        if snapshot not in self.ids() or not self.exists(snapshot):
            raise NotFoundError(f"{self.suite} snapshot {snapshot}", "no such snapshot")
        self.link.parent.mkdir(parents=True, exist_ok=True)
        if self.link.exists() and not self.link.is_symlink():
            raise NotFoundError(str(self.link), "is a real directory, not a snapshot link")
        tmp = self.link.parent / f".{self.suite}.{os.getpid()}.new"
        tmp.unlink(missing_ok=True)
        os.symlink(Path("..") / "snapshots" / self.suite / snapshot, tmp)
        os.replace(tmp, self.link)
        fsync_directory(self.link.parent)

    def carry_by_hash(self, folder: Path) -> None:
        """Hard-link the by-hash files of the last snapshots into `folder`."""
        for snapshot in self.ids()[-BY_HASH_GENERATIONS:]:
            old = self.folder / snapshot
            for path in old.rglob("by-hash/*/*"):
                target = folder / path.relative_to(old)
                if target.exists():
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                os.link(path, target)

    def info(self) -> list[SnapshotInfo]:
        current = self.current()
        out = []
        for snapshot in self.ids():
            try:
                fields = parse_one((self.folder / snapshot / "Release").read_text())
            except (OSError, ValueError):
                fields = {}
            out.append(SnapshotInfo(snapshot, fields.get("Date", ""),
                                    fields.get("Valid-Until", ""), snapshot == current))
        return out

    def rollback(self, to: str | None = None) -> str:
        """Serve an earlier snapshot again: `to`, or the one before the current one."""
        ids = self.ids()
        current = self.current()
        if to is None:
            if current not in ids or ids.index(current) == 0:
                raise NotFoundError(f"suite {self.suite}", "no earlier snapshot to roll back to")
            to = ids[ids.index(current) - 1]
        self.switch(to)
        return to

    def prune(self, keep: int) -> list[str]:
        """Delete the oldest snapshots beyond `keep` (never the one served)."""
        ids = self.ids()
        current = self.current()
        doomed = [s for s in ids[: max(0, len(ids) - keep)] if s != current]
        for snapshot in doomed:
            shutil.rmtree(self.folder / snapshot, ignore_errors=True)
        return doomed


def _fsync_directories(folder: Path) -> None:
    """fsync `folder` and every directory below it, deepest first."""
    for directory, _, _ in os.walk(folder, topdown=False):
        fsync_directory(directory)
