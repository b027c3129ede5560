"""The content-addressed pool of rewritten packages: <data_dir>/artifacts/ab/abcdef...

A file enters by rename of a complete, fsynced copy (`base.atomic`), so the store never
holds a partial file; storing the same bytes twice is a no-op.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from base.atomic import AtomicFile


class ArtifactStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._root = str(root)

    def path(self, sha256: str) -> Path:
        return Path(self.file(sha256))

    def file(self, sha256: str) -> str:
        """`path` as a string (no Path made: a publish asks for tens of thousands)."""
        return f"{self._root}/{sha256[:2]}/{sha256}"

    def store(self, source: Path) -> tuple[str, int]:
        """Copy `source` into the store; return (sha256, size)."""
        digest = hashlib.sha256()
        with source.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
        sha = digest.hexdigest()
        target = self.path(sha)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            with AtomicFile(target, mode=0o644) as new:
                new.copy_from(source)
        return sha, source.stat().st_size


def pool_path(source: str, filename: str, component: str = "main") -> str:
    """Where a package lives in an APT archive: pool/main/h/hello/hello_1_all.deb."""
    prefix = source[:4] if source.startswith("lib") and len(source) > 3 else source[:1]
    return f"pool/{component}/{prefix}/{source}/{filename}"
