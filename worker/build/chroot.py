"""Build a Debian source package in an isolated, network-less chroot, as a buildd does.

Two parts:

- `ensure_base`: the base chroot, a tarball made once per `BuildEnv` with mmdebstrap
  (`--variant=buildd`, merged /usr, `--mode=root`) and reused; its apt trusts only the
  environment's keyring (`Signed-By`) and reads only the environment's mirror.
- `build_source`: extract the base into a work directory, install the build
  dependencies with the chroot's own apt (the only step with network), then unpack,
  patch and `dpkg-buildpackage -b` as an unprivileged user in fresh mount, PID, UTS,
  IPC and network namespaces (only `lo` exists). The log of every step is kept.

Errors: `BuildFailed` for anything the source (or recipe) is to blame for, including
unsatisfiable build dependencies (sbuild's "BD-Uninstallable"): the same inputs fail
the same way, so it is not worth retrying. `MirrorUnreachable` when apt could not fetch
(retryable), `SignatureError` when the mirror's Release did not verify with the keyring.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from debian.deb822 import Dsc

from archive.upstream.mirror import DEFAULT_KEYRING
from base.atomic import rename_durably
from base.deb822 import format_stanza
from base.errors import (
    BuildFailed,
    ConfigError,
    FormatError,
    MirrorUnreachable,
    NotFoundError,
    SignatureError,
    UnessentialError,
)
from worker.build.sandbox import (
    CHROOT_PATH,
    HOST_PATH,
    BuildLog,
    StepResult,
    StepTimeout,
    classify,
    error_line,
    remove_tree,
    required_tools,
    sandbox_argv,
)
from worker.build.userns import Sandbox

ROOT = Sandbox("root")
# the device nodes of a base tarball (mmdebstrap makes them in every mode)
DEVICE_NODES = ("console", "full", "null", "ptmx", "random", "tty", "urandom", "zero")

# $1 the staged files, $2 the chroot, $3 uid:gid of the build user: /build gets the
# sources and patches (the build user's), /etc/resolv.conf the host's (for apt). The
# chroot's own /build and /etc are real directories of the extracted base, never links.
PUT_IN = r"""
set -eu
staged=$1; root=$2; owner=$3
for dir in "$root/build" "$root/etc"; do
    if [ -L "$dir" ] || [ ! -d "$dir" ]; then echo "put-in: $dir is not a directory" >&2; exit 1; fi
