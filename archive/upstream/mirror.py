"""An upstream Debian mirror, read through its signed Release chain.

`Upstream` ties the pieces together: the entries (host APT sources or config), the
verified Release of each suite, verified indices, package lookup and verified
fetches. It is a context manager: what it downloads is staged and enters the cache
(and the destination) only when the whole operation succeeded.
"""

from __future__ import annotations

import gc
import gzip
import hashlib
import lzma
import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from debian.debian_support import version_compare

from archive.settings import UpstreamSettings
from archive.storage import is_storage_error, storage_error
from archive.upstream.aptsources import SignedBy, SourceEntry, read_apt_sources
from archive.upstream.cache import Cache
from archive.upstream.download import Downloader, sha256_file
from archive.upstream.index import (
    BinaryRecord,
    FileRef,
    SourceRecord,
    parse_packages,
    parse_sources,
)
from archive.upstream.parsed import ParsedCache
from archive.upstream.release import Release, check_dates, check_suite, parse_release
from archive.upstream.signature import verify_clearsigned, verify_detached
from archive.urls import display_url
from base.atomic import AtomicFile
from base.console import Reporter
from base.errors import (
    ConfigError,
    FormatError,
    IntegrityError,
    NotFoundError,
    SignatureError,
)

DEFAULT_KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
COMPRESSIONS = (".xz", ".gz", "")


def host_architecture() -> str:
    try:
        out = subprocess.run(
            ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        import platform

        return {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), "amd64")


def host_codename() -> str | None:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("VERSION_CODENAME="):
                return line.split("=", 1)[1].strip().strip('"') or None
    except OSError:
        return None
    return None


def resolve_entries(settings: UpstreamSettings) -> list[SourceEntry]:
    """The upstream entries: from config/--mirror if set, else the host's APT sources."""
    host = read_apt_sources(settings.apt_sources)
    keyring = SignedBy(keyrings=tuple(settings.keyring)) if settings.keyring else None
    if settings.mirror:
        codename = host_codename()
        suites = settings.suites or ([codename] if codename else [])
        if not suites:
            raise ConfigError("upstream.suites", "no suite given and none known from the host")
        if keyring is None:
            keyring = host[0].signed_by if host else SignedBy(keyrings=(DEFAULT_KEYRING,))
        return [
            SourceEntry(
                uri=settings.mirror,
                suite=suite,
                components=tuple(settings.components or ["main"]),
                signed_by=keyring,
                origin="configuration (upstream.mirror)",
            )
            for suite in suites
        ]
    entries = host
    if settings.suites:
        entries = [e for e in entries if e.suite in settings.suites]
    if settings.components:
        wanted = settings.components
        entries = [
            replace(e, components=tuple(c for c in e.components if c in wanted)) for e in entries
        ]
    if keyring is not None:
        entries = [replace(e, signed_by=keyring) for e in entries]
    if not entries:
        where = ", ".join(str(p) for p in settings.apt_sources)
        raise ConfigError(where, "no APT source found; set upstream.mirror or pass --mirror")
    return entries


@dataclass
class Suite:
    """A verified Release of one (URI, suite)."""

    entry: SourceEntry
    release: Release
    signers: tuple[str, ...]

    @property
    def base(self) -> str:
        return f"{self.entry.uri}/dists/{self.entry.suite}"

    @property
    def shown_base(self) -> str:
        """`base` as messages show it: a password in the mirror URL is masked."""
        return display_url(self.base)


@dataclass
class FetchResult:
    package: str
    version: str
    kind: str
    suite: str
    files: list[Path] = field(default_factory=list)
    sha256: dict[str, str] = field(default_factory=dict)


