"""Planning a campaign (client side): which builds to queue, which are already done.

A build's identity is (source, version, recipe digest, environment digest). If a
build with that identity is done (and is the newest done build of that source
version), or queued/building, the request is a no-op that says so; otherwise a `build`
row is created in state `queued`, to be claimed by a worker, with the counter of our
version mark (`version_counter`, unique per source version across suites and
planners).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from archive.catalog.db import is_sqlite_busy, writing
from archive.catalog.models import Build, SourcePackage, VersionCounter
from archive.catalog.queries import add_source
from archive.upstream.index import BinaryRecord
from archive.upstream.mirror import Upstream
from base.console import Reporter
from recipes.policy import load_policy
from worker.environment import (
    campaign_recipe,
    counter_digest,
    env_digest,
    inputs_digest,
    repack_inputs,
)
from worker.record import now
from worker.settings import FarmSettings


@dataclass
class Planned:
    source: str
    version: str
    suite: str
    build_id: int
    state: str  # queued (new row), requeued (task re-sent), done / building (no-op)
    note: str = ""


def new_campaign_id() -> str:
    return uuid.uuid4().hex[:12]


def version_counter(session: Session, source: str, version: str, recipe: str, env: str) -> int:
    """The counter of our version mark for a build of this identity of `source`
    `version` (any suite): the identity's own while it is the highest (a failed build
    retried makes the same bytes' version), else one more than the highest: a new
    recipe, policy or environment, or going back to an older one, gives the build a
    new, higher version. IntegrityError if another planner took that counter meanwhile
    (unique per source version; the caller retries)."""
    rows = session.execute(
        select(VersionCounter.counter, VersionCounter.recipe_digest, VersionCounter.env_digest)
        .where(VersionCounter.source == source, VersionCounter.version == version)
    ).all()
    highest = max((row.counter for row in rows), default=0)
    own = [row.counter for row in rows if (row.recipe_digest, row.env_digest) == (recipe, env)]
    if own and max(own) == highest:
        return highest
    with session.begin_nested():
        session.add(VersionCounter(source=source, version=version, counter=highest + 1,
                                   recipe_digest=recipe, env_digest=env))
    return highest + 1


def plan(
    settings: FarmSettings,
    sessions: sessionmaker[Session],
    specs: list[str],
    origin: str,
    campaign: str,
    arch: str,
    reporter: Reporter,
    queued: Callable[[Planned], None] | None = None,
) -> list[Planned]:
    """One build per spec (`name` or `name=version`), recorded in the catalog (each in
    its own transaction); `queued` is called with each build to run as soon as it is
    recorded, so that workers start on a campaign while the rest is planned. Every
    spec is found in the upstream before anything is recorded."""
    policy = load_policy()
    found = []
    with Upstream(settings.data_dir, settings.upstream, reporter=reporter) as upstream:
        for spec in specs:
            name, _, version = spec.partition("=")
            suite, record = upstream.find_source(name, version or None)
            found.append((suite.entry.suite, record))
        # the binaries of each source version, gathered once (not one scan per source)
        built: dict[tuple[str, str], list[BinaryRecord]] = {}
        if origin == "repack" and found:
            for _, binary in upstream.packages(arch):
                built.setdefault((binary.source, binary.source_version), []).append(binary)
    planned: list[Planned] = []
    writers = writing(sessions)  # each build's reads and writes, one at a time (SQLite)
    for suite_name, record in found:
        _, digest_recipe, _ = campaign_recipe(policy, record.package,
                                              settings.worker.recipes_dir)
        inputs = (inputs_digest(repack_inputs(built.get((record.package, record.version), []),
                                              record.package, record.version, arch))
                  if origin == "repack" else "")
        digest_env = env_digest(settings, origin, arch, suite_name, inputs)
        digest_counter = counter_digest(settings, origin, arch, suite_name)
        for attempt in range(_RACES):
            try:
                with writers.begin() as session:
                    item = _plan_one(session, settings, record.package, record.version,
                                     record.dsc.sha256, suite_name, digest_recipe,
                                     (digest_env, digest_counter), origin, campaign, arch)
                planned.append(item)
                break
            except (IntegrityError, OperationalError) as exc:
                # another planner took the counter, or (SQLite) a worker committed
                # between this transaction's reads and its writes: read again
                if attempt == _RACES - 1 or (isinstance(exc, OperationalError)
                                             and not is_sqlite_busy(exc)):
                    raise
        if queued is not None and item.state in QUEUED:
            queued(item)
    return planned


QUEUED = ("queued", "requeued")  # the states of a build a worker is to run
_RACES = 5  # another planner took the counter: read again


def _plan_one(session: Session, settings: FarmSettings, name: str, version: str, dsc: str,
              suite: str, recipe: str, envs: tuple[str, str], origin: str, campaign: str,
              arch: str) -> Planned:
    """`envs`: the build's environment digest and the one its version counter is kept
    by (the same for every architecture of a repack: amd64 and arm64 builds of one
    recipe get one version, as Multi-Arch: same packages need)."""
    env, counter_env = envs
    source = add_source(session, name, version, suite, dsc)
    same_version = select(SourcePackage.id).where(SourcePackage.name == name,
                                                  SourcePackage.version == version)
    existing = session.scalars(
        select(Build)
        .where(Build.source_package_id.in_(same_version), Build.recipe_digest == recipe,
               Build.env_digest == env, Build.status.in_(("done", "queued", "building")))
        .order_by(Build.id.desc())
    ).first()
    newest_done = session.scalars(
        select(Build.id).where(Build.source_package_id.in_(same_version),
                               Build.status == "done",
                               (Build.architecture == arch) | Build.architecture.is_(None))
        .order_by(Build.id.desc())
    ).first()
    superseded = (existing is not None and existing.status == "done"
                  and newest_done is not None and newest_done != existing.id)
    if existing is not None and not superseded:
        stale = existing.status == "building" and (
            existing.heartbeat_at is None
            or existing.heartbeat_at < now() - timedelta(seconds=settings.worker.lease))
        if existing.status == "queued" or stale:
            # its task may be lost (a dead worker, a wiped queue): send another;
            # claiming is atomic, so a duplicate task is a no-op
            what = "stale build taken over" if stale else "still queued, task re-sent"
            return Planned(name, version, suite, existing.id, "requeued",
                           f"{what} (build {existing.id})")
        note = {"done": "already built", "building": "being built"}[existing.status]
        return Planned(name, version, suite, existing.id, existing.status,
                       f"{note} (build {existing.id}): nothing to do")
    # new, or done but another identity's build came after it (a recipe changed back):
    # a new build, whose counter makes its version the highest
    build = Build(source_package_id=source.id, recipe_digest=recipe, env_digest=env,
                  origin=origin, status="queued", campaign=campaign, architecture=arch,
                  version_mark=settings.worker.version_mark,
                  version_counter=version_counter(session, name, version, recipe,
                                                  counter_env))
    session.add(build)
    session.flush()
    return Planned(name, version, suite, build.id, "queued")
