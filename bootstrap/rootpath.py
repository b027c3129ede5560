"""Paths inside an image root, resolved as the image would see them, never escaping it.

`inside(root, "/bin/x")` follows symlinks the way a process chrooted into `root`
would: absolute targets restart at `root`, `..` stops at `root`. The result is a host
path below `root` (or `root` itself), so actions can write into the image without
ever touching the host through a planted symlink.
"""

from __future__ import annotations

import os
from pathlib import Path

_MAX_LINKS = 40


class OutsideRoot(ValueError):
    """A path that cannot be resolved inside the root (a symlink loop)."""


def inside(root: Path, path: str, *, follow_last: bool = True) -> Path:
    """The host path of image path `path` below `root`, symlinks resolved in the image."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    done: list[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if done:
                done.pop()
            continue
        candidate = root.joinpath(*done, part)
        last = not parts
        if candidate.is_symlink() and (follow_last or not last):
            hops += 1
            if hops > _MAX_LINKS:
                raise OutsideRoot(f"{path}: too many levels of symbolic links")
            target = os.readlink(candidate)
            if target.startswith("/"):
                done = []
            parts = [p for p in target.split("/") if p not in ("", ".")] + parts
            continue
        done.append(part)
    return root.joinpath(*done)


def exists(root: Path, path: str) -> bool:
    """Whether image path `path` exists in the image (a dangling symlink does not)."""
    try:
        return inside(root, path).exists() and not inside(root, path).is_symlink()
    except OutsideRoot:
        return False


def lexists(root: Path, path: str) -> bool:
    """Whether `path` exists in the image, not following its last component."""
    try:
        return os.path.lexists(inside(root, path, follow_last=False))
    except OutsideRoot:
        return False
