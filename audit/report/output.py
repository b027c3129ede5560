"""Switching a freshly written report into place, whole, and only over a report.

The new report is written to a private directory beside the target (same file
system) and exchanged with the old one in one `renameat2(RENAME_EXCHANGE)` where the
kernel offers it; elsewhere the old one is renamed aside first. A directory is only
ever replaced if it is empty or carries the marker file of a report, so that
`--output ~` cannot wipe a home directory.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from base.errors import ConfigError

MARKER = ".unessential-report"
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def check_target(out_dir: Path) -> None:
    """ConfigError unless `out_dir` is absent, an empty directory or an earlier report."""
    if out_dir.is_symlink():
        raise ConfigError(str(out_dir), "is a symbolic link: give the directory itself")
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise ConfigError(str(out_dir), "exists and is not a directory")
    if any(out_dir.iterdir()) and not (out_dir / MARKER).is_file():
        raise ConfigError(str(out_dir), "is a non-empty directory that is not a report "
                          "(refusing to replace it)")


@contextmanager
def staging_dir(out_dir: Path) -> Iterator[Path]:
    """A private directory beside `out_dir`, holding the marker; removed on the way out."""
    check_target(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        stage.chmod(0o755)
        (stage / MARKER).write_text("written by `unessential report`; replaced whole\n",
                                    encoding="utf-8")
        yield stage
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically; False if the system cannot."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    error = ctypes.get_errno()
    if error in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: not on this file system
        return False
    raise OSError(error, os.strerror(error), str(b))


def replace_dir(stage: Path, out_dir: Path) -> None:
    """Put `stage` at `out_dir`; an old report ends up in `stage` (removed by its owner)."""
    check_target(out_dir)
    if not out_dir.exists():
        stage.rename(out_dir)
        stage.mkdir()  # so that the caller's cleanup finds what it expects
        return
    if _exchange(stage, out_dir):
        return
    aside = stage.with_name(f"{stage.name}.old")
    out_dir.rename(aside)
    try:
        stage.rename(out_dir)
    except OSError:
        aside.rename(out_dir)
        raise
    aside.rename(stage)
