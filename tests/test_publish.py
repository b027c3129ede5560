"""Publishing: stock apt accepts the archive (file:// and http://), refuses tampering,
another key and an expired Release; readers never see a Release that does not match
its indices; rollback restores the previous Release byte for byte.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner, Result

from archive.publish import compress
from archive.upstream.release import parse_release
from base.errors import EXIT_CODES
from tests.fixtures.apt import PrivateApt
from tests.fixtures.catalog_seed import seed
from tests.fixtures.debs import make_deb
from tests.fixtures.server import ArchiveServer
from unessential.cli import cli


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / "debs").mkdir()
    return tmp_path


def run(home: Path, *args: str) -> Result:
    env = {"UNESSENTIAL_DATA_DIR": str(home / "data")}
    return CliRunner(env=env).invoke(cli, ["-q", *args])


def add(home: Path, name: str, version: str = "1.0", depends: str = "") -> None:
    seed(home / "data", [make_deb(home / "debs", name, version, "all", depends=depends)])


def publish(home: Path, *args: str) -> dict:
    result = run(home, "publish", "--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def public(home: Path) -> Path:
    return home / "data" / "public"


def test_apt_installs_over_file_and_http(home: Path) -> None:
    add(home, "tiny")
    add(home, "needs-tiny", depends="tiny (>= 1.0)")
    info = publish(home, "--valid-for", "7d")
    keyring = Path(info["keyring"])
    assert keyring.read_text().startswith("-----BEGIN PGP PUBLIC KEY BLOCK-----")
    assert keyring.stat().st_mode & 0o777 == 0o644  # apt's _apt user, web servers
    apt = PrivateApt(home / "apt-file", public(home).as_uri(), "stable", keyring)
    assert apt.update().returncode == 0
    result = apt.install("needs-tiny")
    assert result.returncode == 0, result.stdout + result.stderr
    assert apt.installed("needs-tiny") and apt.installed("tiny")
    with ArchiveServer(public(home)) as server:
        apt = PrivateApt(home / "apt-http", server.url, "stable", keyring)
        update = apt.update()
        assert update.returncode == 0, update.stdout + update.stderr
        assert any("/by-hash/" in path for path in server.requests), "apt fetched by hash"
        assert apt.install("tiny").returncode == 0
        assert apt.installed("tiny")


def test_sources_list_stanza_is_printed(home: Path) -> None:
    add(home, "tiny")
    result = run(home, "publish")
    assert result.exit_code == 0, result.output
    assert f"URIs: {public(home).resolve().as_uri()}" in result.output
    assert "Suites: stable" in result.output and "Signed-By: " in result.output


def _apt_fails(home: Path, needle: str) -> None:
    apt = PrivateApt(home / f"apt-{needle[:6]}", public(home).as_uri(), "stable",
                     public(home) / "archive-keyring.asc")
    result = apt.update()
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert needle in output, output


def test_apt_refuses_an_altered_packages_file(home: Path) -> None:
    add(home, "tiny")
    publish(home)
    dist = public(home) / "dists" / "stable"
    for path in [*(dist / "main" / "binary-amd64").glob("Packages*"),
                 *(dist / "main" / "binary-amd64" / "by-hash").rglob("*")]:
        if path.is_file():
            data = path.read_bytes()
            path.unlink()  # the files are hard links: break them, do not edit in place
            path.write_bytes(data[:-2] + b"X\n" if not path.name.endswith(("gz", "xz"))
                             and "by-hash" not in str(path) else data[:-4] + b"XXXX")
    _apt_fails(home, "Hash Sum mismatch")


def test_apt_refuses_another_key(home: Path, tmp_path: Path) -> None:
    add(home, "tiny")
    publish(home)
    # the clients trust the key they have; the archive gets re-signed by a new key
    trusted = tmp_path / "trusted.asc"
    shutil.copy(public(home) / "archive-keyring.asc", trusted)
    shutil.rmtree(home / "data" / "keys")
    add(home, "tiny2")
    publish(home)
    apt = PrivateApt(home / "apt-other", public(home).as_uri(), "stable", trusted)
    result = apt.update()
    assert result.returncode != 0
    assert "NO_PUBKEY" in result.stdout + result.stderr or \
        "not signed" in result.stdout + result.stderr


def test_apt_refuses_an_expired_release(home: Path) -> None:
    add(home, "tiny")
    publish(home, "--date", "Mon, 01 Jan 2024 00:00:00 +0000", "--valid-for", "1d")
    _apt_fails(home, "expired")


@pytest.fixture
def small_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    """Indices cut into pieces of a few hundred bytes, so that a test archive has many."""
    monkeypatch.setattr(compress, "AVERAGE_PIECE", 600)
    monkeypatch.setattr(compress, "MIN_PIECE", 150)
    monkeypatch.setattr(compress, "MAX_PIECE", 2400)


def test_same_catalog_and_date_give_identical_indices(home: Path, tmp_path: Path,
                                                      small_pieces: None) -> None:
    """What a publish keeps between runs (stanzas, .dsc listings, compressed pieces, the
    pool's digests) never changes its output: a publish that adds a package to a warm
    archive writes what a publish of the same catalog from nothing writes."""
    for name in ("tiny", "other", "third", "fourth"):
        add(home, name)
    date = "Tue, 24 Nov 2026 00:00:00 +0000"
    publish(home, "--date", date)
    add(home, "fifth")
    first = publish(home, "--date", date)
    dists = public(home) / "dists/stable"
    release = (dists / "Release").read_bytes()
    packages = (dists / "main/binary-amd64/Packages.xz").read_bytes()
    assert int(subprocess.run(["xz", "--robot", "--list", str(dists / "main/binary-amd64/"
                                                                  "Packages.xz")],
                              capture_output=True, text=True, check=True
                              ).stdout.split("totals\t")[1].split("\t")[1]) > 1
    again = publish(home, "--date", date)
    assert again["snapshot"] == first["snapshot"] and again["reused"]
    copy = tmp_path / "copy"
    shutil.copytree(home / "data", copy / "data", ignore=shutil.ignore_patterns("S.gpg-agent*"))
    shutil.rmtree(copy / "data" / "public")
    kept = [path for path in (copy / "data" / "cache").iterdir()
            if path.name.startswith("publish")]
    assert {path.name for path in kept} >= {"publish-packages.json", "publish-sources.json",
                                            "publish-dsc.json", "publish-pieces",
                                            "publish-pool"}
    for path in kept:  # what publish remembers (not the sources)
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    third = json.loads(CliRunner(env={"UNESSENTIAL_DATA_DIR": str(copy / "data")}).invoke(
        cli, ["-q", "publish", "--json", "--date", date]).output)
    assert third["release_sha256"] == first["release_sha256"]
    assert (copy / "data/public/dists/stable/Release").read_bytes() == release
    assert (copy / "data/public/dists/stable/main/binary-amd64/Packages.xz").read_bytes() \
        == packages


def test_apt_reads_indices_of_many_pieces(home: Path, small_pieces: None) -> None:
    """Packages.xz as one xz Stream of many Blocks, Packages.gz as many gzip members:
    stock apt reads all of them (it reads only the first xz Stream of a file)."""
    names = [f"piece{index}" for index in range(12)]
    for name in names:
        add(home, name)
    info = publish(home)
    dists = public(home) / "dists/stable/main/binary-amd64"
    assert (dists / "Packages.gz").read_bytes().count(b"\x1f\x8b\x08") > 1
    apt = PrivateApt(home / "apt", public(home).as_uri(), "stable", Path(info["keyring"]))
    assert apt.update().returncode == 0
    listed = subprocess.run(["apt-cache", *apt.options, "pkgnames", "piece"],
                            capture_output=True, text=True, check=True).stdout.split()
    assert sorted(listed) == sorted(names)
    assert apt.install("piece11").returncode == 0 and apt.installed("piece11")


def test_rollback_restores_the_previous_release(home: Path) -> None:
    add(home, "tiny")
    publish(home)
    dist = public(home) / "dists" / "stable"
    before = {name: (dist / name).read_bytes() for name in ("Release", "InRelease",
                                                              "Release.gpg")}
    add(home, "tiny2")
    publish(home)
    assert (dist / "Release").read_bytes() != before["Release"]
    result = run(home, "snapshot", "rollback", "stable")
    assert result.exit_code == 0, result.output
    for name, data in before.items():
        assert (dist / name).read_bytes() == data
    listing = json.loads(run(home, "snapshot", "list", "--json").output)
    assert len(listing) == 2 and listing[0]["current"]


def test_failed_publish_leaves_the_previous_archive(home: Path) -> None:
    add(home, "tiny")
    publish(home)
    dist = public(home) / "dists" / "stable"
    release = (dist / "Release").read_bytes()
    snapshots = sorted(p.name for p in (public(home) / "snapshots" / "stable").iterdir())
    add(home, "tiny2")
    config = home / "bad.toml"
    config.write_text(f'data_dir = "{home / "data"}"\n[publish]\n'
                      f'signing_keys = ["{"A" * 40}"]\n')
    result = CliRunner().invoke(cli, ["--config", str(config), "publish"])
    assert result.exit_code == EXIT_CODES["signing"], result.output
    assert (dist / "Release").read_bytes() == release
    assert sorted(p.name for p in (public(home) / "snapshots" / "stable").iterdir()) \
        == snapshots


@pytest.fixture
def served(home: Path) -> Iterator[ArchiveServer]:
    add(home, "seed-pkg")
    publish(home)
    with ArchiveServer(public(home)) as server:
        yield server


def test_readers_never_see_a_mismatch(home: Path, served: ArchiveServer) -> None:
    """A reader loops: InRelease, then every index it names (by hash, as apt does),
    checking size and SHA256, while 20 publishes run."""
    stop = threading.Event()
    problems: list[str] = []
    reads = [0]

    def reader() -> None:
        session = requests.Session()
        while not stop.is_set():
            text = session.get(f"{served.url}/dists/stable/Release", timeout=10).text
            release = parse_release(text, "Release")
            for path, ref in release.files.items():
                folder = path.rsplit("/", 1)[0]
                data = session.get(
                    f"{served.url}/dists/stable/{folder}/by-hash/SHA256/{ref.sha256}",
                    timeout=10).content
                if len(data) != ref.size or hashlib.sha256(data).hexdigest() != ref.sha256:
                    problems.append(f"{path}: got {len(data)} bytes")
            reads[0] += 1

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for index in range(20):
            add(home, f"pkg{index}")
            publish(home)
    finally:
        stop.set()
        thread.join()
    assert problems == []
    assert reads[0] >= 5


def _legacy(home: Path, name: str) -> None:
    """A build recorded before 0010: no publish facts in the catalog."""
    seed(home / "data", [make_deb(home / "debs", name, "1.0", "all")], facts=False)


def test_publish_after_one_new_package_reads_one_deb(home: Path) -> None:
    for index in range(5):
        _legacy(home, f"many{index}")
    first = publish(home)
    assert first["new_pool_files"] == 5 * 3  # each: its .deb, and its source's .dsc, tarball
    _legacy(home, "one-more")
    second = publish(home)
    assert second["new_pool_files"] == 3
    facts = list((home / "data" / "cache" / "publish").rglob("*.json"))
    assert len(facts) == 6


def test_publish_renders_from_the_catalog_and_links_the_pool(home: Path) -> None:
    """With the facts a worker records (0010) no .deb is read, and each new pool file is
    a hard link to the artifact store's verified copy (no byte written)."""
    for index in range(3):
        add(home, f"many{index}")
    publish(home)
    assert not list((home / "data" / "cache" / "publish").rglob("*.json"))
    deb = public(home) / "pool/main/m/many0/many0_1.0_all.deb"
    stored = home / "data" / "artifacts"
    assert any(p.stat().st_ino == deb.stat().st_ino for p in stored.rglob("*") if p.is_file())
    assert deb.stat().st_mode & 0o777 == 0o644


def test_catalog_facts_and_deb_facts_publish_the_same_bytes(tmp_path: Path) -> None:
    """The same catalog gives byte-identical indices whether the publish reads the .debs
    (builds from before 0010) or the facts the worker recorded."""
    debs = tmp_path / "debs"
    made = [make_deb(debs, "tiny", "1.0", "all", depends="libc6 (>= 2.36)"),
            make_deb(debs, "other", "2.0-1", "all")]
    date = "Tue, 24 Nov 2026 00:00:00 +0000"
    trees = []
    for facts in (True, False):
        home = tmp_path / f"facts-{facts}"
        seed(home / "data", made, facts=facts)
        result = run(home, "publish", "--json", "--date", date)
        assert result.exit_code == 0, result.output
        dists = public(home) / "dists/stable"
        trees.append({p.relative_to(dists).as_posix(): p.read_bytes()
                      for p in sorted(dists.rglob("*")) if p.is_file()
                      and p.name not in ("InRelease", "Release.gpg")})
    assert trees[0] == trees[1]
    assert any(name.endswith("Contents-amd64.gz") for name in trees[0])


def test_dpkg_scanpackages_agrees_on_the_pool(home: Path) -> None:
    add(home, "tiny")
    publish(home)
    ours = (public(home) / "dists/stable/main/binary-amd64/Packages").read_text()
    theirs = subprocess.run(["dpkg-scanpackages", "-m", "pool"], cwd=public(home),
                            capture_output=True, text=True, check=True).stdout
    for field in ("Package: tiny", "Filename: pool/main/t/tiny/tiny_1.0_all.deb"):
        assert field in ours and field in theirs
    sha = next(line for line in theirs.splitlines() if line.startswith("SHA256:"))
    assert sha in ours


def test_key_rotation_signs_with_both_keys(home: Path, tmp_path: Path) -> None:
    """During a rotation InRelease carries both signatures: clients that trust only the
    old key and clients that trust only the new one both accept it."""
    add(home, "tiny")
    publish(home)
    old_key = tmp_path / "old.asc"
    shutil.copy(public(home) / "archive-keyring.asc", old_key)
    created = run(home, "key", "generate", "--name", "New Archive Key", "--json")
    assert created.exit_code == 0, created.output
    new = json.loads(created.output)["fingerprint"]
    listing = json.loads(run(home, "key", "list", "--json").output)
    both = sorted(k["fingerprint"] for k in listing["keys"])
    assert new in both and len(both) == 2
    config = home / "rotate.toml"
    config.write_text(f'data_dir = "{home / "data"}"\n[publish]\n'
                      f'signing_keys = [{", ".join(repr(f) for f in both)}]\n'
                      .replace("'", '"'))
    add(home, "tiny2")
    result = CliRunner().invoke(cli, ["--config", str(config), "-q", "publish", "--json"])
    assert result.exit_code == 0, result.output
    assert sorted(json.loads(result.output)["fingerprints"]) == both
    new_key = tmp_path / "new.asc"
    new_key.write_bytes(subprocess.run(
        [sys.executable, "-m", "unessential.cli", "key", "export", new],
        env={**os.environ, "UNESSENTIAL_DATA_DIR": str(home / "data")},
        capture_output=True, check=True).stdout)
    for name, keyring in (("old", old_key), ("new", new_key)):
        apt = PrivateApt(home / f"apt-{name}", public(home).as_uri(), "stable", keyring)
        update = apt.update()
        assert update.returncode == 0, update.stdout + update.stderr
        assert apt.install("tiny2").returncode == 0


def test_serve_command(home: Path) -> None:
    add(home, "tiny")
    publish(home)
    env = {**os.environ, "UNESSENTIAL_DATA_DIR": str(home / "data")}
    server = subprocess.Popen([sys.executable, "-m", "unessential.cli", "serve", "--port", "0"],
                              env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        url = line.split(" on ")[1].split("/ ")[0]
        response = requests.get(f"{url}/dists/stable/InRelease", timeout=10)
        assert response.status_code == 200
        assert response.content == (public(home) / "dists/stable/InRelease").read_bytes()
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_a_binary_is_never_published_without_its_source(home: Path, tmp_path: Path,
                                                          keys: dict) -> None:
    """The source of a published binary that is neither cached nor to be had from the
    upstream fails the publish (one line naming it, nothing written), unless the
    configuration says to leave such sources out."""
    add(home, "tiny")
    for path in (home / "data" / "cache" / "by-hash" / "SHA256").iterdir():
        path.unlink()  # the source fetched at build time is gone from this host
    config = tmp_path / "unessential.toml"
    base = (f'data_dir = "{home / "data"}"\n[upstream]\nmirror = "http://127.0.0.1:9/debian"\n'
            f'suites = ["fixture"]\nkeyring = ["{keys["archive"].public_keyring}"]\n'
            "apt_sources = []\nretries = 0\nbackoff = 0\ntimeout = 2\n")
    config.write_text(base)
    result = CliRunner().invoke(cli, ["-q", "--config", str(config), "publish"])
    assert result.exit_code != 0
    line = result.output.strip().splitlines()[-1]
    assert "source tiny 1.0" in line and "never published without its source" in line, line
    assert "cannot read the upstream" in line
    assert not (public(home) / "dists").exists() and not (public(home) / "pool").exists()
    config.write_text(base + '[publish]\nsources = "available"\n')
    result = CliRunner().invoke(cli, ["-q", "--config", str(config), "publish", "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["sources"] == 0
    (missing,) = info["missing_sources"]
    assert (missing["source"], missing["version"]) == ("tiny", "1.0")
    assert "cannot read the upstream" in missing["problem"]
    # the option overrides the configuration
    config.write_text(base)
    result = CliRunner().invoke(cli, ["-q", "--config", str(config), "publish", "--sources",
                                      "available", "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["missing_sources"]
    assert (public(home) / "dists" / "stable" / "main" / "source" / "Sources").read_text() == ""


def test_a_verified_copy_that_is_a_symbolic_link_is_copied_not_linked(tmp_path: Path) -> None:
    """The pool never receives a symbolic link: a source that is one is copied (its
    bytes checked), so the pool file is a regular file of its own."""
    from archive.publish.pool import Pool, PoolEntry

    real = tmp_path / "real.deb"
    real.write_bytes(b"deb bytes")
    real.chmod(0o644)
    link = tmp_path / "store-entry"
    link.symlink_to(real)
    pool = Pool(tmp_path / "root", tmp_path / "state")
    sha = hashlib.sha256(b"deb bytes").hexdigest()
    entry = PoolEntry("pool/main/t/tiny/tiny_1.0_all.deb", link, sha, "tiny 1.0")
    assert pool.plan([entry]) == [entry]
    pool.copy(entry)
    placed = tmp_path / "root" / entry.relative
    assert not placed.is_symlink() and placed.read_bytes() == b"deb bytes"
    assert placed.stat().st_ino != real.stat().st_ino


def test_a_published_source_whose_cached_files_are_gone_stays_listed(home: Path) -> None:
    """A source file already in the pool (with the SHA256 the publish recorded) need not
    be in this host's cache any more: the next publish lists the source again, reading
    from the pool what it needs, and a file gone from both is a one-line error."""
    add(home, "tiny")
    publish(home)
    sources = (public(home) / "dists/stable/main/source/Sources").read_bytes()
    objects = home / "data" / "cache" / "by-hash" / "SHA256"
    tarball = next(p for p in objects.iterdir()
                   if p.read_bytes()[:2] == b"\x1f\x8b")  # the source's .tar.gz
    tarball.unlink()
    for path in (home / "data" / "cache").glob("publish-*.json*"):
        path.unlink()  # rendered again, from the pool's copy
    add(home, "other")
    second = publish(home)
    assert second["sources"] == 2
    again = (public(home) / "dists/stable/main/source/Sources").read_bytes()
    assert sources.strip() in again
    pool_copy = public(home) / "pool/main/t/tiny/tiny_1.0.tar.gz"
    pool_copy.unlink()
    add(home, "third")
    result = run(home, "publish")
    assert result.exit_code != 0
    assert "tiny_1.0.tar.gz" in result.output.strip().splitlines()[-1]
