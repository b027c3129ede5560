"""Catalog writes of the rebuild farm: claim, heartbeat, and all-or-nothing results.

A build row is claimed with one guarded UPDATE (queued, or building with a stale
heartbeat), so two workers never run the same build; results are written in one
transaction together with the final status, and only by the worker that holds the
claim.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from archive.catalog.models import (
    BinaryPackage,
    Build,
    FlaggedBinary,
    ImplicitUse,
    RelationChange,
    ScriptRewrite,
    SourceFile,
    SourcePackage,
)
from archive.catalog.queries import relation_name


def now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Claimed:
    build_id: int
    source: str
    version: str
    suite: str
    origin: str
    recipe_digest: str
    env_digest: str
    #: the counter of the build's version mark (rewrite.versions); None: versions kept
    counter: int | None = None
    mark: str | None = None  # the mark's letters, as planned
    architecture: str | None = None  # None: a build planned before 0007 (the first arch)


@dataclass(frozen=True)
class NotClaimed:
    status: str  # done | failed | building (held by a live worker) | missing
    holder: str | None = None


def claim(
    sessions: sessionmaker[Session], build_id: int, worker: str, task_id: str, lease: float
) -> Claimed | NotClaimed:
    stale = now() - timedelta(seconds=lease)
    with sessions.begin() as session:
        result = session.execute(
            update(Build)
            .where(
                Build.id == build_id,
                (Build.status == "queued")
                | ((Build.status == "building")
                   & ((Build.heartbeat_at.is_(None)) | (Build.heartbeat_at < stale))),
            )
            .values(status="building", worker=worker, task_id=task_id, started_at=now(),
                    heartbeat_at=now(), finished_at=None, error=None)
            .execution_options(synchronize_session=False)
        )
        build = session.get(Build, build_id)
        if build is None:
            return NotClaimed("missing")
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return NotClaimed(build.status, build.worker)
        source = build.source_package
        return Claimed(build.id, source.name, source.version, source.suite, build.origin,
                       build.recipe_digest, build.env_digest, build.version_counter,
                       build.version_mark, build.architecture)


class Heartbeat:
    """Refreshes `heartbeat_at` of a claimed build from a background thread."""

    def __init__(self, sessions: sessionmaker[Session], build_id: int, worker: str,
                 interval: float) -> None:
        self.sessions = sessions
        self.build_id = build_id
        self.worker = worker
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"heartbeat-{build_id}")

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                with self.sessions.begin() as session:
                    session.execute(
                        update(Build)
                        .where(Build.id == self.build_id, Build.worker == self.worker,
                               Build.status == "building")
                        .values(heartbeat_at=now())
                        .execution_options(synchronize_session=False)
                    )
            except Exception:  # noqa: BLE001 - a missed beat is retried next interval
                continue


@dataclass
class BinaryResult:
    name: str
    version: str
    architecture: str
    sha256: str
    size: int
    filename: str
    relations: list[tuple[str, str, str, str, str]]  # field, relation, action, reason, detail
    scripts: list[tuple[str, str, str, str, str | None]]  # script, sha, original, actions, rendered
    original_sha256: str | None = None
    original_control: str | None = None
    control: str | None = None
    installed_size: int | None = None  # KiB
    original_installed_size: int | None = None
    original_version: str | None = None  # Debian's, when ours is marked
    #: path, kind, needs, evidence, provider, declared (rewrite.engine's implicit uses)
    implicit_uses: list[tuple[str, str, str, str, str | None, bool]] = field(
        default_factory=list)
    #: what a publish lists of it (archive.publish.facts.catalog_columns): md5, sha1,
    #: sha512, contents
    facts: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class OwnSource:
    """A source package a build made (a recipe's patches): its version and files (name,
    SHA256 in the artifact store, size), the .dsc first."""

    version: str
    files: list[tuple[str, str, int]]


@dataclass(frozen=True)
class Flagged:
    """A binary not produced: the engine flagged one of its maintainer scripts."""

    name: str
    version: str
    architecture: str
    problem: str


class LostClaim(Exception):
    """Another worker took the build over: our results must not be written."""


def _finish(session: Session, build_id: int, worker: str, status: str, **values: object) -> None:
    result = session.execute(
        update(Build)
        .where(Build.id == build_id, Build.worker == worker, Build.status == "building")
        .values(status=status, finished_at=now(), heartbeat_at=now(), **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise LostClaim(f"build {build_id} is no longer held by {worker}")


def record_success(sessions: sessionmaker[Session], build_id: int, worker: str,
                   binaries: list[BinaryResult], log: str, *,
                   flagged: list[Flagged] | None = None,
                   source: OwnSource | None = None, buildinfo: str | None = None) -> None:
    """The binaries, their relation changes, script rewrites and implicit uses, the
    binaries not produced (flagged), the source of our own it made, and status done:
    at once."""
    with sessions.begin() as session:
        extra: dict[str, object] = {}
        if buildinfo is not None:
            extra["buildinfo"] = buildinfo
        if source is not None:
            extra["source_version"] = source.version
            session.add_all(SourceFile(build_id=build_id, name=name, sha256=sha, size=size)
                            for name, sha, size in source.files)
        _finish(session, build_id, worker, "done", log=log, **extra)
        for skipped in flagged or []:
            session.add(FlaggedBinary(build_id=build_id, name=skipped.name,
                                      version=skipped.version,
                                      architecture=skipped.architecture,
                                      problem=skipped.problem))
        for item in binaries:
            binary = BinaryPackage(build_id=build_id, name=item.name, version=item.version,
                                   architecture=item.architecture, sha256=item.sha256,
                                   size=item.size, filename=item.filename,
                                   original_sha256=item.original_sha256,
                                   original_control=item.original_control,
                                   control=item.control, installed_size=item.installed_size,
                                   original_installed_size=item.original_installed_size,
                                   original_version=item.original_version, **item.facts)
            binary.relation_changes = [
                RelationChange(field=f, relation=r, action=a, reason=why, detail=d or None,
                               relation_name=relation_name(r))
                for f, r, a, why, d in item.relations
            ]
            binary.script_rewrites = [
                ScriptRewrite(script=s, original_sha256=sha, original=text, actions=actions,
                              rendered=rendered)
                for s, sha, text, actions, rendered in item.scripts
            ]
            binary.implicit_uses = [
                ImplicitUse(path=path, kind=kind, needs=needs, evidence=evidence,
                            provider=provider, declared=declared)
                for path, kind, needs, evidence, provider, declared in item.implicit_uses
            ]
            session.add(binary)


def record_failure(sessions: sessionmaker[Session], build_id: int, worker: str, error: str,
                   log: str) -> None:
    with sessions.begin() as session:
        _finish(session, build_id, worker, "failed", error=error, log=log)


def release(sessions: sessionmaker[Session], build_id: int, worker: str, error: str) -> None:
    """Hand a claimed build back to the queue (before a retry)."""
    with sessions.begin() as session:
        session.execute(
            update(Build)
            .where(Build.id == build_id, Build.worker == worker, Build.status == "building")
            .values(status="queued", error=error, heartbeat_at=None)
            .execution_options(synchronize_session=False)
        )


def source_of(session: Session, build_id: int) -> SourcePackage | None:
    build = session.get(Build, build_id)
    return build.source_package if build is not None else None


def latest_builds(session: Session, names: list[str] | None = None,
                  campaign: str | None = None) -> list[Build]:
    """The newest build of each source (or every build of a campaign)."""
    query = select(Build).join(Build.source_package).order_by(Build.id)
    if campaign:
        return list(session.scalars(query.where(Build.campaign == campaign)))
    if names:
        query = query.where(SourcePackage.name.in_(names))
    newest: dict[int, Build] = {}
    for build in session.scalars(query):
        newest[build.source_package_id] = build
    return sorted(newest.values(), key=lambda b: b.source_package.name)
