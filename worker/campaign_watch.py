"""Liveness of the workers a waiting `rebuild --wait` depends on.

Without a check, a campaign whose worker died would be waited for forever: its
builds stay `building` (nobody beats their heartbeat, nobody takes them over) or
`queued` (nobody consumes the queue).

- Embedded (local queue): the worker `rebuild` started is a child process, so its
  death is seen at once (`poll`); a worker started by someone else is seen through
  the worker lock every embedded worker holds. When it is gone, its process group is
  killed (an orphaned pool process must not go on building), each build a dead
  process of this host held is recorded `failed` ("interrupted"), the build
  directories it left are removed, and, if builds are still queued and the death
  interrupted one (so a restart is progress, not a crash loop), a new local worker is
  started and the queued builds' tasks are sent again (kombu's filesystem transport
  loses the messages a killed worker had taken). Otherwise the wait ends with the
  reason, and `rebuild` exits with the build error code.
- Farm (Redis): a worker is alive when one answers Celery's `inspect` for the
  campaign's queue, or when a build has a fresh heartbeat (a `solo` pool cannot
  answer while it builds). Only when neither has been seen for a grace
  period (`max(30 s, 2 x lease)`: a worker restart is not an outage) does the wait
  end; builds whose heartbeat is older than the lease are then recorded failed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from celery import Celery
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from archive.catalog.models import Build
from worker.record import now
from worker.settings import FarmSettings
from worker.workdirs import clean_stale_work, fail_interrupted

MAX_RESTARTS = 3
QUICK_DEATH = 5.0  # a worker dead this soon after its start crashed: restarting is futile
GROUP_GRACE = 15.0  # seconds for the processes of a dead worker to go after SIGKILL
FARM_CHECK_EVERY = 10.0  # seconds between two `inspect` rounds
INSPECT_TIMEOUT = 2.0


@dataclass(frozen=True)
class BuildState:
    """What the watch needs of a build row."""

    id: int
    source: str
    status: str
    worker: str | None
    started_at: datetime | None
    heartbeat_at: datetime | None


def build_states(builds: dict[int, Build]) -> list[BuildState]:
    return [BuildState(b.id, b.source_package.name, b.status, b.worker, b.started_at,
                       b.heartbeat_at) for b in builds.values()]


def exit_text(code: int) -> str:
    """How a process ended: `was killed by SIGKILL`, `exited with status 1`."""
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"was killed by {name}"
    return f"exited with status {code}"


def group_members(pgid: int) -> list[int]:
    """The live (non-zombie) processes of process group `pgid`."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry.name}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] not in ("Z", "X"):
            found.append(int(entry.name))
    return found


