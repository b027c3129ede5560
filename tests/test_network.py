"""Against the Debian mirror named by the host's APT sources (marked `network`).

The files `unessential fetch` writes are checked here independently of our reader:
InRelease with `gpgv` and the host's keyring, indices and files with python-debian
and hashlib, following the signed chain from Release to the file.
"""

from __future__ import annotations

import hashlib
import json
import lzma
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from debian import deb822

from archive.settings import UpstreamSettings
from archive.upstream.mirror import DEFAULT_KEYRING, resolve_entries

pytestmark = pytest.mark.network
CLI = [sys.executable, "-m", "unessential.cli"]


def signed_release(uri: str, suite: str, keyring: Path, tmp: Path) -> deb822.Release:
    raw = requests.get(f"{uri}/dists/{suite}/InRelease", timeout=60).content
    (tmp / "InRelease").write_bytes(raw)
    out = subprocess.run(
        ["gpgv", "--keyring", str(keyring), "--output", "-", str(tmp / "InRelease")],
        check=True, capture_output=True,
    ).stdout
    return deb822.Release(out.decode())


def signed_index(uri: str, suite: str, release: deb822.Release, path: str) -> str:
    entry = next(e for e in release["SHA256"] if e["name"] == path + ".xz")
    data = requests.get(f"{uri}/dists/{suite}/{path}.xz", timeout=120).content
    assert hashlib.sha256(data).hexdigest() == entry["sha256"]
    return lzma.decompress(data).decode()


def run_cli(tmp_path: Path, *args: str) -> list[dict]:
    env = dict(os.environ, UNESSENTIAL_DATA_DIR=str(tmp_path / "data"))
    out = subprocess.run([*CLI, "-q", *args, "--json"], env=env, check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout)


def entry_of(suite: str) -> tuple[str, Path]:
    for entry in resolve_entries(UpstreamSettings()):
        if entry.suite == suite:
            keyring = entry.signed_by.keyrings[0] if entry.signed_by.keyrings \
                else DEFAULT_KEYRING
            return entry.uri, keyring
    raise AssertionError(f"no host entry for {suite}")


def test_fetch_hello_source_verified(tmp_path: Path) -> None:
    (result,) = run_cli(tmp_path, "fetch", "hello", "--dest", str(tmp_path / "src"))
    assert result["package"] == "hello" and result["kind"] == "source"
    uri, keyring = entry_of(result["suite"])
    release = signed_release(uri, result["suite"], keyring, tmp_path)
    sources = signed_index(uri, result["suite"], release, "main/source/Sources")
    stanza = next(
        s for s in deb822.Sources.iter_paragraphs(sources.splitlines(True), use_apt_pkg=False)
        if s["Package"] == "hello" and s["Version"] == result["version"]
    )
    expected = {f["name"]: f["sha256"] for f in stanza["Checksums-Sha256"]}
    got = {Path(f["path"]).name: f["sha256"] for f in result["files"]}
    assert got == expected
    assert any(name.endswith(".dsc") for name in got)
    for item in result["files"]:
        assert hashlib.sha256(Path(item["path"]).read_bytes()).hexdigest() == \
            expected[Path(item["path"]).name]


def test_fetch_ca_certificates_binary_verified(tmp_path: Path) -> None:
    (result,) = run_cli(tmp_path, "fetch", "--binary", "ca-certificates",
                        "--dest", str(tmp_path / "debs"))
    uri, keyring = entry_of(result["suite"])
    release = signed_release(uri, result["suite"], keyring, tmp_path)
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True,
                          text=True).stdout.strip()
    packages = signed_index(uri, result["suite"], release, f"main/binary-{arch}/Packages")
    stanza = next(
        s for s in deb822.Packages.iter_paragraphs(packages.splitlines(True),
                                                   use_apt_pkg=False)
        if s["Package"] == "ca-certificates" and s["Version"] == result["version"]
    )
    (item,) = result["files"]
    data = Path(item["path"]).read_bytes()
    assert len(data) == int(stanza["Size"])
    assert hashlib.sha256(data).hexdigest() == stanza["SHA256"] == item["sha256"]
    contents = subprocess.run(["dpkg-deb", "--field", item["path"], "Package"],
                              capture_output=True, text=True, check=True).stdout
    assert contents.strip() == "ca-certificates"


def test_mirror_show_verifies_every_host_suite(tmp_path: Path) -> None:
    rows = run_cli(tmp_path, "mirror", "show", "--verify")
    host = resolve_entries(UpstreamSettings())
    assert [(r["uri"], r["suite"]) for r in rows] == [(e.uri, e.suite) for e in host]
    assert all(r["signers"] for r in rows)


def test_rewrite_survey_of_a_real_closure(tmp_path: Path) -> None:
    """Every maintainer script in the closure is translated, kept or flagged with a reason."""
    env = dict(os.environ, UNESSENTIAL_DATA_DIR=str(tmp_path / "data"))
    roots = ["python3", "openssl", "ca-certificates", "tzdata", "adduser", "passwd"]
    table = subprocess.run([*CLI, "-q", "rewrite", "--closure", *roots, "--report"],
                           env=env, check=True, capture_output=True, text=True).stdout
    print(table)  # the figures for the issue note (pytest -s)
    total = next(line for line in table.splitlines() if line.startswith("total ("))
    scripts, translated, kept, flagged, _ = (int(x) for x in total.split(")")[1].split())
    assert scripts > 30 and translated > 0
    assert translated + kept + flagged == scripts, "nothing is silently dropped"
    # the flagged section ends at its blank line (the implicit run-time uses follow)
    problems = table.split("flagged (each needs a recipe):")[1].strip().split("\n\n")[0] \
        .splitlines() if flagged else []
    assert len(problems) == flagged
    assert all(re.match(r"^[a-z0-9.+-]+: (preinst|postinst|prerm|postrm|config):\d+: ", p.strip())
               for p in problems)
    reports = json.loads(subprocess.run(
        [*CLI, "-q", "rewrite", "--closure", *roots, "--json"],
        env=env, check=True, capture_output=True, text=True).stdout)
    assert {r["package"] for r in reports} >= set(roots)
    for report in reports:
        for script in report["scripts"]:
            assert script["status"] in ("translated", "kept", "flagged")
            assert script["status"] != "flagged" or script["problem"]
            for dropped in script["dropped"]:
                assert dropped["reason"], "every dropped line has a reason"
