"""Running commands inside an extracted chroot, in fresh namespaces, into a build log.

Every command runs under `unshare --mount --pid --uts --ipc [--net] --fork` as root of
the host (no user namespace: device nodes and owners in the tree are real). The kernel
file systems the chroot needs (proc, sysfs, a private devpts, a tmpfs on /dev/shm) are
mounted by a tiny host shell script *inside* the new mount namespace, which is private:
nothing is ever mounted in the host's namespace, so a killed worker leaves no mounts.

Process lifetime: the command is `setpriv --pdeathsig SIGKILL unshare --kill-child=SIGKILL`,
so if the Python process dies, unshare dies, which kills the namespace's PID 1, which
makes the kernel kill every process of the build. A timeout kills the process group.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

# Runs on the host, inside the new namespaces; $1 root, $2 "net" or "none", $3 user spec
# ("" for root), $4 "nodes" (the chroot has its device nodes) or "bind" (a chroot made
# in a user namespace has none: the host's are bound in, and sysfs, which a user
# namespace may mount only with a network namespace of its own, is left out where it
# cannot be), then the command to run in the chroot.
SANDBOX_SH = r"""
set -eu
root=$1; net=$2; user=$3; devices=$4; shift 4
umask 022
mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
if [ "$devices" = bind ]; then
    mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$root/sys" 2>/dev/null || true
    if [ -L "$root/dev" ]; then echo "sandbox: /dev is a symbolic link" >&2; exit 1; fi
    for node in null zero full random urandom tty ptmx; do
        rm -f "$root/dev/$node"  # a file to mount on, never a link to follow
        : > "$root/dev/$node"
        [ "$node" = ptmx ] || mount --bind "/dev/$node" "$root/dev/$node"
    done
else
    mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$root/sys"
fi
mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs "$root/dev/shm"
mount -t devpts -o newinstance,nosuid,noexec,ptmxmode=0666,mode=0620,gid=5 devpts "$root/dev/pts"
mount --bind "$root/dev/pts/ptmx" "$root/dev/ptmx"
if [ "$net" = none ] && command -v ip >/dev/null 2>&1; then ip link set lo up || true; fi
rc=0
if [ -n "$user" ]; then
    chroot --userspec="$user" "$root" "$@" || rc=$?
else
    chroot "$root" "$@" || rc=$?
fi
exit "$rc"
"""

HOST_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
CHROOT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def required_tools() -> list[str]:
    """Host programs the sandbox needs that are missing (empty when all are there)."""
    return [t for t in ("unshare", "setpriv", "chroot", "mount", "tar") if not shutil.which(t)]


def sandbox_argv(
    root: Path,
    argv: Sequence[str],
    *,
    network: bool,
    user: str | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    userns: Sequence[str] = (),
) -> list[str]:
    """The host command that runs `argv` in chroot `root` (with `env` only, in `cwd`);
    with `userns` (worker.build.userns options), inside a user namespace too."""
    namespaces = ["unshare", *userns, "--mount", "--pid", "--uts", "--ipc", "--fork",
                  "--kill-child=SIGKILL"]
    if not network:
        namespaces.append("--net")
    inner = list(argv)
    if env is not None or cwd is not None:
        prefix = ["/usr/bin/env"]  # options first, then the NAME=VALUE pairs
        if env is not None:
            prefix.append("-i")
        if cwd is not None:
            prefix.append(f"--chdir={cwd}")
        prefix += [f"{k}={v}" for k, v in (env or {}).items()]
        inner = [*prefix, *inner]
    return ["setpriv", "--pdeathsig", "SIGKILL", *namespaces, "/bin/sh", "-c", SANDBOX_SH,
            "sandbox", str(root), "net" if network else "none", user or "",
            "bind" if userns else "nodes", *inner]


def mounts_under(path: Path) -> list[str]:
    """Mount points at or below `path` in this process's mount namespace."""
    prefix = str(path).rstrip("/")
    found = []
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return []
    for line in lines:
        fields = line.split(" ")
        if len(fields) < 5:
            continue
        point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])
        if point == prefix or point.startswith(prefix + "/"):
            found.append(point)
    return found


