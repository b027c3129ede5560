"""Workload images end to end against the host's mirror, as a new user would make them:
`rebuild --repack --closure curl haproxy memcached` (the sources of the rewritten
closures, no list written by hand), `publish`, then `bootstrap` of each program with
--strict (every maintainer script applied as actions): no shell in the image, the
program runs in a chroot, its system user exists. Binaries the engine flags are left
out of their source's build (and listed); none of them is in these closures.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_bootstrap_network import IMPLICIT, cli

pytestmark = pytest.mark.network
WORKLOADS = {
    "curl": ["/usr/bin/curl", "--version"],
    "haproxy": ["/usr/sbin/haproxy", "-c", "-f", "/etc/haproxy/haproxy.cfg"],
    "memcached": ["/usr/bin/memcached", "-V"],
}
# memcached Depends on perl for its helper scripts (/usr/share/memcached/scripts:
# memcached-tool, damemtop, start-memcached): a real dependency, kept; perl is no shell
NEEDED = {"memcached": {"perl"}}
SHELLS = ("bin/sh", "usr/bin/sh", "bin/bash", "usr/bin/bash", "usr/bin/dash", "bin/dash")


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict]]:
    data = tmp_path_factory.mktemp("workloads") / "data"
    result = cli(data, "rebuild", "--repack", "--closure", *WORKLOADS, "--wait",
                 "--concurrency", "2", "--json")
    assert result.returncode == 0, result.stderr[-3000:] + result.stdout[-3000:]
    campaign = json.loads(result.stdout)
    assert {b["status"] for b in campaign["builds"]} == {"done"}, campaign
    publish = cli(data, "publish", "--sources", "available", "--json")
    assert publish.returncode == 0, publish.stderr
    info = json.loads(publish.stdout)
    # every source is in Sources, or one the mirror lists but does not serve (some
    # mirrors carry no sources of the security suite)
    assert all("cannot be fetched" in m["problem"] for m in info["missing_sources"]), \
        info["missing_sources"]
    assert info["sources"] + len(info["missing_sources"]) == len(campaign["builds"])
    yield data, campaign


def test_the_closure_campaign_builds_what_the_closures_need(
        published: tuple[Path, dict]) -> None:
    _, campaign = published
    sources = {b["source"] for b in campaign["builds"]}
    assert {"curl", "haproxy", "memcached", "glibc", "openssl", "gcc-12"} <= sources
    flagged = {f["package"] for b in campaign["builds"] for f in b["flagged"]}
    # binaries of these sources that no workload needs, whose scripts stay flagged
    assert "libcurl4" not in flagged and "libstdc++6" not in flagged
    for build in campaign["builds"]:
        for item in build["flagged"]:
            assert item["problem"] and item["package"], build


@pytest.mark.parametrize("workload", sorted(WORKLOADS))
def test_workload_image_has_no_shell_and_runs(published: tuple[Path, dict], tmp_path: Path,
                                              workload: str) -> None:
    data, _ = published
    out = tmp_path / "rootfs"
    result = cli(data, "bootstrap", workload, "--strict", "--output", str(out), "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    info = json.loads(result.stdout)
    names = {p["name"] for p in info["packages"]}
    assert workload in names
    assert not names & IMPLICIT - NEEDED.get(workload, set()), names & IMPLICIT
    assert info["unhandled"] == []
    for shell in SHELLS:
        assert not os.path.lexists(out / shell), shell
    if workload in ("haproxy", "memcached"):  # their postinst's system user, applied natively
        user = "haproxy" if workload == "haproxy" else "memcache"
        assert any(line.startswith(f"{user}:") for line in
                   (out / "etc/passwd").read_text().splitlines())
    if os.geteuid() == 0:
        run = subprocess.run(["chroot", str(out), *WORKLOADS[workload]],
                             capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr + run.stdout
        if workload == "haproxy":
            assert "Configuration file is valid" in run.stdout + run.stderr
        else:
            assert workload in run.stdout.lower()
