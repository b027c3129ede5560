"""Our archive beside Debian's: marked versions, sibling pins, upgrades (issue 16).

The order is checked against real `dpkg --compare-versions`; the archive tests run a
repack through the embedded farm from a fixture upstream served on 127.0.0.1, publish
it, and give stock apt both archives in one sources list.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from debian.deb822 import Deb822
from hypothesis import given, settings
from hypothesis import strategies as st

from rewrite.versions import check_mark, deb_name, marked, source_field, with_versions
from tests.conftest import Workspace
from tests.fixtures.apt import PrivateApt
from tests.fixtures.archive import FixtureArchive
from tests.fixtures.debs import make_deb, make_source
from tests.fixtures.keys import ArchiveKey
from tests.fixtures.source_farm import farm_on, run


def dpkg_less(a: str, b: str) -> bool:
    return subprocess.run(["dpkg", "--compare-versions", a, "lt", b]).returncode == 0


@pytest.mark.parametrize("debian", ["1.0-1", "2:1.2.13.dfsg-1", "3.11.2-1+b1", "1.0",
                                    "1.0~rc1-2", "3.0.11-1~deb12u2", "1.0-1a", "252.30-1~deb12u2"])
def test_marked_sorts_above_debian_and_below_its_later_uploads(debian: str) -> None:
    ours, next_build = marked(debian, "ue", 1), marked(debian, "ue", 2)
    assert dpkg_less(debian, ours) and dpkg_less(ours, next_build)
    later = [f"{debian}+b1", f"{debian}+deb12u1", f"{debian}.1"]
    if "-" in debian:
        upstream, _, revision = debian.rpartition("-")
        later.append(f"{upstream}-{revision}.1")
    for newer in later:
        assert dpkg_less(next_build, newer), (next_build, newer)


def test_a_plus_mark_would_hide_security_updates_and_is_refused() -> None:
    # the reason for letters only: 1.0-1+ue1 sorts above Debian's later 1.0-1+deb12u1
    assert dpkg_less("1.0-1+deb12u1", "1.0-1+ue1")
    for bad in ["+ue", "ue1", "", "UE", "u.e", "abcdefghijklmnopq"]:
        with pytest.raises(ValueError, match="lower-case letters"):
            check_mark(bad)
    with pytest.raises(ValueError):
        marked("1.0-1", "ue", 0)
    with pytest.raises(ValueError):
        marked("not a version!", "ue", 1)


_VERSIONS = st.builds(
    lambda epoch, upstream, revision: f"{epoch}{upstream}{revision}",
    st.sampled_from(["", "1:", "12:"]),
    st.from_regex(r"[0-9][0-9a-z.+~]{0,8}", fullmatch=True),
    st.one_of(st.just(""), st.from_regex(r"-[0-9a-z.+~]{1,8}", fullmatch=True)))


@settings(max_examples=150, deadline=None)
@given(_VERSIONS, st.integers(min_value=1, max_value=50))
def test_marked_order_holds_for_any_version(debian: str, counter: int) -> None:
    from debian.debian_support import version_compare

    try:
        ours = marked(debian, "ue", counter)
    except ValueError:
        return  # not a Debian version (python-debian refuses it)
    assert version_compare(debian, ours) < 0
    assert version_compare(ours, marked(debian, "ue", counter + 1)) < 0
    assert version_compare(ours, f"{debian}+b1") < 0


def test_with_versions_pins_siblings_and_keeps_history() -> None:
    fields = {
        "Package": "python3", "Version": "3.11.2-1+b1", "Architecture": "amd64",
        "Source": "python3-defaults (3.11.2-1)",
        "Depends": "python3-minimal (= 3.11.2-1+b1) | other, libpython3-stdlib (<= 3.11.2-1+b1),"
                   " python3.11 (>= 3.11.2-1~), foreign (= 3.11.2-1+b1)",
        "Provides": "python3-profiler (= 3.11.2-1+b1), python3-any (= 1.0)",
        "Breaks": "python3-minimal (<< 3.11.2-1+b1)",
    }
    versions = {name: ("3.11.2-1+b1", "3.11.2-1+b1ue2")
                for name in ("python3", "python3-minimal", "libpython3-stdlib")}
    pinned = with_versions(fields, versions)
    assert fields["Version"] == "3.11.2-1+b1ue2"
    assert fields["Source"] == "python3-defaults (3.11.2-1)"
    assert fields["Depends"] == (
        "python3-minimal (= 3.11.2-1+b1ue2) | other, libpython3-stdlib (<= 3.11.2-1+b1ue2), "
        "python3.11 (>= 3.11.2-1~), foreign (= 3.11.2-1+b1)")  # foreign: not of this build
    # Provides keep Debian's versions: Debian's dependents on `(= X)` find our X
    assert fields["Provides"] == "python3-profiler (= 3.11.2-1+b1), python3-any (= 1.0)"
    assert fields["Breaks"] == "python3-minimal (<< 3.11.2-1+b1)"  # Debian's history
    assert [(p.field, p.before) for p in pinned] == [
        ("Depends", "python3-minimal (= 3.11.2-1+b1)"),
        ("Depends", "libpython3-stdlib (<= 3.11.2-1+b1)")]
    # no Source field: one naming the package and Debian's version, after Package
    plain = {"Package": "zlib1g", "Version": "1:1.2.13.dfsg-1", "Architecture": "amd64"}
    with_versions(plain, {"zlib1g": ("1:1.2.13.dfsg-1", "1:1.2.13.dfsg-1ue1")})
    assert list(plain) == ["Package", "Source", "Version", "Architecture"]
    assert source_field(plain) == ("zlib1g", "1:1.2.13.dfsg-1")
    assert deb_name("zlib1g", plain["Version"], "amd64") == "zlib1g_1.2.13.dfsg-1ue1_amd64.deb"
    with pytest.raises(ValueError, match="is not"):
        with_versions({"Package": "a", "Version": "2"}, {"a": ("1", "1ue1")})


# -- our archive beside the upstream, through stock apt and bootstrap ------------------

def _pair(version: str) -> list[tuple[str, str, str, str, str]]:
    return [("pair", "pair", version, f"pair-data (= {version}), base-thing", ""),
            ("pair-data", "pair", version, "", f"Breaks: pair (<< {version})\n"
                                               f"Provides: pair-abi (= {version})\n")]


def _add(archive: FixtureArchive, work: Path,
         specs: list[tuple[str, str, str, str, str]]) -> None:
    """Binaries (name, source, version, Depends, more fields) and their sources."""
    (work / "debs").mkdir(parents=True)
    for name, source, version, depends, extra in specs:
        deb = make_deb(work / "debs", name, version, "all", depends=depends,
                       extra=f"Source: {source}\nPriority: optional\nSection: misc\n{extra}")
        pool = archive.repo / "pool" / "main" / source[0] / source
        pool.mkdir(parents=True, exist_ok=True)
        shutil.copy(deb, pool / deb.name)
    for source, version in sorted({(spec[1], spec[2]) for spec in specs}):
        upstream, _, revision = version.rpartition("-")
        dsc = make_source(work, source, upstream, revision)
        pool = archive.repo / "pool" / "main" / source[0] / source
        for produced in dsc.parent.iterdir():
            if produced.is_file() and produced.name.startswith(f"{source}_"):
                shutil.copy(produced, pool / produced.name)
    archive.write_indices()
    archive.write_release()


def _upstream(root: Path, key: ArchiveKey) -> FixtureArchive:
    """Source `pair` 1.0-1 (pair pins pair-data's exact version, pair-data Breaks older
    pairs and Provides an ABI at its version), source `user` 2.0-1 that needs pair-data,
    and an Essential base-thing."""
    archive = FixtureArchive(root=root / "www", key=key)
    _add(archive, root / "work", [
        *_pair("1.0-1"),
        ("user", "user", "2.0-1", "pair-data (>= 1.0), pair-abi (= 1.0-1)", ""),
        ("base-thing", "base-thing", "1.0-1", "", "Essential: yes\n"),
    ])
    return archive


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory,
             keys: dict[str, ArchiveKey]) -> FixtureArchive:
    return _upstream(tmp_path_factory.mktemp("derived-upstream"), keys["archive"])


@pytest.fixture
def farm(tmp_path: Path, upstream: FixtureArchive) -> Iterator[tuple[Workspace, Path, str]]:
    with farm_on(tmp_path, upstream) as (ws, recipes):
        mirror = ws.config.read_text().split('mirror = "', 1)[1].split('"', 1)[0]
        yield ws, recipes, mirror


def _apt_beside(root: Path, ours: Path, mirror: str, upstream: FixtureArchive) -> PrivateApt:
    """Stock apt with our archive and the upstream in one sources list."""
    apt = PrivateApt(root, ours.as_uri(), "stable", ours / "archive-keyring.asc")
    (root / "sources" / "upstream.sources").write_text(
        f"Types: deb\nURIs: {mirror}\nSuites: fixture\nComponents: main\n"
        f"Signed-By: {upstream.key.public_keyring}\n")
    return apt


def _quiet(result: subprocess.CompletedProcess[str]) -> str:
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert not [line for line in output.splitlines() if line.startswith(("W:", "E:"))], output
    return output


def _apt_source(apt: PrivateApt, folder: Path, package: str
                ) -> subprocess.CompletedProcess[str]:
    folder.mkdir()
    return subprocess.run(["apt-get", "-q", *apt.options, "source", package], cwd=folder,
                          capture_output=True, text=True,
                          env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C",
                               "APT_CONFIG": str(apt.config)})


def _dpkg_version(apt: PrivateApt, package: str) -> str:
    return subprocess.run(["dpkg-query", f"--admindir={apt.target / 'var/lib/dpkg'}", "-W",
                           "-f", "${Version}", package], capture_output=True, text=True,
                          check=True).stdout


def test_our_builds_beside_the_upstream_in_one_sources_list(
        farm: tuple[Workspace, Path, str], upstream: FixtureArchive, tmp_path: Path) -> None:
    ws, recipes, mirror = farm
    built = run(ws, "rebuild", "--repack", "pair", "--wait")
    assert built.returncode == 0, built.stderr
    published = run(ws, "publish", "--json")
    assert published.returncode == 0, published.stderr
    ours = Path(json.loads(published.stdout)["root"])

    apt = _apt_beside(tmp_path / "apt", ours, mirror, upstream)
    _quiet(apt.update())
    _quiet(apt.run("check"))
    shown = subprocess.run(["apt-cache", *apt.options, "policy", "pair-data"],
                           capture_output=True, text=True,
                           env={"APT_CONFIG": str(apt.config), "LC_ALL": "C"})
    text = _quiet(shown)
    assert "Candidate: 1.0-1ue1" in text, text
    assert " 1.0-1ue1 500" in text and " 1.0-1 500" in text, text  # two versions

    # a package we did not rebuild resolves against our rebuilt library
    output = _quiet(apt.install("user"))
    assert _dpkg_version(apt, "user") == "2.0-1"
    assert _dpkg_version(apt, "pair-data") == "1.0-1ue1", output
    # siblings that pin each other's exact version install together
    _quiet(apt.install("pair"))
    assert _dpkg_version(apt, "pair") == "1.0-1ue1"

    # bootstrap resolves the same pins from our archive alone
    image = tmp_path / "image"
    booted = run(ws, "bootstrap", "pair", "--archive", str(ours), "--suite", "stable",
                 "--output", str(image), "--format", "dir", "--no-record", "--json")
    assert booted.returncode == 0, booted.stderr
    status = (image / "var/lib/dpkg/status").read_text()
    assert "Package: pair\n" in status and "Package: pair-data\n" in status
    assert status.count("Version: 1.0-1ue1\n") == 2, status

    # the source of the repacked package is in our archive: stock apt-get source
    # fetches it, verified against our signed Sources, and dpkg-source unpacks it
    sources = (tmp_path / "apt" / "sources" / "test.sources")
    sources.write_text(sources.read_text().replace("Types: deb\n", "Types: deb deb-src\n"))
    _quiet(apt.update())
    fetched = _apt_source(apt, tmp_path / "src", "pair-data")
    _quiet(fetched)
    assert (tmp_path / "src" / "pair-1.0" / "README").is_file()
    assert (tmp_path / "src" / "pair_1.0-1.dsc").is_file()

    # a recipe change is a new build with a higher version; apt upgrades to it (the
    # new build keeps base-thing, which this client has: `upgrade` adds no package)
    _quiet(apt.install("base-thing"))
    (recipes / "pair.toml").write_text('[binary.pair]\nkeep = ["base-thing"]\n')
    rebuilt = run(ws, "rebuild", "--repack", "pair", "--wait")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert run(ws, "publish").returncode == 0
    _quiet(apt.update())
    _quiet(apt.run("upgrade", "-y"))
    assert _dpkg_version(apt, "pair") == "1.0-1ue2"
    assert _dpkg_version(apt, "pair-data") == "1.0-1ue2"

    # apt verifies what it fetches: a tarball altered in our pool is refused
    tarball = next((ours / "pool/main/p/pair").glob("pair_1.0.orig.tar.*"))
    tarball.write_bytes(tarball.read_bytes() + b"tampered")
    refused = _apt_source(apt, tmp_path / "src2", "pair")
    assert refused.returncode != 0
    assert "Hash Sum mismatch" in refused.stdout + refused.stderr or \
        "Size mismatch" in refused.stdout + refused.stderr, refused.stdout + refused.stderr


def test_outdated_sources_are_listed_rebuilt_and_published(
        tmp_path: Path, keys: dict[str, ArchiveKey]) -> None:
    """Two upstream snapshots: after the upstream moves pair to 1.1-1, `status
    --outdated` lists pair (not user), `rebuild --outdated` rebuilds only it, and the
    next publish carries it, with its source."""
    archive = _upstream(tmp_path / "upstream", keys["archive"])
    with farm_on(tmp_path, archive) as (ws, _):
        built = run(ws, "rebuild", "--repack", "pair", "user", "--wait")
        assert built.returncode == 0, built.stderr
        none = run(ws, "status", "--outdated", "--json")
        assert none.returncode == 0, none.stderr
        assert json.loads(none.stdout) == []
        assert "no source is outdated" in run(ws, "status", "--outdated").stdout

        _add(archive, tmp_path / "upstream" / "work2", _pair("1.1-1"))  # the upstream moves
        moved = run(ws, "status", "--outdated", "--json")
        assert moved.returncode == 0, moved.stderr
        (row,) = json.loads(moved.stdout)
        assert (row["source"], row["ours"], row["upstream"], row["suite"], row["origin"]) == \
            ("pair", "1.0-1", "1.1-1", "fixture", "repack")
        assert "pair" in run(ws, "status", "--outdated").stdout

        rebuilt = run(ws, "rebuild", "--outdated", "--wait", "--json")
        assert rebuilt.returncode == 0, rebuilt.stderr
        builds = json.loads(rebuilt.stdout)["builds"]
        assert [(b["source"], b["version"], b["status"]) for b in builds] == [
            ("pair", "1.1-1", "done")]
        assert json.loads(run(ws, "status", "--outdated", "--json").stdout) == []
        again = run(ws, "rebuild", "--outdated", "--json")
        assert again.returncode == 0 and json.loads(again.stdout)["builds"] == []

        published = run(ws, "publish", "--json")
        assert published.returncode == 0, published.stderr
        ours = Path(json.loads(published.stdout)["root"]) / "dists" / "stable" / "main"
        packages = {p["Package"]: (p["Version"], p["Source"]) for p in
                    Deb822.iter_paragraphs((ours / "binary-amd64" / "Packages").read_text())}
        assert packages == {"pair": ("1.1-1ue1", "pair (1.1-1)"),
                            "pair-data": ("1.1-1ue1", "pair (1.1-1)"),
                            "user": ("2.0-1ue1", "user (2.0-1)")}
        sources = {p["Package"]: p["Version"] for p in
                   Deb822.iter_paragraphs((ours / "source" / "Sources").read_text())}
        assert sources == {"pair": "1.1-1", "user": "2.0-1"}


# -- outdated, sources of our own, build environments (pure parts) ---------------------

def test_outdated_compares_in_dpkg_order_across_suites() -> None:
    from worker.outdated import Built, newest_upstream, outdated

    upstream = newest_upstream([
        ("bookworm", "openssl", "3.0.11-1~deb12u1"),
        ("bookworm-security", "openssl", "3.0.11-1~deb12u2"),
        ("bookworm", "zlib", "1:1.2.13.dfsg-1"),
        ("bookworm", "curl", "7.88.1-10+deb12u5"),
        ("bookworm-updates", "curl", "7.88.1-10+deb12u4"),
    ])
    assert upstream["openssl"] == ("3.0.11-1~deb12u2", "bookworm-security")
    assert upstream["curl"] == ("7.88.1-10+deb12u5", "bookworm")
    built = [Built("openssl", "3.0.11-1~deb12u1", "bookworm", "repack", 1),
             Built("zlib", "1:1.2.13.dfsg-1", "bookworm", "source-build", 2),
             Built("curl", "7.88.1-10+deb12u6", "bookworm", "repack", 3),  # ours is newer
             Built("gone", "1.0-1", "bookworm", "repack", 4)]  # not upstream any more
    (moved,) = outdated(built, upstream)
    assert moved.as_dict() == {"source": "openssl", "ours": "3.0.11-1~deb12u1",
                               "upstream": "3.0.11-1~deb12u2", "suite": "bookworm-security",
                               "origin": "repack", "build_id": 1, "binnmu": []}


def test_new_source_changelog_entry_lines() -> None:
    from worker.build.chroot import NewSource

    entry = NewSource("1.0-1ue1", "Carry a fix.\n\nSecond line.", "A <a@b.example>")
    assert entry.entry_lines() == "  * Carry a fix.\n    Second line."
    assert NewSource("1.0-1ue1", "  ", "A <a@b.example>").entry_lines() == \
        "  * Rebuilt by unessential."


def test_the_suite_a_source_came_from_is_in_its_build_environment(tmp_path: Path) -> None:
    from archive.settings import UpstreamSettings
    from archive.upstream.mirror import host_codename
    from worker.build.chroot import _sources_stanza
    from worker.environment import build_env
    from worker.settings import FarmSettings, WorkerSettings

    codename = host_codename()
    if not codename:
        pytest.skip("the host names no codename")
    keyring = tmp_path / "keyring.gpg"
    keyring.write_bytes(b"not read here")
    upstream = UpstreamSettings(mirror="http://127.0.0.1:9/debian", keyring=[keyring],
                                suites=[codename, f"{codename}-security", "other"])
    settings = FarmSettings(WorkerSettings(), upstream, tmp_path, "sqlite://")
    plain = build_env(settings, "amd64")
    assert plain.extra == () and build_env(settings, "amd64", codename) == plain
    assert build_env(settings, "amd64", "other").extra == ()  # not of this codename
    security = build_env(settings, "amd64", f"{codename}-security")
    assert security.extra == (("http://127.0.0.1:9/debian", f"{codename}-security"),)
    stanzas = _sources_stanza(security, "/k.gpg")
    assert f"Suites: {codename}\n" in stanzas and f"Suites: {codename}-security\n" in stanzas
    assert security.description()["extra"] and "extra" not in plain.description()


def test_recipe_patches_are_checked_and_counted(tmp_path: Path) -> None:
    from base.errors import RecipeError
    from recipes.policy import load_policy
    from recipes.recipe import load_recipe, recipe_digest

    (tmp_path / "pair.toml").write_text('[source]\npatches = ["fix.patch"]\nchangelog = "x"\n')
    with pytest.raises(RecipeError, match=r"pair.toml.*source.patches.*cannot read"):
        load_recipe("pair", tmp_path)
    (tmp_path / "patches" / "pair").mkdir(parents=True)
    patch = tmp_path / "patches" / "pair" / "fix.patch"
    patch.write_text("--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n")
    recipe = load_recipe("pair", tmp_path)
    assert recipe is not None and recipe.source is not None
    assert recipe.source.paths == (patch,)
    first = recipe_digest(load_policy(), recipe)
    patch.write_text("--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+c\n")
    assert recipe_digest(load_policy(), load_recipe("pair", tmp_path)) != first  # bytes count
    for bad, why in (('["../evil.patch"]', "not a plain file name"), ("[]", "at least one"),
                     ('["fix.patch", "fix.patch"]', "listed twice")):
        (tmp_path / "pair.toml").write_text(f"[source]\npatches = {bad}\n")
        with pytest.raises(RecipeError, match=why):
            load_recipe("pair", tmp_path)


def test_a_recipe_with_patches_is_not_repacked(farm: tuple[Workspace, Path, str]) -> None:
    ws, recipes, _ = farm
    (recipes / "patches" / "pair").mkdir(parents=True)
    (recipes / "patches" / "pair" / "fix.patch").write_text("--- a/x\n+++ b/x\n")
    (recipes / "pair.toml").write_text('[source]\npatches = ["fix.patch"]\n')
    result = run(ws, "rebuild", "--repack", "pair", "--wait", "--json")
    assert result.returncode != 0
    (build,) = json.loads(result.stdout)["builds"]
    assert build["status"] == "failed"
    assert "pair.toml" in build["error"] and "without --repack" in build["error"]


def test_a_binnmu_of_a_repacked_source_is_outdated_and_rebuilt(
        tmp_path: Path, keys: dict[str, ArchiveKey]) -> None:
    """Debian rebuilds pair's binaries (1.0-1+b1) without a new source version: status
    --outdated lists it, rebuild --outdated repacks the binNMU as a new build, whose
    versions are higher than ours of the first build: 1.0-1+b1ue1 > 1.0-1ue1 (the
    counter of a repack is kept by its recipe, not by its upstream binaries, so that
    the builds of every architecture get one version)."""
    archive = _upstream(tmp_path / "upstream", keys["archive"])
    with farm_on(tmp_path, archive) as (ws, _):
        assert run(ws, "rebuild", "--repack", "pair", "--wait").returncode == 0
        work = tmp_path / "binnmu"
        work.mkdir()
        pool = archive.repo / "pool" / "main" / "p" / "pair"
        for name, depends, extra in (
                ("pair", "pair-data (= 1.0-1+b1), base-thing", ""),
                ("pair-data", "", "Breaks: pair (<< 1.0-1+b1)\n")):
            deb = make_deb(work, name, "1.0-1+b1", "all", depends=depends,
                           extra=f"Source: pair (1.0-1)\nPriority: optional\nSection: misc\n"
                                 f"{extra}")
            shutil.copy(deb, pool / deb.name)
        archive.write_indices()
        archive.write_release()
        moved = run(ws, "status", "--outdated", "--json")
        assert moved.returncode == 0, moved.stderr
        (row,) = json.loads(moved.stdout)
        assert (row["source"], row["ours"], row["upstream"]) == ("pair", "1.0-1", "1.0-1")
        assert row["binnmu"] == ["pair 1.0-1+b1", "pair-data 1.0-1+b1"]
        assert "binNMU: pair 1.0-1+b1" in run(ws, "status", "--outdated").stdout
        rebuilt = run(ws, "rebuild", "--outdated", "--wait", "--json")
        assert rebuilt.returncode == 0, rebuilt.stderr
        (build,) = json.loads(rebuilt.stdout)["builds"]
        assert (build["source"], build["version"], build["status"]) == ("pair", "1.0-1", "done")
        assert json.loads(run(ws, "status", "--outdated", "--json").stdout) == []
        published = run(ws, "publish", "--json")
        assert published.returncode == 0, published.stderr
        ours = Path(json.loads(published.stdout)["root"]) / "dists/stable/main/binary-amd64"
        packages = {p["Package"]: p for p in
                    Deb822.iter_paragraphs((ours / "Packages").read_text())}
        assert packages["pair"]["Version"] == "1.0-1+b1ue1"
        assert packages["pair"]["Depends"] == "pair-data (= 1.0-1+b1ue1)"
        assert packages["pair"]["Source"] == "pair (1.0-1)"


def test_a_flagged_sibling_is_not_pinned(tmp_path: Path, keys: dict[str, ArchiveKey]) -> None:
    """split's tools pin split-data's exact version, and split-data's postinst runs perl
    (flagged, not produced): the tools keep Debian's pin, which Debian's split-data
    satisfies, instead of naming a version of ours that exists nowhere."""
    archive = FixtureArchive(root=tmp_path / "www", key=keys["archive"])
    work = tmp_path / "work"
    work.mkdir()
    pool = archive.repo / "pool" / "main" / "s" / "split"
    pool.mkdir(parents=True)
    for name, depends, scripts in (
            ("split-tools", "split-data (= 1.0-1)", {}),
            ("split-data", "", {"postinst": "#!/bin/sh\nset -e\nperl -e 'print 1'\n"})):
        deb = make_deb(work, name, "1.0-1", "all", depends=depends, scripts=scripts,
                       extra="Source: split\nPriority: optional\nSection: misc\n")
        shutil.copy(deb, pool / deb.name)
    dsc = make_source(work, "split", "1.0")
    for produced in dsc.parent.iterdir():
        if produced.is_file():
            shutil.copy(produced, pool / produced.name)
    archive.write_indices()
    archive.write_release()
    with farm_on(tmp_path, archive) as (ws, _):
        result = run(ws, "rebuild", "--repack", "split", "--wait", "--json")
        assert result.returncode == 0, result.stderr
        (build,) = json.loads(result.stdout)["builds"]
        assert [f["package"] for f in build["flagged"]] == ["split-data"]
        published = run(ws, "publish", "--json")
        assert published.returncode == 0, published.stderr
    ours = Path(json.loads(published.stdout)["root"]) / "dists/stable/main/binary-amd64"
    (tools,) = Deb822.iter_paragraphs((ours / "Packages").read_text())
    assert (tools["Package"], tools["Version"]) == ("split-tools", "1.0-1ue1")
    assert tools["Depends"] == "split-data (= 1.0-1)"
