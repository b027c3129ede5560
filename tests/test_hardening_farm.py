"""Issue 12, item 6: `rebuild --wait` when the worker dies (kill -9) mid-build.

Real parts only: the embedded farm as `rebuild --wait` starts it (a `unessential
worker` subprocess, kombu's filesystem queue, SQLite), repacks of fixture sources
served on 127.0.0.1 by a server that holds the first `.deb` download, so the build is
caught in flight; then the worker is killed with SIGKILL. `rebuild --wait` must end
in bounded time with the build error (14) and one line saying what happened, the
interrupted build must be `failed` in the catalog, and no `work/build-*` directory
may remain. The farm variant (Redis broker, no worker left alive) is skipped when no
Redis answers on 127.0.0.1:6379.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from archive.catalog.db import make_engine, session_factory
from archive.catalog.models import Build
from base.errors import EXIT_CODES
from tests.conftest import Workspace
from tests.fixtures.archive import FixtureArchive
from tests.fixtures.keys import ArchiveKey

NAMES = ["alpha", "bravo", "charlie"]
CLI = [sys.executable, "-m", "unessential.cli"]
BUILD = EXIT_CODES["build"]
STARTED = re.compile(r"started a local worker \(pid (\d+)")


class HoldingServer:
    """Serves a fixture archive on 127.0.0.1; the first `.deb` request is held (no
    answer) until `release` is set: a build caught in the middle of its download. With
    `drip` seconds set instead, that download is answered a little every second, so
    the build is busy for that long (and finishes)."""

    def __init__(self, root: Path) -> None:
        self.drip = 0
        self.held = threading.Event()
        self.release = threading.Event()
        self.held_path = ""
        self._lock = threading.Lock()
        server = self

        class Handler(SimpleHTTPRequestHandler):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, directory=str(root), **kwargs)

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                if self.path.endswith(".deb"):
                    with server._lock:
                        first = not server.held.is_set()
                        if first:
                            server.held_path = self.path
                            server.held.set()
                    if first and server.drip:
                        self._drip(Path(self.translate_path(self.path)).read_bytes())
                        return
                    if first:
                        server.release.wait(timeout=300)
                        self.close_connection = True
                        return
                super().do_GET()

            def _drip(self, body: bytes) -> None:
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                step = -(-len(body) // server.drip)
                for start in range(0, len(body), step):
                    self.wfile.write(body[start:start + step])
                    self.wfile.flush()
                    time.sleep(1)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def held_source(self) -> str:
        return self.held_path.rsplit("/", 1)[-1].split("_", 1)[0]

    def __enter__(self) -> HoldingServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def farm_template(tmp_path_factory: pytest.TempPathFactory,
                  keys: dict[str, ArchiveKey]) -> FixtureArchive:
    root = tmp_path_factory.mktemp("farm-archive")
    archive = FixtureArchive(root=root / "www", key=keys["archive"])
    archive.build_farm(root / "work", NAMES)
    return archive


@pytest.fixture
def farm(tmp_path: Path, farm_template: FixtureArchive) -> Iterator[tuple[Workspace,
                                                                          HoldingServer]]:
    with HoldingServer(farm_template.root) as server:
        ws = Workspace(data_dir=tmp_path / "data", dest=tmp_path / "dest",
                       config=tmp_path / "unessential.toml")
        ws.write_config(f"{server.url}/debian", farm_template.key.public_keyring)
        recipes = tmp_path / "recipes"
        recipes.mkdir()
        ws.config.write_text(ws.config.read_text() + f'\n[worker]\nrecipes_dir = "{recipes}"\n'
                             "heartbeat = 1\nlease = 5\n")
        yield ws, server


class Running:
    """A CLI subprocess whose stdout and stderr are read as they come."""

    def __init__(self, ws: Workspace, *args: str) -> None:
        self.process = subprocess.Popen([*CLI, "--config", str(ws.config), *args],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True, start_new_session=True)
        self.out: list[str] = []
        self.err: list[str] = []
        self._readers = [threading.Thread(target=self._read, args=(stream, into), daemon=True)
                         for stream, into in ((self.process.stdout, self.out),
                                              (self.process.stderr, self.err))]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream: Any, into: list[str]) -> None:
        for line in stream:
            into.append(line.rstrip("\n"))

    def workers(self) -> list[int]:
        """The pids of the local workers it started (in order)."""
        return [int(m.group(1)) for line in list(self.err) if (m := STARTED.search(line))]

    def wait(self, timeout: float) -> int:
        code = self.process.wait(timeout=timeout)
        for reader in self._readers:
            reader.join(timeout=10)
        return code

    def kill(self) -> None:
        for pid in [self.process.pid, *self.workers()]:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        self.process.wait()


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of process group `pgid`, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] not in ("Z", "X"):
            found.append(int(entry.name))
    return found


def wait_for(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def catalog(ws: Workspace) -> list[Build]:
    engine = make_engine(f"sqlite:///{ws.data_dir / 'catalog.sqlite'}")
    try:
        with session_factory(engine).begin() as session:
            builds = list(session.scalars(select(Build).order_by(Build.id)))
            for build in builds:
                _ = build.source_package.name
            session.expunge_all()
            return builds
    finally:
        engine.dispose()


def by_source(ws: Workspace) -> dict[str, Build]:
    return {b.source_package.name: b for b in catalog(ws)}


def work_dirs(ws: Workspace) -> list[str]:
    work = ws.data_dir / "work"
    return sorted(p.name for p in work.iterdir()) if work.is_dir() else []


def kill_mid_build(ws: Workspace, server: HoldingServer, running: Running) -> tuple[int, str]:
    """Wait until a build is in flight (its download held), then SIGKILL the worker
    `rebuild` started; its pid and the source it was building."""
    assert server.held.wait(timeout=120), "\n".join(running.err)
    source = server.held_source()
    wait_for(lambda: running.workers(), 10, "the worker's pid on stderr")
    (worker,) = running.workers()
    row = by_source(ws)[source]
    assert row.status == "building", row.status
    assert [d for d in work_dirs(ws) if d.startswith(f"build-{row.id}-")], work_dirs(ws)
    os.kill(worker, signal.SIGKILL)
    return worker, source


def ended(running: Running, timeout: float) -> int:
    try:
        return running.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        running.kill()
        pytest.fail(f"rebuild --wait did not end within {timeout} s after its worker was "
                    "killed:\n" + "\n".join(running.err[-20:]))


def test_rebuild_wait_ends_when_its_worker_is_killed(farm: tuple[Workspace,
                                                                 HoldingServer]) -> None:
    ws, server = farm
    running = Running(ws, "rebuild", "--repack", "alpha", "--wait", "--json")
    try:
        worker, source = kill_mid_build(ws, server, running)
        assert source == "alpha"
        killed_at = time.monotonic()
        code = ended(running, timeout=90)
        assert time.monotonic() - killed_at < 60
    finally:
        server.release.set()
        running.kill()
    assert code == BUILD, "\n".join(running.err)
    last = running.err[-1]
    assert last.startswith("unessential: build error: campaign "), last
    assert f"the local worker (pid {worker}) was killed by SIGKILL while building alpha" \
        in last, last
    assert last.endswith("1 of 1 builds failed: alpha (see: unessential logs alpha)"), last
    assert "Traceback" not in "\n".join(running.err)
    report = json.loads("\n".join(running.out))
    assert [(b["source"], b["status"]) for b in report["builds"]] == [("alpha", "failed")]
    build = by_source(ws)["alpha"]
    assert build.status == "failed" and build.finished_at is not None
    assert (build.error or "").startswith("interrupted: the worker process building it (")
    assert "was killed by SIGKILL" in (build.error or "")
    assert "FAILED: interrupted" in (build.log or "")
    assert "fetch alpha 1.0-1" in (build.log or "")  # the log of the build so far
    assert work_dirs(ws) == []
    assert group_members(worker) == [], "the worker's pool processes are gone too"
    status = subprocess.run([*CLI, "--config", str(ws.config), "status", "--json"],
                            capture_output=True, text=True, timeout=60)
    assert [(r["source"], r["status"]) for r in json.loads(status.stdout)] == [
        ("alpha", "failed")]


def test_the_worker_is_restarted_for_the_queued_builds(farm: tuple[Workspace,
                                                                  HoldingServer]) -> None:
    ws, server = farm
    running = Running(ws, "rebuild", "--repack", *NAMES, "--wait")
    try:
        worker, source = kill_mid_build(ws, server, running)
        server.release.set()  # the restarted worker downloads normally
        code = ended(running, timeout=180)
    finally:
        server.release.set()
        running.kill()
    assert code == BUILD, "\n".join(running.err)
    assert any("restarted the local worker: 2 builds still queued" in line
               for line in running.err), running.err
    assert len(running.workers()) == 2
    last = running.err[-1]
    assert f"the local worker (pid {worker}) was killed by SIGKILL while building {source}" \
        in last, last
    assert f"1 of 3 builds failed: {source}" in last, last
    statuses = {name: b.status for name, b in by_source(ws).items()}
    assert statuses == {name: "failed" if name == source else "done" for name in NAMES}
    assert work_dirs(ws) == []
    for pid in running.workers():
        assert group_members(pid) == []


def _holder(directory: Path) -> subprocess.Popen[str]:
    """Another process holding a build directory's lock, as a running build does."""
    code = ("import fcntl, os, sys, time\n"
            "fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX)\n"
            "print('locked', flush=True)\n"
            "time.sleep(600)\n")
    process = subprocess.Popen([sys.executable, "-c", code, str(directory)],
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline().strip() == "locked"
    return process


def test_stale_build_directories_are_removed_at_start(farm: tuple[Workspace,
                                                                  HoldingServer]) -> None:
    """`rebuild` and `worker` remove build directories no live process holds, and
    never the directory of a running build."""
    ws, _ = farm
    work = ws.data_dir / "work"
    dead = work / "build-7-dead"
    (dead / "build" / "tree").mkdir(parents=True)
    (dead / "build" / "tree" / "file").write_text("left by a killed worker\n")
    staging = work / ".new-build-8-old"
    staging.mkdir()
    os.utime(staging, (time.time() - 3600, time.time() - 3600))
    young = work / ".new-build-9-young"  # being created right now: not touched
    young.mkdir()
    live = work / "build-10-live"
    live.mkdir()
    owner = _holder(live)
    other = work / "unrelated"
    other.mkdir()
    try:
        queued = subprocess.run([*CLI, "--config", str(ws.config), "rebuild", "--repack",
                                 "alpha"], capture_output=True, text=True, timeout=120)
        assert queued.returncode == 0, queued.stderr
        assert f"removed stale build directory {dead} (its build process is gone)" \
            in queued.stderr
        assert sorted(p.name for p in work.iterdir()) == [
            ".new-build-9-young", "build-10-live", "unrelated"]
        # the owner of the live directory dies: the next worker start removes it
        owner.kill()
        owner.wait()
        worker = subprocess.Popen([*CLI, "--config", str(ws.config), "worker",
                                   "--loglevel=WARNING"], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            wait_for(lambda: not live.exists(), 60, "the worker to remove build-10-live")
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=60)
        assert sorted(p.name for p in work.iterdir()) == [".new-build-9-young", "unrelated"]
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()


def test_a_locked_directory_is_kept_while_its_lock_is_held(tmp_path: Path) -> None:
    """The lock lives exactly as long as the process: the cleaner sees a live build."""
    from worker.pipeline import clean_stale_work, work_directory

    with work_directory(tmp_path, 3) as work:
        assert work.name.startswith("build-3-") and work.is_dir()
        # another process cannot take the lock
        probe = subprocess.run(
            [sys.executable, "-c",
             "import fcntl, os, sys\n"
             "fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)\n"
             "try:\n    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
             "except BlockingIOError:\n    print('held')\n", str(work)],
            capture_output=True, text=True, timeout=30)
        assert probe.stdout.strip() == "held"
        assert clean_stale_work(tmp_path) == []  # a second open file: the lock holds
        assert work.is_dir()
    assert not work.exists()


# -- the farm: Redis broker, every worker gone ------------------------------------------


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def start_farm_worker(ws: Workspace, *args: str) -> subprocess.Popen[bytes]:
    """A `unessential worker` of the farm, once it is ready (it has migrated the
    catalog: a fresh SQLite catalog is not migrated by two processes at once)."""
    path = ws.data_dir.parent / "farm-worker.log"
    with path.open("ab") as log:
        worker = subprocess.Popen([*CLI, "--config", str(ws.config), "worker", *args],
                                  stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: b" ready." in path.read_bytes() or worker.poll() is not None, 60,
                 "the worker to be ready")
    except AssertionError:
        os.killpg(worker.pid, signal.SIGKILL)
        raise
    assert worker.poll() is None, path.read_text(errors="replace")
    return worker


@pytest.mark.skipif(not _redis_up(), reason="needs Redis on 127.0.0.1:6379")
def test_farm_wait_ends_when_no_worker_is_left(farm: tuple[Workspace, HoldingServer]) -> None:
    """Redis broker, SQLite catalog, one worker started here and killed (its whole
    process group, as when its host dies): after max(30 s, 2 x lease) without any
    worker on the queue, `rebuild --wait` ends with the build error."""
    import redis

    ws, server = farm
    queue = f"t-{uuid.uuid4().hex[:8]}"
    ws.config.write_text('broker_url = "redis://127.0.0.1:6379/0"\n'
                         + ws.config.read_text() + f'queue = "{queue}"\n'
                         "visibility_timeout = 600\n")
    worker = start_farm_worker(ws, "--concurrency", "1")
    running = Running(ws, "rebuild", "--repack", "alpha", "--wait")
    try:
        assert server.held.wait(timeout=120), "\n".join(running.err)
        wait_for(lambda: by_source(ws)["alpha"].status == "building", 30, "the claim")
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
        killed_at = time.monotonic()
        code = ended(running, timeout=150)
        took = time.monotonic() - killed_at
    finally:
        server.release.set()
        running.kill()
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
        client = redis.Redis(host="127.0.0.1", port=6379)
        for key in client.scan_iter(f"*{queue}*"):
            client.delete(key)
    assert code == BUILD, "\n".join(running.err)
    assert 25 < took < 120, took
    last = running.err[-1]
    assert f"no worker consumed queue '{queue}' for " in last, last
    assert "while building alpha" in last and "1 of 1 builds failed: alpha" in last, last
    build = by_source(ws)["alpha"]
    assert build.status == "failed" and (build.error or "").startswith("interrupted:")
    assert work_dirs(ws) == []


@pytest.mark.skipif(not _redis_up(), reason="needs Redis on 127.0.0.1:6379")
def test_farm_wait_trusts_a_busy_worker(farm: tuple[Workspace, HoldingServer]) -> None:
    """A `solo` pool cannot answer `inspect` while it builds: the build's heartbeat
    says it is alive, so a build longer than the grace period is waited for."""
    import redis

    ws, server = farm
    server.drip = 40  # seconds of download: longer than the grace period (30 s)
    queue = f"t-{uuid.uuid4().hex[:8]}"
    ws.config.write_text('broker_url = "redis://127.0.0.1:6379/0"\n'
                         + ws.config.read_text() + f'queue = "{queue}"\n')
    worker = start_farm_worker(ws, "--pool", "solo")
    try:
        result = subprocess.run([*CLI, "--config", str(ws.config), "rebuild", "--repack",
                                 "alpha", "--wait"], capture_output=True, text=True,
                                timeout=240)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
        client = redis.Redis(host="127.0.0.1", port=6379)
        for key in client.scan_iter(f"*{queue}*"):
            client.delete(key)
    assert server.held.is_set()
    assert result.returncode == 0, result.stderr
    assert "no worker consumes queue" not in result.stderr
    assert by_source(ws)["alpha"].status == "done"
    assert work_dirs(ws) == []
