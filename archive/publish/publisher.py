"""Publish the catalog as a signed APT archive, atomically, with snapshots.

    <root>/pool/main/h/hello/hello_2.10-3_amd64.deb      additive, never rewritten
    <root>/snapshots/<suite>/<id>/                        one complete dists/<suite> tree
    <root>/dists/<suite> -> ../snapshots/<suite>/<id>     switched with one rename

A publish writes a new snapshot beside the served one — indices, by-hash copies (its
own and those of the previous snapshots kept, so a client holding an older InRelease
still finds the indices it names), Release, InRelease and Release.gpg — and only then
replaces the `dists/<suite>` symlink. A failure leaves the previous archive served.
"""

from __future__ import annotations

import fcntl
import gc
import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from archive.artifacts import ArtifactStore
from archive.catalog.db import catalog_errors, make_engine, require_current, session_factory
from archive.catalog.models import Publication
from archive.digests import is_digest
from archive.publish.common import Hashes, hashes, keyed_index, stanza_head
from archive.publish.compress import PieceCache, compress_all
from archive.publish.contents import contents_index
from archive.publish.facts import FactCache, StanzaCache
from archive.publish.packages import PACKAGES_KEY, packages_stanza
from archive.publish.pool import Pool, PoolEntry
from archive.publish.release import ReleaseFields, by_hash_paths, release_text
from archive.publish.selection import BinaryItem, SourceItem, load_facts, select_published
from archive.publish.snapshots import Snapshots
from archive.publish.sources import SOURCES_KEY, sources_stanza
from archive.publish_settings import PublishTarget, root_problem
from archive.signing import SigningKeys
from archive.storage import storage_errors
from archive.upstream.cache import Cache
from archive.upstream.index import parse_checksums
from archive.upstream.mirror import Upstream, host_architecture
from base.atomic import write_bytes
from base.console import Reporter
from base.deb822 import parse_one
from base.errors import (
    ConfigError,
    FormatError,
    IntegrityError,
    MirrorUnreachable,
    NotFoundError,
    SignatureError,
    TruncatedDownload,
)


@dataclass
class PublishResult:
    suite: str
    snapshot: str
    root: Path
    release_sha256: str
    fingerprints: list[str]
    packages: int
    sources: int
    new_pool_files: int
    reused: bool = False
    files: dict[str, Hashes] = field(default_factory=dict)
    #: sources left out (publish.sources = "available"): source, version, problem
    missing_sources: list[dict[str, str]] = field(default_factory=list)


def archive_root(settings: PublishTarget) -> Path:
    """The public archive's root; ConfigError if it would expose the data directory."""
    root = settings.publish.effective_root(settings.data_dir)
    problem = root_problem(root, settings.data_dir)
    if problem is not None:
        raise ConfigError("publish.root", f"{root} {problem}")
    return root


