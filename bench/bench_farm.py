"""Benchmark: orchestration overhead per package of the rebuild farm.

A repack of N fixture packages (one source, one binary each, every binary depending on
the Essential `base-thing`, so each rewrite drops one relation), measured five ways:

  direct         `rewrite.engine.rewrite` in a loop over the N verified .debs
                 (fetched once; Universe built once from the fixture's Packages)
  task-celery    what the Celery task does minus Celery and the catalog, per package:
                 open the upstream, Universe, fetch (from cache), rewrite, store
                 (`worker.pipeline._produce`)
  task-catalog   the same plus the catalog: claim, heartbeat, record
                 (`worker.pipeline.run_build` on build rows planned beforehand)
  farm-1         `unessential rebuild --repack <N names> --wait` with ONE pre-started
                 `unessential worker --concurrency 1`
  farm-2         the same with TWO pre-started workers

Embedded default (no server): filesystem:// queue, SQLite catalog and result backend.
With --farm: Redis (redis://127.0.0.1:6379/0, a unique queue per run) and a fresh
PostgreSQL database per run, created and dropped on the `test` database.

Not timed: building and signing the fixture archive, serving it on 127.0.0.1, filling
the download cache (every run starts from a fresh data directory and catalog holding
a copy of that pre-warmed cache, so nothing is downloaded but InRelease and nothing is
a no-op "already built"), starting the workers (each is waited for until it logs
"ready", then a warm-up campaign of 2 packages per worker runs to completion). The
in-process loops are the best of --repeat runs; each farm run is one campaign.

    python bench/bench_farm.py [--packages 50] [--farm] [--repeat 3]

Prints seconds per package of each, then the ratios farm-1 / direct, farm-2 / direct
and farm-2 / farm-1.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from sqlalchemy import select

from archive.catalog.db import make_engine, session_factory, upgrade
from archive.catalog.models import Build
from archive.settings import UpstreamSettings
from archive.upstream.index import BinaryRecord
from archive.upstream.mirror import Upstream
from base.console import Reporter
from recipes.policy import Policy, load_policy
from recipes.recipe import load_recipe, recipe_digest
from rewrite.engine import rewrite
from rewrite.relations import Universe
from unessential.config import Settings
from worker.environment import campaign_recipe
from worker.pipeline import BuildLog, _produce, run_build
from worker.plan import plan
from worker.record import Claimed
from worker.settings import FarmSettings, WorkerSettings

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "unessential.cli"]
REDIS_URL = "redis://127.0.0.1:6379/0"
PG_ADMIN = "host=127.0.0.1 dbname=test"
ARCH = "amd64"
WARMUP_PER_WORKER = 2
MAX_WORKERS = 2


@dataclass
class Fixture:
    names: list[str]
    warmups: list[str]
    mirror: str
    keyring: Path
    template: Path  # a data dir whose download cache holds every index and .deb
    debs: list[Path]  # the verified upstream .debs of `names`
    records: list[BinaryRecord]


@dataclass
class FarmResult:
    seconds: float  # wall time of `rebuild --wait`
    span: float  # first build started .. last build finished, from the catalog
    per_worker: list[int]  # builds of the timed campaign per worker process
    warmup_workers: int  # distinct workers that ran a warm-up build
    busy: float  # median seconds from claim to record of one build
    idle: float  # median seconds a worker waits between recording a build and the next
    errors: int  # lines of the worker logs saying ERROR, Traceback or "locked"


def upstream_settings(mirror: str, keyring: Path) -> UpstreamSettings:
    return UpstreamSettings(
        mirror=mirror, suites=["fixture"], components=["main"], keyring=[keyring],
        architectures=[ARCH], apt_sources=[], retries=1, backoff=0, timeout=5,
    )


def build_fixture(root: Path, count: int, stack: ExitStack) -> Fixture:
    """Key, signed archive with `count` + warm-up packages, a server, a warm cache."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from tests.fixtures.archive import FixtureArchive
    from tests.fixtures.keys import make_key
    from tests.fixtures.server import ArchiveServer

    names = [f"bench{i:04d}" for i in range(count)]
    warmups = [f"warmup{i}" for i in range(WARMUP_PER_WORKER * MAX_WORKERS)]
    key = make_key(root / "keys", "bench")
    stack.callback(key.stop_agent)
    archive = FixtureArchive(root=root / "www", key=key)
    archive.build_farm(root / "archive-work", names + warmups)
    server = stack.enter_context(ArchiveServer(archive.root))
    mirror = f"{server.url}/debian"
    template = root / "template"
    settings = upstream_settings(mirror, key.public_keyring)
    wanted = set(names)
    with Upstream(template, settings) as upstream:
        records = [record for _, record in upstream.packages(ARCH)]
        upstream.sources()
        debs = []
        for record in records:
            result = upstream.fetch_binary(record.package, record.version, root / "debs")
            if record.package in wanted:
                debs += result.files
    debs.sort()
    assert len(debs) == count, (len(debs), count)
    return Fixture(names, warmups, mirror, key.public_keyring, template, debs, records)


