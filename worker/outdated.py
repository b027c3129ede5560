"""Which of our sources Debian has moved past: the catalog against the upstream Sources.

Ours is the newest `done` build of each source name (what a publish carries); the
upstream's is the highest version of that source in any configured suite (security
and updates suites included, when the upstream configuration lists them). A source
is outdated when the upstream's version sorts above the version we built from, in
dpkg's order; a repack also when the upstream rebuilt its binaries without a new
source version (a binNMU: `1.0-1+b1` where we repacked `1.0-1`). `rebuild --outdated`
plans a build of each at the upstream's version, made the way its last build was
(repack or source build); a binNMU'd repack is a new build identity (its upstream
binaries are part of it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from debian.debian_support import version_compare
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from archive.catalog.models import Build


@dataclass(frozen=True)
class Built:
    """The newest done build of a source."""

    source: str
    version: str  # the upstream source version it was built from
    suite: str
    origin: str  # repack | source-build
    build_id: int
    #: (binary, Debian's version) of what the build made from the upstream's binaries
    binaries: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Outdated:
    source: str
    ours: str  # the upstream version our newest build was made from
    upstream: str  # the newest upstream version
    suite: str  # the upstream suite that has it
    origin: str  # how our build was made
    build_id: int
    #: a repack whose upstream binaries moved (binNMU): "name version" of each
    rebuilt: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {"source": self.source, "ours": self.ours, "upstream": self.upstream,
                "suite": self.suite, "origin": self.origin, "build_id": self.build_id,
                "binnmu": list(self.rebuilt)}


def newest_builds(session: Session, names: Iterable[str] = ()) -> list[Built]:
    """The newest done build of each source name (of `names`, when given), by name."""
    wanted = set(names)
    newest: dict[str, Built] = {}
    query = (select(Build).where(Build.status == "done").order_by(Build.id)
             .options(joinedload(Build.source_package), selectinload(Build.binaries)))
    for build in session.scalars(query):
        source = build.source_package
        if wanted and source.name not in wanted:
            continue
        newest[source.name] = Built(
            source.name, source.version, source.suite, build.origin, build.id,
            tuple(sorted((b.name, b.original_version or b.version) for b in build.binaries)))
    return [newest[name] for name in sorted(newest)]


def newest_upstream(sources: Iterable[tuple[str, str, str]]) -> dict[str, tuple[str, str]]:
    """Source name -> (highest version, its suite), over (suite, name, version) rows;
    on equal versions the first suite listed wins."""
    best: dict[str, tuple[str, str]] = {}
    for suite, name, version in sources:
        known = best.get(name)
        if known is None or version_compare(version, known[0]) > 0:
            best[name] = (version, suite)
    return best


def outdated(built: Iterable[Built], upstream: dict[str, tuple[str, str]],
             binaries: Mapping[tuple[str, str], Mapping[str, str]] | None = None
             ) -> list[Outdated]:
    """The builds whose source the upstream has a higher version of, by name; with
    `binaries` ((source, version) -> binary -> the upstream's version of it, see
    `worker.environment.repack_inputs`), also the repacks whose upstream binaries have
    a higher version than the one we repacked."""
    out = []
    for item in built:
        newer = upstream.get(item.source)
        if newer is not None and version_compare(newer[0], item.version) > 0:
            out.append(Outdated(item.source, item.version, newer[0], newer[1], item.origin,
                                item.build_id))
            continue
        if item.origin != "repack" or binaries is None:
            continue
        theirs = binaries.get((item.source, item.version), {})
        moved = tuple(f"{name} {theirs[name]}" for name, ours in item.binaries
                      if name in theirs and version_compare(theirs[name], ours) > 0)
        if moved:
            out.append(Outdated(item.source, item.version, item.version, item.suite,
                                item.origin, item.build_id, moved))
    return sorted(out, key=lambda o: o.source)
