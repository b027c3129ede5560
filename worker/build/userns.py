"""Which sandbox builds run in, and the user namespace of the one that needs no root.

Backends (`worker.sandbox`):

root
    Today's: the worker is root; chroots are made with `mmdebstrap --mode=root` and
    the build's namespaces (mount, PID, UTS, IPC, network) are created by root.
unshare
    No root: every step runs in a user namespace whose ids 0-65535 are the worker's
    first block of subordinate ids (/etc/subuid, /etc/subgid, subuid(5)), as
    `mmdebstrap --mode=unshare` and sbuild's unshare mode do, so that nothing a build
    makes is owned by a real user of the host. The worker's own uid and gid appear in
    the namespace as 65536 (`OUTSIDE`): root of the namespace may then read, write and
    chown the worker's work directory, which is how sources go in and trees are removed.
auto
    `unshare` when the worker's user has subordinate ids and `newuidmap` is installed,
    else `root` when the worker is root, else a one-line error saying what to add.
"""

from __future__ import annotations

import os
import pwd
import shutil
from dataclasses import dataclass
from pathlib import Path

from base.errors import ConfigError

BACKENDS = ("auto", "root", "unshare")
NEEDED = 65536  # ids 0-65535 inside: root, the system users, the build user
OUTSIDE = NEEDED  # the id the worker's own uid and gid have inside the namespace
SUBUID = Path("/etc/subuid")
SUBGID = Path("/etc/subgid")


@dataclass(frozen=True)
class IdBlock:
    first: int
    count: int


def subordinate_block(path: Path, user: str, uid: int) -> IdBlock | None:
    """The first block of at least NEEDED ids `path` gives `user` (by name or uid)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        fields = line.strip().split(":")
        if len(fields) != 3 or fields[0] not in (user, str(uid)):
            continue
        if not (fields[1].isdigit() and fields[2].isdigit()):
            continue
        block = IdBlock(int(fields[1]), int(fields[2]))
        if block.count >= NEEDED:
            return block
    return None


@dataclass(frozen=True)
class UserNamespace:
    """The mapping of a rootless build: 0..NEEDED-1 to the subordinate blocks, the
    worker's uid and gid to OUTSIDE."""

    uid: int
    gid: int
    subuid: IdBlock
    subgid: IdBlock

    def unshare_options(self) -> list[str]:
        """unshare(1) options (util-linux 2.38) creating it, the command run as its root."""
        return ["--user", f"--map-user={OUTSIDE}", f"--map-group={OUTSIDE}",
                f"--map-users={self.subuid.first},0,{NEEDED}",
                f"--map-groups={self.subgid.first},0,{NEEDED}",
                "--setuid=0", "--setgid=0"]


@dataclass(frozen=True)
class Sandbox:
    backend: str  # "root" or "unshare"
    namespace: UserNamespace | None = None

    @property
    def rootless(self) -> bool:
        return self.namespace is not None


def _user() -> tuple[str, int, int]:
    uid, gid = os.geteuid(), os.getegid()
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        name = str(uid)
    return name, uid, gid


def _missing_ids(name: str) -> str:
    return (f"a build without root needs subordinate ids for user {name}: add a line such "
            f"as '{name}:{NEEDED * 2}:{NEEDED}' (a block no other user has) to "
            f"{SUBUID} and to {SUBGID}")


def choose(setting: str, *, subuid: Path = SUBUID, subgid: Path = SUBGID) -> Sandbox:
    """The sandbox `setting` ("auto", "root" or "unshare") gives for this process."""
    if setting not in BACKENDS:
        raise ConfigError("worker.sandbox", f"{setting!r} is not one of {', '.join(BACKENDS)}")
    name, uid, gid = _user()
    uids = subordinate_block(subuid, name, uid)
    gids = subordinate_block(subgid, name, uid)
    helpers = [tool for tool in ("newuidmap", "newgidmap") if shutil.which(tool) is None]
    if setting == "root" or (setting == "auto" and (uids is None or gids is None or helpers)):
        if uid == 0:
            return Sandbox("root")
        if setting == "root":
            raise ConfigError("worker.sandbox", "the root sandbox needs a worker running as "
                              "root (or set worker.sandbox = \"unshare\")")
    if uids is None or gids is None:
        raise ConfigError("build sandbox", _missing_ids(name))
    if helpers:
        raise ConfigError("build sandbox", f"a build without root needs {' and '.join(helpers)}"
                          " (apt-get install uidmap)")
    return Sandbox("unshare", UserNamespace(uid, gid, uids, gids))