def _sources(settings: PublishTarget, items: list[SourceItem], reporter: Reporter,
             pool: Pool, missing_out: list[dict[str, str]] | None = None
             ) -> tuple[list[tuple[list[str], str]], list[PoolEntry]]:
    """Sources stanzas of the published sources (with their sort keys), and the pool
    files they list.

    A source's files come from this host's upstream cache; those not cached are fetched
    from the upstream, each verified against its signed Sources, and the .dsc must be
    the one the build used. With `publish.sources = "required"` (the default) a source
    that cannot be had fails the publish before anything is written: a binary is never
    published without its source."""
    cache = Cache(settings.data_dir)
    store = ArtifactStore(settings.data_dir / "artifacts")
    rendered = StanzaCache(settings.data_dir / "cache" / "publish-sources.json")
    listings = StanzaCache(settings.data_dir / "cache" / "publish-dsc.json")
    used: set[str] = set()
    found = {id(item): _source_files(cache, store, item, listings, pool) for item in items}
    missing = [item for item in items if not item.files and found[id(item)] is None]
    problems: dict[tuple[str, str], str] = {}
    if missing and settings.upstream is not None:
        problems = _fetch_sources(settings, missing, reporter)
        for item in missing:
            found[id(item)] = _source_files(cache, store, item, listings, pool)
    listings.save(keep={sha for entries in found.values() if entries
                        for sha in (entries[0][1],)})
    stanzas: list[tuple[list[str], str]] = []
    entries_out: list[PoolEntry] = []
    for item in items:
        entries = found[id(item)]
        if entries is None:
            problem = problems.get((item.name, item.version)) or (
                "its files are missing from the artifact store" if item.files else
                "its files are not in this host's cache and no upstream is configured")
            if settings.publish.sources == "required":
                raise NotFoundError(
                    f"source {item.name} {item.version}",
                    f"{problem}; a binary is never published without its source (publish."
                    "sources = \"available\" leaves such sources out). Nothing was published")
            reporter.log(f"source {item.name} {item.version}: {problem}: not in Sources")
            if missing_out is not None:
                missing_out.append({"source": item.name, "version": item.version,
                                    "problem": problem})
            continue
        directory = _directory(item.name)
        for name, sha, path in entries:
            entries_out.append(PoolEntry(f"{directory}/{name}", path, sha,
                                  f"source {item.name} {item.version}"))
        # a .dsc names its files by SHA256: the stanza of a given .dsc in a given
        # directory is rendered (its files hashed) once, then kept
        key = f"{entries[0][1]}-{hashlib.sha256(directory.encode()).hexdigest()[:16]}"
        entry = rendered.get(key)
        if entry is None or len(entry) != 1 + len(SOURCES_KEY):
            # read from the local copy, else from the pool (which `present` accepted)
            paths = [path if os.path.isfile(path) else str(pool.root / directory / name)
                     for name, _, path in entries]
            dsc = _read_dsc(entries[0][0], paths[0])
            files = [(name, hashes(Path(path).read_bytes()))
                     for (name, _, _), path in zip(entries, paths, strict=True)]
            try:
                stanza = sources_stanza(dsc, directory=directory, files=files)
            except ValueError as exc:
                raise FormatError(entries[0][0], f"cannot be listed in Sources: {exc}") \
                    from exc
            entry = [stanza, *stanza_head(stanza, SOURCES_KEY)]
            rendered.keep(key, entry)
        used.add(key)
        stanzas.append((entry[1:], entry[0]))
    rendered.save(keep=used)
    return stanzas, entries_out


def _directory(source: str) -> str:
    prefix = source[:4] if source.startswith("lib") else source[:1]
    return f"pool/main/{prefix}/{source}"


def _listing(name: str, path: str, sha256: str, listings: StanzaCache
             ) -> tuple[str, str, list[tuple[str, str]]]:
    """(Source, Version, [(file name, SHA256)]) a .dsc names; read once per SHA256 (a
    .dsc here is stored under its SHA256: what it says never changes)."""
    known = listings.get(sha256)
    if known is not None and len(known) >= 2 and len(known) % 2 == 0:
        return known[0], known[1], list(zip(known[2::2], known[3::2], strict=True))
    dsc = _read_dsc(name, path)
    listed = [(ref.name, ref.sha256) for ref in
              parse_checksums(dsc.get("Checksums-Sha256", ""), name)]
    listings.keep(sha256, [dsc.get("Source", ""), dsc.get("Version", ""),
                           *(value for pair in listed for value in pair)])
    return dsc.get("Source", ""), dsc.get("Version", ""), listed


def _source_files(cache: Cache, store: ArtifactStore, item: SourceItem,
                  listings: StanzaCache, pool: Pool) -> list[tuple[str, str, str]] | None:
    """(file name, SHA256, local copy) of every file of the source, the .dsc first, when
    all of them are here (the artifact store for a source a build made, else the
    upstream cache) or already in the pool with that SHA256 (the pool's check stats
    them); None otherwise. The .dsc's own list must match a made source's."""
    directory = _directory(item.name)

    def present(entries: list[tuple[str, str, str]]) -> bool:
        return all(pool.recorded(f"{directory}/{name}") == sha or os.path.isfile(path)
                   for name, sha, path in entries)

    if item.files:
        made = [(name, sha, store.file(sha)) for name, sha in item.files]
        if not os.path.isfile(made[0][2]) or not present(made[1:]):
            return None  # the .dsc itself is read here
        source, version, listed = _listing(made[0][0], made[0][2], made[0][1], listings)
        if sorted(listed) != sorted(item.files[1:]):
            raise IntegrityError(made[0][0], "the files this .dsc lists are not the ones the "
                                 f"build recorded (build {item.build_id}): nothing was "
                                 "published")
        if (source, version) != (item.name, item.version):
            raise IntegrityError(made[0][0], f"names {source} {version}, not {item.name} "
                                 f"{item.version} (build {item.build_id}): nothing was "
                                 "published")
        return made
    if not is_digest(item.dsc_sha256, "SHA256"):
        return None
    dsc_path = cache.object_file(item.dsc_sha256)
    if not os.path.isfile(dsc_path):
        return None  # read below: a .dsc is always had here
    _, _, listed = _listing(item.dsc_sha256, dsc_path, item.dsc_sha256, listings)
    entries = [(f"{item.name}_{item.version.split(':')[-1]}.dsc", item.dsc_sha256, dsc_path)]
    entries += [(name, sha, cache.object_file(sha)) for name, sha in listed]
    if not present(entries[1:]):
        return None
    return entries


