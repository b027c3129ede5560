"""Planning a campaign (client side): which builds to queue, which are already done.

A build's identity is (source, version, recipe digest, environment digest). If a
build with that identity is done, or queued/building, the request is a no-op that
says so; otherwise a `build` row is created in state `queued`, to be claimed by a
worker.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from archive.catalog.models import Build
from archive.catalog.queries import add_source
from archive.upstream.mirror import Upstream
from base.console import Reporter
from recipes.policy import load_policy
from worker.environment import campaign_recipe, env_digest
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


def version_counter(session: Session, source_id: int, recipe: str, env: str) -> int:
    """The counter of the version mark of a build of this identity: the one an earlier
    attempt of the same identity had (a failed build retried makes the same bytes'
    version), else one more than any build of this source version had: a new recipe,
    policy or environment gives new bytes a new, higher version."""
    same = session.scalars(
        select(Build.version_counter)
        .where(Build.source_package_id == source_id, Build.recipe_digest == recipe,
               Build.env_digest == env, Build.version_counter.is_not(None))
        .order_by(Build.id.desc())
    ).first()
    if same is not None:
        return same
    highest = session.scalar(select(func.max(Build.version_counter))
                             .where(Build.source_package_id == source_id))
    return (highest or 0) + 1


def plan(
    settings: FarmSettings,
    sessions: sessionmaker[Session],
    specs: list[str],
    origin: str,
    campaign: str,
    arch: str,
    reporter: Reporter,
) -> list[Planned]:
    policy = load_policy()
    found = []
    with Upstream(settings.data_dir, settings.upstream, reporter=reporter) as upstream:
        for spec in specs:
            name, _, version = spec.partition("=")
            suite, record = upstream.find_source(name, version or None)
            found.append((suite.entry.suite, record))
    planned: list[Planned] = []
    for suite_name, record in found:
        _, digest_recipe, _ = campaign_recipe(policy, record.package,
                                              settings.worker.recipes_dir)
        digest_env = env_digest(settings, origin, arch, suite_name)
        with sessions.begin() as session:
            source = add_source(session, record.package, record.version, suite_name,
                                record.dsc.sha256)
            existing = session.scalars(
                select(Build)
                .where(Build.source_package_id == source.id,
                       Build.recipe_digest == digest_recipe,
                       Build.env_digest == digest_env,
                       Build.status.in_(("done", "queued", "building")))
                .order_by(Build.id.desc())
            ).first()
            if existing is not None:
                stale = existing.status == "building" and (
                    existing.heartbeat_at is None
                    or existing.heartbeat_at < now() - timedelta(seconds=settings.worker.lease))
                if existing.status == "queued" or stale:
                    # its task may be lost (a dead worker, a wiped queue): send another;
                    # claiming is atomic, so a duplicate task is a no-op
                    what = "stale build taken over" if stale else "still queued, task re-sent"
                    planned.append(Planned(record.package, record.version, suite_name,
                                           existing.id, "requeued",
                                           f"{what} (build {existing.id})"))
                    continue
                note = {"done": "already built", "building": "being built"}[existing.status]
                planned.append(Planned(record.package, record.version, suite_name,
                                       existing.id, existing.status,
                                       f"{note} (build {existing.id}): nothing to do"))
                continue
            build = Build(source_package_id=source.id, recipe_digest=digest_recipe,
                          env_digest=digest_env, origin=origin, status="queued",
                          campaign=campaign,
                          version_counter=version_counter(session, source.id, digest_recipe,
                                                          digest_env))
            session.add(build)
            session.flush()
            planned.append(Planned(record.package, record.version, suite_name, build.id,
                                   "queued"))
    return planned