class Upstream:
    """Verified access to the upstream mirror. Use as a context manager."""

    def __init__(
        self,
        data_dir: Path,
        settings: UpstreamSettings,
        *,
        reporter: Reporter | None = None,
        now: datetime | None = None,
    ) -> None:
        self.settings = settings
        self.cache = Cache(data_dir)
        self.parsed = ParsedCache(data_dir)
        self.reporter = reporter or Reporter(quiet=True)
        self.now = now
        self.downloader = Downloader(
            self.cache.partial,
            timeout=settings.timeout,
            retries=settings.retries,
            backoff=settings.backoff,
        )
        self.cache.remove_stale_locks()
        self.entries = resolve_entries(settings)
        self.architectures = list(settings.architectures or [host_architecture()])
        self._suites: dict[tuple[str, str], Suite] = {}
        # records by package name, per (index kind, architecture): made from the parsed
        # records once per instance (its suites, so its indices, never change)
        self._by_name: dict[tuple[str, str | None], dict[str, list[tuple[Suite, Any]]]] = {}
        self._staged: dict[str, Path] = {}
        self._pending_releases: list[tuple[SourceEntry, dict[str, bytes], dict[str, str]]] = []
        self._placements: list[tuple[str, str, Path]] = []
        self._pending_parsed: list[Callable[[], None]] = []  # parsed-cache stores

    # -- transaction -------------------------------------------------------------
    def __enter__(self) -> Upstream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()

    def commit(self) -> None:
        for sha, part in list(self._staged.items()):
            self.cache.commit(part, sha)
        self._staged.clear()
        for entry, files, meta in self._pending_releases:
            self.cache.store_release(entry.uri, entry.suite, files, meta)
        self._pending_releases.clear()
        place([(name, self.cache.object_path(sha), sha, dest)
               for name, sha, dest in self._placements])
        self._placements.clear()
        for keep in self._pending_parsed:
            keep()
        self._pending_parsed.clear()

    def abort(self) -> None:
        for part in self._staged.values():
            part.unlink(missing_ok=True)
        self._staged.clear()
        self._pending_releases.clear()
        self._placements.clear()
        self._pending_parsed.clear()

    def _object(self, sha256: str, size: int) -> Path | None:
        staged = self._staged.get(sha256)
        if staged is not None and staged.exists():
            return staged
        return self.cache.lookup(sha256, size)

    def _get(self, url: str, ref: FileRef, name: str, label: str | None = None) -> Path:
        """A verified file: from the cache if present, else downloaded and staged.

        Processes sharing the data directory (workers of one host) download a given
        file one at a time (a lock per SHA256); each stages it under its own name.
        """
        found = self._object(ref.sha256, ref.size)
        if found is not None:
            return found
        with self.cache.download_lock(ref.sha256):
            found = self._object(ref.sha256, ref.size)
            if found is not None:
                return found
            with self.reporter.task(f"get {label or name}", ref.size) as advance:
                part = self.downloader.fetch(
                    url, size=ref.size, sha256=ref.sha256, name=name, progress=advance
                )
            staged = self._staged_name(ref.sha256)
            os.replace(part, staged)
        self._staged[ref.sha256] = staged
        return staged

    def _staged_name(self, sha256: str) -> Path:
        return self.cache.partial / f"{sha256}.{os.getpid()}-{uuid.uuid4().hex[:8]}.staged"

    # -- Release -----------------------------------------------------------------
    def suite(self, entry: SourceEntry) -> Suite:
        key = (entry.uri, entry.suite)
        if key in self._suites:
            return self._suites[key]
        base = f"{entry.uri}/dists/{entry.suite}"
        shown = display_url(base)  # in messages; `base` (maybe with a password) in requests
        what = f"{shown}/InRelease"
        inrelease = self.downloader.get_bytes(f"{base}/InRelease", missing_ok=True)
        if inrelease is not None:
            verified = verify_clearsigned(inrelease, what, entry.signed_by)
            files = {"InRelease": inrelease}
            meta = {"release": "InRelease", "signature": ""}
        else:
            what = f"{shown}/Release"
            release = self.downloader.get_bytes(f"{base}/Release", missing_ok=True)
            if release is None:
                raise NotFoundError(shown, "no InRelease and no Release: unknown suite?")
            signature = self.downloader.get_bytes(f"{base}/Release.gpg", missing_ok=True)
            if signature is None:
                raise SignatureError(what, "not signed: no InRelease and no Release.gpg")
            verified = verify_detached(release, signature, what, entry.signed_by)
            files = {"Release": release, "Release.gpg": signature}
            meta = {"release": "Release", "signature": "Release.gpg"}
        try:
            text = verified.content.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FormatError(what, "Release is not UTF-8 text") from exc
        release_obj = parse_release(text, what)
        check_dates(
            release_obj,
            what,
            now=self.now,
            check_valid_until=self.settings.check_valid_until,
            max_skew=self.settings.max_date_skew,
        )
        check_suite(release_obj, entry.suite, what)
        meta |= {"uri": display_url(entry.uri), "suite": entry.suite,
                 "signers": " ".join(verified.signers)}
        cached = self.cache.load_release(entry.uri, entry.suite)
        if cached is None or cached[1] != files[meta["release"]]:
            self._pending_releases.append((entry, files, meta))
        suite = Suite(entry=entry, release=release_obj, signers=verified.signers)
        self._suites[key] = suite
        return suite

    def suites(self) -> list[Suite]:
        return [self.suite(entry) for entry in self.entries]

    # -- indices -----------------------------------------------------------------
    def index_text(self, suite: Suite, path: str) -> str:
        """The verified, decompressed text of `path` (e.g. main/source/Sources)."""
        release = suite.release
        plain = release.index(path)
        if plain is not None:
            found = self._object(plain.sha256, plain.size)
            if found is not None:
                return found.read_bytes().decode("utf-8")
        for ext in COMPRESSIONS:
            ref = release.index(path + ext)
            if ref is None:
                continue
            name = f"{suite.shown_base}/{path}{ext}"
            url = f"{suite.base}/{path}{ext}"
            if release.acquire_by_hash:
                folder = path.rsplit("/", 1)[0]
                url = f"{suite.base}/{folder}/by-hash/SHA256/{ref.sha256}"
            file_ref = FileRef(name=path + ext, size=ref.size, sha256=ref.sha256)
            label = f"{suite.entry.suite}/{path}{ext}"
            try:
                packed = self._get(url, file_ref, name, label)
            except NotFoundError:
                if not release.acquire_by_hash:
                    raise
                packed = self._get(f"{suite.base}/{path}{ext}", file_ref, name, label)
            data = _decompress(packed, ext, name)
            if plain is not None and ext:
                self._check_plain(data, plain.size, plain.sha256,
                                  f"{suite.shown_base}/{path}")
                self._stage_bytes(data)
            try:
                return data.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise FormatError(name, "index is not UTF-8 text") from exc
        raise NotFoundError(f"{suite.shown_base}/{path}", "not listed in the signed Release")

    @staticmethod
    def _check_plain(data: bytes, size: int, sha256: str, name: str) -> None:
        if len(data) != size or hashlib.sha256(data).hexdigest() != sha256:
            raise IntegrityError(name, "decompressed index differs from the signed Release")

    def _stage_bytes(self, data: bytes) -> None:
        sha = hashlib.sha256(data).hexdigest()
        if self._object(sha, len(data)) is not None:
            return
        self.cache.partial.mkdir(parents=True, exist_ok=True)
        staged = self._staged_name(sha)
        staged.write_bytes(data)
        self._staged[sha] = staged

    def _index_paths(self, suite: Suite, kind: str, arch: str | None) -> Iterator[str]:
        components = suite.entry.components or suite.release.components
        if not components:
            raise ConfigError(suite.entry.origin, f"{suite.entry.label}: no components")
        for component in components:
            if kind == "Sources":
                yield f"{component}/source/Sources"
            else:
                yield f"{component}/binary-{arch}/Packages"

    def _has_index(self, suite: Suite, path: str) -> bool:
        return any(suite.release.index(path + ext) for ext in COMPRESSIONS)

    def index_texts(self, kind: str, arch: str | None = None) -> Iterator[tuple[Suite, str, str]]:
        """(suite, path, text) of every Sources or Packages index of every entry."""
        for suite in self.suites():
            for path in self._index_paths(suite, kind, arch):
                if not self._has_index(suite, path):
                    continue
                yield suite, path, self.index_text(suite, path)

    def _parsed(self, kind: str, arch: str | None) -> list[tuple[Suite, Any]]:
        """The records of every index of `kind`: from the parsed-index cache (keyed by
        the index's SHA256 in the signed Release), else read, verified and parsed."""
        parse = parse_packages if kind == "Packages" else parse_sources
        out: list[tuple[Suite, Any]] = []
        collecting = gc.isenabled()
        gc.disable()  # ~100,000 records and pairs at once, none of them garbage
        try:
            self._parsed_into(out, kind, arch, parse)
        finally:
            if collecting:
                gc.enable()
        return out

    def _parsed_into(self, out: list[tuple[Suite, Any]], kind: str, arch: str | None,
                     parse: Callable[[str, str], list[Any]]) -> None:
        for suite in self.suites():
            for path in self._index_paths(suite, kind, arch):
                if not self._has_index(suite, path):
                    continue
                what = f"{suite.shown_base}/{path}"

                def fresh(suite: Suite = suite, path: str = path,
                          what: str = what) -> list[Any]:
                    return list(parse(self.index_text(suite, path), what))

                slot = f"{display_url(suite.entry.uri)} {suite.entry.suite} {path}"
                records = self.parsed.records(kind, slot, self._index_key(suite, path), fresh,
                                              self._pending_parsed.append)
                out += [(suite, record) for record in records]

    @staticmethod
    def _index_key(suite: Suite, path: str) -> str:
        """What names the content of `path`: its SHA256 in the signed Release (of the
        plain file, else of the first compressed one listed, with its extension)."""
        plain = suite.release.index(path)
        if plain is not None:
            return plain.sha256
        for ext in COMPRESSIONS:
            ref = suite.release.index(path + ext)
            if ref is not None:
                return f"{ref.sha256}{ext}"
        raise NotFoundError(f"{suite.shown_base}/{path}", "not listed in the signed Release")

    def packages(self, arch: str | None = None) -> list[tuple[Suite, BinaryRecord]]:
        return self._parsed("Packages", arch or self.architectures[0])

    def sources(self) -> list[tuple[Suite, SourceRecord]]:
        return self._parsed("Sources", None)

    # -- lookup ------------------------------------------------------------------
    def _named(self, kind: str, arch: str | None, name: str) -> list[tuple[Suite, Any]]:
        """The records of package `name` in every index of `kind` (suite order)."""
        key = (kind, arch)
        index = self._by_name.get(key)
        if index is None:
            index = {}
            for suite, record in self._parsed(kind, arch):
                index.setdefault(record.package, []).append((suite, record))
            self._by_name[key] = index
        return index.get(name, [])

    def find_source(self, name: str, version: str | None = None) -> tuple[Suite, SourceRecord]:
        found: list[tuple[Suite, SourceRecord]] = self._named("Sources", None, name)
        return _pick(found, name, version, "source package")

    def find_binary(
        self, name: str, version: str | None = None, arch: str | None = None
    ) -> tuple[Suite, BinaryRecord]:
        arch = arch or self.architectures[0]
        found: list[tuple[Suite, BinaryRecord]] = [
            (suite, record) for suite, record in self._named("Packages", arch, name)
            if record.architecture in (arch, "all")]
        return _pick(found, name, version, f"binary package ({arch})")

    # -- fetch -------------------------------------------------------------------
    def fetch_source(self, name: str, version: str | None, dest: Path) -> FetchResult:
        suite, record = self.find_source(name, version)
        result = FetchResult(record.package, record.version, "source", suite.entry.suite)
        for ref in record.files:
            self._get(f"{suite.entry.uri}/{record.directory}/{ref.name}", ref, ref.name)
            self._placements.append((ref.name, ref.sha256, dest))
            result.files.append(dest / ref.name)
            result.sha256[ref.name] = ref.sha256
        return result

    def cache_source(self, name: str, version: str) -> tuple[Suite, SourceRecord]:
        """Bring every file of source `name` `version` into the cache, each verified
        against the signed Sources (committed when the `with` block ends)."""
        suite, record = self.find_source(name, version)
        for ref in record.files:
            self._get(f"{suite.entry.uri}/{record.directory}/{ref.name}", ref, ref.name)
        return suite, record

    def fetch_binary(
        self, name: str, version: str | None, dest: Path, arch: str | None = None
    ) -> FetchResult:
        suite, record = self.find_binary(name, version, arch)
        return self.fetch_record(suite, record, dest)

    def deb_path(self, suite: Suite, record: BinaryRecord) -> Path:
        """A local, verified copy of the .deb of an index record (cache or staged).

        Valid inside the `with` block; committed to the cache when it ends."""
        filename = record.filename.rsplit("/", 1)[-1]
        ref = FileRef(name=filename, size=record.size, sha256=record.sha256)
        return self._get(f"{suite.entry.uri}/{record.filename}", ref, filename)

    def fetch_record(self, suite: Suite, record: BinaryRecord, dest: Path) -> FetchResult:
        """Fetch the .deb of an index record (from `packages()`), verified by its hash."""
        filename = record.filename.rsplit("/", 1)[-1]
        ref = FileRef(name=filename, size=record.size, sha256=record.sha256)
        self._get(f"{suite.entry.uri}/{record.filename}", ref, filename)
        self._placements.append((filename, record.sha256, dest))
        result = FetchResult(record.package, record.version, "binary", suite.entry.suite)
        result.files = [dest / filename]
        result.sha256 = {filename: record.sha256}
        return result