def fresh_data_dir(fixture: Fixture, path: Path) -> Path:
    path.mkdir(parents=True)
    shutil.copytree(fixture.template / "cache", path / "cache")
    return path


def best(repeat: int, run: Callable[[int], float]) -> float:
    return min(run(attempt) for attempt in range(repeat))


# -- in-process loops ------------------------------------------------------------


def direct_loop(fixture: Fixture, out: Path, policy: Policy) -> float:
    """Only the rewrite engine: Universe and recipes are ready before the clock starts."""
    universe = Universe.from_records(fixture.records, policy.implicit_essential.priorities)
    jobs = []
    for deb, name in zip(fixture.debs, fixture.names, strict=True):
        recipe = load_recipe(name)
        jobs.append((deb, recipe, recipe_digest(policy, recipe)))
    start = time.perf_counter()
    for deb, recipe, digest in jobs:
        rewrite(deb, out, universe=universe, policy=policy, recipe=recipe,
                recipe_digest=digest)
    return time.perf_counter() - start


def farm(data_dir: Path, database_url: str | None, upstream: UpstreamSettings) -> FarmSettings:
    url = Settings(data_dir=data_dir, database_url=database_url).effective_database_url
    return FarmSettings(worker=WorkerSettings(), upstream=upstream, data_dir=data_dir,
                        database_url=url)


def task_loop(fixture: Fixture, data_dir: Path, policy: Policy) -> float:
    """Per package what the task does between claim and record: `_produce`."""
    settings = farm(data_dir, None, upstream_settings(fixture.mirror, fixture.keyring))
    claims = []
    for number, name in enumerate(fixture.names, 1):
        _, digest, _ = campaign_recipe(policy, name, None)
        claims.append(Claimed(number, name, "1.0-1", "fixture", "repack", digest, ""))
    work_root = data_dir / "work"
    work_root.mkdir(parents=True)
    start = time.perf_counter()
    for got in claims:
        work = Path(tempfile.mkdtemp(prefix=f"build-{got.build_id}-", dir=work_root))
        try:
            log = BuildLog(data_dir / "logs" / f"{got.build_id}.log")
            binaries, flagged, _, _ = _produce(got, settings, work, log)
            assert len(binaries) == 1 and not flagged, (binaries, flagged)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return time.perf_counter() - start


def catalog_loop(fixture: Fixture, data_dir: Path, database_url: str | None) -> float:
    """`run_build` (claim, heartbeat, fetch, rewrite, store, record) on planned rows."""
    settings = farm(data_dir, database_url, upstream_settings(fixture.mirror, fixture.keyring))
    url = settings.database_url
    upgrade(url)
    engine = make_engine(url)
    try:
        planned = plan(settings, session_factory(engine), fixture.names, "repack",
                       "bench", ARCH, Reporter(quiet=True))
    finally:
        engine.dispose()
    assert all(p.state == "queued" and not p.note for p in planned), planned
    start = time.perf_counter()
    for item in planned:
        outcome = run_build(item.build_id, settings, worker="bench:0", task_id="bench")
        assert outcome.status == "done", outcome
    return time.perf_counter() - start


# -- farm runs -------------------------------------------------------------------


def clean_env() -> dict[str, str]:
    """The environment of the CLI processes: only the config file says where things are."""
    return {k: v for k, v in os.environ.items()
            if k not in ("UNESSENTIAL_CONFIG", "UNESSENTIAL_DATA_DIR",
                         "UNESSENTIAL_DATABASE_URL", "UNESSENTIAL_BROKER_URL")}


def write_config(path: Path, fixture: Fixture, data_dir: Path, database_url: str | None,
                 queue: str | None) -> None:
    lines = [f'data_dir = "{data_dir}"']
    if database_url:
        lines += [f'database_url = "{database_url}"', f'broker_url = "{REDIS_URL}"']
    lines += [
        "[upstream]",
        f'mirror = "{fixture.mirror}"',
        'suites = ["fixture"]',
        'components = ["main"]',
        f'keyring = ["{fixture.keyring}"]',
        f'architectures = ["{ARCH}"]',
        "apt_sources = []",
        "retries = 1",
        "backoff = 0",
        "timeout = 5",
    ]
    if queue:
        lines += ["[worker]", f'queue = "{queue}"']
    path.write_text("\n".join(lines) + "\n")