done
cp -R --no-preserve=ownership "$staged"/. "$root/build/"
rm -f "$root/build/resolv.conf"
chown -R -h "$owner" "$root/build"
rm -f "$root/etc/resolv.conf"
if [ -f "$staged/resolv.conf" ]; then cp "$staged/resolv.conf" "$root/etc/resolv.conf"; fi
"""

# Bump whenever what goes into the base chroot changes (packages, hooks, users, files):
# the base tarball's digest changes with it, so a stale base is never reused.
BUILD_RECIPE_VERSION = 1

MERGED_USR_HOOKS = Path("/usr/share/mmdebstrap/hooks/merged-usr")
BASE_INCLUDE = ("fakeroot",)  # what sbuild adds to build-essential
BUILD_USER = "builder"
BUILD_UID = 1000
KEYRING_IN_CHROOT = "/etc/apt/keyrings/unessential-upstream"
SOURCES_IN_CHROOT = "/etc/apt/sources.list.d/unessential-upstream.sources"
VARIANTS = ("extract", "custom", "essential", "apt", "required", "minbase", "buildd",
            "important", "debootstrap", "standard")

_NAME = re.compile(r"^[a-z0-9][a-z0-9.+-]*$")
_ARCH = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_SOURCE = re.compile(r"^[a-z0-9][a-z0-9.+-]+$")
_VERSION = re.compile(r"^(\d+:)?[A-Za-z0-9][A-Za-z0-9.+~-]*$")
_FILENAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+~_-]*$")
# A package for `apt-get install`: name, optional :arch, optional =version or /release.
_APT_PACKAGE = re.compile(r"^[a-z0-9][a-z0-9.+-]*(:[a-z0-9-]+)?([=/][A-Za-z0-9.+~:-]+)?$")

Log = Callable[[str], None]


@functools.cache
def mmdebstrap_version() -> str:
    """`mmdebstrap --version`, e.g. "mmdebstrap 1.3.5"."""
    try:
        out = subprocess.run(["mmdebstrap", "--version"], capture_output=True, text=True,
                             check=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        raise ConfigError("mmdebstrap", f"not usable ({exc}); apt-get install mmdebstrap") \
            from exc
    return out.stdout.strip()


@dataclass(frozen=True)
class BuildEnv:
    """What the base chroot is made of. Equal environments share one base tarball."""

    codename: str
    arch: str
    mirror: str
    components: tuple[str, ...] = ("main",)
    keyring: Path | None = None
    variant: str = "buildd"
    #: more suites apt in the chroot reads (URI, suite), checked with the same keyring and
    #: components: the suite a source came from (e.g. bookworm-security) beside the base
    extra: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if not _NAME.match(self.codename):
            raise ConfigError("build environment", f"bad codename {self.codename!r}")
        if not _ARCH.match(self.arch):
            raise ConfigError("build environment", f"bad architecture {self.arch!r}")
        if not self.mirror.startswith(("http://", "https://")) or any(
            c.isspace() for c in self.mirror
        ):
            raise ConfigError("build environment",
                              f"mirror must be an http:// or https:// URI, not {self.mirror!r}")
        if not self.components or not all(_NAME.match(c) for c in self.components):
            raise ConfigError("build environment", f"bad components {self.components!r}")
        for uri, suite in self.extra:
            if not uri.startswith(("http://", "https://")) or any(c.isspace() for c in uri):
                raise ConfigError("build environment",
                                  f"mirror must be an http:// or https:// URI, not {uri!r}")
            if not _NAME.match(suite):
                raise ConfigError("build environment", f"bad suite {suite!r}")
        if self.variant not in VARIANTS:
            raise ConfigError("build environment", f"unknown mmdebstrap variant "
                              f"{self.variant!r} (expected one of {', '.join(VARIANTS)})")

    @property
    def keyring_path(self) -> Path:
        """The keyring apt in the chroot checks the Release signature with."""
        return self.keyring or DEFAULT_KEYRING

    @property
    def mirror_uri(self) -> str:
        return self.mirror.rstrip("/")

    def description(self) -> dict[str, object]:
        """The canonical description the digest is taken of."""
        try:
            keyring_sha256 = hashlib.sha256(self.keyring_path.read_bytes()).hexdigest()
        except OSError as exc:
            raise ConfigError(str(self.keyring_path), f"cannot read keyring: {exc.strerror}") \
                from exc
        return {
            "recipe": BUILD_RECIPE_VERSION,
            "mmdebstrap": mmdebstrap_version(),
            "codename": self.codename,
            "arch": self.arch,
            "mirror": self.mirror_uri,
            "components": list(self.components),
            "keyring_sha256": keyring_sha256,
            "variant": self.variant,
            "include": list(BASE_INCLUDE),
        } | ({"extra": [[uri.rstrip("/"), suite] for uri, suite in self.extra]}
             if self.extra else {})

    def digest(self) -> str:
        """sha256 of the canonical description (fields, mmdebstrap version, recipe)."""
        text = json.dumps(self.description(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class BuildResult:
    debs: list[Path]
    log: Path
    seconds: float
    # Also copied to out_dir when dpkg-buildpackage made them (not part of `debs`).
    buildinfo: Path | None = None
    changes: Path | None = None
    udebs: list[Path] = field(default_factory=list)
    # with a NewSource: the source package of our own (its .dsc first), in out_dir/source
    sources: list[Path] = field(default_factory=list)


@dataclass(frozen=True)
class NewSource:
    """Build a source package of our own: the patches become part of the source (a quilt
    series after the source's own for 3.0 (quilt), applied with `patch -p1` for other
    formats), a changelog entry gives it `version`, and `dpkg-source -b` makes its .dsc
    before the binaries are built from it (so they carry `version`)."""

    version: str
    changes: str  # the changelog entry's text (one or more lines)
    maintainer: str  # of the entry: "Name <address>"

    def entry_lines(self) -> str:
        """The entry's body, as dch writes it: "  * " then "    " for more lines."""
        lines = [line.rstrip() for line in self.changes.strip().splitlines() if line.strip()]
        if not lines:
            lines = ["Rebuilt by unessential."]
        return "\n".join(("  * " if index == 0 else "    ") + line
                         for index, line in enumerate(lines))


# --------------------------------------------------------------------------- base


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive flock on `path`: one holder per host across processes and threads."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _sources_stanza(env: BuildEnv, keyring_in_chroot: str) -> str:
    return "\n".join(format_stanza([
        ("Types", "deb"),
        ("URIs", uri),
        ("Suites", suite),
        ("Components", " ".join(env.components)),
        ("Architectures", env.arch),
        ("Signed-By", keyring_in_chroot),
    ]) for uri, suite in [(env.mirror_uri, env.codename),
                          *((u.rstrip("/"), s) for u, s in env.extra)])


