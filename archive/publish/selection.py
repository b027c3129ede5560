"""What a publish contains: the newest successful build of each source in the catalog."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from archive.catalog.models import Build, UploadRecord
from archive.publish.facts import DebFacts, from_catalog


@dataclass(frozen=True)
class BinaryItem:
    name: str
    version: str
    architecture: str
    sha256: str
    size: int
    filename: str  # pool path, e.g. pool/main/h/hello/hello_2.10-3_amd64.deb
    source: str
    build_id: int
    #: what the worker recorded for the publish to list (None: read from the .deb)
    facts: DebFacts | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class SourceItem:
    name: str
    version: str
    dsc_sha256: str
    build_id: int
    #: a source the build made (a recipe's patches): (file name, SHA256 in the artifact
    #: store), the .dsc first; empty for the upstream's source
    files: tuple[tuple[str, str], ...] = ()


def select_published(session: Session, legacy_arch: str = "", *, imported_only: bool = False
                     ) -> tuple[list[BinaryItem], list[SourceItem]]:
    """The newest `done` build of each source name and architecture, and its binaries.

    A binary (name, architecture) built by several builds (an `all` package of the
    amd64 and the arm64 repack of a source) is taken from the newest. A source version
    is listed once, whatever number of architectures built it. Sorted, so the same
    catalog state gives the same selection. A build from before architectures were
    recorded counts as one for `legacy_arch` (the farm's first architecture). With
    `imported_only`, only builds whose upload the intake imported are candidates.
    """
    newest: dict[tuple[str, str], Build] = {}
    query = select(Build).where(Build.status == "done")
    if imported_only:
        query = query.where(Build.id.in_(select(UploadRecord.build_id).where(
            UploadRecord.status == "imported")))
    query = (query.order_by(Build.id)
             .options(joinedload(Build.source_package), selectinload(Build.binaries),
                      selectinload(Build.source_files)))
    for build in session.scalars(query):
        newest[(build.source_package.name, build.architecture or legacy_arch)] = build
    binaries: dict[tuple[str, str], BinaryItem] = {}
    sources: list[SourceItem] = []
    listed: set[tuple[str, str]] = set()
    for build in sorted(newest.values(), key=lambda b: b.id):
        source = build.source_package
        version = build.source_version or source.version
        if (source.name, version) in listed:
            _add_binaries(binaries, build)
            continue
        listed.add((source.name, version))
        own = tuple((f.name, f.sha256) for f in sorted(
            build.source_files, key=lambda f: (not f.name.endswith(".dsc"), f.id)))
        if build.source_version and own:
            sources.append(SourceItem(source.name, build.source_version, own[0][1], build.id,
                                      own))
        else:
            sources.append(SourceItem(source.name, source.version, source.dsc_sha256,
                                      build.id))
        _add_binaries(binaries, build)
    return (sorted(binaries.values(), key=lambda b: (b.name, b.architecture)),
            sorted(sources, key=lambda s: s.name))


def _add_binaries(binaries: dict[tuple[str, str], BinaryItem], build: Build) -> None:
    for binary in build.binaries:
        binaries[(binary.name, binary.architecture)] = BinaryItem(
            binary.name, binary.version, binary.architecture, binary.sha256, binary.size,
            binary.filename, build.source_package.name, build.id,
            from_catalog(binary.control, binary.size, binary.sha256, binary.md5, binary.sha1,
                         binary.sha512, binary.contents))