class Workers:
    """`unessential worker --concurrency 1` processes, each in its own session."""

    def __init__(self, config: Path, log_dir: Path) -> None:
        self.config = config
        self.log_dir = log_dir
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, timeout: float = 120) -> None:
        """Start one more worker and wait until it logs that it is ready."""
        log = self.log_dir / f"worker-{len(self.processes)}.log"
        with log.open("ab") as handle:
            process = subprocess.Popen(
                [*CLI, "--config", str(self.config), "worker", "--concurrency", "1"],
                stdout=handle, stderr=subprocess.STDOUT, start_new_session=True,
                cwd=REPO, env=clean_env())
        self.processes.append(process)
        deadline = time.monotonic() + timeout
        while " ready." not in log.read_text(errors="replace"):
            if process.poll() is not None:
                raise RuntimeError(f"worker exited ({process.returncode}): "
                                   f"{log.read_text(errors='replace')[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"worker not ready after {timeout} s: {log}")
            time.sleep(0.1)

    def stop(self, timeout: float = 30) -> None:
        """Warm shutdown (SIGTERM to each worker's process group), then SIGKILL; a
        second Ctrl-C while waiting goes straight to SIGKILL."""
        try:
            for process in self.processes:
                if process.poll() is None:
                    os.killpg(process.pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            for process in self.processes:
                with suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=max(0.1, deadline - time.monotonic()))
        finally:
            for process in self.processes:
                if process.poll() is None:
                    with suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGKILL)
                    process.wait()


def rebuild(config: Path, names: list[str]) -> tuple[float, dict[str, object], str]:
    start = time.perf_counter()
    result = subprocess.run(
        [*CLI, "--config", str(config), "rebuild", "--repack", *names, "--wait", "--json"],
        capture_output=True, text=True, timeout=600, cwd=REPO, env=clean_env())
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"rebuild failed ({result.returncode}): {result.stderr[-2000:]}")
    campaign = json.loads(result.stdout)
    statuses = Counter(row["status"] for row in campaign["builds"])
    if statuses != {"done": len(names)}:
        raise RuntimeError(f"rebuild: expected {len(names)} done builds, got {statuses}")
    return seconds, campaign, result.stderr


def campaign_builds(url: str, campaign: str) -> list[Build]:
    engine = make_engine(url)
    try:
        with session_factory(engine).begin() as session:
            builds = list(session.scalars(select(Build).where(Build.campaign == campaign)))
            session.expunge_all()
            return builds
    finally:
        engine.dispose()


