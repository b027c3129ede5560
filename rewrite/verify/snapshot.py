"""What a system is, for the equivalence check: its tree and its databases (pure).

A snapshot maps each path (`/etc/foo`) to an `Entry`: type, permission bits, owner,
size and a digest (sha256 of a file's content, a symlink's target, a device's
numbers). Systems are overlays of one base tree, so a system's snapshot is the base's
snapshot with the overlay's upper directory applied: entries there replace the base's,
whiteouts (0/0 character devices) remove a path and everything under it, and an opaque
directory hides what the base had below it. Only the upper directory is read.

The account files, dpkg's status, diversions, stat overrides and alternatives are read
as structured state (`State`) and compared by key, not as bytes.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from base.deb822 import iter_stanzas

ACCOUNT_FILES = ("/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow")
STATUS = "/var/lib/dpkg/status"
DIVERSIONS = "/var/lib/dpkg/diversions"
STATOVERRIDE = "/var/lib/dpkg/statoverride"
ALTERNATIVES = "/var/lib/dpkg/alternatives"
#: compared as structured state, never as files
STRUCTURED = (*ACCOUNT_FILES, STATUS, DIVERSIONS, STATOVERRIDE)
#: fields of a shadow line that record when a password changed (ignored)
SHADOW_DATES = {"/etc/shadow": (2,)}

Skip = Callable[[str], bool]


@dataclass(frozen=True)
class Entry:
    type: str  # file, dir, symlink, char, block, fifo, socket
    mode: int  # permission bits, setuid/setgid/sticky included
    uid: int
    gid: int
    size: int = 0
    digest: str = ""  # sha256 (file), target (symlink), major:minor (device)
    capabilities: str = ""  # a file's security.capability xattr (hex), if it has one

    def describe(self) -> str:
        what = f"{self.type} {self.mode:04o} {self.uid}:{self.gid}"
        if self.type == "file":
            caps = f" capabilities:{self.capabilities}" if self.capabilities else ""
            return f"{what} {self.size} bytes sha256:{self.digest[:16]}{caps}"
        if self.type == "symlink":
            return f"{what} -> {self.digest}"
        if self.digest:
            return f"{what} {self.digest}"
        return what

    def differs(self, other: Entry) -> list[str]:
        """The attributes that differ: type, mode, owner, size, content/target."""
        if self.type != other.type:
            return ["type"]
        out = []
        if self.mode != other.mode and self.type != "symlink":
            out.append("mode")
        if (self.uid, self.gid) != (other.uid, other.gid):
            out.append("owner")
        if self.size != other.size and self.type == "file":
            out.append("size")
        if self.digest != other.digest:
            out.append("target" if self.type == "symlink" else "content")
        if self.capabilities != other.capabilities:
            out.append("capabilities")
        return out


_TYPES = ((stat.S_ISREG, "file"), (stat.S_ISDIR, "dir"), (stat.S_ISLNK, "symlink"),
          (stat.S_ISCHR, "char"), (stat.S_ISBLK, "block"), (stat.S_ISFIFO, "fifo"),
          (stat.S_ISSOCK, "socket"))


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb", buffering=0) as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def entry_of(path: str, st: os.stat_result) -> Entry:
    kind = next(name for test, name in _TYPES if test(st.st_mode))
    digest = capabilities = ""
    size = 0
    if kind == "file":
        size = st.st_size
        digest = _sha256(path)
        with contextlib.suppress(OSError):  # (none: no such xattr)
            capabilities = os.getxattr(path, "security.capability",
                                       follow_symlinks=False).hex()
    elif kind == "symlink":
        digest = os.readlink(path)
    elif kind in ("char", "block"):
        digest = f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}"
    return Entry(kind, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, size, digest,
                 capabilities)


def walk(root: Path, skip: Skip) -> dict[str, Entry]:
    """Every path under `root` (not following symlinks, not crossing into `skip`ped
    paths), keyed by its path inside the system."""
    out: dict[str, Entry] = {}
    base = str(root)
    for top, dirs, files in os.walk(base, followlinks=False):
        rel_top = top[len(base):] or "/"
        kept = []
        for name in dirs:
            path = f"{rel_top.rstrip('/')}/{name}"
            if skip(path):
                continue
            full = os.path.join(top, name)
            st = os.lstat(full)
            out[path] = entry_of(full, st)
            if stat.S_ISDIR(st.st_mode):
                kept.append(name)
        dirs[:] = kept
        for name in files:
            path = f"{rel_top.rstrip('/')}/{name}"
            if skip(path):
                continue
            full = os.path.join(top, name)
            out[path] = entry_of(full, os.lstat(full))
    return out


def _opaque(path: str) -> bool:
    try:
        return os.getxattr(path, "trusted.overlay.opaque", follow_symlinks=False) == b"y"
    except OSError:
        return False


def _remove_below(tree: dict[str, Entry], path: str, *, keep_self: bool = False) -> None:
    prefix = path.rstrip("/") + "/"
    for key in [k for k in tree if k.startswith(prefix) or (k == path and not keep_self)]:
        del tree[key]


def overlay(base: dict[str, Entry], upper: Path, skip: Skip) -> dict[str, Entry]:
    """The snapshot of an overlay whose lower layer is the tree `base` describes."""
    tree = dict(base)
    changed = walk(upper, skip)
    for path in sorted(changed):
        item = changed[path]
        full = str(upper) + path
        if item.type == "char" and item.digest == "0:0":  # whiteout
            _remove_below(tree, path)
            continue
        if item.type != "dir" or (path in tree and tree[path].type != "dir"):
            _remove_below(tree, path)
        elif _opaque(full):
            _remove_below(tree, path, keep_self=True)
        tree[path] = item
    return tree


class View:
    """Reads files of a system: from the overlay's upper directory, else from the base."""

    def __init__(self, base_root: Path, upper: Path | None, tree: dict[str, Entry]) -> None:
        self.base_root = base_root
        self.upper = upper
        self.tree = tree

    def read_text(self, path: str) -> str | None:
        entry = self.tree.get(path)
        if entry is None or entry.type != "file":
            return None
        if self.upper is not None:
            candidate = Path(str(self.upper) + path)
            if candidate.is_file() and not candidate.is_symlink():
                return candidate.read_text(encoding="utf-8", errors="replace")
        return Path(str(self.base_root) + path).read_text(encoding="utf-8", errors="replace")


