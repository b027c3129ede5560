"""Rewritten packages install with stock dpkg in a real chroot, and lintian accepts them.

Marked `network`: the chroot is made with mmdebstrap from the host's mirror, the
universe (which packages are Essential/required) is the host mirror's Packages index,
and ca-certificates is the real package rewritten with its recipe.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from archive.settings import UpstreamSettings
from archive.upstream.mirror import host_codename, resolve_entries
from tests.fixtures.shapes import build_shapes, multiarch
from unessential.cli import cli

pytestmark = pytest.mark.network


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="module")
def chroot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("mmdebstrap") is None:
        pytest.fail("mmdebstrap is not installed (scripts/install.sh installs it)")
    codename = host_codename() or "bookworm"
    entry = next(e for e in resolve_entries(UpstreamSettings()) if e.suite == codename)
    root = tmp_path_factory.mktemp("chroot") / "root"
    subprocess.run(
        ["mmdebstrap", "--quiet", "--variant=minbase",
         "--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr", "--include=openssl",
         codename, str(root),
         f"deb {entry.uri} {codename} main"],
        check=True, capture_output=True,
    )
    return root


def cli_run(data_dir: Path, *args: str) -> list[dict]:
    result = CliRunner(env={"UNESSENTIAL_DATA_DIR": str(data_dir)}).invoke(
        cli, ["-q", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.fixture(scope="module")
def rewritten(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> dict[str, dict]:
    work = tmp_path_factory.mktemp("shapes")
    debs = build_shapes(work)
    cli_run(data_dir, "fetch", "--binary", "ca-certificates", "--dest", str(work / "debs"))
    originals = sorted((work / "debs").glob("*.deb"))
    reports = cli_run(data_dir, "rewrite", *map(str, originals), "--out", str(work / "out"))
    assert len(reports) == len(originals) == len(debs) + 1
    return {r["package"]: r for r in reports}


def in_chroot(root: Path, *cmd: str) -> str:
    return subprocess.run(["chroot", str(root), *cmd], check=True, capture_output=True,
                          text=True, env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
                                          "LC_ALL": "C"}).stdout


def test_relations_dropped_and_kept(rewritten: dict[str, dict]) -> None:
    user = rewritten["demo-user"]
    dropped = {(c["relation"].split(" ")[0], c["reason"]) for c in user["relations"]
               if c["action"] == "dropped"}
    assert ("adduser", "script-only") in dropped
    assert any(name == "debconf" for name, _ in dropped)
    lib = rewritten["libdemo1"]
    assert not [c for c in lib["relations"] if c["action"] == "dropped"], "libc6 is kept"
    ca = rewritten["ca-certificates"]
    assert all(s["status"] == "translated" for s in ca["scripts"])


def test_rewritten_packages_install_with_stock_dpkg(chroot: Path,
                                                    rewritten: dict[str, dict]) -> None:
    target = chroot / "tmp" / "debs"
    target.mkdir()
    for report in rewritten.values():
        shutil.copy(report["output"], target)
    names = sorted(p.name for p in target.iterdir())
    in_chroot(chroot, "dpkg", "-i", *[f"/tmp/debs/{n}" for n in names])
    status = in_chroot(chroot, "dpkg-query", "-W", "-f", "${Package} ${db:Status-Abbrev}\n",
                       *rewritten)
    assert all(line.split()[1] == "ii" for line in status.splitlines()), status
    # the user exists, in its own group, with the home from the script
    passwd = (chroot / "etc" / "passwd").read_text()
    (line,) = [x for x in passwd.splitlines() if x.startswith("_demo:")]
    fields = line.split(":")
    assert 100 <= int(fields[2]) <= 999 and fields[5] == "/var/lib/demo"
    group = (chroot / "etc" / "group").read_text()
    assert re.search(rf"^_demo:x:{fields[3]}:", group, re.M)
    assert (chroot / "var/lib/demo").is_dir()
    assert (chroot / "var/lib/demo").stat().st_uid == int(fields[2])
    # the alternative is registered
    assert os.readlink(chroot / "usr/bin/demo") == "/etc/alternatives/demo"
    assert os.readlink(chroot / "etc/alternatives/demo") == "/usr/bin/demo-real"
    # the ld.so cache knows the library
    cache = in_chroot(chroot, "ldconfig", "-p")
    assert re.search(rf"libdemo\.so\.1 .*=> (/usr)?/lib/{multiarch()}/libdemo\.so\.1", cache)
    # the CA bundle is there
    bundle = (chroot / "etc/ssl/certs/ca-certificates.crt").read_text()
    assert bundle.count("BEGIN CERTIFICATE") > 100
    # and removal runs the rendered prerm
    in_chroot(chroot, "dpkg", "--purge", "demo-alt", "demo-user")
    assert not (chroot / "etc/alternatives/demo").exists()
    assert not (chroot / "var/lib/demo").exists()


def _lintian_errors(deb: str) -> set[str]:
    out = subprocess.run(["lintian", "--no-cfg", deb], capture_output=True, text=True)
    return {line.split(":", 2)[2].split()[0] for line in out.stdout.splitlines()
            if line.startswith("E: ")}


def test_dpkg_deb_and_lintian_accept_the_output(rewritten: dict[str, dict]) -> None:
    if shutil.which("lintian") is None:
        pytest.fail("lintian is not installed (scripts/install.sh installs it)")
    for report in rewritten.values():
        info = subprocess.run(["dpkg-deb", "--info", report["output"]], check=True,
                              capture_output=True, text=True).stdout
        assert f"Package: {report['package']}" in info
        subprocess.run(["dpkg-deb", "--contents", report["output"]], check=True,
                       capture_output=True)
        before = _lintian_errors(report["input"])
        after = _lintian_errors(report["output"])
        assert after <= before, (report["package"], after - before)


def test_rewriting_twice_gives_identical_bytes(rewritten: dict[str, dict], data_dir: Path,
                                               tmp_path: Path) -> None:
    inputs = [r["input"] for r in rewritten.values()]
    again = cli_run(data_dir, "rewrite", *inputs, "--out", str(tmp_path))
    for report in again:
        assert report["output_sha256"] == rewritten[report["package"]]["output_sha256"]
