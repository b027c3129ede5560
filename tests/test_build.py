"""The chroot build step: base tarball cache, isolation, failures, logs.

Unit tests need nothing; the `needs_root` ones need root, mmdebstrap and util-linux but
no mirror; the `network` ones build real chroots from the host's mirror (one base
tarball for the module, each build ~6-25 s).
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from archive.settings import UpstreamSettings
from archive.upstream.mirror import DEFAULT_KEYRING, host_codename, resolve_entries
from base.errors import (
    EXIT_CODES,
    BuildFailed,
    ConfigError,
    FormatError,
    MirrorUnreachable,
    NotFoundError,
)
from tests.fixtures.builder_user import fetched_source
from worker.build import chroot
from worker.build.chroot import (
    BuildEnv,
    BuildResult,
    build_source,
    ensure_base,
    parse_dsc_files,
    read_source_info,
)
from worker.build.sandbox import (
    BuildLog,
    StepResult,
    classify,
    mounts_under,
    remove_tree,
    sandbox_argv,
)

needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("mmdebstrap") or not shutil.which("unshare"),
    reason="needs root, mmdebstrap and unshare",
)


def make_env(tmp_path: Path, **changes: object) -> BuildEnv:
    keyring = tmp_path / "keyring.gpg"
    if not keyring.exists():
        keyring.write_bytes(b"not really a keyring")
    fields: dict[str, object] = {"codename": "bookworm", "arch": "amd64",
                                 "mirror": "http://mirror.invalid/debian", "keyring": keyring}
    fields.update(changes)
    return BuildEnv(**fields)  # type: ignore[arg-type]


@pytest.fixture
def fixed_mmdebstrap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chroot, "mmdebstrap_version", lambda: "mmdebstrap 9.9.9")


# ------------------------------------------------------------------ unit: environment


def test_digest_is_stable_and_covers_every_input(tmp_path, fixed_mmdebstrap, monkeypatch):
    env = make_env(tmp_path)
    digest = env.digest()
    assert len(digest) == 64 and digest == make_env(tmp_path).digest()
    assert make_env(tmp_path, mirror="http://mirror.invalid/debian/").digest() == digest
    for change in ({"codename": "trixie"}, {"arch": "arm64"},
                   {"mirror": "http://other.invalid/debian"}, {"components": ("main", "contrib")},
                   {"variant": "minbase"}):
        assert make_env(tmp_path, **change).digest() != digest, change
    (tmp_path / "keyring.gpg").write_bytes(b"another keyring")
    assert make_env(tmp_path).digest() != digest
    (tmp_path / "keyring.gpg").write_bytes(b"not really a keyring")
    monkeypatch.setattr(chroot, "BUILD_RECIPE_VERSION", chroot.BUILD_RECIPE_VERSION + 1)
    assert make_env(tmp_path).digest() != digest
    monkeypatch.setattr(chroot, "BUILD_RECIPE_VERSION", chroot.BUILD_RECIPE_VERSION - 1)
    monkeypatch.setattr(chroot, "mmdebstrap_version", lambda: "mmdebstrap 10.0")
    assert make_env(tmp_path).digest() != digest


def test_default_keyring_is_the_hosts(tmp_path):
    env = BuildEnv(codename="bookworm", arch="amd64", mirror="http://mirror.invalid/debian")
    assert env.keyring_path == DEFAULT_KEYRING


@pytest.mark.parametrize("change, word", [
    ({"codename": "../etc"}, "codename"),
    ({"arch": "AMD 64"}, "architecture"),
    ({"mirror": "ftp://mirror.invalid/debian"}, "mirror"),
    ({"mirror": "http://mirror.invalid/debian main"}, "mirror"),
    ({"components": ()}, "components"),
    ({"variant": "fat"}, "variant"),
])
def test_bad_environment_is_a_config_error(tmp_path, change, word):
    with pytest.raises(ConfigError, match=word):
        make_env(tmp_path, **change)


def test_missing_keyring_is_named(tmp_path, fixed_mmdebstrap):
    env = make_env(tmp_path, keyring=tmp_path / "nope.gpg")
    with pytest.raises(ConfigError, match="nope.gpg"):
        env.digest()


def test_mmdebstrap_command(tmp_path, fixed_mmdebstrap):
    env = make_env(tmp_path, components=("main", "contrib"))
    argv = chroot.mmdebstrap_argv(env, tmp_path / "out.tar", tmp_path)
    assert argv[0] == "mmdebstrap"
    assert "--variant=buildd" in argv and "--mode=root" in argv
    assert f"--hook-dir={chroot.MERGED_USR_HOOKS}" in argv
    assert f"--keyring={tmp_path / 'keyring.gpg'}" in argv
    assert argv[-3:] == ["bookworm", str(tmp_path / "out.tar"),
                         "deb http://mirror.invalid/debian bookworm main contrib"]
    sources = (tmp_path / "upstream.sources").read_text()
    assert "Signed-By: /etc/apt/keyrings/unessential-upstream.gpg" in sources
    assert "Components: main contrib" in sources


# ------------------------------------------------------------------ unit: .dsc


DSC = """\
Format: 3.0 (quilt)
Source: demo
Binary: demo
Architecture: any
Version: 1:2.0-1
Checksums-Sha256:
 {sha} 10 demo_2.0.orig.tar.gz
 {sha} 20 {debian}