def _keyring_in_chroot(keyring: Path) -> str:
    armored = b"-----BEGIN PGP PUBLIC KEY BLOCK-----" in keyring.read_bytes()[:4096]
    return KEYRING_IN_CHROOT + (".asc" if armored else ".gpg")


HOSTS = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"


def mmdebstrap_argv(env: BuildEnv, output: Path, staging: Path, mode: str = "root"
                    ) -> list[str]:
    """The mmdebstrap command making the base tarball `output` (files staged in `staging`);
    `mode` "root", or "unshare" (no root: in a user namespace of subordinate ids)."""
    keyring = env.keyring_path
    in_chroot = _keyring_in_chroot(keyring)
    sources = staging / "upstream.sources"
    sources.write_text(_sources_stanza(env, in_chroot))
    hosts = staging / "hosts"
    hosts.write_text(HOSTS)
    q = shlex.quote
    hooks = [
        # apt in the chroot: only our mirror, only our keyring.
        'rm -f "$1/etc/apt/sources.list"',
        f'install -m 0644 {q(str(keyring))} "$1{in_chroot}"',
        f'install -m 0644 {q(str(sources))} "$1{SOURCES_IN_CHROOT}"',
        f'install -m 0644 {q(str(hosts))} "$1/etc/hosts"',
        # The unprivileged build user, and /build (as sbuild).
        f'chroot "$1" groupadd --gid {BUILD_UID} {BUILD_USER}',
        f'chroot "$1" useradd --uid {BUILD_UID} --gid {BUILD_UID} --no-create-home '
        f"--home-dir /nonexistent --shell /bin/sh {BUILD_USER}",
        'mkdir -p "$1/build"',
    ]
    return [
        "mmdebstrap",
        f"--variant={env.variant}",
        f"--mode={mode}",
        f"--architectures={env.arch}",
        f"--components={','.join(env.components)}",
        f"--keyring={keyring}",
        f"--include={','.join(BASE_INCLUDE)}",
        f"--hook-dir={MERGED_USR_HOOKS}",
        *(f"--customize-hook={hook}" for hook in hooks),
        env.codename,
        str(output),
        f"deb {env.mirror_uri} {env.codename} {' '.join(env.components)}",
    ]


def _run_mmdebstrap(env: BuildEnv, output: Path, staging: Path, log: BuildLog,
                    deadline: float, sandbox: Sandbox) -> StepResult:
    """Run mmdebstrap, killed with us (see sandbox.py): as root in a private mount
    namespace, or without root in the user namespace mmdebstrap makes itself."""
    command = mmdebstrap_argv(env, output, staging, sandbox.backend)
    prefix = ["setpriv", "--pdeathsig", "SIGKILL"]
    if not sandbox.rootless:
        prefix += ["unshare", "--mount", "--fork", "--kill-child=SIGKILL"]
    run_env = {k: v for k, v in os.environ.items()
               if k.lower() in ("http_proxy", "https_proxy", "no_proxy")}
    run_env.update(PATH=HOST_PATH, LC_ALL="C.UTF-8",
                   TMPDIR=str(staging / "tmp" if sandbox.rootless else staging),
                   HOME=os.environ.get("HOME", "/root") if sandbox.rootless else "/root")
    return log.run("mmdebstrap", [*prefix, *command], deadline=deadline, env=run_env,
                   shown=shlex.join(command))


