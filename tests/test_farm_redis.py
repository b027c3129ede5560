"""The farm: Redis broker, PostgreSQL catalog, two `unessential worker` processes.

Marked `network` (real packages from the host's mirror) and `postgres` (the local
server). Redis is the local server on 127.0.0.1:6379; each test uses its own queue.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis
from sqlalchemy import func, select

from archive.catalog.db import make_engine, session_factory
from archive.catalog.models import BinaryPackage, Build, RelationChange, ScriptRewrite

pytestmark = [pytest.mark.network, pytest.mark.postgres]
CLI = [sys.executable, "-m", "unessential.cli"]
REPACK = ["openssl", "zlib", "hello", "sqlite3", "lz4"]


@pytest.fixture
def database() -> Iterator[str]:
    name = f"unessential_farm_{uuid.uuid4().hex[:8]}"
    with psycopg.connect("host=127.0.0.1 dbname=test", autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql+psycopg://root@127.0.0.1:5432/{name}"
    with psycopg.connect("host=127.0.0.1 dbname=test", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def farm_config(tmp_path: Path, database: str) -> Iterator[Path]:
    redis.Redis(host="127.0.0.1", port=6379).ping()
    queue = f"t-{uuid.uuid4().hex[:8]}"
    config = tmp_path / "farm.toml"
    config.write_text(
        f'data_dir = "{tmp_path / "data"}"\n'
        f'database_url = "{database}"\n'
        'broker_url = "redis://127.0.0.1:6379/0"\n'
        "[worker]\n"
        f'queue = "{queue}"\n'
        "visibility_timeout = 20\n"
        "heartbeat = 2\n"
        "lease = 8\n"
        "retry_backoff = 2\n"
    )
    yield config
    client = redis.Redis(host="127.0.0.1", port=6379)
    for key in client.scan_iter(f"*{queue}*"):
        client.delete(key)


class Workers:
    def __init__(self, config: Path, count: int, log_dir: Path) -> None:
        self.processes: list[subprocess.Popen[bytes]] = []
        for index in range(count):
            log = (log_dir / f"worker-{index}.log").open("ab")
            self.processes.append(subprocess.Popen(
                [*CLI, "--config", str(config), "worker", "--concurrency", "1"],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True))

    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@pytest.fixture
def workers(farm_config: Path, tmp_path: Path) -> Iterator[Workers]:
    started = Workers(farm_config, 2, tmp_path)
    yield started
    started.stop()


def cli(config: Path, *args: str, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, "--config", str(config), "-q", *args], capture_output=True,
                          text=True, timeout=timeout)


def wait_final(url: str, count: int, timeout: float = 1200) -> list[tuple[str, str]]:
    """Wait until `count` builds exist and every build is done or failed."""
    deadline = time.monotonic() + timeout
    engine = make_engine(url)
    try:
        while time.monotonic() < deadline:
            with session_factory(engine).begin() as session:
                rows = [(b.source_package.name, b.status)
                        for b in session.scalars(select(Build).order_by(Build.id))]
            if len(rows) >= count and all(s in ("done", "failed") for _, s in rows):
                return rows
            time.sleep(2)
    finally:
        engine.dispose()
    raise AssertionError(f"builds not finished in {timeout} s: {rows}")


def consistent(url: str) -> list[Build]:
    engine = make_engine(url)
    try:
        with session_factory(engine).begin() as session:
            builds = list(session.scalars(select(Build).order_by(Build.id)))
            for build in builds:
                assert build.status in ("done", "failed")
                assert build.finished_at is not None and build.started_at is not None
                names = [binary.name for binary in build.binaries]
                if build.status == "failed":
                    assert names == []
            # no duplicates: one binary per (build, name, arch), one change per text
            dupes = session.execute(
                select(RelationChange.binary_id, RelationChange.field,
                       RelationChange.relation, func.count())
                .group_by(RelationChange.binary_id, RelationChange.field,
                          RelationChange.relation)
                .having(func.count() > 1)).all()
            assert dupes == []
            orphans = session.scalar(
                select(func.count()).select_from(ScriptRewrite)
                .where(~ScriptRewrite.binary_id.in_(select(BinaryPackage.id))))
            assert orphans == 0
            session.expunge_all()
            return builds
    finally:
        engine.dispose()


def test_two_workers_rebuild_a_campaign(farm_config: Path, workers: Workers,
                                        database: str) -> None:
    queued = cli(farm_config, "rebuild", "--repack", *REPACK, "--json")
    assert queued.returncode == 0, queued.stderr
    built = cli(farm_config, "rebuild", "hello", "--json")
    assert built.returncode == 0, built.stderr
    rows = wait_final(database, len(REPACK) + 1)
    builds = consistent(database)
    assert [b.status for b in builds] == ["done"] * (len(REPACK) + 1), rows
    origins = sorted(b.origin for b in builds)
    assert origins == ["repack"] * len(REPACK) + ["source-build"]
    assert len({b.worker for b in builds}) >= 2, "both workers took builds"
    spans = sorted((b.started_at, b.finished_at) for b in builds)
    assert any(later[0] < earlier[1] for earlier, later in zip(spans, spans[1:], strict=False)), \
        "builds ran concurrently"
    source_build = next(b for b in builds if b.origin == "source-build")
    assert any(b.name == "hello" for b in source_build.binaries)
    assert "dpkg-buildpackage" in (source_build.log or "")


def test_worker_killed_mid_build_hands_it_over(farm_config: Path, workers: Workers,
                                               database: str) -> None:
    queued = cli(farm_config, "rebuild", "hello", "--json")
    assert queued.returncode == 0, queued.stderr
    deadline = time.monotonic() + 600
    holder = None
    while time.monotonic() < deadline:
        rows = json.loads(cli(farm_config, "status", "--json").stdout)
        if rows and rows[0]["status"] == "building" and rows[0]["worker"]:
            holder = int(rows[0]["worker"].rsplit(":", 1)[1])
            break
        time.sleep(1)
    assert holder is not None, "the build never started"
    time.sleep(8)  # well inside the build (fetch, chroot, build-deps, compile)
    victim = next(p for p in workers.processes
                  if p.pid == holder or str(holder) in _children(p.pid))
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()
    (row,) = wait_final(database, 1, timeout=900)
    assert row == ("hello", "done")
    builds = consistent(database)
    assert len(builds) == 1, "the redelivered task took over the same build row"
    (build,) = builds
    assert int(build.worker.rsplit(":", 1)[1]) != holder
    assert sorted(b.name for b in build.binaries) == sorted({b.name for b in build.binaries})


def _children(pid: int) -> str:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True,
                         text=True).stdout
    return " ".join(out.split())
