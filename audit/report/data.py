"""What the report shows, read from the catalog in a handful of queries (no N+1).

The report describes the archive as `publish` would render it: the newest `done` build
of each source name and its binaries (a binary built by several sources is taken from
the newest build), plus every recorded image with its packages.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload, selectinload

from archive.catalog.models import (
    BinaryPackage,
    Build,
    Image,
    ImagePackage,
    SourcePackage,
)

REASON_ORDER = ("implicit-essential", "script-only", "recipe")
"""Reasons shown first, in this order; any other reason follows, sorted."""


@dataclass(frozen=True)
class RelationRow:
    field: str
    relation: str
    action: str  # dropped / added
    reason: str
    detail: str | None


@dataclass(frozen=True)
class ScriptRow:
    script: str
    status: str  # translated / kept
    original: str
    actions: str
    rendered: str | None  # None: nothing left to run, the script was removed


@dataclass(frozen=True)
class BinaryRow:
    name: str
    version: str
    architecture: str
    source: str
    source_version: str
    build_id: int
    origin: str
    recipe_digest: str
    sha256: str
    size: int
    filename: str
    installed_size: int | None  # KiB, ours
    original_installed_size: int | None  # KiB, upstream
    original_control: str | None
    control: str | None
    relations: tuple[RelationRow, ...]
    scripts: tuple[ScriptRow, ...]

    @property
    def dropped(self) -> int:
        return sum(r.action == "dropped" for r in self.relations)

    @property
    def added(self) -> int:
        return sum(r.action == "added" for r in self.relations)

    @property
    def translated(self) -> int:
        return sum(s.status == "translated" for s in self.scripts)

    @property
    def kept(self) -> int:
        return sum(s.status == "kept" for s in self.scripts)


@dataclass(frozen=True)
class ImagePackageRow:
    name: str
    version: str
    architecture: str
    source: str
    installed_size: int  # KiB
    depends: str
    why: tuple[str, ...]  # the chain of relations from a root


@dataclass(frozen=True)
class ImageRow:
    id: int
    name: str
    roots: tuple[str, ...]
    output: str
    format: str
    digest: str | None
    archive: str
    suite: str
    created_at: datetime
    installed_size: int  # KiB
    upstream_count: int | None
    upstream_installed_size: int | None  # KiB
    packages: tuple[ImagePackageRow, ...]

    @property
    def count_ratio(self) -> float | None:
        return _ratio(len(self.packages), self.upstream_count)

    @property
    def size_ratio(self) -> float | None:
        return _ratio(self.installed_size, self.upstream_installed_size)


@dataclass(frozen=True)
class FailedBuild:
    source: str
    version: str
    build_id: int
    error: str


@dataclass(frozen=True)
class Summary:
    sources_rebuilt: int
    binaries: int
    builds_by_status: dict[str, int]  # every attempt
    dropped_by_reason: dict[str, int]  # REASON_ORDER first
    dropped: int
    added: int
    scripts_translated: int
    scripts_kept: int
    sized_binaries: int  # binaries whose size is known before and after
    installed_before: int  # KiB, upstream, over the sized binaries
    installed_after: int  # KiB, ours, over the sized binaries
    images: int

    @property
    def size_ratio(self) -> float | None:
        return _ratio(self.installed_after, self.installed_before)


@dataclass(frozen=True)
class ReportData:
    summary: Summary
    binaries: tuple[BinaryRow, ...]  # sorted by name, architecture
    images: tuple[ImageRow, ...]  # sorted by id
    failed: tuple[FailedBuild, ...] = field(default=())  # newest attempt failed

    def binary_names(self) -> frozenset[str]:
        return frozenset(b.name for b in self.binaries)


def _ratio(ours: int, theirs: int | None) -> float | None:
    return ours / theirs if theirs else None


def script_status(original: str, rendered: str | None) -> str:
    """`kept`: the recipe keeps the script as shipped (the rewritten .deb holds it unchanged)."""
    return "kept" if rendered is not None and rendered == original else "translated"


def reason_key(reason: str) -> tuple[int, str]:
    return (REASON_ORDER.index(reason) if reason in REASON_ORDER else len(REASON_ORDER), reason)


def _binary_row(binary: BinaryPackage) -> BinaryRow:
    build = binary.build
    relations = sorted(
        (RelationRow(c.field, c.relation, c.action, c.reason, c.detail)
         for c in binary.relation_changes),
        key=lambda r: (r.action != "dropped", r.field, r.relation, r.reason, r.detail or ""))
    scripts = sorted(
        (ScriptRow(s.script, script_status(s.original, s.rendered), s.original, s.actions,
                   s.rendered) for s in binary.script_rewrites),
        key=lambda s: s.script)
    return BinaryRow(
        name=binary.name, version=binary.version, architecture=binary.architecture,
        source=build.source_package.name, source_version=build.source_package.version,
        build_id=build.id, origin=build.origin, recipe_digest=build.recipe_digest,
        sha256=binary.sha256, size=binary.size, filename=binary.filename,
        installed_size=binary.installed_size,
        original_installed_size=binary.original_installed_size,
        original_control=binary.original_control, control=binary.control,
        relations=tuple(relations), scripts=tuple(scripts))


def load_binaries(session: Session) -> tuple[BinaryRow, ...]:
    """The binaries of the newest `done` build of each source name (as `publish` takes)."""
    newest = (select(func.max(Build.id)).join(Build.source_package)
              .where(Build.status == "done").group_by(SourcePackage.name))
    query = (select(BinaryPackage).where(BinaryPackage.build_id.in_(newest))
             .order_by(BinaryPackage.build_id, BinaryPackage.id)
             .options(joinedload(BinaryPackage.build).joinedload(Build.source_package),
                      selectinload(BinaryPackage.relation_changes),
                      selectinload(BinaryPackage.script_rewrites)))
    chosen: dict[tuple[str, str], BinaryPackage] = {}
    for binary in session.scalars(query):
        chosen[(binary.name, binary.architecture)] = binary  # the newest build wins
    return tuple(_binary_row(chosen[key]) for key in sorted(chosen))


def load_failed(session: Session) -> tuple[FailedBuild, ...]:
    """Sources whose newest build attempt failed."""
    newest = (select(func.max(Build.id)).join(Build.source_package)
              .group_by(SourcePackage.name))
    query = (select(Build).where(Build.id.in_(newest), Build.status == "failed")
             .options(joinedload(Build.source_package)))
    rows = [FailedBuild(b.source_package.name, b.source_package.version, b.id,
                        (b.error or "").strip().splitlines()[0] if (b.error or "").strip()
                        else "(no error recorded)")
            for b in session.scalars(query)]
    return tuple(sorted(rows, key=lambda f: f.source))


def _why(text: str) -> tuple[str, ...]:
    return tuple(step for step in text.split(" -> ") if step) if text else ()


def load_images(session: Session) -> tuple[ImageRow, ...]:
    query = select(Image).order_by(Image.id).options(selectinload(Image.packages))
    images = []
    for image in session.scalars(query):
        packages = sorted(image.packages, key=lambda p: (p.name, p.architecture))
        images.append(ImageRow(
            id=image.id, name=image.name, roots=tuple(image.roots.split()),
            output=image.output, format=image.format, digest=image.digest,
            archive=image.archive, suite=image.suite, created_at=image.created_at,
            installed_size=image.installed_size, upstream_count=image.upstream_count,
            upstream_installed_size=image.upstream_installed_size,
            packages=tuple(_image_package(p) for p in packages)))
    return tuple(images)


def _image_package(package: ImagePackage) -> ImagePackageRow:
    return ImagePackageRow(package.name, package.version, package.architecture,
                           package.source, package.installed_size, package.depends,
                           _why(package.why))


def summarize(binaries: tuple[BinaryRow, ...], builds_by_status: dict[str, int],
              images: int) -> Summary:
    reasons: Counter[str] = Counter(
        r.reason for b in binaries for r in b.relations if r.action == "dropped")
    sized = [b for b in binaries
             if b.installed_size is not None and b.original_installed_size is not None]
    return Summary(
        sources_rebuilt=len({b.source for b in binaries}),
        binaries=len(binaries),
        builds_by_status=builds_by_status,
        dropped_by_reason={r: reasons[r] for r in sorted(reasons, key=reason_key)},
        dropped=sum(reasons.values()),
        added=sum(b.added for b in binaries),
        scripts_translated=sum(b.translated for b in binaries),
        scripts_kept=sum(b.kept for b in binaries),
        sized_binaries=len(sized),
        installed_before=sum(b.original_installed_size or 0 for b in sized),
        installed_after=sum(b.installed_size or 0 for b in sized),
        images=images,
    )


def load_report(session: Session) -> ReportData:
    """Everything the report shows (five queries, whatever the catalog's size)."""
    binaries = load_binaries(session)
    images = load_images(session)
    counts = session.execute(select(Build.status, func.count(Build.id)).group_by(Build.status))
    statuses = {status: count for status, count in sorted(counts.all())}
    return ReportData(summary=summarize(binaries, statuses, len(images)), binaries=binaries,
                      images=images, failed=load_failed(session))

