"""A worker's build directories and the builds its dead processes held.

    <data_dir>/work/build-<id>-<random>     one per running build, locked by its process

What `rebuild --wait` and a worker's start need to clean up after a killed worker
(`clean_stale_work`, `fail_interrupted`), apart from the build pipeline so that they
load without the rewrite engine.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from worker.record import LostClaim, record_failure

LOG_LIMIT = 4 << 20  # characters of build log kept in the catalog
WORK_PREFIX = "build-"  # <data_dir>/work/build-<id>-<random>: one per running build
STAGING_PREFIX = ".new-build-"  # a work directory being created (not yet locked)
STAGING_GRACE = 60.0  # seconds a staging directory may take to be locked and renamed


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def process_alive(pid: int, since: datetime | None = None) -> bool:
    """Whether process `pid` exists on this host and is not a zombie; with `since`,
    also that it started before that moment (else the pid was reused by another
    process after the one that held it died)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    fields = stat.rpartition(")")[2].split()
    if not fields or fields[0] in ("Z", "X"):
        return False
    if since is None or len(fields) < 20:
        return True
    try:
        boot = next(float(line.split()[1]) for line in
                    Path("/proc/stat").read_text().splitlines() if line.startswith("btime "))
        started = boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, StopIteration, ValueError):
        return True
    moment = since if since.tzinfo is not None else since.replace(tzinfo=UTC)
    return started <= moment.timestamp() + 2  # btime has a resolution of a second


def holder_on_this_host(worker: str | None) -> int | None:
    """The pid of a build holder `host:pid` (see `worker_name`) if it is this host's."""
    host, _, pid = (worker or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return None
    return int(pid)


@contextlib.contextmanager
def work_directory(data_dir: Path, build_id: int) -> Iterator[Path]:
    """A fresh `work/build-<id>-*` directory, locked while this process lives; removed
    at the end. Created under a staging name and renamed once locked, so that
    `clean_stale_work` never sees a build directory that no process holds yet."""
    root = _ensure(data_dir / "work")
    staged = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{build_id}-", dir=root))
    handle = os.open(staged, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released by the kernel when we die
        work = root / staged.name.removeprefix(".new-")
        os.rename(staged, work)
        try:
            yield work
        finally:
            shutil.rmtree(work, ignore_errors=True)
    finally:
        os.close(handle)


def clean_stale_work(data_dir: Path, log: Callable[[str], None] | None = None) -> list[Path]:
    """Remove the build directories under `<data_dir>/work` whose build process is gone
    (no process holds their lock); the directories of running builds are left alone."""
    from worker.build.sandbox import remove_tree

    root = data_dir / "work"
    removed: list[Path] = []
    try:
        entries = sorted(root.iterdir())
    except FileNotFoundError:
        return removed
    for entry in entries:
        staging = entry.name.startswith(STAGING_PREFIX)
        if not (staging or entry.name.startswith(WORK_PREFIX)):
            continue
        try:
            if staging and time.time() - entry.lstat().st_mtime < STAGING_GRACE:
                continue  # being set up right now
            handle = os.open(entry, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError:
            continue  # gone meanwhile, or not a directory: not ours
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a live build holds it
            try:
                remove_tree(entry)
            except FileNotFoundError:
                continue  # removed by another cleaner
            except OSError as exc:
                if log is not None:
                    log(f"cannot remove stale build directory {entry}: {exc}")
                continue
            removed.append(entry)
            if log is not None:
                log(f"removed stale build directory {entry} (its build process is gone)")
        finally:
            os.close(handle)
    return removed


def fail_interrupted(sessions: sessionmaker[Session],
                     builds: dict[int, tuple[str | None, datetime | None]], data_dir: Path,
                     cause: str) -> list[int]:
    """Record as failed each of `builds` (id -> (holder, started_at)) that a dead
    process of this host holds: it was interrupted (its worker was killed). Guarded like
    every result: a build another worker took over meanwhile is left alone. The ids
    recorded."""
    failed = []
    for build_id, (holder, started) in sorted(builds.items()):
        pid = holder_on_this_host(holder)
        if holder is None or pid is None or process_alive(pid, started):
            continue
        error = f"interrupted: the worker process building it ({holder}) died: {cause}"
        path = data_dir / "logs" / f"{build_id}.log"
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            text = ""
        text += f"[{time.strftime('%H:%M:%S')}] FAILED: {error}\n"
        if len(text) > LOG_LIMIT:
            text = "[... truncated ...]\n" + text[-LOG_LIMIT:]
        try:
            record_failure(sessions, build_id, holder, error, text)
        except LostClaim:
            continue
        failed.append(build_id)
    return failed


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
