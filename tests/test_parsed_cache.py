"""The parsed-index cache (archive/upstream/parsed.py): shared by the processes of a
data directory, keyed by each index's signed SHA256, refused when altered, rebuilt
when the Release changes, never read half-written."""

from __future__ import annotations

import multiprocessing
import shutil
from pathlib import Path

import pytest

from archive.upstream.index import parse_packages
from archive.upstream.mirror import Upstream
from archive.upstream.parsed import VERSION, ParsedCache
from tests.conftest import Workspace
from tests.fixtures.archive import FixtureArchive
from tests.fixtures.debs import make_deb
from tests.fixtures.server import ArchiveServer
from unessential.config import load_settings

PACKAGES = "main/binary-amd64/Packages"


def _read(workspace: Workspace) -> tuple[list, list]:
    settings = load_settings(workspace.config).settings
    with Upstream(settings.data_dir, settings.upstream) as upstream:
        return ([r for _, r in upstream.packages("amd64")], [r for _, r in upstream.sources()])


def _files(workspace: Workspace) -> list[Path]:
    return sorted((workspace.data_dir / "cache" / "parsed").glob("*.v*"))


def test_the_records_come_from_the_cache_the_second_time(
        workspace: Workspace, archive: FixtureArchive, server: ArchiveServer) -> None:
    packages, sources = _read(workspace)
    expected = parse_packages((archive.dist / PACKAGES).read_text(), "Packages")
    assert packages == expected
    assert sorted(s.package for s in sources) == ["hello"]
    files = _files(workspace)
    assert len(files) == 2  # one per index: Packages and Sources
    # the upstream is gone: the records still come (from the cache, with the verified
    # InRelease kept by the download cache only for the Release itself)
    (archive.dist / "main" / "binary-amd64" / "Packages.xz").unlink()
    for name in ("Packages", "Packages.gz"):
        (archive.dist / "main" / "binary-amd64" / name).unlink()
    shutil.rmtree(workspace.data_dir / "cache" / "by-hash")
    assert _read(workspace) == (packages, sources)
    assert _files(workspace) == files


def test_a_new_release_rebuilds_and_the_old_file_goes(
        tmp_path: Path, workspace: Workspace, archive: FixtureArchive,
        server: ArchiveServer) -> None:
    before, _ = _read(workspace)
    old = set(_files(workspace))
    deb = make_deb(tmp_path / "debs", "newcomer", "3.0", "all")
    target = archive.repo / "pool" / "main" / "n" / "newcomer" / deb.name
    target.parent.mkdir(parents=True)
    shutil.copy(deb, target)
    archive.write_indices()
    archive.write_release()
    after, _ = _read(workspace)
    assert sorted(r.package for r in after) == sorted([*(r.package for r in before),
                                                       "newcomer"])
    new = set(_files(workspace))
    assert len(new) == 2 and len(new & old) == 1  # Sources unchanged: its file kept


@pytest.mark.parametrize("damage", ["payload byte", "truncated", "header index", "mac",
                                    "key", "other version", "empty"])
def test_an_altered_cache_file_is_refused_and_rebuilt(
        damage: str, workspace: Workspace, archive: FixtureArchive,
        server: ArchiveServer) -> None:
    packages, sources = _read(workspace)
    cache = ParsedCache(workspace.data_dir)
    (path,) = [p for p in _files(workspace)
               if b'"kind": "Packages"' in p.read_bytes().split(b"\n", 1)[0]]
    data = path.read_bytes()
    header, payload = data.split(b"\n", 1)
    index = path.name.split(".")[1]
    if damage == "payload byte":
        altered = header + b"\n" + payload[:40] + bytes([payload[40] ^ 1]) + payload[41:]
    elif damage == "truncated":
        altered = data[: len(data) // 2]
    elif damage == "header index":
        altered = header.replace(index.encode(), b"0" * 64) + b"\n" + payload
    elif damage == "mac":
        altered = header.replace(b'"mac": "', b'"mac": "00') + b"\n" + payload
    elif damage == "other version":
        assert b'"version": %d' % VERSION in header
        altered = header.replace(b'"version": %d' % VERSION, b'"version": 0') + b"\n" + payload
    elif damage == "empty":
        altered = b""
    else:  # another key: every file of the old one is refused
        (cache.root / ".key").write_bytes(b"k" * 32)
        altered = data
    path.write_bytes(altered)
    slot_files = list(cache.root.glob(path.name.split(".")[0] + ".*"))
    assert slot_files == [path]
    assert cache.load("Packages", "any", index) is None  # (another slot: not even there)
    assert _read(workspace) == (packages, sources)  # parsed again, and cached again
    assert path.read_bytes() != altered
    assert b'"count": 3' in path.read_bytes().split(b"\n", 1)[0]


def _fill(args: tuple[str, int]) -> str:
    root, rounds = args
    cache = ParsedCache(Path(root))
    records = parse_packages(Path(root, "Packages").read_text(), "Packages")
    seen = []
    for _ in range(rounds):
        got = cache.records("Packages", "slot", "a" * 64, lambda: records)
        seen.append("ok" if got == records else "different")
        found = cache.load("Packages", "slot", "a" * 64)
        seen.append("ok" if found in (None, records) else "partial")
    return ",".join(sorted(set(seen)))


def test_processes_filling_the_cache_at_once_never_read_a_partial_one(
        tmp_path: Path, archive: FixtureArchive) -> None:
    # a big index: the fixture's stanzas many times over, so that writes take a while
    stanzas = (archive.dist / PACKAGES).read_text().strip().split("\n\n")
    many = "\n\n".join(stanza.replace("Package: ", f"Package: p{i}-")
                       for i in range(700) for stanza in stanzas) + "\n"
    (tmp_path / "Packages").write_text(many)
    cache = ParsedCache(tmp_path)
    with multiprocessing.get_context("fork").Pool(4) as pool:
        results = pool.map(_fill, [(str(tmp_path), 15)] * 8)
    assert set(results) == {"ok"}, results
    assert len(list(cache.root.glob("*.v*"))) == 1
    assert not list(cache.root.glob(".*.v*.*"))  # no temporary file left behind
    assert len(cache.load("Packages", "slot", "a" * 64) or []) == 2100
