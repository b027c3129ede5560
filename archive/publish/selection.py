"""What a publish contains: the newest successful build of each source in the catalog."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.catalog.models import BinaryPackage, Build, SourceFile, SourcePackage, UploadRecord
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
    binary_id: int = 0  # its row in binary_package (load_facts)


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

    Three SELECTs of the columns it needs, whatever the number of builds; what a
    publish lists of a binary (its control fields, digests and paths) is loaded only
    for the binaries a publish has not rendered before (`load_facts`).
    """
    done = Build.status == "done"
    if imported_only:
        done = done & Build.id.in_(select(UploadRecord.build_id).where(
            UploadRecord.status == "imported"))
    # plain tuples, unpacked: tens of thousands of rows
    newest: dict[tuple[str, str], tuple[int, str | None, str, str, str]] = {}
    for build_id, arch, source_version, name, version, dsc_sha256 in session.execute(
            select(Build.id, Build.architecture, Build.source_version, SourcePackage.name,
                   SourcePackage.version, SourcePackage.dsc_sha256)
            .join(SourcePackage, Build.source_package_id == SourcePackage.id)
            .where(done).order_by(Build.id)):
        newest[(name, arch or legacy_arch)] = (build_id, source_version, name, version,
                                               dsc_sha256)
    chosen = {build[0]: build for build in newest.values()}
    own_files: dict[int, list[tuple[bool, int, str, str]]] = {}
    for build_id, file_id, file_name, file_sha256 in session.execute(
            select(SourceFile.build_id, SourceFile.id, SourceFile.name, SourceFile.sha256)
            .join(Build, SourceFile.build_id == Build.id).where(done)):
        if build_id in chosen:
            own_files.setdefault(build_id, []).append(
                (not file_name.endswith(".dsc"), file_id, file_name, file_sha256))
    by_build: dict[int, list[tuple[int, str, str, str, str, int, str]]] = {}
    rows = session.execute(
            select(BinaryPackage.id, BinaryPackage.build_id, BinaryPackage.name,
                   BinaryPackage.version, BinaryPackage.architecture,
                   BinaryPackage.sha256, BinaryPackage.size, BinaryPackage.filename)
            .join(Build, BinaryPackage.build_id == Build.id).where(done)
            .order_by(BinaryPackage.id))
    for binary_id, build_id, binary, binary_version, arch, sha256, size, filename in rows:
        if build_id in chosen:
            by_build.setdefault(build_id, []).append(
                (binary_id, binary, binary_version, arch, sha256, size, filename))
    binaries: dict[tuple[str, str], BinaryItem] = {}
    sources: list[SourceItem] = []
    listed: set[tuple[str, str]] = set()
    for build_id in sorted(chosen):
        _, source_version, name, version, dsc_sha256 = chosen[build_id]
        if (name, source_version or version) not in listed:
            listed.add((name, source_version or version))
            own = tuple((file, sha) for _, _, file, sha in sorted(own_files.get(build_id, [])))
            if source_version and own:
                sources.append(SourceItem(name, source_version, own[0][1], build_id, own))
            else:
                sources.append(SourceItem(name, version, dsc_sha256, build_id))
        for binary_id, binary, binary_version, arch, sha256, size, filename in by_build.get(
                build_id, []):
            binaries[(binary, arch)] = BinaryItem(binary, binary_version, arch, sha256, size,
                                                  filename, name, build_id, binary_id)
    return (sorted(binaries.values(), key=lambda b: (b.name, b.architecture)),
            sorted(sources, key=lambda s: s.name))


def load_facts(session: Session, binary_ids: list[int]) -> dict[int, DebFacts | None]:
    """What the catalog recorded for a publish to list of each binary (None: recorded
    before migration 0010, or not in its shape: the .deb is read instead)."""
    found: dict[int, DebFacts | None] = {}
    for start in range(0, len(binary_ids), 500):
        for row in session.execute(
                select(BinaryPackage.id, BinaryPackage.control, BinaryPackage.size,
                       BinaryPackage.sha256, BinaryPackage.md5, BinaryPackage.sha1,
                       BinaryPackage.sha512, BinaryPackage.contents)
                .where(BinaryPackage.id.in_(binary_ids[start:start + 500]))):
            found[row.id] = from_catalog(row.control, row.size, row.sha256, row.md5, row.sha1,
                                         row.sha512, row.contents)
    return found