Files:
 {md5} 10 demo_2.0.orig.tar.gz
 {md5} 20 {debian}
"""


def write_dsc(path: Path, debian: str = "demo_2.0-1.debian.tar.xz") -> Path:
    path.write_text(DSC.format(sha="0" * 64, md5="0" * 32, debian=debian))
    return path


def test_parse_dsc_files(tmp_path):
    dsc = write_dsc(tmp_path / "demo_2.0-1.dsc")
    assert parse_dsc_files(dsc) == ["demo_2.0.orig.tar.gz", "demo_2.0-1.debian.tar.xz"]
    info = read_source_info(dsc)
    assert (info.source, info.version, info.upstream_version) == ("demo", "1:2.0-1", "2.0")
    assert info.version_no_epoch == "2.0-1"


@pytest.mark.parametrize("name", ["../evil.tar.xz", "/etc/passwd", ".hidden"])
def test_dsc_with_a_path_is_refused(tmp_path, name):
    dsc = write_dsc(tmp_path / "demo_2.0-1.dsc", debian=name)
    with pytest.raises(FormatError, match="not plain"):
        parse_dsc_files(dsc)


def test_build_source_checks_its_inputs_first(tmp_path):
    env = make_env(tmp_path)
    dsc = write_dsc(tmp_path / "demo_2.0-1.dsc")
    with pytest.raises(NotFoundError, match="demo_2.0.orig.tar.gz"):
        build_source(dsc, env, tmp_path / "base.tar", tmp_path / "w", tmp_path / "out")
    for name in parse_dsc_files(dsc):
        (tmp_path / name).write_bytes(b"")
    with pytest.raises(ConfigError, match="not a package name"):
        build_source(dsc, env, tmp_path / "base.tar", tmp_path / "w", tmp_path / "out",
                     extra_build_depends=["--allow-unauthenticated"])
    with pytest.raises(NotFoundError, match="base chroot"):
        build_source(dsc, env, tmp_path / "base.tar", tmp_path / "w", tmp_path / "out")
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------ unit: errors, log


def test_build_failed_error():
    exc = BuildFailed("hello 2.10-3", "dpkg-buildpackage exited 2", log_tail="make: *** Error")
    assert str(exc) == "hello 2.10-3: dpkg-buildpackage exited 2"
    assert exc.kind == "build" and exc.exit_code == 14 and EXIT_CODES["build"] == 14
    again = pickle.loads(pickle.dumps(exc))
    assert (again.subject, again.cause, again.log_tail) == (exc.subject, exc.cause,
                                                            exc.log_tail)


@pytest.mark.parametrize("output, expected", [
    ("Err:1 http://m/debian bookworm InRelease\n  Could not connect to m:80 - connect "
     "(111: Connection refused)\nE: Failed to fetch http://m/debian/dists/bookworm/InRelease"
     "  Could not connect\n", ("network", "E: Failed to fetch")),
    ("W: GPG error: http://m bookworm InRelease: The following signatures couldn't be "
     "verified because the public key is not available: NO_PUBKEY 0E98404D386FA1D9\n"
     "E: The repository 'http://m bookworm InRelease' is not signed.\n",
     ("signature", "E: The repository")),
    ("E: Unable to locate package no-such-package-xyz\n", None),
])
def test_classify_apt_output(output, expected):
    found = classify(output)
    if expected is None:
        assert found is None
    else:
        assert found is not None and found[0] == expected[0]
        assert found[1].startswith(expected[1])


def test_build_log_steps_and_timeout(tmp_path):
    with BuildLog(tmp_path / "x.build") as log:
        ok = log.run("echo", ["sh", "-c", "echo out; echo err >&2"],
                     deadline=time.monotonic() + 30)
        assert ok.returncode == 0 and ok.output == "out\nerr\n"
        bad = log.run("false", ["false"], deadline=time.monotonic() + 30)
        assert bad.returncode == 1
        start = time.monotonic()
        with pytest.raises(chroot.StepTimeout):
            # The grandchild is in the same process group: killed too.
            log.run("sleep", ["sh", "-c", "sleep 1717 & wait"], deadline=start + 1)
        assert time.monotonic() - start < 10
        tail = log.tail(3)
    text = (tmp_path / "x.build").read_text()
    assert "$ sh -c echo out; echo err >&2" in text
    assert "echo: exit status 0" in text and "false: exit status 1" in text
    assert "sleep: killed after" in tail
    assert not any("sleep 1717" in p for p in _cmdlines())


def test_sandbox_command_shape(tmp_path):
    argv = sandbox_argv(tmp_path, ["id"], network=False, user="1000:1000",
                        env={"HOME": "/nonexistent"}, cwd="/build")
    assert argv[:3] == ["setpriv", "--pdeathsig", "SIGKILL"]
    assert "--net" in argv and "--kill-child=SIGKILL" in argv and "--pid" in argv
    assert argv[-5:] == ["/usr/bin/env", "-i", "--chdir=/build", "HOME=/nonexistent", "id"]
    assert "--net" not in sandbox_argv(tmp_path, ["id"], network=True)


def _cmdlines() -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                found.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode())
            except OSError:
                continue
    return found


# ------------------------------------------------------------------ unit: base cache, lock


class FakeMmdebstrap:
    """Stands in for mmdebstrap: writes a tarball after a while, counts its runs."""

    def __init__(self, delay: float = 0.3, returncode: int = 0, output: str = "") -> None:
        self.delay = delay
        self.returncode = returncode
        self.output = output
        self.runs = 0
        self.lock = threading.Lock()

    def __call__(self, env, output, staging, log, deadline, sandbox) -> StepResult:
        with self.lock:
            self.runs += 1
        time.sleep(self.delay)
        log.note("fake mmdebstrap")
        if self.returncode == 0:
            output.write_bytes(b"tarball")
        return StepResult("mmdebstrap", self.returncode, self.output, self.delay)


def test_base_is_made_once_by_concurrent_callers(tmp_path, fixed_mmdebstrap, monkeypatch):
    fake = FakeMmdebstrap()
    monkeypatch.setattr(chroot, "_run_mmdebstrap", fake)
    monkeypatch.setattr(chroot, "required_tools", lambda: [])
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    env = make_env(tmp_path)
    cache = tmp_path / "cache"
    cache.mkdir()
    stale = cache / f".{env.digest()}.tmp-killed"
    stale.mkdir()
    (stale / "base.tar").write_bytes(b"half")
    results: list[Path] = []
    threads = [threading.Thread(target=lambda: results.append(ensure_base(env, cache,
                                                                          log=lambda _: None)))
               for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert fake.runs == 1
    assert results == [cache / f"{env.digest()}.tar"] * 3
    assert results[0].read_bytes() == b"tarball"
    assert sorted(p.name for p in cache.iterdir()) == sorted(
        [f"{env.digest()}.tar", f"{env.digest()}.lock", f"{env.digest()}.log"])
    assert ensure_base(env, cache, log=lambda _: None) == results[0] and fake.runs == 1


def test_base_lock_is_shared_with_other_processes(tmp_path, fixed_mmdebstrap, monkeypatch):
    """Another process holds the lock and makes the tarball: we wait, then reuse it."""
    fake = FakeMmdebstrap()
    monkeypatch.setattr(chroot, "_run_mmdebstrap", fake)
    monkeypatch.setattr(chroot, "required_tools", lambda: [])
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    env = make_env(tmp_path)
    cache = tmp_path / "cache"
    cache.mkdir()
    target = cache / f"{env.digest()}.tar"
    holder = subprocess.Popen(
        ["flock", str(cache / f"{env.digest()}.lock"), "sh", "-c",
         f"echo locked; sleep 1.5; echo made > {target}"],
        stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
    start = time.monotonic()
    assert ensure_base(env, cache, log=lambda _: None) == target
    assert time.monotonic() - start > 1.0
    assert fake.runs == 0 and target.read_text() == "made\n"
    holder.wait()


def test_failed_base_leaves_no_tarball(tmp_path, fixed_mmdebstrap, monkeypatch):
    monkeypatch.setattr(chroot, "required_tools", lambda: [])
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    env = make_env(tmp_path)
    cache = tmp_path / "cache"
    monkeypatch.setattr(chroot, "_run_mmdebstrap", FakeMmdebstrap(
        returncode=25, output="E: cannot find a source for debootstrap\n"))
    with pytest.raises(BuildFailed, match="cannot find a source") as info:
        ensure_base(env, cache, log=lambda _: None)
    assert "E: cannot find a source" in info.value.log_tail
    monkeypatch.setattr(chroot, "_run_mmdebstrap", FakeMmdebstrap(
        returncode=25, output="Err:1 http://m\nE: Failed to fetch http://m/x  Could not "
                              "resolve 'm'\n"))
    with pytest.raises(MirrorUnreachable, match="Could not resolve"):
        ensure_base(env, cache, log=lambda _: None)
    names = sorted(p.name for p in cache.iterdir())
    assert names == [f"{env.digest()}.lock", f"{env.digest()}.log"]


@needs_root
def test_unreachable_mirror_is_retryable(tmp_path):
    with socket.socket() as sock:  # a port where nothing listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = BuildEnv(codename="bookworm", arch="amd64", mirror=f"http://127.0.0.1:{port}/debian")
    with pytest.raises(MirrorUnreachable, match="127.0.0.1") as info:
        ensure_base(env, tmp_path / "cache", log=lambda _: None)
    assert info.value.exit_code == 9 and "\n" not in str(info.value)
    assert not list((tmp_path / "cache").glob("*.tar"))
    assert not list((tmp_path / "cache").glob(".*"))


@needs_root
def test_remove_tree_refuses_a_tree_with_mounts(tmp_path):
    """Mounts only ever exist in a private namespace; there, removal refuses to cross them."""
    tree = tmp_path / "root"
    (tree / "proc").mkdir(parents=True)
    (tree / "file").write_text("x")
    code = (f"from pathlib import Path; from worker.build.sandbox import remove_tree\n"
            f"try:\n    remove_tree(Path({str(tree)!r}))\n"
            f"except OSError as exc:\n    print('refused', exc)\n")
    out = subprocess.run(
        ["unshare", "--mount", "sh", "-c",
         f'mount -t tmpfs tmpfs {tree}/proc && touch {tree}/proc/inside && '
         f'"$0" -c "$1"', sys.executable, code],
        capture_output=True, text=True, check=True, cwd=Path(__file__).parent.parent)
    assert "refused" in out.stdout and f"{tree}/proc" in out.stdout
    assert (tree / "file").exists()
    remove_tree(tree)  # here, in our namespace, nothing is mounted
    assert not tree.exists()


# ------------------------------------------------------------------ network: real builds


@pytest.fixture(scope="module")
def host_env() -> BuildEnv:
    if os.geteuid() != 0 or not shutil.which("mmdebstrap"):
        pytest.skip("needs root and mmdebstrap")
    codename = host_codename()
    entries = resolve_entries(UpstreamSettings())
    entry = next((e for e in entries if e.suite == codename), None)
    if entry is None:
        pytest.skip(f"no host APT source for {codename}")
    keyring = entry.signed_by.keyrings[0] if entry.signed_by.keyrings else None
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                          check=True).stdout.strip()
    return BuildEnv(codename=entry.suite, arch=arch, mirror=entry.uri,
                    components=("main",), keyring=keyring)


@pytest.fixture(scope="module")
def base(host_env: BuildEnv, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    cache = tmp_path_factory.mktemp("build-cache")
    start = time.monotonic()
    path = ensure_base(host_env, cache, log=lambda _: None)
    return path, time.monotonic() - start


RULES = """\
#!/usr/bin/make -f
PKG := {name}

