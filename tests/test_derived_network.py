"""Our archive beside the host's Debian mirror (issue 16), with the real lz4 source:
one sources list, stock apt, our rebuilt library preferred, upgrades when we rebuild.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from debian.deb822 import Deb822

from archive.settings import UpstreamSettings
from archive.upstream.mirror import host_codename, resolve_entries
from tests.fixtures.apt import PrivateApt
from tests.fixtures.archive import FixtureArchive
from tests.fixtures.keys import ArchiveKey
from tests.fixtures.server import ArchiveServer

pytestmark = pytest.mark.network
CLI = [sys.executable, "-m", "unessential.cli"]


def run(data: Path, config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, UNESSENTIAL_DATA_DIR=str(data))
    env.pop("UNESSENTIAL_BROKER_URL", None)
    env.pop("UNESSENTIAL_DATABASE_URL", None)
    return subprocess.run([*CLI, "-q", "--config", str(config), *args], env=env,
                          capture_output=True, text=True, timeout=1800)


def _quiet(result: subprocess.CompletedProcess[str]) -> str:
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert not [line for line in output.splitlines() if line.startswith(("W:", "E:"))], output
    return output


def _host_status(names: list[str]) -> str:
    """The host's dpkg status stanzas of `names` (a client that has them installed)."""
    wanted = [p for p in Deb822.iter_paragraphs(Path("/var/lib/dpkg/status").read_text())
              if p.get("Package") in names and p.get("Status", "").endswith(" installed")]
    return "".join(p.dump() + "\n" for p in wanted)


def _version(apt: PrivateApt, package: str) -> str:
    return subprocess.run(["dpkg-query", f"--admindir={apt.target / 'var/lib/dpkg'}", "-W",
                           "-f", "${Version}", package], capture_output=True, text=True,
                          check=True).stdout


def test_our_lz4_beside_debian_in_one_sources_list(tmp_path: Path) -> None:
    codename = host_codename()
    entry = next((e for e in resolve_entries(UpstreamSettings()) if e.suite == codename), None)
    if entry is None or not entry.signed_by.keyrings:
        pytest.skip(f"no host APT source with a keyring for {codename}")
    data = tmp_path / "data"
    recipes = tmp_path / "recipes"
    recipes.mkdir()
    config = tmp_path / "unessential.toml"
    config.write_text(f'[worker]\nrecipes_dir = "{recipes}"\n')
    built = run(data, config, "rebuild", "--repack", "lz4", "--wait", "--json")
    assert built.returncode == 0, built.stderr[-3000:]
    published = run(data, config, "publish", "--json")
    assert published.returncode == 0, published.stderr[-3000:]
    ours = Path(json.loads(published.stdout)["root"])

    apt = PrivateApt(tmp_path / "apt", ours.as_uri(), "stable", ours / "archive-keyring.asc")
    (tmp_path / "apt" / "sources" / "debian.sources").write_text(
        f"Types: deb\nURIs: {entry.uri}\nSuites: {entry.suite}\nComponents: main\n"
        f"Signed-By: {entry.signed_by.keyrings[0]}\n")
    status = apt.target / "var/lib/dpkg/status"
    status.write_text(_host_status(["libc6", "libgcc-s1", "gcc-12-base"]))
    _quiet(apt.update())

    # two versions of the rebuilt library, ours the candidate
    shown = _quiet(subprocess.run(["apt-cache", *apt.options, "policy", "liblz4-1"],
                                  capture_output=True, text=True,
                                  env={"APT_CONFIG": str(apt.config), "LC_ALL": "C"}))
    debian = next(line.split()[1] for line in shown.splitlines()
                  if line.strip().startswith("Candidate:"))
    assert debian.endswith("ue1"), shown
    assert f" {debian.removesuffix('ue1')} 500" in shown, shown  # Debian's, listed too

    # a package we did not rebuild (zstd) resolves against our rebuilt liblz4-1
    simulated = _quiet(apt.run("install", "-s", "--no-install-recommends", "zstd"))
    inst = next(line for line in simulated.splitlines() if line.startswith("Inst liblz4-1 "))
    assert f"({debian} " in inst, simulated
    # our lz4 pins our liblz4-1 (= ...ue1): siblings install together
    simulated = _quiet(apt.run("install", "-s", "--no-install-recommends", "lz4"))
    assert f"Inst lz4 ({debian} " in simulated and f"Inst liblz4-1 ({debian} " in simulated

    _quiet(apt.install("liblz4-1"))
    assert _version(apt, "liblz4-1") == debian

    # a recipe change: a new build, a higher version, and `apt-get upgrade` takes it
    (recipes / "lz4.toml").write_text("[binary.liblz4-1]\nkeep = []\n")
    rebuilt = run(data, config, "rebuild", "--repack", "lz4", "--wait")
    assert rebuilt.returncode == 0, rebuilt.stderr[-3000:]
    assert run(data, config, "publish").returncode == 0
    _quiet(apt.update())
    _quiet(apt.run("upgrade", "-y"))
    assert _version(apt, "liblz4-1") == debian.removesuffix("ue1") + "ue2"


