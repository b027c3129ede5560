"""The product end to end against the host's mirror: repack the closure of python3 with
the packaged recipes, publish it signed, bootstrap python3 from it.

The image has no /bin/sh, no bash, no perl, every install script was replaced by
actions (--strict), python3 imports ssl, json and sqlite3 in a chroot, dpkg's database
lists every package, and two OCI bootstraps give the same digest that skopeo reads.
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

from recipes.recipe import RECIPES_DIR

pytestmark = pytest.mark.network
CLI = [sys.executable, "-m", "unessential.cli"]
# base-files is in every image on purpose (bootstrap.base): our build, whose os-release
# names the distribution for scanners
IMPLICIT = {"bash", "dash", "perl-base", "perl", "coreutils", "dpkg", "debconf", "sed",
            "grep", "findutils", "diffutils", "util-linux", "base-passwd",
            "debianutils", "init-system-helpers", "login", "passwd", "sysvinit-utils", "tar",
            "mawk", "gzip", "hostname", "ncurses-bin", "bsdutils", "libc-bin"}


def closure_sources(name: str) -> list[str]:
    text = (RECIPES_DIR / "closures" / f"{name}.txt").read_text()
    return [line.split("#", 1)[0].strip() for line in text.splitlines()
            if line.split("#", 1)[0].strip()]


def cli(data: Path, *args: str, timeout: int = 1800) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, UNESSENTIAL_DATA_DIR=str(data), SOURCE_DATE_EPOCH="1700000000")
    for name in ("UNESSENTIAL_BROKER_URL", "UNESSENTIAL_DATABASE_URL", "UNESSENTIAL_CONFIG"):
        env.pop(name, None)
    return subprocess.run([*CLI, "-q", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    data = tmp_path_factory.mktemp("python3-archive") / "data"
    sources = closure_sources("python3")
    # amd64 and arm64 (repacked from the mirror's arm64 binaries)
    result = cli(data, "rebuild", "--repack", *sources, "ca-certificates", "--arch",
                 "amd64,arm64", "--wait", "--concurrency", "2", "--json")
    assert result.returncode == 0, result.stderr[-3000:] + result.stdout[-3000:]
    builds = json.loads(result.stdout)["builds"]
    assert len(builds) == 2 * (len(sources) + 1)
    states = {b["source"]: b["status"] for b in builds}
    assert {b["status"] for b in builds} == {"done"}, states
    publish = cli(data, "publish", "--sources", "available", "--json")
    assert publish.returncode == 0, publish.stderr
    info = json.loads(publish.stdout)
    # every source is in Sources, or one the mirror lists but does not serve (some
    # mirrors carry no sources of the security suite)
    assert all("cannot be fetched" in m["problem"] for m in info["missing_sources"]), \
        info["missing_sources"]
    assert info["sources"] + len(info["missing_sources"]) == len(states)
    # base-files from a source of our own (its os-release names us): a source build
    result = cli(data, "rebuild", "base-files", "--wait", "--json")
    assert result.returncode == 0, result.stderr[-3000:] + result.stdout[-3000:]
    publish = cli(data, "publish", "--sources", "available", "--json")
    assert publish.returncode == 0, publish.stderr
    yield data


def test_python3_rootfs_has_no_shell_and_runs(published: Path, tmp_path: Path) -> None:
    out = tmp_path / "rootfs"
    result = cli(published, "bootstrap", "python3", "--strict", "--output", str(out), "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    info = json.loads(result.stdout)
    names = {p["name"] for p in info["packages"]}
    assert "python3" in names and "libssl3" in names and "base-files" in names
    assert not names & IMPLICIT, names & IMPLICIT
    assert info["unhandled"] == []
    for shell in ("bin/sh", "usr/bin/sh", "bin/bash", "usr/bin/bash", "usr/bin/perl",
                  "usr/bin/dash"):
        assert not os.path.lexists(out / shell), shell
    assert not any(p.name.startswith(("perl", "bash")) for p in (out / "usr/bin").iterdir())
    if os.geteuid() == 0:
        run = subprocess.run(["chroot", str(out), "/usr/bin/python3", "-c",
                              "import ssl, json, sqlite3; print(ssl.OPENSSL_VERSION)"],
                             capture_output=True, text=True)
        assert run.returncode == 0 and run.stdout.startswith("OpenSSL"), run.stderr
    listed = subprocess.run(["dpkg-query", f"--admindir={out / 'var/lib/dpkg'}", "-W",
                             "-f", "${Package}\\n"], capture_output=True, text=True,
                            check=True).stdout.split()
    assert sorted(listed) == sorted(names)


def test_python3_oci_is_reproducible(published: Path, tmp_path: Path) -> None:
    digests = []
    for attempt in ("one", "two"):
        out = tmp_path / f"{attempt}.oci.tar"
        result = cli(published, "bootstrap", "python3", "--output", str(out), "--sbom", "spdx",
                     "--entrypoint", "/usr/bin/python3", "--json")
        assert result.returncode == 0, result.stderr[-3000:]
        digests.append(json.loads(result.stdout)["digest"])
    assert digests[0] == digests[1]
    assert (tmp_path / "one.oci.tar").read_bytes() == (tmp_path / "two.oci.tar").read_bytes()
    inspect = subprocess.run(["skopeo", "inspect", f"oci-archive:{tmp_path / 'one.oci.tar'}"],
                             capture_output=True, text=True)
    assert inspect.returncode == 0, inspect.stderr
    assert json.loads(inspect.stdout)["Digest"] == digests[0]
    sbom = json.loads((tmp_path / "one.oci.tar.spdx.json").read_text())
    assert {p["name"] for p in sbom["packages"]} >= {"python3", "libssl3", "libc6"}


def _syft(target: str) -> dict:
    syft = Path(sys.executable).parent / "syft"
    done = subprocess.run([str(syft), "-q", target, "-o", "json"], capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _apparent_size(root: Path) -> int:
    """Bytes of the image's regular files and links (as bench_bootstrap.py counts them and
    `du --apparent-size` does; a directory's size is its file system's)."""
    total = 0
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            total += os.lstat(os.path.join(dirpath, name)).st_size
    return total


def test_scanners_read_the_slim_python3_image(published: Path, tmp_path: Path) -> None:
    """Syft identifies Debian 12 and every package with the purl of our SBOM (OCI archive
    and rootfs), spdx-tools and the CycloneDX schema accept the SBOMs, and with the
    documentation and charset filters the python3 + ca-certificates image is at most
    16 MB and the python3 rootfs at most 40 MiB, python3 working, dpkg --verify clean."""
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator
    from spdx_tools.spdx.parser.parse_anything import parse_file
    from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

    slim = ("--exclude-docs", "--exclude-charsets")
    image = tmp_path / "python.oci.tar"
    result = cli(published, "bootstrap", "python3", "ca-certificates", *slim, "--output",
                 str(image), "--sbom", "spdx,cyclonedx", "--entrypoint", "/usr/bin/python3",
                 "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    assert image.stat().st_size <= 16_000_000, image.stat().st_size
    rootfs = tmp_path / "rootfs"
    result = cli(published, "bootstrap", "python3", *slim, "--output", str(rootfs),
                 "--sbom", "cyclonedx", "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    assert _apparent_size(rootfs) <= 40 * 2**20, _apparent_size(rootfs)
    verify = subprocess.run(["dpkg", f"--root={rootfs}", "--verify"], capture_output=True,
                            text=True)
    assert verify.returncode == 0 and verify.stdout == "", verify.stdout[-3000:]
    if os.geteuid() == 0:
        run = subprocess.run(["chroot", str(rootfs), "/usr/bin/python3", "-c",
                              "import ssl, json, sqlite3; print(ssl.OPENSSL_VERSION)"],
                             capture_output=True, text=True)
        assert run.returncode == 0 and run.stdout.startswith("OpenSSL"), run.stderr
    for target, sbom in ((f"oci-archive:{image}", image.with_name(image.name + ".cdx.json")),
                         (f"dir:{rootfs}", rootfs.with_name(rootfs.name + ".cdx.json"))):
        report = _syft(target)
        assert (report["distro"]["id"], report["distro"]["versionID"]) == ("debian", "12")
        found = {(a["name"], a["version"], a["purl"]) for a in report["artifacts"]}
        assert all(a["type"] == "deb" and a["purl"] for a in report["artifacts"])
        bom = json.loads(sbom.read_text())
        ours = {(c["name"], c["version"], c["purl"]) for c in bom["components"]
                if c["type"] == "library"}
        assert found == ours, found ^ ours
        assert JsonStrictValidator(SchemaVersion.V1_5).validate_str(sbom.read_text()) is None
    spdx = image.with_name(image.name + ".spdx.json")
    assert validate_full_spdx_document(parse_file(str(spdx))) == []


def test_arm64_image_runs_under_qemu(published: Path, tmp_path: Path) -> None:
    """One OCI image for linux/amd64 and linux/arm64 (skopeo reads arm64's manifest), and
    the arm64 rootfs's python3 runs under Debian's qemu-aarch64-static."""
    image = tmp_path / "python.oci.tar"
    result = cli(published, "bootstrap", "python3", "--platform", "linux/amd64,linux/arm64",
                 "--exclude-docs", "--output", str(image), "--sbom", "cyclonedx", "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    info = json.loads(result.stdout)
    assert [p["platform"] for p in info["platforms"]] == ["linux/amd64", "linux/arm64/v8"]
    for arch in ("amd64", "arm64"):
        inspect = subprocess.run(["skopeo", "inspect", "--override-arch", arch,
                                  f"oci-archive:{image}"], capture_output=True, text=True)
        assert inspect.returncode == 0, inspect.stderr
        assert json.loads(inspect.stdout)["Architecture"] == arch
        bom = json.loads(image.with_name(f"{image.name}.{arch}.cdx.json").read_text())
        libc = [c for c in bom["components"] if c.get("name") == "libc6"]
        assert libc and f"arch={arch}" in libc[0]["purl"]
    rootfs = tmp_path / "arm64-rootfs"
    result = cli(published, "bootstrap", "python3", "--arch", "arm64", "--exclude-docs",
                 "--output", str(rootfs), "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    elf = (rootfs / "usr/bin/python3.11").read_bytes()[:20]
    assert elf[:4] == b"\x7fELF" and int.from_bytes(elf[18:20], "little") == 183  # EM_AARCH64
    qemu = shutil.which("qemu-aarch64-static")
    assert qemu, "qemu-user-static is not installed (scripts/install.sh installs it)"
    run = subprocess.run([qemu, "-L", str(rootfs), str(rootfs / "usr/bin/python3"), "-c",
                          "import ssl, json, sqlite3, platform; "
                          "print(platform.machine(), ssl.OPENSSL_VERSION)"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("aarch64 OpenSSL"), run.stdout