@dataclass
class State:
    """The structured part of a system: accounts, dpkg's databases, alternatives."""

    accounts: dict[str, dict[str, str]] = field(default_factory=dict)  # file -> name -> line
    status: dict[str, dict[str, str]] = field(default_factory=dict)  # package -> fields
    diversions: dict[str, str] = field(default_factory=dict)  # diverted path -> to, by
    statoverrides: dict[str, str] = field(default_factory=dict)  # path -> owner group mode
    alternatives: dict[str, str] = field(default_factory=dict)  # name -> admin file


def account_lines(path: str, text: str) -> dict[str, str]:
    """Lines of an account file by name; the password-change date fields blanked."""
    out = {}
    dates = SHADOW_DATES.get(path, ())
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split(":")
        for index in dates:
            if index < len(fields):
                fields[index] = ""
        out[fields[0]] = ":".join(fields)
    return out


def status_stanzas(text: str) -> dict[str, dict[str, str]]:
    out = {}
    for stanza in iter_stanzas(text):
        name = stanza.get("Package", "")
        if not name:
            continue
        arch = stanza.get("Architecture", "")
        key = f"{name}:{arch}" if stanza.get("Multi-Arch") == "same" else name
        out[key] = dict(stanza)
    return out


def diversion_table(text: str) -> dict[str, str]:
    """dpkg's diversions file: groups of three lines (from, to, package)."""
    lines = text.splitlines()
    return {lines[i]: f"to {lines[i + 1]} by {lines[i + 2]}"
            for i in range(0, len(lines) - 2, 3)}


def statoverride_table(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        words = line.split()
        if len(words) == 4:
            out[words[3]] = " ".join(words[:3])
    return out


def state_of(view: View) -> State:
    state = State()
    for path in ACCOUNT_FILES:
        text = view.read_text(path)
        if text is not None:
            state.accounts[path] = account_lines(path, text)
    state.status = status_stanzas(view.read_text(STATUS) or "")
    state.diversions = diversion_table(view.read_text(DIVERSIONS) or "")
    state.statoverrides = statoverride_table(view.read_text(STATOVERRIDE) or "")
    prefix = ALTERNATIVES + "/"
    for path, entry in view.tree.items():
        if path.startswith(prefix) and "/" not in path[len(prefix):] and entry.type == "file":
            state.alternatives[path[len(prefix):]] = view.read_text(path) or ""
    return state


@dataclass
class Snapshot:
    tree: dict[str, Entry]
    state: State


def snapshot(base_root: Path, base_tree: dict[str, Entry], upper: Path | None,
             skip: Skip) -> Snapshot:
    """A system's snapshot: the base's tree with `upper` applied (None: the base)."""
    tree = overlay(base_tree, upper, skip) if upper is not None else dict(base_tree)
    view = View(base_root, upper, tree)
    return Snapshot(tree, state_of(view))