# -- a recipe with patches: a source of our own, built, published, fetched -------------

TWIN_RULES = """\
#!/usr/bin/make -f
build build-arch build-indep:
\t@echo "message: $$(cat message.txt)"

binary binary-arch binary-indep: build
\trm -rf debian/tmp debian/tmp2
\tmkdir -p debian/tmp/DEBIAN debian/tmp/usr/share/doc/twin
\tmkdir -p debian/tmp2/DEBIAN debian/tmp2/usr/share/doc/twin-data
\tcp debian/copyright debian/tmp/usr/share/doc/twin/
\tcp message.txt debian/copyright debian/tmp2/usr/share/doc/twin-data/
\tdpkg-gencontrol -ptwin -Pdebian/tmp
\tdpkg-gencontrol -ptwin-data -Pdebian/tmp2
\tdpkg-deb --root-owner-group --build debian/tmp ..
\tdpkg-deb --root-owner-group --build debian/tmp2 ..

clean:
\trm -rf debian/tmp debian/tmp2 debian/files
"""

TWIN_CONTROL = """\
Source: twin
Section: misc
Priority: optional
Maintainer: Unessential Tests <tests@example.invalid>
Standards-Version: 4.6.2
Rules-Requires-Root: no

Package: twin
Architecture: all
Depends: twin-data (= ${binary:Version})
Description: twin of the unessential tests
 Pins its sibling's exact version.

Package: twin-data
Architecture: all
Description: data of twin
 Ships the message.
"""

MESSAGE_PATCH = """\
Description: the message of our distribution
--- a/message.txt
+++ b/message.txt
@@ -1 +1 @@
-original
+patched by the recipe
"""

HELLO_PATCH = "".join(line + "\n" for line in (
    "--- a/NEWS",
    "+++ b/NEWS",
    "@@ -1,4 +1,4 @@",
    "-* Noteworthy changes in release ?.? (????-??-??) [?]",
    "+* Patched by the unessential test recipe.",
    " ",
    " * Noteworthy changes in release 2.10 (2014-11-16) [stable]",
    " ",
))


def _twin_source(folder: Path) -> None:
    """A debhelper-free 3.0 (quilt) source, twin 1.0-1, in `folder`."""
    tree = folder / "twin-1.0"
    (tree / "debian" / "source").mkdir(parents=True)
    (tree / "message.txt").write_text("original\n")
    subprocess.run(["tar", "--sort=name", "--mtime=@0", "--owner=0", "--group=0", "-czf",
                    str(folder / "twin_1.0.orig.tar.gz"), "-C", str(folder), "twin-1.0"],
                   check=True)
    debian = tree / "debian"
    (debian / "source" / "format").write_text("3.0 (quilt)\n")
    (debian / "control").write_text(TWIN_CONTROL)
    (debian / "copyright").write_text("Public domain test data.\n")
    (debian / "changelog").write_text(
        "twin (1.0-1) bookworm; urgency=medium\n\n  * Test.\n\n"
        " -- Unessential Tests <tests@example.invalid>  Mon, 01 Jan 2024 00:00:00 +0000\n")
    (debian / "rules").write_text(TWIN_RULES)
    (debian / "rules").chmod(0o755)
    subprocess.run(["dpkg-source", "-b", tree.name], cwd=folder, check=True,
                   capture_output=True)


def _unpacked(deb: Path, into: Path) -> Path:
    subprocess.run(["dpkg-deb", "-x", str(deb), str(into)], check=True)
    return into