build build-arch build-indep:
\t@echo "build user: uid=$$(id -u) home=$$HOME"
\t@echo "pid 1: $$(cat /proc/1/comm)"
\t@echo "interfaces: $$(ls /sys/class/net | tr '\\n' ' ')"
\t@echo "message: $$(cat message.txt)"
{checks}

binary binary-arch binary-indep: build
\trm -rf debian/tmp
\tmkdir -p debian/tmp/DEBIAN debian/tmp/usr/share/doc/$(PKG)
\tcp message.txt debian/copyright debian/tmp/usr/share/doc/$(PKG)/
\tdpkg-gencontrol -p$(PKG) -Pdebian/tmp
\tdpkg-deb --root-owner-group --build debian/tmp ..

clean:
\trm -rf debian/tmp debian/files
"""

CONTROL = """\
Source: {name}
Section: misc
Priority: optional
Maintainer: Unessential Tests <tests@example.invalid>
Standards-Version: 4.6.2
Rules-Requires-Root: no

Package: {name}
Architecture: all
Description: build sandbox probe of the unessential tests
 Checks what a package build can see.
"""

CHANGELOG = """\
{name} (1.0) unstable; urgency=medium

  * Probe.

 -- Unessential Tests <tests@example.invalid>  Mon, 01 Jan 2024 00:00:00 +0000