def remove_tree(path: Path) -> None:
    """Remove a chroot tree; refuse if anything is mounted below it (never follow mounts)."""
    if not os.path.lexists(path):
        return
    mounted = mounts_under(path)
    if mounted:
        raise OSError(f"{path}: refusing to remove, mounted below it: {', '.join(mounted[:3])}")
    if path.is_symlink() or not path.is_dir():
        path.unlink()
        return
    shutil.rmtree(path)


class StepTimeout(Exception):
    """The build's deadline passed while a step was running (its processes are killed)."""


@dataclass
class StepResult:
    title: str
    returncode: int
    output: str
    seconds: float


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class BuildLog:
    """A build log file: timestamped notes and the full output of each step."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
        # Append mode: the steps' processes write to the same file description.
        self._file = path.open("ab")

    def __enter__(self) -> BuildLog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()

    def write(self, text: str) -> None:
        self._file.write(text.encode("utf-8", "replace"))
        self._file.flush()

    def note(self, text: str) -> None:
        self.write(f"[{_now()}] {text}\n")

    def section(self, title: str) -> None:
        self.write(f"\n{'=' * 78}\n[{_now()}] {title}\n{'=' * 78}\n")

    def run(
        self,
        title: str,
        argv: Sequence[str],
        *,
        deadline: float,
        shown: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> StepResult:
        """Run one step with its output into the log; kill it at `deadline` (monotonic)."""
        self.section(title)
        self.write(f"$ {shown or ' '.join(argv)}\n")
        start = time.monotonic()
        offset = self._file.tell()
        remaining = deadline - start
        if remaining <= 0:
            raise StepTimeout(title)
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=self._file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=dict(env) if env is not None else {"PATH": HOST_PATH, "LC_ALL": "C.UTF-8"},
        )
        try:
            returncode = proc.wait(timeout=remaining)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            self._file.seek(0, os.SEEK_END)
            self.note(f"{title}: killed after {time.monotonic() - start:.1f} s (timeout)")
            raise StepTimeout(title) from None
        finally:
            if proc.poll() is None:  # interrupted while waiting: take the build down too
                _kill_group(proc)
        self._file.seek(0, os.SEEK_END)
        end = self._file.tell()
        seconds = time.monotonic() - start
        self.note(f"{title}: exit status {returncode} after {seconds:.1f} s")
        return StepResult(title, returncode, self._read(offset, end), seconds)

    def _read(self, start: int, end: int, limit: int = 1 << 20) -> str:
        start = max(start, end - limit)
        with self.path.open("rb") as f:
            f.seek(start)
            return f.read(end - start).decode("utf-8", "replace")

    def tail(self, lines: int = 50) -> str:
        if not self._file.closed:
            self._file.flush()
        size = self.path.stat().st_size
        text = self._read(max(0, size - 64 * 1024), size)
        return "\n".join(text.rstrip("\n").splitlines()[-lines:])


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


# What apt and mmdebstrap print when the mirror could not be reached or served a bad
# file (a retryable condition), and when the signature did not verify (not retryable).
_SIGNATURE = re.compile(
    r"NO_PUBKEY|EXPKEYSIG|REVKEYSIG|BADSIG|is not signed|"
    r"signatures couldn't be verified|signatures were invalid|"
    r"Signed-By option from sources\.list"
)
_NETWORK = re.compile(
    r"Could not resolve|Temporary failure resolving|Could not connect|Unable to connect|"
    r"Connection failed|Connection timed out|Connection refused|No route to host|"
    r"Network is unreachable|Failed to fetch|Unable to fetch some archives|"
    r"Some index files failed to download|Hash Sum mismatch|File has unexpected size|"
    r"Undetermined Error|Connection reset by peer"
)


def classify(output: str) -> tuple[str, str] | None:
    """("signature" | "network", cause line) if apt's output shows either, else None."""
    for kind, pattern in (("signature", _SIGNATURE), ("network", _NETWORK)):
        lines = [line.strip() for line in output.splitlines() if pattern.search(line)]
        if lines:
            errors = [line for line in lines if line.startswith("E:")]
            return kind, one_line((errors or lines)[0])
    return None


def error_line(output: str, default: str) -> str:
    """The first `E:` line of apt/mmdebstrap output, or `default`."""
    for line in output.splitlines():
        if line.startswith("E:"):
            return one_line(line)
    return default


def one_line(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