def test_recipe_patches_make_a_source_of_our_own(tmp_path: Path,
                                                  keys: dict[str, ArchiveKey]) -> None:
    codename = host_codename()
    entry = next((e for e in resolve_entries(UpstreamSettings()) if e.suite == codename), None)
    if entry is None or not entry.signed_by.keyrings:
        pytest.skip(f"no host APT source with a keyring for {codename}")
    # the upstream: the host's mirror (the chroot, hello) and a fixture with twin's source
    fixture = FixtureArchive(root=tmp_path / "www", key=keys["archive"])
    pool = fixture.repo / "pool" / "main" / "t" / "twin"
    pool.mkdir(parents=True)
    _twin_source(pool)
    shutil.rmtree(pool / "twin-1.0")
    fixture.write_indices()
    fixture.write_release()
    recipes = tmp_path / "recipes"
    for source, name, text in (("twin", "message.patch", MESSAGE_PATCH),
                               ("hello", "news.patch", HELLO_PATCH)):
        (recipes / "patches" / source).mkdir(parents=True)
        (recipes / "patches" / source / name).write_text(text)
        (recipes / f"{source}.toml").write_text(
            f'[source]\npatches = ["{name}"]\nchangelog = "Carry {name} (unessential test)."\n')
    with ArchiveServer(fixture.root) as server:
        sources = tmp_path / "upstream.sources"
        sources.write_text(
            f"Types: deb deb-src\nURIs: {entry.uri}\nSuites: {entry.suite}\n"
            f"Components: main\nSigned-By: {entry.signed_by.keyrings[0]}\n\n"
            f"Types: deb deb-src\nURIs: {server.url}/debian\nSuites: fixture\n"
            f"Components: main\nSigned-By: {fixture.key.public_keyring}\n")
        config = tmp_path / "unessential.toml"
        config.write_text(f'[upstream]\napt_sources = ["{sources}"]\n'
                          f'[worker]\nrecipes_dir = "{recipes}"\n')
        data = tmp_path / "data"
        built = run(data, config, "rebuild", "twin", "hello", "--wait", "--json")
        assert built.returncode == 0, built.stderr[-3000:]
        published = run(data, config, "publish", "--json")
        assert published.returncode == 0, published.stderr[-3000:]
    ours = Path(json.loads(published.stdout)["root"])
    main = ours / "dists" / "stable" / "main"
    packages = {p["Package"]: p for p in
                Deb822.iter_paragraphs((main / "binary-amd64" / "Packages").read_text())}
    hello_version = packages["hello"]["Version"]
    assert hello_version.endswith("ue1") and packages["twin"]["Version"] == "1.0-1ue1"
    # built from our source: its version everywhere, ${binary:Version} pins agree
    assert packages["twin"]["Depends"] == "twin-data (= 1.0-1ue1)"
    assert "Source" not in packages["twin"]  # binary version == source version
    twin_data = _unpacked(ours / packages["twin-data"]["Filename"], tmp_path / "twin-data")
    assert (twin_data / "usr/share/doc/twin-data/message.txt").read_text() == \
        "patched by the recipe\n"
    hello = _unpacked(ours / packages["hello"]["Filename"], tmp_path / "hello")
    news = gzip.decompress((hello / "usr/share/doc/hello/NEWS.gz").read_bytes()).decode()
    assert news.startswith("* Patched by the unessential test recipe.\n")
    changelog = gzip.decompress(
        (hello / "usr/share/doc/hello/changelog.Debian.gz").read_bytes()).decode()
    assert changelog.startswith(f"hello ({hello_version}) ")
    assert "  * Carry news.patch (unessential test)." in changelog
    # Sources lists the sources we built, not the upstream's
    listed = {p["Package"]: p for p in
              Deb822.iter_paragraphs((main / "source" / "Sources").read_text())}
    assert listed["twin"]["Version"] == "1.0-1ue1"
    assert listed["hello"]["Version"] == hello_version
    assert "hello_2.10.orig.tar.gz" in listed["hello"]["Files"]

    # stock apt fetches our source, verified, and it carries the patch in its series
    apt = PrivateApt(tmp_path / "apt", ours.as_uri(), "stable", ours / "archive-keyring.asc")
    listing = tmp_path / "apt" / "sources" / "test.sources"
    listing.write_text(listing.read_text().replace("Types: deb\n", "Types: deb deb-src\n"))
    _quiet(apt.update())
    (tmp_path / "src").mkdir()
    fetched = subprocess.run(["apt-get", "-q", *apt.options, "source", "twin"],
                             cwd=tmp_path / "src", capture_output=True, text=True,
                             env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C",
                                  "APT_CONFIG": str(apt.config)})
    _quiet(fetched)
    tree = tmp_path / "src" / "twin-1.0"
    assert (tree / "message.txt").read_text() == "patched by the recipe\n"
    assert (tree / "debian/patches/series").read_text().splitlines()[-1] == \
        "unessential/01-message.patch"
    # the siblings that pin each other install with stock apt and dpkg
    _quiet(apt.install("twin"))
    assert _version(apt, "twin") == _version(apt, "twin-data") == "1.0-1ue1"