"""

# Fails unless the build sees only `lo`, cannot resolve the mirror's name and cannot
# open a TCP connection to the mirror's address.
ISOLATED = """\
\ttest "$$(ls /sys/class/net)" = lo || {{ echo "PROBE: network interfaces visible"; exit 1; }}
\tif timeout 20 getent hosts {host}; then echo "PROBE: resolved {host}"; exit 1; fi
\tif timeout 20 bash -c 'exec 3<>/dev/tcp/{address}/80'; then \\
\t  echo "PROBE: connected to {address}"; exit 1; fi
\t@echo "PROBE: isolated"
"""


def probe_source(folder: Path, name: str, checks: str) -> Path:
    """A debhelper-free native source package whose build runs `checks` (make lines)."""
    tree = folder / f"{name}-1.0"
    (tree / "debian" / "source").mkdir(parents=True)
    (tree / "message.txt").write_text("original\n")
    (tree / "debian" / "source" / "format").write_text("3.0 (native)\n")
    (tree / "debian" / "control").write_text(CONTROL.format(name=name))
    (tree / "debian" / "changelog").write_text(CHANGELOG.format(name=name))
    (tree / "debian" / "copyright").write_text("Public domain test data.\n")
    rules = tree / "debian" / "rules"
    rules.write_text(RULES.format(name=name, checks=checks.rstrip("\n")))
    rules.chmod(0o755)
    subprocess.run(["dpkg-source", "-b", tree.name], cwd=folder, check=True,
                   capture_output=True)
    return folder / f"{name}_1.0.dsc"


def patch_file(path: Path, old: str, new: str) -> Path:
    path.write_text(f"--- a/message.txt\n+++ b/message.txt\n@@ -1 +1 @@\n-{old}\n+{new}\n")
    return path


def mirror_host(env: BuildEnv) -> tuple[str, str]:
    host = urlsplit(env.mirror).hostname or ""
    return host, socket.gethostbyname(host)


def quiet(_: str) -> None:
    pass


@pytest.mark.network
def test_hello_builds_from_source(host_env, base, tmp_path):
    base_path, base_seconds = base
    dsc, version = fetched_source("hello", tmp_path / "src", tmp_path / "data")

    steps: list[str] = []
    result = build_source(dsc, host_env, base_path, tmp_path / "work", tmp_path / "out",
                          log=steps.append)
    assert isinstance(result, BuildResult)
    names = sorted(p.name for p in result.debs)
    main = [p for p in result.debs if p.name.startswith("hello_")]
    assert len(main) == 1 and main[0].parent == tmp_path / "out", names
    field = subprocess.run(["dpkg-deb", "--field", str(main[0]), "Package", "Version"],
                           check=True, capture_output=True, text=True).stdout
    assert field.splitlines() == ["Package: hello", f"Version: {version}"]
    assert result.buildinfo is not None and "DEB_BUILD_OPTIONS=\"parallel=2\"" in \
        result.buildinfo.read_text()
    log = result.log.read_text()
    for step in ("extract base chroot", "apt-get update", "apt-get build-dep",
                 "dpkg-source -x", "dpkg-buildpackage", "success:"):
        assert step in log, step
    assert "(builder, no network, in /build/hello-" in log
    assert any("dpkg-buildpackage" in s for s in steps)
    assert not (tmp_path / "work" / "root").exists()
    print(f"\nbase {base_seconds:.1f} s, hello {result.seconds:.1f} s")

    # The base tarball is reused: same path, untouched, instantly.
    mtime = base_path.stat().st_mtime_ns
    start = time.monotonic()
    assert ensure_base(host_env, base_path.parent, log=quiet) == base_path
    assert time.monotonic() - start < 2
    assert base_path.stat().st_mtime_ns == mtime


@pytest.mark.network
def test_build_is_isolated_patched_and_gets_extra_depends(host_env, base, tmp_path):
    host, address = mirror_host(host_env)
    checks = ISOLATED.format(host=host, address=address) + "\thello\n"
    dsc = probe_source(tmp_path / "src", "netprobe", checks)
    good = patch_file(tmp_path / "message.patch", "original", "patched")
    result = build_source(dsc, host_env, base[0], tmp_path / "work", tmp_path / "out",
                          patches=[good], extra_build_depends=["hello"], log=quiet)
    assert [p.name for p in result.debs] == ["netprobe_1.0_all.deb"]
    log = result.log.read_text()
    assert "PROBE: isolated" in log
    assert f"build user: uid={chroot.BUILD_UID} home=/nonexistent" in log
    assert "interfaces: lo" in log and "pid 1: sh" in log
    assert "message: patched" in log
    assert "Hello, world!" in log  # from the extra build dependency
    listing = subprocess.run(["dpkg-deb", "--contents", str(result.debs[0])], check=True,
                             capture_output=True, text=True).stdout
    assert "./usr/share/doc/netprobe/message.txt" in listing


@pytest.mark.network
def test_visible_network_would_fail_the_build(host_env, base, tmp_path):
    """The inverse probe: a build that needs a network interface fails, with its log."""
    checks = ('\tif [ "$$(ls /sys/class/net)" = lo ]; then '
              'echo "PROBE: only lo, no network"; exit 1; fi\n')
    dsc = probe_source(tmp_path / "src", "netneed", checks)
    with pytest.raises(BuildFailed) as info:
        build_source(dsc, host_env, base[0], tmp_path / "work", tmp_path / "out", log=quiet)
    assert info.value.subject == "netneed 1.0"
    assert info.value.cause == "dpkg-buildpackage exited 2"
    assert "PROBE: only lo, no network" in info.value.log_tail
    assert "FAILED: dpkg-buildpackage exited 2" in info.value.log_tail
    assert (tmp_path / "out" / "netneed_1.0_amd64.build").is_file()
    assert not list((tmp_path / "out").glob("*.deb"))
    assert not (tmp_path / "work" / "root").exists()


@pytest.mark.network
def test_patch_that_does_not_apply(host_env, base, tmp_path):
    dsc = probe_source(tmp_path / "src", "patchprobe", "")
    good = patch_file(tmp_path / "01-good.patch", "original", "patched")
    bad = patch_file(tmp_path / "02-stale.patch", "something else", "third")
    with pytest.raises(BuildFailed, match="patch 02-stale.patch does not apply") as info:
        build_source(dsc, host_env, base[0], tmp_path / "work", tmp_path / "out",
                     patches=[good, bad], log=quiet)
    assert "02-stale.patch" in info.value.log_tail
    assert "Hunk #1 FAILED" in info.value.log_tail
    assert not (tmp_path / "work" / "root").exists()


@pytest.mark.network
def test_unknown_build_dependency_is_a_build_failure(host_env, base, tmp_path):
    """Not retryable (the archive lacks it): BuildFailed, as sbuild's BD-Uninstallable."""
    dsc = probe_source(tmp_path / "src", "depprobe", "")
    with pytest.raises(BuildFailed) as info:
        build_source(dsc, host_env, base[0], tmp_path / "work", tmp_path / "out",
                     extra_build_depends=["no-such-package-xyz"], log=quiet)
    assert "Unable to locate package no-such-package-xyz" in info.value.cause
    assert info.value.cause.startswith("apt-get install extra build dependencies")
    assert "no-such-package-xyz" in info.value.log_tail