def _fetch_sources(settings: PublishTarget, items: list[SourceItem],
                   reporter: Reporter) -> dict[tuple[str, str], str]:
    """Fetch the sources `items` into the cache from the upstream; what failed, and why."""
    assert settings.upstream is not None
    problems: dict[tuple[str, str], str] = {}
    with Upstream(settings.data_dir, settings.upstream, reporter=reporter) as upstream:
        for item in items:
            reporter.log(f"source {item.name} {item.version}: fetching from the upstream")
            try:
                _, record = upstream.find_source(item.name, item.version)
            except NotFoundError as exc:
                problems[(item.name, item.version)] = f"not in the upstream's Sources ({exc})"
                continue
            except (MirrorUnreachable, TruncatedDownload, IntegrityError, SignatureError) as exc:
                problems[(item.name, item.version)] = f"cannot read the upstream: {exc}"
                continue
            if record.dsc.sha256 == item.dsc_sha256:
                try:
                    upstream.cache_source(item.name, item.version)
                except (NotFoundError, MirrorUnreachable, TruncatedDownload, IntegrityError,
                        SignatureError) as exc:
                    problems[(item.name, item.version)] = (
                        f"listed in the upstream's Sources but cannot be fetched: {exc}")
                    continue
            if record.dsc.sha256 != item.dsc_sha256:
                problems[(item.name, item.version)] = (
                    f"the upstream's .dsc (SHA256 {record.dsc.sha256}) is not the one the "
                    f"build used (SHA256 {item.dsc_sha256})")
    return problems


def _read_dsc(name: str, path: str) -> dict[str, str]:
    """The fields of a .dsc file; FormatError naming it if they do not parse."""
    try:
        with open(path, encoding="utf-8", errors="replace") as stream:
            return dict(parse_one(_dsc_body(stream.read())))
    except ValueError as exc:
        raise FormatError(name, f"not a .dsc: {exc}") from exc


def _dsc_body(text: str) -> str:
    """The fields of a (possibly clearsigned) .dsc."""
    if text.startswith("-----BEGIN PGP SIGNED MESSAGE-----"):
        body = text.split("\n\n", 1)[1]
        return body.split("\n-----BEGIN PGP SIGNATURE-----", 1)[0]
    return text