@contextmanager
def postgres_database(label: str) -> Iterator[str]:
    import psycopg

    name = f"bench_farm_{label}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://root@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def forget_redis(queue: str) -> None:
    """Delete the queue's keys and the stored results of the tasks sent to it."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        for key in client.scan_iter(f"*{queue}*"):
            client.delete(key)
        for key in client.scan_iter("celery-task-meta-*"):
            value = client.get(key)
            with suppress(ValueError, AttributeError):
                if value and json.loads(value).get("queue") == queue:
                    client.delete(key)
    finally:
        client.close()


def farm_run(fixture: Fixture, root: Path, count: int, farm: bool) -> FarmResult:
    with ExitStack() as stack:
        database_url = None
        queue = None
        if farm:
            database_url = stack.enter_context(postgres_database(f"w{count}"))
            queue = f"bench-{uuid.uuid4().hex[:8]}"
            stack.callback(forget_redis, queue)
        data_dir = fresh_data_dir(fixture, root / "data")
        config = root / "unessential.toml"
        write_config(config, fixture, data_dir, database_url, queue)
        url = Settings(data_dir=data_dir, database_url=database_url).effective_database_url
        # The catalog is created first and the workers are started one after the other:
        # two workers migrating a fresh SQLite catalog at once may fail ("database is
        # locked"), and start-up is not what is measured here.
        upgrade(url)
        workers = Workers(config, root)
        stack.callback(workers.stop)
        for _ in range(count):
            workers.start()
        _, warm, stderr = rebuild(config, fixture.warmups[:WARMUP_PER_WORKER * count])
        if "started a local worker" in stderr:
            raise RuntimeError("rebuild --wait started its own worker: ours were not seen")
        warm_builds = campaign_builds(url, str(warm["campaign"]))
        seconds, campaign, stderr = rebuild(config, fixture.names)
        if "started a local worker" in stderr:
            raise RuntimeError("rebuild --wait started its own worker: ours were not seen")
        builds = campaign_builds(url, str(campaign["campaign"]))
        assert len(builds) == len(fixture.names)
        started = min(b.started_at for b in builds if b.started_at)
        finished = max(b.finished_at for b in builds if b.finished_at)
        per_worker = Counter(b.worker for b in builds)
        gaps = []
        for worker in per_worker:
            own = sorted((b for b in builds if b.worker == worker),
                         key=lambda b: b.started_at)
            gaps += [(after.started_at - before.finished_at).total_seconds()
                     for before, after in zip(own, own[1:], strict=False)]
        errors = sum(
            1 for log in root.glob("worker-*.log")
            for line in log.read_text(errors="replace").splitlines()
            if "ERROR" in line or "Traceback" in line or "locked" in line)
        return FarmResult(
            errors=errors, seconds=seconds, span=(finished - started).total_seconds(),
            per_worker=sorted(per_worker.values(), reverse=True),
            warmup_workers=len({b.worker for b in warm_builds}),
            busy=statistics.median((b.finished_at - b.started_at).total_seconds()
                                   for b in builds),
            idle=statistics.median(gaps) if gaps else 0.0,
        )


# -- main ------------------------------------------------------------------------


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packages", type=int, default=50, help="packages per campaign")
    parser.add_argument("--farm", action="store_true",
                        help="Redis + PostgreSQL on 127.0.0.1 instead of the embedded default")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of each in-process loop (the best is kept)")
    args = parser.parse_args()
    if args.packages < 1:
        parser.error("--packages must be at least 1")
    signal.signal(signal.SIGTERM, _terminate)
    count = args.packages
    with ExitStack() as stack:
        root = Path(tempfile.mkdtemp(prefix="bench-farm-"))
        stack.callback(shutil.rmtree, root, ignore_errors=True)
        setup = time.perf_counter()
        fixture = build_fixture(root, count, stack)
        setup = time.perf_counter() - setup
        policy = load_policy()

        direct = best(args.repeat, lambda i: direct_loop(fixture, root / f"direct-{i}", policy))
        task = best(args.repeat, lambda i: task_loop(
            fixture, fresh_data_dir(fixture, root / f"task-{i}"), policy))

        def with_catalog(i: int) -> float:
            data_dir = fresh_data_dir(fixture, root / f"catalog-{i}")
            if not args.farm:
                return catalog_loop(fixture, data_dir, None)
            with postgres_database(f"c{i}") as url:
                return catalog_loop(fixture, data_dir, url)

        catalog = best(args.repeat, with_catalog)
        farm1 = farm_run(fixture, root / "farm-1", 1, args.farm)
        farm2 = farm_run(fixture, root / "farm-2", 2, args.farm)

    per = 1 / count
    if args.farm:
        what = ("farm: Redis broker + result backend (redis://127.0.0.1:6379/0, unique "
                "queue), PostgreSQL 127.0.0.1 catalog (fresh database per run)")
    else:
        what = ("embedded default: filesystem:// queue, SQLite catalog, SQLite result "
                "backend (fresh data dir per run)")
    print(f"measured: {what}")
    print("  workers: `unessential worker --concurrency 1` (prefork pool, 1 child each), "
          "pre-started one by one, warmed up")
    print(f"  {count} repacks (1 .deb each); download cache pre-warmed (only InRelease is "
          f"fetched); fixture setup {setup:.0f} s, not timed; in-process loops: best of "
          f"{args.repeat}")
    print(f"direct rewrite engine loop:                 {direct * per:7.4f} s/package")
    print(f"task minus Celery (fetch+rewrite+store):    {task * per:7.4f} s/package")
    print(f"  + catalog (run_build: claim..record):     {catalog * per:7.4f} s/package")
    for label, result in (("farm, 1 worker ", farm1), ("farm, 2 workers", farm2)):
        print(f"{label} (rebuild --wait wall time): {result.seconds * per:7.4f} s/package"
              f"   (catalog span {result.span * per:.4f} s/package; builds per worker "
              f"{'+'.join(map(str, result.per_worker))}; warm-up used "
              f"{result.warmup_workers} worker(s); median build {result.busy:.3f} s, "
              f"median idle between builds {result.idle:.3f} s; worker log errors "
              f"{result.errors})")
    print(f"ratios: farm-1 / direct {farm1.seconds / direct:7.1f}   "
          f"farm-2 / direct {farm2.seconds / direct:7.1f}   "
          f"farm-2 / farm-1 {farm2.seconds / farm1.seconds:5.2f}   "
          f"(farm-1 / task minus Celery {farm1.seconds / task:5.1f})")


if __name__ == "__main__":
    main()
