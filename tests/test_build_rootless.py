"""A source build without root: hello built from the host's mirror by an unprivileged
user the test creates (its subordinate ids from useradd, as on any Debian system), in
the `unshare` sandbox (worker/build/userns.py); the result installs with stock dpkg.
The same build as root, in the root sandbox, is tests/test_build.py's
test_hello_builds_from_source.
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

from archive.settings import UpstreamSettings
from archive.upstream.mirror import host_codename, resolve_entries
from tests.fixtures.builder_user import builder_user, fetched_source
from tests.test_build import ISOLATED, mirror_host, probe_source
from worker.build.chroot import BUILD_UID, BuildEnv

pytestmark = pytest.mark.network
RUNNER = Path(__file__).parent / "fixtures" / "build_as_user.py"


@pytest.fixture(scope="module")
def builder() -> Iterator[tuple[str, Path]]:
    """A new unprivileged user with a home of its own and subordinate ids; removed, and
    /etc/subuid and /etc/subgid restored, at the end."""
    if os.geteuid() != 0:
        pytest.skip("creating a user needs root")
    for tool in ("useradd", "newuidmap", "newgidmap", "mmdebstrap"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (.ci/run installs uidmap and mmdebstrap)")
    with builder_user() as made:
        yield made


def test_hello_builds_without_root(builder: tuple[str, Path], tmp_path: Path) -> None:
    name, home = builder
    codename = host_codename()
    entry = next((e for e in resolve_entries(UpstreamSettings()) if e.suite == codename), None)
    if entry is None:
        pytest.skip(f"no host APT source for {codename}")
    dsc, _ = fetched_source("hello", home / "src", tmp_path / "data")
    subprocess.run(["chown", "-R", f"{name}:{name}", str(home / "src")], check=True)
    work = home / "work"
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                          check=True).stdout.strip()
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({
        "dsc": str(dsc), "work": str(work), "codename": entry.suite, "arch": arch,
        "mirror": entry.uri,
        "keyring": str(entry.signed_by.keyrings[0]) if entry.signed_by.keyrings else None}))
    done = subprocess.run([sys.executable, str(RUNNER), name, str(spec)],
                          capture_output=True, text=True, timeout=3600)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    uid = int(subprocess.run(["id", "-u", name], capture_output=True, text=True,
                             check=True).stdout)
    assert report["uid"] == report["euid"] == uid != 0
    assert report["backend"] == "unshare"
    assert report["base"].endswith(".unshare.tar")
    log = Path(report["log"]).read_text()
    assert "sandbox: unshare (ids 0-65535 of the namespace: " in log
    for step in ("extract base chroot", "apt-get build-dep", "dpkg-buildpackage", "success:"):
        assert step in log, step
    assert report["buildinfo"] and Path(report["buildinfo"]).read_text().startswith("Format:")
    # nothing of the build is left, and nothing under work/ belongs to another user
    assert not (work / "build" / "root").exists()
    strangers = [p for p in home.rglob("*") if p.lstat().st_uid != uid]
    assert strangers == []
    # stock dpkg installs the result (into a throwaway root: libc6 is the host's)
    hello = next(Path(p) for p in report["debs"] if Path(p).name.startswith("hello_"))
    root = tmp_path / "root"
    (root / "var/lib/dpkg/info").mkdir(parents=True)
    (root / "var/lib/dpkg/updates").mkdir()
    (root / "var/lib/dpkg/status").touch()
    installed = subprocess.run(["dpkg", f"--root={root}", "--force-depends", "--log=/dev/null",
                                "-i", str(hello)], capture_output=True, text=True)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    status = subprocess.run(["dpkg", f"--root={root}", "-s", "hello"], capture_output=True,
                            text=True, check=True).stdout
    assert "Status: install ok installed" in status
    greeting = subprocess.run([str(root / "usr/bin/hello")], capture_output=True, text=True,
                              check=True).stdout
    assert greeting == "Hello, world!\n"
    print(f"\nwithout root: base {report['base_seconds']:.0f} s, hello "
          f"{report['build_seconds']:.0f} s")

    # The same isolation as the root sandbox's (tests/test_build.py's probe): only lo,
    # no name resolution, no connection, PID 1 of its own, the unprivileged build user.
    host, address = mirror_host(BuildEnv(codename=entry.suite, arch=arch, mirror=entry.uri))
    probe = probe_source(home / "probe", "netprobe", ISOLATED.format(host=host,
                                                                      address=address))
    subprocess.run(["chown", "-R", f"{name}:{name}", str(home / "probe")], check=True)
    spec.write_text(json.dumps(json.loads(spec.read_text()) | {"dsc": str(probe)}))
    done = subprocess.run([sys.executable, str(RUNNER), name, str(spec)],
                          capture_output=True, text=True, timeout=3600)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    log = Path(report["log"]).read_text()
    assert "PROBE: isolated" in log
    assert f"build user: uid={BUILD_UID} home=/nonexistent" in log
    assert "interfaces: lo" in log and "pid 1: sh" in log
