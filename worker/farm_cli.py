"""Commands of the rebuild farm: rebuild, worker, status, logs."""

from __future__ import annotations

import fcntl
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from celery import group
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from archive.catalog.db import make_engine, session_factory, upgrade
from archive.catalog.models import Build
from archive.settings import UpstreamSettings
from archive.upstream.mirror import Upstream, host_architecture
from base.console import Reporter, print_json
from base.context import AppContext, pass_app
from base.errors import NotFoundError
from worker.campaign_watch import FarmWatch, LocalWatch, Watch, build_states
from worker.celery_app import configure, embedded, queue_dir
from worker.deliver import resend_forever, uploading
from worker.environment import repack_inputs
from worker.outdated import Outdated, newest_builds, newest_upstream, outdated
from worker.plan import QUEUED, Planned, new_campaign_id, plan
from worker.settings import FarmSettings, WorkerSettings
from worker.status_cli import flagged_of
from worker.workdirs import clean_stale_work

FINAL = ("done", "failed")


def farm_settings(app: AppContext) -> FarmSettings:
    """The farm's sections of the configuration, with the data dir, catalog and broker."""
    return FarmSettings(worker=app.section(WorkerSettings),
                        upstream=app.section(UpstreamSettings), data_dir=app.data_dir,
                        database_url=app.database_url, broker_url=app.broker_url)


def _lock_path(app: AppContext) -> Path:
    folder = queue_dir(farm_settings(app))
    folder.mkdir(parents=True, exist_ok=True)
    return folder / "worker.lock"