@pytest.mark.network
def test_timeout_kills_the_whole_build(host_env, base, tmp_path):
    dsc = probe_source(tmp_path / "src", "slowprobe", "\tsleep 1919 & sleep 1818\n")
    start = time.monotonic()
    with pytest.raises(BuildFailed, match="timed out after 20 s") as info:
        build_source(dsc, host_env, base[0], tmp_path / "work", tmp_path / "out",
                     timeout=20, log=quiet)
    assert time.monotonic() - start < 60
    assert "killed after" in info.value.log_tail
    left = [c for c in _cmdlines() if "sleep 1919" in c or "sleep 1818" in c]
    assert left == []
    assert not (tmp_path / "work" / "root").exists()


KILLED_WORKER = """
import sys, json
from pathlib import Path
from worker.build.chroot import BuildEnv, build_source
args = json.loads(sys.argv[1])
env = BuildEnv(codename=args["codename"], arch=args["arch"], mirror=args["mirror"],
               keyring=Path(args["keyring"]) if args["keyring"] else None)
build_source(Path(args["dsc"]), env, Path(args["base"]), Path(args["work"]), Path(args["out"]),
             log=lambda line: print(line, flush=True))
"""


@pytest.mark.network
def test_killed_worker_leaves_no_processes_or_mounts(host_env, base, tmp_path):
    """SIGKILL the Python process mid-build: the build dies with it, nothing stays mounted."""
    dsc = probe_source(tmp_path / "src", "killprobe", "\tsleep 2929 & sleep 2828\n")
    args = {"codename": host_env.codename, "arch": host_env.arch, "mirror": host_env.mirror,
            "keyring": str(host_env.keyring or ""), "dsc": str(dsc), "base": str(base[0]),
            "work": str(tmp_path / "work"), "out": str(tmp_path / "out")}
    worker = subprocess.Popen([sys.executable, "-c", KILLED_WORKER, json.dumps(args)],
                              stdout=subprocess.PIPE, text=True,
                              cwd=Path(__file__).parent.parent)
    assert worker.stdout is not None
    for line in worker.stdout:
        if line.rstrip().endswith("dpkg-buildpackage"):
            break
    deadline = time.monotonic() + 60
    while not any("sleep 2828" in c for c in _cmdlines()):
        assert time.monotonic() < deadline, "the build never started sleeping"
        time.sleep(0.2)
    worker.kill()
    worker.wait()
    deadline = time.monotonic() + 10
    while any("sleep 2929" in c or "sleep 2828" in c for c in _cmdlines()):
        assert time.monotonic() < deadline, "build processes outlived the killed worker"
        time.sleep(0.2)
    root = tmp_path / "work" / "root"
    assert (root / "build").is_dir()  # a leftover tree, as after any crash ...
    assert mounts_under(root) == []  # ... but nothing mounted in the host's namespace
    remove_tree(root)
