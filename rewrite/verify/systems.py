"""The systems the equivalence check compares: one base chroot, copies of it, stock dpkg.

The base is `mmdebstrap --variant=minbase` with the merged-/usr hook (no usrmerge,
no perl), made once and cached as a tarball under `<data_dir>/verify/`, keyed by the
mirror entries (URI, suite, components, keyring digest), the architecture, the
mmdebstrap version and `BASE_VERSION`. Each system is a fresh copy of it; packages
are installed by the chroot's own apt and dpkg from local .deb files (apt only
orders and calls dpkg: no index, no network), with a `policy-rc.d` that forbids
starting services, in private mount, PID and network namespaces.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from base.atomic import rename_durably
from base.errors import ConfigError, InstallError, MirrorUnreachable

# Bump when what goes into the base changes: a stale base is never reused.
BASE_VERSION = 1
MERGED_USR_HOOKS = Path("/usr/share/mmdebstrap/hooks/merged-usr")
HOST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
STAGING = "var/cache/unessential-verify"  # where the .debs are copied in a system
POLICY_RC_D = "#!/bin/sh\n# unessential verify: no service is started in a chroot\nexit 101\n"
# --allow-downgrades: an upgrade's first step installs the previous release of the
# package's source, base packages of it included (perl-base for perl)
APT = ["apt-get", "-q", "-y", "--no-install-recommends", "--allow-downgrades",
       "-o", "Dpkg::Use-Pty=0",
       "-o", "APT::Color=0", "-o", "Debug::pkgProblemResolver=0",
       "-o", "APT::Sandbox::User=root", "-o", "Acquire::Languages=none",
       # a conffile question (an upgrade over a changed conffile) is never asked
       "-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold"]

Log = Callable[[str], None]


@dataclass(frozen=True)
class MirrorEntry:
    """One deb line of the base: URI, suite, components (keyring given separately)."""

    uri: str
    suite: str
    components: tuple[str, ...] = ("main",)

    def line(self) -> str:
        return f"deb {self.uri.rstrip('/')} {self.suite} {' '.join(self.components)}"


@dataclass(frozen=True)
class BaseSpec:
    """What the base chroot is made of. Equal specs share one tarball."""

    entries: tuple[MirrorEntry, ...]
    arch: str
    keyrings: tuple[Path, ...] = ()

    def description(self) -> dict[str, object]:
        keys = []
        for path in self.keyrings:
            try:
                keys.append(hashlib.sha256(path.read_bytes()).hexdigest())
            except OSError as exc:
                raise ConfigError(str(path), f"cannot read keyring: {exc.strerror}") from exc
        return {"version": BASE_VERSION, "mmdebstrap": mmdebstrap_version(),
                "arch": self.arch, "entries": [e.line() for e in self.entries],
                "keyrings": keys, "variant": "minbase", "hooks": "merged-usr"}

    def digest(self) -> str:
        text = json.dumps(self.description(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:24]


def mmdebstrap_version() -> str:
    try:
        out = subprocess.run(["mmdebstrap", "--version"], capture_output=True, text=True,
                             check=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        raise ConfigError("mmdebstrap", f"not usable ({exc}); apt-get install mmdebstrap") \
            from exc
    return out.stdout.strip()


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k.lower() in ("http_proxy", "https_proxy", "no_proxy")}
    env.update(PATH=HOST_PATH, LC_ALL="C.UTF-8", HOME="/root")
    return env


def ensure_base(spec: BaseSpec, cache_dir: Path, log: Log = lambda _: None, *,
                timeout: float = 1800) -> Path:
    """The base tarball `cache_dir/base-<digest>.tar`: made once, then reused.

    Concurrent callers wait on a lock; the tarball appears only complete."""
    if os.geteuid() != 0:
        raise ConfigError("verify", "building and using chroots needs root")
    digest = spec.digest()
    target = cache_dir / f"base-{digest}.tar"
    if target.is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    with _locked(cache_dir / f"base-{digest}.lock"):
        if target.is_file():
            return target
        staging = Path(tempfile.mkdtemp(prefix=f".base-{digest}.", dir=cache_dir))
        try:
            output = staging / "base.tar"
            policy = staging / "policy-rc.d"
            policy.write_text(POLICY_RC_D)
            hook = (f'install -m 0755 {shlex.quote(str(policy))} '
                    '"$1/usr/sbin/policy-rc.d"')
            argv = ["mmdebstrap", "--variant=minbase", "--mode=root",
                    f"--architectures={spec.arch}",
                    *(f"--keyring={k}" for k in spec.keyrings),
                    f"--hook-dir={MERGED_USR_HOOKS}", f"--customize-hook={hook}",
                    spec.entries[0].suite, str(output),
                    *(e.line() for e in spec.entries)]
            log(f"base chroot: mmdebstrap --variant=minbase ({spec.entries[0].suite}/"
                f"{spec.arch})")
            start = time.monotonic()
            env = _env() | {"TMPDIR": str(staging)}
            try:
                done = subprocess.run(["unshare", "--mount", "--fork", *argv], env=env,
                                      capture_output=True, text=True, timeout=timeout)
            except subprocess.TimeoutExpired:
                raise InstallError("base chroot", f"mmdebstrap timed out after {timeout:.0f} s") \
                    from None
            (cache_dir / f"base-{digest}.log").write_text(done.stdout + done.stderr)
            if done.returncode != 0 or not output.is_file():
                tail = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
                if "Failed to fetch" in done.stderr or "Could not resolve" in done.stderr:
                    raise MirrorUnreachable(spec.entries[0].uri, tail)
                raise InstallError("base chroot", f"mmdebstrap exited {done.returncode}: "
                                   f"{tail}")
            rename_durably(output, target)
            log(f"base chroot: ready in {time.monotonic() - start:.0f} s")
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target


def unpack_base(tarball: Path, root: Path) -> None:
    """A fresh system at `root` (which must not exist) from the base tarball."""
    root.mkdir(parents=True)
    subprocess.run(["tar", "--numeric-owner", "--xattrs", "--xattrs-include=*", "-xpf",
                    str(tarball), "-C", str(root)], check=True, capture_output=True)


def remove_system(root: Path) -> None:
    """Remove a system tree (nothing is mounted in it: mounts live in private namespaces)."""
    if root.exists() or root.is_symlink():
        subprocess.run(["rm", "-rf", "--one-file-system", "--", str(root)], check=False)


@dataclass
class StepResult:
    argv: list[str]
    returncode: int
    output: str


@dataclass(frozen=True)
class Layers:
    """An overlay: the base tree (read only), this system's changes, overlayfs' work
    directory and the mount point the system is seen at."""

    lower: Path
    upper: Path
    work: Path
    merged: Path

    def create(self) -> None:
        for path in (self.upper, self.work, self.merged):
            path.mkdir(parents=True, exist_ok=True)

    @property
    def options(self) -> str:
        return f"lowerdir={self.lower},upperdir={self.upper},workdir={self.work}"


def mount_overlay(layers: Layers) -> None:
    """Mount the overlay on the host (for bootstrap's native install); `umount_overlay`."""
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o", layers.options,
                    str(layers.merged)], check=True, capture_output=True)