def publish(
    settings: PublishTarget,
    *,
    date: datetime | None = None,
    valid_for: timedelta | None = None,
    reporter: Reporter | None = None,
) -> PublishResult:
    """Publish the catalog; one publish of an archive root at a time (a file lock).

    A full disk (or another refusal of the file system) is a StorageError; like any
    failure it leaves the previous archive served.
    """
    root = archive_root(settings)
    require_current(settings.database_url)  # before anything is written
    with storage_errors(root):
        _ensure(root)
        with open(root / ".publish.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            # tens of thousands of short-lived lists and strings, next to as many kept
            # (the caches): Python's cyclic collector would walk them all again and
            # again (a quarter of a +1 publish at 10,000) and finds little to free
            collecting = gc.isenabled()
            gc.disable()
            try:
                return _publish(settings, date=date, valid_for=valid_for, reporter=reporter)
            finally:
                if collecting:
                    gc.enable()
                fcntl.flock(lock, fcntl.LOCK_UN)


def _first_arch(settings: PublishTarget) -> str:
    """The architecture builds from before 0007 were made for: the farm's first."""
    configured = settings.upstream.architectures if settings.upstream else None
    return (configured or [host_architecture()])[0]


def _publish(
    settings: PublishTarget,
    *,
    date: datetime | None,
    valid_for: timedelta | None,
    reporter: Reporter | None,
) -> PublishResult:
    reporter = reporter or Reporter(quiet=True)
    pub = settings.publish
    suite = pub.suite
    root = archive_root(settings)
    date = (date or datetime.now(UTC)).replace(microsecond=0)
    store = ArtifactStore(settings.data_dir / "artifacts")
    facts = FactCache(settings.data_dir / "cache" / "publish")
    # a .deb's stanza, section and paths by its SHA256 and pool name: rendered once
    rendered = StanzaCache(settings.data_dir / "cache" / "publish-packages.json")
    engine = make_engine(settings.database_url)
    try:
        with catalog_errors(engine.url), session_factory(engine).begin() as session:
            binaries, sources = select_published(session, _first_arch(settings),
                                                 imported_only=pub.uploads)
            recorded = load_facts(session, [
                item.binary_id for item in binaries
                if rendered.get(_binary_key(item)) is None])
    finally:
        engine.dispose()
    architectures = list(pub.architectures or sorted(
        {b.architecture for b in binaries if b.architecture != "all"}) or ["amd64"])
    keyed: dict[str, list[tuple[list[str], str]]] = {arch: [] for arch in architectures}
    contents: dict[str, list[tuple[str, str]]] = {arch: [] for arch in architectures}
    pool_entries: list[PoolEntry] = []
    pool = Pool(root, settings.data_dir / "cache" / "publish-pool")
    used: set[str] = set()
    with reporter.task("packages", len(binaries), unit="packages") as advance:
        for item in binaries:
            label = f"{item.name} {item.version}"
            if not is_digest(item.sha256, "SHA256"):
                raise FormatError(label, f"catalog SHA256 {item.sha256!r} is not a digest")
            artifact = store.file(item.sha256)
            # the artifact is needed to copy it into the pool, or to read its facts
            if pool.recorded(item.filename) != item.sha256 and not os.path.isfile(artifact):
                raise FormatError(label, f"artifact {item.sha256} is missing from {store.root}")
            pool_entries.append(PoolEntry(item.filename, artifact, item.sha256, label))
            key = _binary_key(item)
            entry = rendered.get(key)
            if entry is None or len(entry) != 3 + len(PACKAGES_KEY):
                deb = recorded.get(item.binary_id) or facts.deb(
                    Path(artifact if os.path.isfile(artifact) else root / item.filename),
                    item.sha256)  # read from the pool when the store no longer has it
                stanza = packages_stanza(deb.control, filename=item.filename,
                                         hashes=deb.hashes)
                entry = [stanza, deb.control.get("Section", "misc"), "\n".join(deb.paths),
                         *stanza_head(stanza, PACKAGES_KEY)]
                rendered.keep(key, entry)
            used.add(key)
            stanza, section, paths = entry[0], entry[1], entry[2]
            for arch in architectures:
                if item.architecture in (arch, "all"):
                    keyed[arch].append((entry[3:], stanza))
                    if paths:
                        qualified = f"{section}/{item.name}"
                        contents[arch] += [(path, qualified) for path in paths.split("\n")]
            advance(1)
    rendered.save(keep=used)
    binary_files: dict[str, bytes] = {}
    for component in pub.components:
        for arch in architectures:
            binary_files[f"{component}/binary-{arch}/Packages"] = keyed_index(keyed[arch])
            binary_files[f"{component}/Contents-{arch}"] = contents_index(contents[arch])
    # pieces of the indices compressed side by side, those of the last publish reused;
    # the binaries' while the sources and the pool are done (zlib and lzma release
    # the GIL)
    pieces = PieceCache(settings.data_dir / "cache" / "publish-pieces")
    threads = min(8, os.cpu_count() or 1)
    missing: list[dict[str, str]] = []
    with ThreadPoolExecutor(max_workers=1) as background:
        packing = background.submit(compress_all, _separated(binary_files), pieces, threads)
        source_stanzas, source_entries = _sources(settings, sources, reporter, pool, missing)
        try:
            # every pool name is checked before any file is copied: a refused publish
            # adds none
            to_copy = pool.plan(pool_entries + source_entries)
            with reporter.task("pool", len(to_copy), unit="files") as advance:
                for copy in to_copy:
                    pool.copy(copy)
                    advance(1)
            pool.sync()
        finally:
            pool.save()
        source_files = {f"{component}/source/Sources": keyed_index(source_stanzas)
                        for component in pub.components}
        packed = compress_all(_separated(source_files), pieces, threads) | packing.result()
    pieces.prune()
    new_files = len(to_copy)
    snapshots = Snapshots(root, suite)
    with SigningKeys(settings.data_dir / "keys") as keys:
        fingerprints = list(pub.signing_keys) or [
            keys.ensure_default(f"{pub.origin} archive signing key").fingerprint]
        result = _write_snapshot(settings, snapshots, packed, date, valid_for, keys,
                                 fingerprints, architectures)
        write_bytes(_ensure(root) / "archive-keyring.asc", keys.export_public(fingerprints),
                    mode=0o644)  # read by web servers and apt's _apt user
    result.packages = len(binaries)
    result.sources = len(source_stanzas)
    result.new_pool_files = new_files
    result.missing_sources = missing
    _record(settings, result)
    snapshots.prune(pub.keep_snapshots)
    return result


def _separated(files: dict[str, bytes]) -> dict[str, tuple[bytes, bytes]]:
    """Each index with what ends one of its records (a Contents line, else a stanza)."""
    return {path: (data, b"\n" if "/Contents-" in path else b"\n\n")
            for path, data in files.items()}


def _binary_key(item: BinaryItem) -> str:
    return f"{item.sha256}:{item.filename}"


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _write_snapshot(
    settings: PublishTarget,
    snapshots: Snapshots,
    packed: dict[str, dict[str, bytes]],
    date: datetime,
    valid_for: timedelta | None,
    keys: SigningKeys,
    fingerprints: list[str],
    architectures: list[str],
) -> PublishResult:
    pub = settings.publish
    files: dict[str, Hashes] = {}
    blobs: dict[str, bytes] = {}
    for path in sorted(packed):
        for suffix, blob in packed[path].items():
            if path.split("/")[-1].startswith("Contents-") and suffix == "":
                continue  # Contents is published compressed only, as on Debian mirrors
            blobs[path + suffix] = blob
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as workers:
        # hashlib releases the GIL: the files' four digests side by side
        files.update(zip(blobs, workers.map(hashes, blobs.values()), strict=True))
    fields = ReleaseFields(
        origin=pub.origin, label=pub.label, suite=pub.suite,
        codename=pub.codename or pub.suite, date=date,
        valid_until=date + valid_for if valid_for else None,
        architectures=tuple(architectures), components=tuple(pub.components),
        description=pub.description, acquire_by_hash=True,
    )
    release = release_text(fields, files).encode()
    release_sha = hashlib.sha256(release).hexdigest()
    existing = snapshots.with_release(release_sha)
    snapshot_id = existing or snapshots.new_id(f"{date:%Y%m%dT%H%M%SZ}", release_sha)
    result = PublishResult(suite=pub.suite, snapshot=snapshot_id, root=snapshots.root,
                           release_sha256=release_sha, fingerprints=fingerprints,
                           packages=0, sources=0, new_pool_files=0, files=files)
    if existing is not None:
        snapshots.switch(snapshot_id)
        result.reused = True
        return result
    # every file durable (base.atomic) before the snapshot is renamed and switched in:
    # a crash never leaves dists/<suite> naming a snapshot with empty files
    with snapshots.staging(snapshot_id) as folder:
        for path, blob in blobs.items():
            target = folder / path
            target.parent.mkdir(parents=True, exist_ok=True)
            write_bytes(target, blob, mode=0o644)
            for by_hash in by_hash_paths(path, files[path]):
                link = folder / by_hash
                link.parent.mkdir(parents=True, exist_ok=True)
                if not link.exists():
                    os.link(target, link)
        snapshots.carry_by_hash(folder)
        write_bytes(folder / "Release", release, mode=0o644)
        write_bytes(folder / "InRelease", keys.clearsign(release, fingerprints), mode=0o644)
        write_bytes(folder / "Release.gpg", keys.detach_sign(release, fingerprints),
                    mode=0o644)
    snapshots.switch(snapshot_id)
    return result


def _record(settings: PublishTarget, result: PublishResult) -> None:
    engine = make_engine(settings.database_url)
    try:
        with catalog_errors(engine.url), session_factory(engine).begin() as session:
            session.add(Publication(suite=result.suite, release_sha256=result.release_sha256,
                                    key_fingerprint=result.fingerprints[0],
                                    snapshot=result.snapshot))
    finally:
        engine.dispose()