@contextmanager
def _worker_lock(path: Path) -> Iterator[None]:
    """Held (shared) by every embedded worker while it runs."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _worker_running(path: Path) -> bool:
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def _start_resender(settings: FarmSettings, log: Callable[[str], None]) -> None:
    """A child process that sends pending uploads now and every worker.upload_retry
    seconds while this worker runs (forked before Celery starts its pool)."""
    parent = os.getpid()
    if os.fork() == 0:
        code = 0
        try:
            resend_forever(settings, log, parent)
        except KeyboardInterrupt:
            pass
        except BaseException:  # noqa: BLE001 - the child never returns into the CLI
            code = 1
        finally:
            os._exit(code)


@click.command("worker")
@click.option("--concurrency", type=int, help="Builds at once (default: worker.concurrency).")
@click.option("--pool", type=click.Choice(["prefork", "solo", "threads"]), default="prefork",
              show_default=True, help="Celery execution pool.")
@click.option("--loglevel", default="INFO", show_default=True)
@pass_app
def worker_command(app: AppContext, concurrency: int | None, pool: str, loglevel: str) -> None:
    """Run a Celery worker that claims and runs builds until stopped (SIGTERM/Ctrl-C).

    With no broker configured it serves the local queue under the data directory;
    with `broker_url` (Redis) it joins the farm.

    \b
    Example:
      unessential worker --concurrency 2
      UNESSENTIAL_BROKER_URL=redis://10.0.0.5:6379/0 \\
        UNESSENTIAL_DATABASE_URL=postgresql+psycopg://10.0.0.5/unessential unessential worker
    """
    settings = farm_settings(app)
    upgrade(settings.database_url)
    clean_stale_work(settings.data_dir, app.reporter().log)
    if uploading(settings):
        _start_resender(settings, app.reporter().log)
    celery = configure(settings)
    argv = ["worker", f"--concurrency={concurrency or settings.worker.concurrency}",
            f"--pool={pool}", f"--loglevel={loglevel}", f"--queues={settings.worker.queue}",
            f"--hostname=unessential-{os.getpid()}@%h", "--without-gossip",
            "--without-mingle"]
    if embedded(settings):
        with _worker_lock(_lock_path(app)):
            celery.worker_main(argv)
    else:
        celery.worker_main(argv)


@click.command("rebuild")
@click.argument("sources", nargs=-1, metavar="SOURCE[=VERSION]...")
@click.option("--repack", is_flag=True,
              help="Do not compile: rewrite the upstream binaries of each source.")
@click.option("--wait/--no-wait", default=False,
              help="Follow the campaign until every build is done or failed.")
@click.option("--concurrency", type=int,
              help="With --wait and no worker running: builds at once in the local worker.")
@click.option("--closure", is_flag=True,
              help="The arguments are binary packages: rebuild the sources of their "
                   "dependency closure, as rewritten (what an image of them needs).")
@click.option("--outdated", is_flag=True,
              help="Rebuild every source (or each SOURCE given) whose upstream version moved "
                   "past our newest build, at the upstream's version, the way it was built "
                   "before (see: status --outdated).")
@click.option("--arch", "arches", multiple=True, metavar="ARCH[,ARCH]",
              help="Architectures to build for (default: the first of "
                   "upstream.architectures, else the host's). A foreign one (arm64 on an "
                   "amd64 host) is repacked from the mirror's binaries: it needs --repack.")
@click.option("--json", "as_json", is_flag=True, help="Print the campaign as JSON.")
@pass_app
def rebuild_command(app: AppContext, sources: tuple[str, ...], repack: bool, wait: bool,
                    concurrency: int | None, closure: bool, outdated: bool,
                    arches: tuple[str, ...], as_json: bool) -> None:
    """Queue a campaign: one build per source package (a Celery group).

    A build already done with the same source version, recipe and build environment is
    not repeated. With --wait and the embedded default, a local worker is started for
    the campaign if none is running, so one command does the whole job. If that worker
    dies, the build it was running is recorded failed (interrupted) and the worker is
    restarted for the queued builds; on a farm, the wait ends when no worker has
    consumed the queue for max(30 s, 2 x lease). Either way it ends with the build
    error (exit 14) naming what happened.

    With --closure the arguments are binary packages: the sources queued are those of
    their dependency closure once the engine has rewritten it (implicit-essential and
    script-only relations dropped), each at the version of the closure's binaries;
    binaries whose scripts the engine flags are listed (their builds leave them out).

    \b
    Example:
      unessential rebuild hello tzdata --wait
      unessential rebuild --repack python3-defaults openssl --wait --json
      unessential rebuild --repack --closure haproxy --wait
      unessential rebuild --repack zlib --arch amd64,arm64 --wait
      unessential rebuild --outdated --wait
    """
    if outdated and closure:
        raise click.UsageError("--outdated and --closure cannot be combined")
    if not sources and not outdated:
        raise click.UsageError("give SOURCE names (or --outdated)")
    settings = farm_settings(app)
    url = settings.database_url
    upgrade(url)
    engine = make_engine(url)
    sessions = session_factory(engine)
    reporter = app.reporter()
    campaign = new_campaign_id()
    targets = _architectures(arches, settings, repack)
    arch = targets[0]
    origin = "repack" if repack else "source-build"
    clean_stale_work(settings.data_dir, reporter.log)
    if outdated:
        moved = _outdated(settings, sessions, list(sources), reporter)
        groups = [(how, [f"{o.source}={o.upstream}" for o in moved if o.origin == how])
                  for how in sorted({o.origin for o in moved})]
        if not moved:
            reporter.log("no source is outdated: nothing to rebuild")
    else:
        groups = [(origin, _closure_specs(settings, list(sources), arch, reporter) if closure
                   else list(sources))]
    try:
        celery = configure(settings)
        # each build is sent as soon as it is recorded: workers start while the rest of
        # the campaign is planned
        planned = [item for target in targets for how, specs in groups
                   for item in plan(settings, sessions, specs, how, campaign, target,
                                    reporter, queued=lambda p: _send(sessions, [p.build_id]))]
        fresh = [p for p in planned if p.state in QUEUED]
        for item in planned:
            reporter.log(f"{item.source} {item.version}: "
                         + (item.note or f"queued as build {item.build_id}"))
        ids = [p.build_id for p in planned]
        problem = None
        watch: Watch | None = None
        if wait:
            if embedded(settings):
                spawned = None
                if fresh and not _worker_running(_lock_path(app)):
                    spawned = _spawn_worker(app, concurrency)
                watch = LocalWatch(
                    settings=settings, process=spawned,
                    running=lambda: _worker_running(_lock_path(app)),
                    spawn=lambda: _spawn_worker(app, concurrency),
                    resend=lambda again: _send(sessions, again), log=reporter.log,
                    stopper=_stop, reload=lambda: build_states(_states(sessions, ids)))
            else:
                watch = FarmWatch(celery=celery, settings=settings, log=reporter.log)
            try:
                problem = _follow(sessions, ids, reporter, watch)
            finally:
                watch.stop()
        states = _states(sessions, ids)
    finally:
        engine.dispose()
    _report(planned, states, campaign, as_json, wait, problem,
            watch.incidents if watch is not None else [])


ARCH_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")


def _architectures(values: tuple[str, ...], settings: FarmSettings, repack: bool) -> list[str]:
    """The architectures of a campaign: given (comma-separated or repeated), else the
    farm's first. A source build runs on the host: only the host's architecture."""
    default = (settings.upstream.architectures or [host_architecture()])[0]
    found: list[str] = []
    for value in values:
        for arch in (a.strip() for a in value.split(",")):
            if not ARCH_NAME.fullmatch(arch) or arch == "all":
                raise click.BadParameter(f"{arch!r} is not a Debian architecture",
                                         param_hint="--arch")
            if arch not in found:
                found.append(arch)
    host = host_architecture()
    foreign = [arch for arch in found if arch != host]
    if foreign and not repack:
        raise click.UsageError(f"a source build runs on this host ({host}): build "
                               f"{', '.join(foreign)} with --repack (the mirror's binaries)")
    return found or [default]


def _closure_specs(settings: FarmSettings, names: list[str], arch: str,
                   reporter: Reporter) -> list[str]:
    """SOURCE=VERSION of every source of the rewritten closure of binaries `names`."""
    from recipes.policy import load_policy
    from rewrite.workload import rewritten_closure

    with Upstream(settings.data_dir, settings.upstream, reporter=reporter) as upstream:
        workload = rewritten_closure(upstream, arch, names, policy=load_policy(),
                                     recipes_dir=settings.worker.recipes_dir,
                                     progress=reporter.log)
    reporter.log(f"closure of {' '.join(names)}: {len(workload.binaries)} binaries from "
                 f"{len(workload.sources)} sources")
    for package, problem in workload.flagged.items():
        reporter.log(f"flagged (its build will leave it out): {package}: {problem}")
    return [f"{source}={version}" for source, version in workload.sources]


def _outdated(settings: FarmSettings, sessions: sessionmaker[Session], names: list[str],
              reporter: Reporter) -> list[Outdated]:
    """Our newest builds (of `names`, when given) that the upstream has moved past."""
    with sessions.begin() as session:
        built = newest_builds(session, names)
    missing = sorted(set(names) - {b.source for b in built})
    if missing:
        raise NotFoundError(", ".join(missing), "no done build of this source in the catalog")
    if not built:
        return []
    arch = (settings.upstream.architectures or [host_architecture()])[0]
    with Upstream(settings.data_dir, settings.upstream, reporter=reporter) as upstream:
        rows = [(suite.entry.suite, record.package, record.version)
                for suite, record in upstream.sources()]
        records = ([record for _, record in upstream.packages(arch)]
                   if any(b.origin == "repack" for b in built) else [])
    binaries = {(b.source, b.version): {r.package: r.version for r in
                                        repack_inputs(records, b.source, b.version, arch)}
                for b in built if b.origin == "repack"}
    return outdated(built, newest_upstream(rows), binaries)


def _send(sessions: sessionmaker[Session], ids: list[int]) -> None:
    """Send one task per build (a Celery group) and note the task ids on the rows."""
    from worker.tasks import rebuild

    result = group(rebuild.si(build_id) for build_id in ids).apply_async()
    with sessions.begin() as session:
        # writes only, no read first: on SQLite a transaction that read and then writes
        # after a worker's commit fails at once ("database is locked", no busy wait)
        for build_id, child in zip(ids, result.children or [], strict=False):
            session.execute(update(Build).where(Build.id == build_id)
                            .values(task_id=child.id))


def _spawn_worker(app: AppContext, concurrency: int | None) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "unessential.cli"]
    if app.config_path is not None:
        command += ["--config", str(app.config_path)]
    command += ["worker", "--loglevel=WARNING"]
    if concurrency:
        command.append(f"--concurrency={concurrency}")
    log = (queue_dir(farm_settings(app)) / "worker.log").open("ab")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    app.reporter().log(f"started a local worker (pid {process.pid}, log "
                       f"{queue_dir(farm_settings(app)) / 'worker.log'})")
    return process


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)  # warm shutdown: the main process stops its pool
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _states(sessions: sessionmaker[Session], ids: list[int]) -> dict[int, Build]:
    with sessions.begin() as session:
        builds = {b.id: b for b in session.query(Build).filter(Build.id.in_(ids))}
        for build in builds.values():
            _ = build.source_package.name  # loaded: read after the session ends
            _ = list(build.flagged)
            session.expunge(build)
        return builds


# `--wait` reads the builds' states again after FOLLOW_FIRST seconds while they change,
# backing off to FOLLOW_LAST while nothing does (a campaign ends within ~0.1 s of its
# last build, and a long build costs a query a second), and never spends more than a
# tenth of its time reading them (a campaign of thousands of builds)
FOLLOW_FIRST = 0.1
FOLLOW_LAST = 1.0


def _follow(sessions: sessionmaker[Session], ids: list[int], reporter: Reporter,
            watch: Watch) -> str | None:
    """Follow the builds until each is done or failed (None), or until `watch` says
    they cannot get there (why, one line)."""
    seen: dict[int, str] = {}
    total = len(ids)
    pause = FOLLOW_FIRST
    with reporter.task("builds", total, unit="builds") as advance:
        while True:
            began = time.monotonic()
            states = _states(sessions, ids)
            spent = time.monotonic() - began
            for build_id, build in states.items():
                if seen.get(build_id) != build.status:
                    pause = FOLLOW_FIRST  # builds are moving: look again soon
                    if build.status in FINAL and seen.get(build_id) not in FINAL:
                        advance(1)
                    seen[build_id] = build.status
                    reporter.log(
                        f"build {build_id}: {build.status}"
                        + (f" ({build.error})" if build.error and build.status == "failed"
                           else ""))
            if all(b.status in FINAL for b in states.values()):
                return None
            problem = watch.poll(sessions, build_states(states))
            if problem is not None:
                return problem
            time.sleep(max(pause, 10 * spent))  # reading the states: 10% of the time
            pause = min(FOLLOW_LAST, pause * 1.5)


def _report(planned: list[Planned], states: dict[int, Build], campaign: str, as_json: bool,
            waited: bool, problem: str | None = None,
            incidents: list[str] | None = None) -> None:
    rows: list[dict[str, Any]] = []
    for item in planned:
        build = states.get(item.build_id)
        rows.append({"source": item.source, "version": item.version, "suite": item.suite,
                     "build_id": item.build_id, "status": build.status if build else "?",
                     "note": item.note, "error": build.error if build else None,
                     "flagged": flagged_of(build)})
    if as_json:
        print_json({"campaign": campaign, "builds": rows})
    else:
        click.echo(f"campaign {campaign}: {len(rows)} builds")
        for row in rows:
            click.echo(f"  {row['source']} {row['version']}: build {row['build_id']} "
                       f"{row['status']}" + (f" - {row['error']}" if row["error"] else ""))
            for flagged in row["flagged"]:
                click.echo(f"    not produced: {flagged['package']} (flagged: "
                           f"{flagged['problem']})")
    failed = [r["source"] for r in rows if r["status"] == "failed"]
    if waited and (failed or problem):
        from base.errors import BuildFailed

        causes = [problem] if problem else list(dict.fromkeys(incidents or []))
        if failed:
            causes.append(f"{len(failed)} of {len(rows)} builds failed: {', '.join(failed)} "
                          f"(see: unessential logs {failed[0]})")
        raise BuildFailed(f"campaign {campaign}", "; ".join(causes))


def _status_outdated(app: AppContext, names: list[str], as_json: bool) -> None:
    settings = farm_settings(app)
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        moved = _outdated(settings, session_factory(engine), names, app.reporter())
    finally:
        engine.dispose()
    if as_json:
        print_json([o.as_dict() for o in moved])
        return
    if not moved:
        click.echo("no source is outdated")
        return
    click.echo(f"{'source':24} {'ours':24} {'upstream':24} suite")
    for item in moved:
        click.echo(f"{item.source:24} {item.ours:24} {item.upstream:24} {item.suite}"
                   + (f"  (binNMU: {', '.join(item.rebuilt)})" if item.rebuilt else ""))
