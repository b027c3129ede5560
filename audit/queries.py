"""Audit queries over the catalog: what the rebuilds dropped, added and translated.

Every function takes a SQLAlchemy `Session` and returns plain frozen dataclasses,
sorted deterministically in Python (the same order on SQLite and on PostgreSQL,
whatever the server's collation). Each call issues a fixed number of SQL statements
(joins, `selectinload`), never one per row; lookups go through the catalog's indexes
(`relation_change.relation_name`, `relation_change.reason`, `binary_package.name`).

By default only the *current* builds count: for each source name, the newest build
with status `done` (the rule `archive.publish.selection.select_published` applies to
what is published). `all_builds=True` looks at every done build instead (superseded
ones too); failed or unfinished builds never have binaries.

These functions are a stable interface: the `audit` and `diff` commands and the HTML
report (`audit.report`) use them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, and_, case, func, or_, select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.sql.elements import ColumnElement

from archive.catalog.models import (
    SCRIPT_NAMES,
    BinaryPackage,
    Build,
    Image,
    ImagePackage,
    RelationChange,
    ScriptRewrite,
    SourcePackage,
)
from recipes.policy import PACKAGE_NAME

# The first package name of each alternative of an OR-group ("a (>= 1) | b:any" -> a, b).
_ALTERNATIVE = re.compile(r"\s*([a-z0-9][a-z0-9+.-]*)")
_SCRIPT_ORDER = {name: index for index, name in enumerate(SCRIPT_NAMES)}


# -- rows ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RelationRow:
    """One relation dropped from (or added to) a binary, and why."""

    source: str
    binary: str
    version: str
    architecture: str
    build_id: int
    field: str  # Pre-Depends, Depends, Recommends
    relation: str  # the whole OR-group as written, e.g. "debconf (>= 0.5) | debconf-2.0"
    action: str  # dropped | added
    reason: str  # implicit-essential | script-only | recipe
    detail: str | None


@dataclass(frozen=True)
class ScriptRow:
    """A maintainer script of a binary: what it was and what it became.

    `status` is "kept" when the package ships the original script unchanged (a recipe
    keeps it as is), "translated" otherwise; a translated script whose actions need no
    shell (or a debconf `config` script) ships no script at all (`rendered` is None).
    """

    script: str
    status: str
    original_sha256: str
    action_names: tuple[str, ...]  # the `Action:` of each stanza, in order
    actions: str  # the deb822 actions text
    original: str
    rendered: str | None


@dataclass(frozen=True)
class BinaryReport:
    """A rebuilt binary with its relation changes and script rewrites."""

    source: str
    source_version: str
    binary: str
    version: str
    architecture: str
    build_id: int
    origin: str  # source-build | repack
    recipe_digest: str
    sha256: str
    original_sha256: str | None
    installed_size: int | None  # KiB, ours
    original_installed_size: int | None  # KiB, upstream
    original_control: str | None
    control: str | None
    relations: tuple[RelationRow, ...]
    scripts: tuple[ScriptRow, ...]


@dataclass(frozen=True)
class Summary:
    """Totals over the selected builds.

    Installed sizes (KiB) are summed over the binaries that record both figures
    (`sized_binaries` of them); catalogs written before revision 0003 lack them.
    """

    sources: int
    binaries: int
    failed_builds: int  # build attempts that failed (any source, any time)
    dropped: dict[str, int] = field(default_factory=dict)  # reason -> relations
    added: dict[str, int] = field(default_factory=dict)  # reason -> relations
    scripts_translated: int = 0
    scripts_kept: int = 0
    sized_binaries: int = 0
    installed_size_before: int = 0
    installed_size_after: int = 0

    @property
    def relations_dropped(self) -> int:
        return sum(self.dropped.values())


@dataclass(frozen=True)
class DroppedName:
    """A package that relations were dropped on: how many binaries lost it, and why."""

    name: str
    reason: str
    binaries: int
    relations: int


@dataclass(frozen=True)
class ImageRow:
    """An image recorded by `bootstrap`."""

    id: int
    name: str
    roots: str
    format: str
    output: str
    digest: str | None
    suite: str
    created_at: datetime
    packages: int
    installed_size: int  # KiB
    upstream_count: int | None
    upstream_installed_size: int | None


@dataclass(frozen=True)
class ImagePackageRow:
    """A package installed in an image, and the chain of relations that pulled it in."""

    image: str
    name: str
    version: str
    architecture: str
    source: str
    installed_size: int
    depends: str
    why: str


# -- helpers ------------------------------------------------------------------------


def check_name(name: str) -> str:
    """`name` if it is a Debian package name; ValueError otherwise."""
    if not PACKAGE_NAME.fullmatch(name):
        raise ValueError(f"not a Debian package name: {name!r}")
    return name


def alternatives(relation: str) -> list[str]:
    """The package names of an OR-group: 'debconf (>= 0.5) | debconf-2.0' → both."""
    names = []
    for part in relation.split("|"):
        match = _ALTERNATIVE.match(part)
        if match:
            names.append(match.group(1))
    return names


def current_builds() -> Select[Any]:
    """The ids of the current builds: the newest `done` build of each source name."""
    return (
        select(func.max(Build.id))
        .join(SourcePackage, Build.source_package_id == SourcePackage.id)
        .where(Build.status == "done")
        .group_by(SourcePackage.name)
    )


def _selected(all_builds: bool) -> ColumnElement[bool]:
    """The condition on `Build` (joined by every query) that selects the builds."""
    if all_builds:
        return Build.status == "done"
    return Build.id.in_(current_builds().scalar_subquery())


def _relation_rows(session: Session, *conditions: ColumnElement[bool],
                   all_builds: bool) -> list[RelationRow]:
    query = (
        select(SourcePackage.name, BinaryPackage.name, BinaryPackage.version,
               BinaryPackage.architecture, BinaryPackage.build_id, RelationChange.field,
               RelationChange.relation, RelationChange.action, RelationChange.reason,
               RelationChange.detail)
        .select_from(RelationChange)
        .join(BinaryPackage, RelationChange.binary_id == BinaryPackage.id)
        .join(Build, BinaryPackage.build_id == Build.id)
        .join(SourcePackage, Build.source_package_id == SourcePackage.id)
        .where(_selected(all_builds), *conditions)
    )
    return [RelationRow(*cast(tuple[Any, ...], row)) for row in session.execute(query)]


def _relation_key(row: RelationRow) -> tuple[str, str, str, int, str, str, str, str]:
    return (row.binary, row.architecture, row.version, row.build_id, row.field,
            row.relation, row.action, row.reason)


# -- relation queries -----------------------------------------------------------------


def dropped(session: Session, package_name: str, *, all_builds: bool = False) -> list[RelationRow]:
    """Every relation on `package_name` dropped from a binary, with its reason.

    A relation matches when any alternative of its OR-group names the package, with
    an exact name boundary: `perl-base` matches `perl-base`, `perl-base (>= 5.32)`,
    `perl-base:any` and `foo | perl-base`, never `perl-base-foo`. The first alternative
    is found through the indexed `relation_name`; later ones by a `LIKE '%|%name%'`
    filter on the (rare) OR-groups, checked exactly in Python afterwards.
    """
    check_name(package_name)
    rows = _relation_rows(
        session,
        RelationChange.action == "dropped",
        or_(RelationChange.relation_name == package_name,
            RelationChange.relation.like(f"%|%{package_name}%")),
        all_builds=all_builds,
    )
    return sorted((row for row in rows if package_name in alternatives(row.relation)),
                  key=_relation_key)


def by_reason(session: Session, reason: str, *, action: str | None = None,
              all_builds: bool = False) -> list[RelationRow]:
    """Every relation change with `reason`, dropped and added (or only `action`'s)."""
    conditions = [RelationChange.reason == reason]
    if action is not None:
        conditions.append(RelationChange.action == action)
    return sorted(_relation_rows(session, *conditions, all_builds=all_builds),
                  key=_relation_key)


def top_dropped(session: Session, *, all_builds: bool = False) -> list[DroppedName]:
    """The packages relations were dropped on (first alternative), most binaries first."""
    query = (
        select(RelationChange.relation_name, RelationChange.reason,
               func.count(func.distinct(RelationChange.binary_id)), func.count())
        .join(BinaryPackage, RelationChange.binary_id == BinaryPackage.id)
        .join(Build, BinaryPackage.build_id == Build.id)
        .where(_selected(all_builds), RelationChange.action == "dropped")
        .group_by(RelationChange.relation_name, RelationChange.reason)
    )
    rows = [DroppedName(name or "", reason, binaries, relations)
            for name, reason, binaries, relations in session.execute(query)]
    return sorted(rows, key=lambda r: (-r.binaries, -r.relations, r.name, r.reason))


# -- binaries -------------------------------------------------------------------------


def _script_row(script: ScriptRewrite) -> ScriptRow:
    kept = script.rendered is not None and script.rendered == script.original
    names = tuple(line.split(":", 1)[1].strip() for line in script.actions.splitlines()
                  if line.startswith("Action:"))
    return ScriptRow(script.script, "kept" if kept else "translated", script.original_sha256,
                     names, script.actions, script.original, script.rendered)


def _report(binary: BinaryPackage, build: Build, source: SourcePackage) -> BinaryReport:
    relations = sorted(
        (RelationRow(source.name, binary.name, binary.version, binary.architecture, build.id,
                     c.field, c.relation, c.action, c.reason, c.detail)
         for c in binary.relation_changes),
        key=_relation_key)
    scripts = sorted((_script_row(s) for s in binary.script_rewrites),
                     key=lambda s: _SCRIPT_ORDER.get(s.script, len(_SCRIPT_ORDER)))
    return BinaryReport(
        source=source.name, source_version=source.version, binary=binary.name,
        version=binary.version, architecture=binary.architecture, build_id=build.id,
        origin=build.origin, recipe_digest=build.recipe_digest, sha256=binary.sha256,
        original_sha256=binary.original_sha256, installed_size=binary.installed_size,
        original_installed_size=binary.original_installed_size,
        original_control=binary.original_control, control=binary.control,
        relations=tuple(relations), scripts=tuple(scripts))


def _reports(session: Session, condition: ColumnElement[bool],
             all_builds: bool) -> list[BinaryReport]:
    query = (
        select(BinaryPackage, Build, SourcePackage)
        .join(Build, BinaryPackage.build_id == Build.id)
        .join(SourcePackage, Build.source_package_id == SourcePackage.id)
        .where(_selected(all_builds), condition)
        .options(selectinload(BinaryPackage.relation_changes),
                 selectinload(BinaryPackage.script_rewrites))
    )
    reports = [_report(b, build, s) for b, build, s in session.execute(query)]
    return sorted(reports, key=lambda r: (r.binary, r.architecture, -r.build_id))


def package(session: Session, binary_name: str, *,
            all_builds: bool = False) -> list[BinaryReport]:
    """The binary `binary_name` (one report per architecture and selected build)."""
    check_name(binary_name)
    return _reports(session, BinaryPackage.name == binary_name, all_builds)


def binaries_of(session: Session, name: str, *, all_builds: bool = False) -> list[BinaryReport]:
    """The binary called `name`, or else every binary of the source called `name`."""
    check_name(name)
    reports = _reports(session, or_(BinaryPackage.name == name, SourcePackage.name == name),
                       all_builds)
    exact = [r for r in reports if r.binary == name]
    return exact or reports


# -- totals ---------------------------------------------------------------------------


def summary(session: Session, *, all_builds: bool = False) -> Summary:
    """Counts of the selected builds: binaries, relations by reason, scripts, sizes."""
    selected = _selected(all_builds)
    sized = and_(BinaryPackage.installed_size.is_not(None),
                 BinaryPackage.original_installed_size.is_not(None))
    binaries = session.execute(
        select(func.count(), func.count(case((sized, 1))),
               func.coalesce(func.sum(case((sized, BinaryPackage.original_installed_size))), 0),
               func.coalesce(func.sum(case((sized, BinaryPackage.installed_size))), 0))
        .select_from(BinaryPackage).join(Build, BinaryPackage.build_id == Build.id)
        .where(selected)
    ).one()
    sources, failed = session.execute(
        select(func.count(func.distinct(case((selected, SourcePackage.name)))),
               func.count(case((Build.status == "failed", 1))))
        .select_from(Build).join(SourcePackage, Build.source_package_id == SourcePackage.id)
    ).one()
    counts: dict[str, dict[str, int]] = {"dropped": {}, "added": {}}
    for action, reason, number in session.execute(
        select(RelationChange.action, RelationChange.reason, func.count())
        .join(BinaryPackage, RelationChange.binary_id == BinaryPackage.id)
        .join(Build, BinaryPackage.build_id == Build.id)
        .where(selected).group_by(RelationChange.action, RelationChange.reason)
    ):
        counts.setdefault(action, {})[reason] = number
    kept_case = case((and_(ScriptRewrite.rendered.is_not(None),
                           ScriptRewrite.rendered == ScriptRewrite.original), 1))
    scripts_total, scripts_kept = session.execute(
        select(func.count(), func.count(kept_case))
        .select_from(ScriptRewrite)
        .join(BinaryPackage, ScriptRewrite.binary_id == BinaryPackage.id)
        .join(Build, BinaryPackage.build_id == Build.id)
        .where(selected)
    ).one()
    count, sized_count, before, after = binaries
    return Summary(
        sources=int(sources or 0), binaries=int(count), failed_builds=int(failed or 0),
        dropped=dict(sorted(counts["dropped"].items())),
        added=dict(sorted(counts["added"].items())),
        scripts_translated=int(scripts_total) - int(scripts_kept),
        scripts_kept=int(scripts_kept), sized_binaries=int(sized_count),
        installed_size_before=int(before), installed_size_after=int(after))


# -- images ---------------------------------------------------------------------------


def images(session: Session) -> list[ImageRow]:
    """Every image `bootstrap` recorded, oldest first, with its number of packages."""
    counts = (select(ImagePackage.image_id, func.count().label("n"))
              .group_by(ImagePackage.image_id).subquery())
    query = (select(Image, func.coalesce(counts.c.n, 0))
             .outerjoin(counts, counts.c.image_id == Image.id))
    rows = [ImageRow(i.id, i.name, i.roots, i.format, i.output, i.digest, i.suite,
                     i.created_at, int(n), i.installed_size, i.upstream_count,
                     i.upstream_installed_size)
            for i, n in session.execute(query)]
    return sorted(rows, key=lambda r: (r.created_at, r.id))


def image_packages(session: Session, image: str | int) -> list[ImagePackageRow]:
    """The packages of an image, by id or by name (the newest image of that name)."""
    if isinstance(image, int):
        image_id: int | None = image
    else:
        image_id = session.scalar(select(Image.id).where(Image.name == image)
                                  .order_by(Image.created_at.desc(), Image.id.desc()).limit(1))
    if image_id is None:
        return []
    query = (select(Image.name, ImagePackage.name, ImagePackage.version,
                    ImagePackage.architecture, ImagePackage.source,
                    ImagePackage.installed_size, ImagePackage.depends, ImagePackage.why)
             .join(Image, ImagePackage.image_id == Image.id)
             .where(ImagePackage.image_id == image_id))
    return sorted((ImagePackageRow(*row) for row in session.execute(query)),
                  key=lambda r: (r.name, r.architecture))