def remove_tree_as(path: Path, sandbox: Sandbox) -> None:
    """Remove a tree a build made: without root, from inside its user namespace (its
    files belong to subordinate ids, which the worker's user cannot remove)."""
    if sandbox.namespace is None or not os.path.lexists(path):
        remove_tree(path)
        return
    done = subprocess.run(["unshare", *sandbox.namespace.unshare_options(), "--", "rm", "-rf",
                           "--one-file-system", "--", str(path)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0 or os.path.lexists(path):
        raise OSError(f"{path}: cannot remove: {error_line(done.stderr, 'rm failed')}")


def _clear_stale(cache_dir: Path, digest: str, sandbox: Sandbox) -> None:
    """Temporary directories left by a killed builder (we hold the lock: none is live)."""
    for stale in cache_dir.glob(f".{digest}.tmp-*"):
        with contextlib.suppress(OSError):
            remove_tree_as(stale, sandbox)


def ensure_base(env: BuildEnv, cache_dir: Path, log: Log = print, *,
                timeout: float = 3600, sandbox: Sandbox = ROOT) -> Path:
    """The base chroot tarball `cache_dir/<digest>.tar` (`<digest>.unshare.tar` for the
    sandbox without root: made in a user namespace, it has no device nodes): made once,
    then reused.

    Concurrent callers on one host wait on `cache_dir/<digest>.lock`; only the first
    builds. The tarball appears only complete (temporary file, fsync, rename). The
    mmdebstrap output of the last attempt is kept as `cache_dir/<digest>.log`.
    """
    digest = env.digest()
    target = cache_dir / (f"{digest}.unshare.tar" if sandbox.rootless else f"{digest}.tar")
    if target.is_file():
        return target
    missing = required_tools()
    if missing:
        raise ConfigError("build sandbox", f"missing host tools: {', '.join(missing)}")
    if not sandbox.rootless and os.geteuid() != 0:
        raise ConfigError("build sandbox", "building chroots needs root (mmdebstrap --mode="
                          "root), or subordinate ids for the sandbox without root "
                          "(worker.sandbox = \"unshare\")")
    cache_dir.mkdir(parents=True, exist_ok=True)
    label = f"base chroot {env.codename}/{env.arch}"
    with _locked(cache_dir / f"{digest}.lock"):
        if target.is_file():  # made by another process while we waited
            return target
        _clear_stale(cache_dir, digest, sandbox)
        staging = Path(tempfile.mkdtemp(prefix=f".{digest}.tmp-", dir=cache_dir))
        try:
            if sandbox.rootless:
                # mmdebstrap's root is a subordinate id, a stranger to the worker's files:
                # it reads the staged files, and makes its own directory in tmp/
                staging.chmod(0o755)
                (staging / "tmp").mkdir(mode=0o1777)
                (staging / "tmp").chmod(0o1777)
            output = staging / "base.tar"
            log(f"{label}: making it with mmdebstrap from {env.mirror_uri}")
            start = time.monotonic()
            with BuildLog(staging / "mmdebstrap.log") as blog:
                blog.note(f"{label}: {json.dumps(env.description(), sort_keys=True)}")
                try:
                    step = _run_mmdebstrap(env, output, staging, blog, start + timeout,
                                           sandbox)
                except StepTimeout:
                    tail = blog.tail()
                    raise BuildFailed(label, f"mmdebstrap timed out after {timeout:.0f} s",
                                      tail) from None
                finally:
                    blog.close()
                    os.replace(staging / "mmdebstrap.log", cache_dir / f"{digest}.log")
            if step.returncode != 0 or not output.is_file():
                raise _base_error(env, label, step)
            rename_durably(output, target)  # fsynced, renamed, directory fsynced
            log(f"{label}: ready in {time.monotonic() - start:.0f} s ({target.name})")
        finally:
            with contextlib.suppress(OSError):
                remove_tree_as(staging, sandbox)
    return target


def _base_error(env: BuildEnv, label: str, step: StepResult) -> Exception:
    found = classify(step.output)
    if found and found[0] == "network":
        return MirrorUnreachable(env.mirror_uri, found[1])
    if found and found[0] == "signature":
        return SignatureError(env.mirror_uri, found[1])
    cause = error_line(step.output, f"mmdebstrap exited {step.returncode}")
    tail = "\n".join(step.output.rstrip("\n").splitlines()[-50:])
    return BuildFailed(label, cause, tail)


# --------------------------------------------------------------------------- sources


def _read_dsc(dsc: Path) -> Dsc:
    try:
        with dsc.open("rb") as f:
            return Dsc(f)
    except OSError as exc:
        raise NotFoundError(str(dsc), f"cannot read: {exc.strerror}") from exc


def parse_dsc_files(dsc: Path) -> list[str]:
    """The file names a .dsc lists (Checksums-Sha256, Files), each a plain name."""
    control = _read_dsc(dsc)
    names: list[str] = []
    for key in ("Checksums-Sha256", "Files"):
        for entry in control.get(key) or []:
            name = entry.get("name", "")
            if not _FILENAME.match(name):
                raise FormatError(str(dsc), f"{key} lists a file name that is not plain: "
                                  f"{name!r}")
            if name not in names:
                names.append(name)
    if not names:
        raise FormatError(str(dsc), "lists no files (no Checksums-Sha256 or Files field)")
    return names


@dataclass(frozen=True)
class SourceInfo:
    source: str
    version: str
    files: list[str]

    @property
    def version_no_epoch(self) -> str:
        return self.version.split(":", 1)[-1]

    @property
    def upstream_version(self) -> str:
        return self.version_no_epoch.rsplit("-", 1)[0]

    @property
    def subject(self) -> str:
        return f"{self.source} {self.version}"


def read_source_info(dsc: Path) -> SourceInfo:
    control = _read_dsc(dsc)
    source = control.get("Source", "")
    version = control.get("Version", "")
    if not _SOURCE.match(source):
        raise FormatError(str(dsc), f"bad or missing Source field: {source!r}")
    if not _VERSION.match(version):
        raise FormatError(str(dsc), f"bad or missing Version field: {version!r}")
    return SourceInfo(source, version, parse_dsc_files(dsc))


# --------------------------------------------------------------------------- build


def _apt_env() -> dict[str, str]:
    env = {"PATH": CHROOT_PATH, "LC_ALL": "C.UTF-8", "HOME": "/root",
           "DEBIAN_FRONTEND": "noninteractive"}
    for key, value in os.environ.items():
        if key.lower() in ("http_proxy", "https_proxy", "no_proxy"):
            env[key] = value
    return env


def _build_env(jobs: int) -> dict[str, str]:
    return {
        "PATH": CHROOT_PATH,
        "LC_ALL": "C.UTF-8",
        "HOME": "/nonexistent",
        "USER": BUILD_USER,
        "LOGNAME": BUILD_USER,
        "SHELL": "/bin/sh",
        "DEB_BUILD_OPTIONS": f"parallel={jobs}",
    }


APT = ["apt-get", "-q", "-o", "Dpkg::Use-Pty=0", "-o", "APT::Color=0",
       "-o", "Acquire::Languages=none"]


def _is_regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _safe_patch_name(index: int, patch: Path) -> str:
    return f"{index:02d}-{re.sub(r'[^A-Za-z0-9._-]', '_', patch.name)}"


class _Build:
    """One build_source call: its paths, log and steps."""

    def __init__(self, info: SourceInfo, env: BuildEnv, root: Path, blog: BuildLog,
                 deadline: float, log: Log, sandbox: Sandbox = ROOT) -> None:
        self.info = info
        self.env = env
        self.root = root
        self.blog = blog
        self.deadline = deadline
        self.log = log
        self.sandbox = sandbox
        self.userns = sandbox.namespace.unshare_options() if sandbox.namespace else []

    def fail(self, cause: str) -> BuildFailed:
        self.blog.note(f"FAILED: {cause}")
        return BuildFailed(self.info.subject, cause, self.blog.tail())

    def host(self, title: str, argv: list[str]) -> StepResult:
        result = self.blog.run(title, argv, deadline=self.deadline)
        if result.returncode != 0:
            raise self.fail(f"{title} exited {result.returncode}")
        return result

    def as_root(self, title: str, argv: list[str]) -> StepResult:
        """A host step that needs root over the chroot's files: root itself, or root of
        the build's user namespace (its files are the namespace's)."""
        if not self.userns:
            return self.host(title, argv)
        # killed with us, as every sandboxed step (see sandbox.py)
        command = ["setpriv", "--pdeathsig", "SIGKILL", "unshare", *self.userns, "--fork",
                   "--kill-child=SIGKILL", "--", *argv]
        result = self.blog.run(title, command, deadline=self.deadline, shown=shlex.join(argv))
        if result.returncode != 0:
            raise self.fail(f"{title} exited {result.returncode}")
        return result

    def chroot(self, title: str, argv: list[str], *, network: bool, user: bool,
               env: dict[str, str], cwd: str | None = None) -> StepResult:
        command = sandbox_argv(self.root, argv, network=network,
                               user=f"{BUILD_UID}:{BUILD_UID}" if user else None, env=env,
                               cwd=cwd, userns=self.userns)
        where = "network" if network else "no network"
        who = BUILD_USER if user else "root"
        shown = f"({who}, {where}{', in ' + cwd if cwd else ''}) {shlex.join(argv)}"
        self.log(f"{self.info.subject}: {title}")
        return self.blog.run(title, command, deadline=self.deadline, shown=shown)

    def apt(self, title: str, args: list[str]) -> None:
        result = self.chroot(title, [*APT, *args], network=True, user=False, env=_apt_env())
        if result.returncode == 0:
            return
        found = classify(result.output)
        if found and found[0] == "network":
            self.blog.note(f"FAILED: mirror unreachable: {found[1]}")
            raise MirrorUnreachable(self.env.mirror_uri, found[1])
        if found and found[0] == "signature":
            self.blog.note(f"FAILED: signature: {found[1]}")
            raise SignatureError(self.env.mirror_uri, found[1])
        raise self.fail(f"{title}: " + error_line(result.output,
                                                  f"exited {result.returncode}"))


def build_source(
    dsc: Path,
    env: BuildEnv,
    base: Path,
    workdir: Path,
    out_dir: Path,
    *,
    extra_build_depends: Sequence[str] = (),
    patches: Sequence[Path] = (),
    new_source: NewSource | None = None,
    timeout: float = 3 * 3600,
    jobs: int = 2,
    log: Log = print,
    sandbox: Sandbox = ROOT,
) -> BuildResult:
    """Build the binary packages of `dsc` in a fresh copy of the base chroot.

    `workdir` belongs to this build: `workdir/root` is the chroot, removed at the end
    (also on failure; a leftover of a killed worker is removed at the start). The log is
    `out_dir/<source>_<version>_<arch>.build`, kept in every case; produced .debs (and
    .udebs, .buildinfo, .changes) are copied to `out_dir` only on success.

    With `new_source`, the patches make a source package of our own (see `NewSource`);
    its files are copied to `out_dir/source` and listed in the result's `sources`.
    """
    start = time.monotonic()
    info = read_source_info(dsc)
    for name in info.files:
        if not _is_regular(dsc.parent / name):
            raise NotFoundError(str(dsc.parent / name), f"listed in {dsc.name} but missing")
    for patch in patches:
        if not patch.is_file():
            raise NotFoundError(str(patch), "patch file not found")
    if new_source is not None and not _VERSION.match(new_source.version):
        raise ConfigError("new source version", f"not a Debian version: {new_source.version!r}")
    if new_source is not None and not re.fullmatch(r"[^\n<>]+ <[^\n<>@ ]+@[^\n<> ]+>",
                                                   new_source.maintainer):
        raise ConfigError("new source maintainer",
                          f"expected 'Name <address>', got {new_source.maintainer!r}")
    bad = [p for p in extra_build_depends if not _APT_PACKAGE.match(p)]
    if bad:
        raise ConfigError("extra build dependencies", f"not a package name: {bad[0]!r}")
    if jobs < 1:
        raise ConfigError("jobs", f"must be at least 1, not {jobs}")
    if not _is_regular(base):
        raise NotFoundError(str(base), "base chroot tarball not found (see ensure_base)")
    missing = required_tools()
    if missing:
        raise ConfigError("build sandbox", f"missing host tools: {', '.join(missing)}")

    out_dir.mkdir(parents=True, exist_ok=True)
    workdir = workdir.absolute()
    workdir.mkdir(parents=True, exist_ok=True)
    root = workdir / "root"
    log_path = out_dir / f"{info.source}_{info.version_no_epoch}_{env.arch}.build"
    with BuildLog(log_path) as blog:
        blog.note(f"build of {info.subject} for {env.arch}, {os.uname().nodename}")
        blog.note(f"source: {dsc} (sha256 {hashlib.sha256(dsc.read_bytes()).hexdigest()})")
        blog.note(f"environment: {json.dumps(env.description(), sort_keys=True)}")
        blog.note(f"base: {base}")
        if sandbox.namespace is not None:
            namespace = sandbox.namespace
            blog.note(f"sandbox: unshare (ids 0-65535 of the namespace: subordinate ids "
                      f"{namespace.subuid.first}-{namespace.subuid.first + 65535} of uid "
                      f"{namespace.uid}; no root)")
        else:
            blog.note("sandbox: root")
        for patch in patches:
            blog.note(f"patch: {patch}")
        if extra_build_depends:
            blog.note(f"extra build dependencies: {' '.join(extra_build_depends)}")
        build = _Build(info, env, root, blog, start + timeout, log, sandbox)
        try:
            copied = _build(build, dsc, base, out_dir, list(extra_build_depends),
                            list(patches), jobs, new_source)
        except StepTimeout:
            raise build.fail(f"timed out after {timeout:.0f} s") from None
        finally:
            try:
                remove_tree_as(root, sandbox)
            except OSError as exc:  # never mask the build's own outcome
                blog.note(f"cleanup: {exc}")
        seconds = time.monotonic() - start
        result = BuildResult(
            debs=[p for p in copied if p.suffix == ".deb"],
            log=log_path,
            seconds=seconds,
            buildinfo=next((p for p in copied if p.suffix == ".buildinfo"), None),
            changes=next((p for p in copied if p.suffix == ".changes"), None),
            udebs=[p for p in copied if p.suffix == ".udeb"],
            sources=[p for p in copied if p.parent == out_dir / "source"],
        )
        blog.note(f"success: {len(result.debs)} .deb in {seconds:.1f} s")
        log(f"{info.subject}: built {len(result.debs)} .deb in {seconds:.0f} s")
        return result


def _build(build: _Build, dsc: Path, base: Path, out_dir: Path,
           extra: list[str], patches: list[Path], jobs: int,
           new_source: NewSource | None = None) -> list[Path]:
    """The steps of one build; returns the files copied to `out_dir`."""
    info, root = build.info, build.root
    try:
        remove_tree_as(root, build.sandbox)  # left by a killed worker
    except OSError as exc:
        raise build.fail(f"cannot clear {root}: {exc}") from exc
    root.mkdir()
    build.log(f"{info.subject}: extracting the base chroot")
    # a user namespace may not make device nodes: the sandbox binds the host's instead
    nodes = [f"--exclude=./dev/{node}" for node in DEVICE_NODES] if build.userns else []
    build.as_root("extract base chroot",
                  ["tar", "--numeric-owner", "--xattrs", "--xattrs-include=*", *nodes,
                   "-xpf", str(base), "-C", str(root)])

    # Sources, patches and name resolution for the network step: staged beside the
    # chroot by the worker, put in as root (of the namespace, without root)
    staged = root.parent / "in"
    remove_tree(staged)
    (staged / "patches").mkdir(parents=True)
    for name in [dsc.name, *info.files]:
        shutil.copyfile(dsc.parent / name, staged / name)
    patch_names = []
    for index, patch in enumerate(patches, 1):
        name = _safe_patch_name(index, patch)
        shutil.copyfile(patch, staged / "patches" / name)
        patch_names.append((patch, name))
    if not patches:
        (staged / "patches").rmdir()
    with contextlib.suppress(OSError):
        shutil.copyfile("/etc/resolv.conf", staged / "resolv.conf")
    build.as_root("put the sources in /build", ["/bin/sh", "-c", PUT_IN, "put-in", str(staged),
                                                str(root), f"{BUILD_UID}:{BUILD_UID}"])
    remove_tree(staged)
    build_dir = root / "build"
    build.blog.note(f"copied {1 + len(info.files)} source files and {len(patches)} patches "
                    "to /build")

    # The only steps with network: the chroot's apt, checking the signed Release.
    build.apt("apt-get update", ["update", "--error-on=any"])
    build.apt("apt-get dist-upgrade", ["-y", "--no-install-recommends", "dist-upgrade"])
    build.apt("apt-get build-dep", ["-y", "--no-install-recommends", "build-dep",
                                    f"/build/{dsc.name}"])
    if extra:
        build.apt("apt-get install extra build dependencies",
                  ["-y", "--no-install-recommends", "install", "--", *extra])

    # No network from here on, as the build user.
    benv = _build_env(jobs)
    srcdir = f"/build/{info.source}-{info.upstream_version}"
    step = build.chroot("dpkg-source -x", ["dpkg-source", "-x", f"/build/{dsc.name}", srcdir],
                        network=False, user=True, env=benv, cwd="/build")
    if step.returncode != 0:
        raise build.fail(f"dpkg-source -x exited {step.returncode}")
    made: list[Path] = []
    if new_source is not None:
        _make_source(build, new_source, [name for _, name in patch_names], benv, srcdir)
        patch_names = []  # part of the new source now
        made = _copy_source(build, new_source, build_dir, out_dir / "source")
    for patch, name in patch_names:
        step = build.chroot(
            f"patch {patch.name}",
            ["patch", "-p1", "--batch", "--forward", "--fuzz=0", "--no-backup-if-mismatch",
             "-i", f"/build/patches/{name}"],
            network=False, user=True, env=benv, cwd=srcdir)
        if step.returncode != 0:
            raise build.fail(f"patch {patch.name} does not apply (patch exited "
                             f"{step.returncode})")
    step = build.chroot("dpkg-buildpackage",
                        ["dpkg-buildpackage", "-b", "-uc", "-us", f"-j{jobs}"],
                        network=False, user=True, env=benv, cwd=srcdir)
    if step.returncode != 0:
        raise build.fail(f"dpkg-buildpackage exited {step.returncode}")

    # Results: regular files only (never follow a link out of the chroot).
    if build_dir.is_symlink() or not build_dir.is_dir():
        raise build.fail("/build is no longer a directory")
    produced = sorted(p for p in build_dir.iterdir()
                      if p.suffix in (".deb", ".udeb", ".buildinfo", ".changes")
                      and _is_regular(p))
    debs = [p for p in produced if p.suffix == ".deb"]
    if not debs:
        raise build.fail("dpkg-buildpackage produced no .deb")
    copied = []
    for path in produced:
        if not _is_regular(path):
            raise build.fail(f"{path.name}: not a regular file in /build")
        shutil.copyfile(path, out_dir / path.name)
        copied.append(out_dir / path.name)
        build.blog.note(f"result: {path.name} ({path.stat().st_size} bytes, sha256 "
                        f"{hashlib.sha256(path.read_bytes()).hexdigest()})")
    return copied + made


def _copy_source(build: _Build, new: NewSource, build_dir: Path, into: Path) -> list[Path]:
    """The source dpkg-source -b made, copied out before the package's own build runs
    (its debian/rules could change /build afterwards), checked: its .dsc names this
    source and version, and lists plain names of regular files. The .dsc first."""
    name = f"{build.info.source}_{new.version.split(':', 1)[-1]}.dsc"
    made = build_dir / name
    if not _is_regular(made):
        raise build.fail(f"dpkg-source -b made no {name}")
    into.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(made, into / name)
    try:
        info = read_source_info(into / name)
    except UnessentialError as exc:
        raise build.fail(f"the source made: {exc}") from exc
    if (info.source, info.version) != (build.info.source, new.version):
        raise build.fail(f"the source made is {info.source} {info.version}, not "
                         f"{build.info.source} {new.version}")
    copied = [into / name]
    for listed in info.files:
        path = build_dir / listed
        if not _is_regular(path):
            raise build.fail(f"{listed}: listed in {name} but not a regular file in /build")
        shutil.copyfile(path, into / listed)
        copied.append(into / listed)
    for path in copied:
        build.blog.note(f"source: {path.name} ({path.stat().st_size} bytes, sha256 "
                        f"{hashlib.sha256(path.read_bytes()).hexdigest()})")
    return copied


# Run as the build user, no network, in the unpacked source: the recipe's patches into
# the source (quilt series, or applied), our changelog entry, then `dpkg-source -b`.
_MAKE_SOURCE = r"""set -eu
format=$(cat debian/source/format 2>/dev/null || echo 1.0)
if [ "$format" = "3.0 (quilt)" ]; then
  mkdir -p debian/patches/unessential
  touch debian/patches/series
  if [ -s debian/patches/series ] && [ -n "$(tail -c 1 debian/patches/series)" ]; then
    echo >> debian/patches/series  # its last line had no newline
  fi
  for name in $UE_PATCHES; do
    if [ -e "debian/patches/unessential/$name" ]; then
      echo "debian/patches/unessential/$name: already in the source" >&2
      exit 1
    fi
    cp "/build/patches/$name" "debian/patches/unessential/$name"
    printf 'unessential/%s\n' "$name" >> debian/patches/series
  done
  dpkg-source --before-build .
else
  for name in $UE_PATCHES; do
    patch -p1 --batch --forward --fuzz=0 --no-backup-if-mismatch -i "/build/patches/$name"
  done
fi
distribution=$(dpkg-parsechangelog -S Distribution)
date=$(dpkg-parsechangelog -S Date)
{
  printf '%s (%s) %s; urgency=medium\n\n%s\n\n -- %s  %s\n\n' "$UE_SOURCE" "$UE_VERSION" \
    "$distribution" "$UE_CHANGES" "$UE_MAINTAINER" "$date"
  cat debian/changelog
} > debian/changelog.unessential
mv debian/changelog.unessential debian/changelog
cd ..
dpkg-source -b "$UE_TREE"
"""


def _make_source(build: _Build, new: NewSource, patches: list[str], benv: dict[str, str],
                 srcdir: str) -> None:
    env = dict(benv, UE_PATCHES=" ".join(patches), UE_SOURCE=build.info.source,
               UE_VERSION=new.version, UE_CHANGES=new.entry_lines(),
               UE_MAINTAINER=new.maintainer, UE_TREE=srcdir.rsplit("/", 1)[-1])
    step = build.chroot(f"make source {new.version} (patches: {', '.join(patches) or 'none'})",
                        ["sh", "-c", _MAKE_SOURCE], network=False, user=True, env=env,
                        cwd=srcdir)
    if step.returncode != 0:
        raise build.fail(f"the source of our own ({new.version}) could not be made: the "
                         "recipe's patches do not apply, or dpkg-source failed (exited "
                         f"{step.returncode})")