def kill_group(pgid: int, grace: float = GROUP_GRACE) -> list[int]:
    """SIGKILL process group `pgid` and wait (up to `grace` s) until it is gone; the
    pids still there after that (normally none)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
    deadline = time.monotonic() + grace
    left = group_members(pgid)
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = group_members(pgid)
    return left


class Watch:
    """Checks, while a campaign is followed, that it can still make progress."""

    incidents: list[str]

    def poll(self, sessions: sessionmaker[Session], builds: list[BuildState]) -> str | None:
        """None while the campaign can go on; else why it cannot (one line)."""
        return None

    def stop(self) -> None:
        """Stop what the watch started (the local worker)."""


@dataclass
class LocalWatch(Watch):
    """The embedded farm: the worker `rebuild` started (`process`), or another local
    worker seen through the worker lock (`running`)."""

    settings: FarmSettings
    process: subprocess.Popen[bytes] | None
    running: Callable[[], bool]
    spawn: Callable[[], subprocess.Popen[bytes]]
    resend: Callable[[list[int]], None]
    log: Callable[[str], None]
    stopper: Callable[[subprocess.Popen[bytes]], None]
    reload: Callable[[], list[BuildState]] | None = None  # the builds, read again
    clock: Callable[[], float] = time.monotonic
    restarts: int = 0
    incidents: list[str] = field(default_factory=list)
    _started: float = 0.0

    def __post_init__(self) -> None:
        self._started = self.clock()

    def poll(self, sessions: sessionmaker[Session], builds: list[BuildState]) -> str | None:
        if self.process is not None:
            code = self.process.poll()
            if code is None:
                return None
            pid = self.process.pid
            self.process = None
            quick = self.clock() - self._started < QUICK_DEATH
            left = kill_group(pid)  # its pool processes, if they outlived it
            what = f"the local worker (pid {pid}) {exit_text(code)}"
            if left:
                return f"{what}, and its processes {left} do not go away"
            return self._after(sessions, builds, what, quick=quick)
        if self.running():
            return None
        return self._after(sessions, builds, "the local worker stopped", quick=False)

    def _after(self, sessions: sessionmaker[Session], builds: list[BuildState], what: str,
               *, quick: bool) -> str | None:
        """After the worker is gone (safe to repeat): fail what it was building, clean
        its directories, then restart a worker for the queued builds or give up."""
        if self.reload is not None:
            builds = self.reload()  # it may have claimed a build since `builds` was read
        holders = {b.id: (b.worker, b.started_at) for b in builds if b.status == "building"}
        failed = fail_interrupted(sessions, holders, self.settings.data_dir, what)
        if failed or not self.incidents or not self.incidents[-1].startswith(what):
            clean_stale_work(self.settings.data_dir, self.log)
            names = [b.source for b in builds if b.id in failed]
            incident = what + (f" while building {', '.join(names)}" if names else "")
            self.log(incident + (": recorded as failed (interrupted)" if names else ""))
            self.incidents.append(incident)
        incident = self.incidents[-1]
        queued = [b.id for b in builds if b.status == "queued"]
        if any(b.status == "building" and b.id not in failed for b in builds):
            return None  # held by a live process: followed until it ends
        if not queued:
            return None  # every build is final now
        if quick and not failed:
            log = self.settings.data_dir / "queue" / "worker.log"
            return f"{incident} right after it started ({_builds(len(queued))} left " \
                   f"queued; see {log})"
        if self.restarts >= MAX_RESTARTS:
            return f"{incident}; gave up after {MAX_RESTARTS} restarts " \
                   f"({_builds(len(queued))} left queued)"
        self.restarts += 1
        self.resend(queued)
        self.process = self.spawn()
        self._started = self.clock()
        self.log(f"restarted the local worker: {_builds(len(queued))} still queued "
                 f"(restart {self.restarts} of at most {MAX_RESTARTS})")
        return None

    def stop(self) -> None:
        if self.process is not None:
            self.stopper(self.process)


@dataclass
class FarmWatch(Watch):
    """A farm (Redis broker): some worker consumes the campaign's queue."""

    celery: Celery
    settings: FarmSettings
    log: Callable[[str], None]
    clock: Callable[[], float] = time.monotonic
    incidents: list[str] = field(default_factory=list)
    _last_seen: float = 0.0
    _next_check: float = 0.0
    _warned: bool = False

    def __post_init__(self) -> None:
        self._last_seen = self.clock()

    @property
    def grace(self) -> float:
        return max(30.0, 2 * self.settings.worker.lease)

    def poll(self, sessions: sessionmaker[Session], builds: list[BuildState]) -> str | None:
        now = self.clock()
        lease = timedelta(seconds=self.settings.worker.lease)
        fresh = datetime.now(UTC) - lease
        if any(b.status == "building" and b.heartbeat_at is not None
               and _aware(b.heartbeat_at) >= fresh for b in builds):
            self._last_seen = now  # a worker beats a build of ours: alive
            self._warned = False
            return None
        if now < self._next_check:
            return None
        self._next_check = now + FARM_CHECK_EVERY
        answer = self._consumers()
        if answer is not None and _any_fresh(sessions, fresh):
            answer = None  # a worker beats another campaign's build (a busy solo pool)
        if answer is None:
            self._last_seen = now
            self._warned = False
            return None
        silent = now - self._last_seen
        if not self._warned and silent >= FARM_CHECK_EVERY:
            self.log(f"no worker consumes queue {self.settings.worker.queue!r} ({answer}); "
                     f"waiting up to {self.grace:.0f} s for one")
            self._warned = True
        if silent < self.grace:
            return None
        queue = self.settings.worker.queue
        incident = f"no worker consumed queue {queue!r} for {silent:.0f} s ({answer})"
        stale = {b.id: b.worker for b in builds if b.status == "building"}
        failed = _fail_stale(sessions, stale, self.settings.worker.lease, incident)
        names = [b.source for b in builds if b.id in failed]
        if names:
            incident += f" while building {', '.join(names)}"
        clean_stale_work(self.settings.data_dir, self.log)  # what a dead local worker left
        queued = sum(1 for b in builds if b.status == "queued")
        self.incidents.append(incident)
        return incident + (f"; {_builds(queued)} left queued (start a worker: "
                           "unessential worker)" if queued else "")

    def _consumers(self) -> str | None:
        """None if a worker consumes the queue; else what was seen instead."""
        try:
            replies = self.celery.control.inspect(timeout=INSPECT_TIMEOUT).active_queues()
        except Exception as exc:  # noqa: BLE001 - the broker itself is unreachable
            return f"broker: {type(exc).__name__}: {' '.join(str(exc).split())[:160]}"
        queue = self.settings.worker.queue
        for queues in (replies or {}).values():
            if any(isinstance(q, dict) and q.get("name") == queue for q in queues or []):
                return None
        return f"{len(replies or {})} workers answered, none on this queue"


def _builds(count: int) -> str:
    return f"{count} build" + ("" if count == 1 else "s")


def _any_fresh(sessions: sessionmaker[Session], fresh: datetime) -> bool:
    """Whether any build of the catalog has a heartbeat newer than `fresh`."""
    with sessions.begin() as session:
        return session.scalar(
            select(Build.id).where(Build.status == "building", Build.heartbeat_at >= fresh)
            .limit(1)) is not None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _fail_stale(sessions: sessionmaker[Session], holders: dict[int, str | None],
                lease: float, cause: str) -> list[int]:
    """Record as failed the builds of `holders` still held by the same worker with a
    heartbeat older than the lease, when no worker of the farm is alive."""
    failed = []
    stale = now() - timedelta(seconds=lease)
    for build_id, holder in sorted(holders.items()):
        with sessions.begin() as session:
            result = session.execute(
                update(Build)
                .where(Build.id == build_id, Build.status == "building",
                       Build.worker == holder,
                       Build.heartbeat_at.is_(None) | (Build.heartbeat_at < stale))
                .values(status="failed", finished_at=now(),
                        error=f"interrupted: its worker {holder} stopped: {cause}")
                .execution_options(synchronize_session=False))
            if result.rowcount == 1:  # type: ignore[attr-defined]
                failed.append(build_id)
    return failed