R = TypeVar("R", SourceRecord, BinaryRecord)


def _pick(
    found: list[tuple[Suite, R]], name: str, version: str | None, kind: str
) -> tuple[Suite, R]:
    if not found:
        raise NotFoundError(name, f"no {kind} of that name in the configured suites")
    if version is not None:
        matching = [(s, r) for s, r in found if r.version == version]
        if not matching:
            have = ", ".join(sorted({r.version for _, r in found}))
            raise NotFoundError(f"{name}={version}", f"no such version (available: {have})")
        return matching[0]
    best = found[0]
    for item in found[1:]:
        if version_compare(item[1].version, best[1].version) > 0:
            best = item
    return best


def _decompress(path: Path, ext: str, name: str) -> bytes:
    try:
        if ext == ".xz":
            return lzma.decompress(path.read_bytes())
        if ext == ".gz":
            return gzip.decompress(path.read_bytes())
        return path.read_bytes()
    except (lzma.LZMAError, OSError, EOFError) as exc:
        raise FormatError(name, f"cannot decompress: {exc}") from exc


def place(files: list[tuple[str, Path, str, Path]]) -> None:
    """Copy verified files (name, source, sha256, dest dir) into place, all or nothing.

    Every file is first copied to a temporary file beside its target and fsynced
    (`base.atomic`), then all are renamed; on any error the temporary files not yet
    renamed are removed.
    """
    staged: list[AtomicFile] = []
    current: Path | None = None
    try:
        for name, source, sha, dest in files:
            current = dest / name
            if "/" in name or name in ("", ".", ".."):
                raise FormatError(name, "unsafe file name in a signed index")
            dest.mkdir(parents=True, exist_ok=True)
            target = dest / name
            if target.is_file() and sha256_file(target) == sha:
                continue
            new = AtomicFile(target, mode=0o644)
            staged.append(new)
            new.copy_from(source)
            new.flush()  # a full disk shows here, before any file is renamed
        for new in staged:
            current = new.target
            new.commit()
    except BaseException as exc:
        for new in staged:
            new.discard()
        if isinstance(exc, OSError) and is_storage_error(exc):
            raise storage_error(exc, current or "destination") from exc
        raise