def umount_overlay(layers: Layers) -> None:
    subprocess.run(["umount", str(layers.merged)], check=False, capture_output=True)


_DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
_SANDBOX = (
    'set -e; r="$1"; o="$2"; shift 2; '
    'mount -t overlay overlay -o "$o" "$r"; '
    'mount -t proc proc "$r/proc"; '
    'mkdir -p "$r/dev"; mount -t tmpfs -o mode=0755,nosuid tmpfs "$r/dev"; '
    'for d in ' + " ".join(_DEVICES) + '; do touch "$r/dev/$d"; '
    'mount --bind "/dev/$d" "$r/dev/$d"; done; '
    'ln -s /proc/self/fd "$r/dev/fd"; mkdir -p "$r/dev/pts" "$r/dev/shm"; '
    'exec chroot "$r" "$@"'
)


def in_chroot(layers: Layers, argv: Sequence[str], *, timeout: float = 900) -> StepResult:
    """Run `argv` in the system: the overlay, /proc and a minimal /dev mounted in private
    mount, PID and network namespaces (nothing stays mounted when it ends)."""
    command = ["unshare", "--mount", "--pid", "--net", "--fork", "--propagation", "private",
               "sh", "-c", _SANDBOX, "sh", str(layers.merged), layers.options, *argv]
    env = {"PATH": HOST_PATH, "LC_ALL": "C.UTF-8", "HOME": "/root",
           "DEBIAN_FRONTEND": "noninteractive", "DEBCONF_NONINTERACTIVE_SEEN": "true"}
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout or b""
        text = out.decode("utf-8", "replace") if isinstance(out, bytes) else out
        return StepResult(list(argv), 124, text + f"\ntimed out after {timeout:.0f} s")
    return StepResult(list(argv), done.returncode, done.stdout + done.stderr)


def stage_debs(layers: Layers, debs: Sequence[Path]) -> list[str]:
    """Copy `debs` into the system's upper layer; their paths inside the system."""
    staging = layers.upper / STAGING
    staging.mkdir(parents=True, exist_ok=True)
    inside = []
    for index, deb in enumerate(debs):
        name = f"{index:04d}.deb"  # apt takes a local file only by this suffix
        shutil.copyfile(deb, staging / name)
        inside.append(f"/{STAGING}/{name}")
    return inside


def apt_install(layers: Layers, debs: Sequence[Path]) -> StepResult:
    """Install local .debs with the chroot's apt (which orders them and runs dpkg)."""
    inside = stage_debs(layers, debs)
    try:
        return in_chroot(layers, [*APT, "install", *inside])
    finally:
        shutil.rmtree(layers.upper / STAGING, ignore_errors=True)


def dpkg(layers: Layers, *args: str) -> StepResult:
    return in_chroot(layers, ["dpkg", *args])


def ensure_unpacked(tarball: Path) -> Path:
    """The base tree next to its tarball (unpacked once; a marker says it is complete)."""
    root = tarball.with_suffix("")
    marker = tarball.with_suffix(".unpacked")
    if marker.is_file() and root.is_dir():
        return root
    with _locked(tarball.with_suffix(".lock")):
        if marker.is_file() and root.is_dir():
            return root
        remove_system(root)
        unpack_base(tarball, root)
        marker.write_text("complete\n")
    return root


def dpkg_install(layers: Layers, debs: Sequence[Path]) -> StepResult:
    """`dpkg --install` of local .debs (a reinstall of the same version too)."""
    inside = stage_debs(layers, debs)
    try:
        return in_chroot(layers, ["dpkg", "--force-confold", "--install", *inside])
    finally:
        shutil.rmtree(layers.upper / STAGING, ignore_errors=True)
