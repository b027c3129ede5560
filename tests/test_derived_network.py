"""Our archive beside the host's Debian mirror (issue 16), with the real lz4 source:
one sources list, stock apt, our rebuilt library preferred, upgrades when we rebuild.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from debian.deb822 import Deb822

from archive.settings import UpstreamSettings
from archive.upstream.mirror import host_codename, resolve_entries
from tests.fixtures.apt import PrivateApt

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
