"""Users and groups of an image: /etc/passwd, /etc/group, /etc/shadow, /etc/gshadow.

The same rules as the rendered maintainer scripts (recipes/templates/helpers): a
system group or user gets the lowest id in 100..999 that neither file uses (a user
with no group of its own gets a group of its name, and the uid of that gid when
free). The files are kept in memory and written once, each through a temporary file
and a rename. The base accounts (root, nogroup/nobody) are those of Debian's
base-passwd, with no login shell (there is none in the image).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from bootstrap.confined import Confinement, ImageRoot

SYSTEM_IDS = range(100, 1000)
NOLOGIN = "/usr/sbin/nologin"

BASE_PASSWD = [
    f"root:x:0:0:root:/root:{NOLOGIN}",
    f"nobody:x:65534:65534:nobody:/nonexistent:{NOLOGIN}",
]
BASE_GROUP = ["root:x:0:", "nogroup:x:65534:"]
BASE_SHADOW = ["root:*:0:0:99999:7:::", "nobody:*:0:0:99999:7:::"]
BASE_GSHADOW = ["root:*::", "nogroup:*::"]

#: Debian's globally allocated groups and users (ids below 100: Debian policy 9.2.2,
#: the same on every Debian system), as base-passwd's group.master and passwd.master
#: list them. An action that names one the image lacks (base-files' postinst makes
#: /var/mail root:mail) gets it with that id, as a system with base-passwd has it.
STATIC_GROUPS = {
    "daemon": 1, "bin": 2, "sys": 3, "adm": 4, "tty": 5, "disk": 6, "lp": 7, "mail": 8,
    "news": 9, "uucp": 10, "man": 12, "proxy": 13, "kmem": 15, "dialout": 20, "fax": 21,
    "voice": 22, "cdrom": 24, "floppy": 25, "tape": 26, "sudo": 27, "audio": 29, "dip": 30,
    "www-data": 33, "backup": 34, "operator": 37, "list": 38, "irc": 39, "src": 40,
    "shadow": 42, "utmp": 43, "video": 44, "sasl": 45, "plugdev": 46, "staff": 50,
    "games": 60, "users": 100,
}
#: name -> (uid, primary group, gecos, home)
STATIC_USERS = {
    "daemon": (1, "daemon", "daemon", "/usr/sbin"), "bin": (2, "bin", "bin", "/bin"),
    "sys": (3, "sys", "sys", "/dev"), "sync": (4, "nogroup", "sync", "/bin"),
    "games": (5, "games", "games", "/usr/games"), "man": (6, "man", "man", "/var/cache/man"),
    "lp": (7, "lp", "lp", "/var/spool/lpd"), "mail": (8, "mail", "mail", "/var/mail"),
    "news": (9, "news", "news", "/var/spool/news"),
    "uucp": (10, "uucp", "uucp", "/var/spool/uucp"), "proxy": (13, "proxy", "proxy", "/bin"),
    "www-data": (33, "www-data", "www-data", "/var/www"),
    "backup": (34, "backup", "backup", "/var/backups"),
    "list": (38, "list", "Mailing List Manager", "/var/list"),
    "irc": (39, "irc", "ircd", "/run/ircd"),
}


class AccountError(ValueError):
    """No free id, a reference to a user or group that does not exist, or a field that
    cannot be written into the colon-separated account files."""


#: adduser's default NAME_REGEX for system accounts (at most 32 characters)
NAME = re.compile(r"[a-z_][-a-z0-9_]{0,30}\$?")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_name(name: str, what: str = "user") -> str:
    """`name` if it is a valid user or group name; AccountError naming it otherwise."""
    if not NAME.fullmatch(name):
        raise AccountError(f"{what} name {name!r} is not valid (expected "
                           "[a-z_][-a-z0-9_]*, at most 32 characters)")
    return name


def check_field(value: str, what: str, *, path: bool = False) -> str:
    """`value` if it can stand in a passwd field: no ':', no newline or control
    character (an absolute path when `path`)."""
    if ":" in value or _CONTROL.search(value):
        raise AccountError(f"{what} {value!r} contains ':' or a control character")
    if path and not value.startswith("/"):
        raise AccountError(f"{what} {value!r} is not an absolute path")
    return value


@dataclass
class _Table:
    path: str  # inside the image, e.g. "etc/passwd"
    mode: int
    lines: list[str] = field(default_factory=list)

    def names(self) -> list[str]:
        return [line.split(":", 1)[0] for line in self.lines if line]

    def find(self, name: str) -> list[str] | None:
        for line in self.lines:
            fields = line.split(":")
            if fields[0] == name:
                return fields
        return None

    def ids(self) -> set[int]:
        out = set()
        for line in self.lines:
            fields = line.split(":")
            if len(fields) > 2 and fields[2].isdigit():
                out.add(int(fields[2]))
        return out

    def replace(self, name: str, fields: list[str]) -> None:
        self.lines = [":".join(fields) if line.split(":", 1)[0] == name else line
                      for line in self.lines]


class Accounts:
    """The account files of the image `fs` (read and written strictly: no symlink)."""

    def __init__(self, fs: ImageRoot) -> None:
        self.fs = fs
        self.passwd = self._load("etc/passwd", 0o644, BASE_PASSWD)
        self.group = self._load("etc/group", 0o644, BASE_GROUP)
        self.shadow = self._load("etc/shadow", 0o640, BASE_SHADOW)
        self.gshadow = self._load("etc/gshadow", 0o640, BASE_GSHADOW)
        self.shadow_gid: int | None = None  # set by shadow_on

    def _load(self, path: str, mode: int, base: list[str]) -> _Table:
        if not self.fs.lexists(path):
            return _Table(path, mode, list(base))
        try:
            text = self.fs.read_text(path, strict=True)
        except Confinement as exc:
            raise AccountError(f"/{path}: {exc}") from None
        return _Table(path, mode, text.splitlines())

    # -- queries -------------------------------------------------------------------
    def uid(self, name: str) -> int:
        if name.isdigit() and len(name) < 10:
            return int(name)
        fields = self.passwd.find(name)
        if fields is None and name in STATIC_USERS:
            return self._add_static_user(name)
        if fields is None:
            raise AccountError(f"no user {name!r} in /etc/passwd")
        return int(fields[2])

    def gid(self, name: str) -> int:
        if name.isdigit() and len(name) < 10:
            return int(name)
        fields = self.group.find(name)
        if fields is None and name in STATIC_GROUPS:
            return self.add_fixed_group(name, STATIC_GROUPS[name])
        if fields is None:
            raise AccountError(f"no group {name!r} in /etc/group")
        return int(fields[2])

    def _add_static_user(self, name: str) -> int:
        """One of Debian's static users, with its fixed uid (and its group)."""
        uid, group, gecos, home = STATIC_USERS[name]
        if uid in self.passwd.ids():
            raise AccountError(f"uid {uid} of Debian's user {name!r} is another user's")
        gid = self.gid(group)
        self.passwd.lines.append(f"{name}:x:{uid}:{gid}:{gecos}:{home}:{NOLOGIN}")
        self.shadow.lines.append(f"{name}:*:0:0:99999:7:::")
        return uid

    def has_user(self, name: str) -> bool:
        return self.passwd.find(name) is not None

    def has_group(self, name: str) -> bool:
        return self.group.find(name) is not None

    # -- changes -------------------------------------------------------------------
    def _free(self, wanted: int | None, *tables: _Table) -> int:
        used: set[int] = set()
        for table in tables:
            used |= table.ids()
        if wanted is not None and wanted in SYSTEM_IDS and wanted not in used:
            return wanted
        for candidate in SYSTEM_IDS:
            if candidate not in used:
                return candidate
        raise AccountError("no free system id in 100..999")

    def add_group(self, name: str, *, gid: int | None = None, like_user: bool = False) -> int:
        """Create a system group if missing; its gid."""
        check_name(name, "group")
        existing = self.group.find(name)
        if existing is not None:
            return int(existing[2])
        tables = (self.group, self.passwd) if like_user else (self.group,)
        number = gid if gid is not None and gid not in self.group.ids() else \
            self._free(None, *tables)
        self.group.lines.append(f"{name}:x:{number}:")
        self.gshadow.lines.append(f"{name}:!::")
        return number

    def add_fixed_group(self, name: str, gid: int) -> int:
        """Create group `name` with the fixed id `gid` (groupadd -g) unless it has it;
        AccountError if it has another id or `gid` is another group's."""
        check_name(name, "group")
        existing = self.group.find(name)
        if existing is not None:
            if existing[2] != str(gid):
                raise AccountError(f"group {name!r} has the id {existing[2]}, not {gid}")
            return gid
        for line in self.group.lines:
            fields = line.split(":")
            if len(fields) > 2 and fields[2] == str(gid):
                raise AccountError(f"the id {gid} of group {name!r} is the group "
                                   f"{fields[0]!r}'s")
        self.group.lines.append(f"{name}:x:{gid}:")
        self.gshadow.lines.append(f"{name}:!::")
        return gid

    def shadow_on(self) -> None:
        """What shadowconfig on does (pwconv, grpconv): each account gets an entry in
        /etc/shadow (/etc/gshadow) holding its password, `x` left in /etc/passwd
        (/etc/group); entries of no account are dropped; the shadow files root:shadow
        (the group must exist) 0640. Unlike pwconv, a new entry has no last-change
        date (an image is the same whatever day it is built)."""
        self._convert(self.passwd, self.shadow, lambda name, pw: f"{name}:{pw}:::::::")
        self._convert(self.group, self.gshadow,
                      lambda name, pw: f"{name}:{pw}::{(self.group.find(name) or [''])[-1]}")
        self.shadow_gid = self.gid("shadow")

    @staticmethod
    def _convert(table: _Table, shadow: _Table, entry: Callable[[str, str], str]) -> None:
        names = set(table.names())
        shadow.lines = [line for line in shadow.lines if line.split(":", 1)[0] in names]
        known = set(shadow.names())
        for fields in [line.split(":") for line in table.lines if line]:
            if len(fields) < 3:
                raise AccountError(f"/{table.path}: a malformed entry {fields[0]!r}")
            password = fields[1]
            if fields[0] not in known:
                shadow.lines.append(entry(fields[0], password))  # (`x` too, as pwconv)
            elif password not in ("x", ""):  # pwconv: the password moves to the shadow
                row = shadow.find(fields[0]) or []
                shadow.replace(fields[0], [row[0], password, *row[2:]])
            if password != "x":
                table.replace(fields[0], [fields[0], "x", *fields[2:]])

    # -- as systemd-sysusers makes them ----------------------------------------------
    def _free_top(self, *tables: _Table) -> int:
        """The highest id in 100..999 no table uses (systemd-sysusers counts down)."""
        used: set[int] = set()
        for table in tables:
            used |= table.ids()
        for candidate in reversed(SYSTEM_IDS):
            if candidate not in used:
                return candidate
        raise AccountError("no free system id in 100..999")

    def sysusers_group(self, name: str, gid: int | None) -> int:
        """A sysusers.d `g` line: the group if missing, with `gid` where it is free,
        else the highest free id; locked (`!*`) in /etc/gshadow."""
        check_name(name, "group")
        existing = self.group.find(name)
        if existing is not None:
            return int(existing[2])
        number = gid if gid is not None and gid not in self.group.ids() else \
            self._free_top(self.group)
        self.group.lines.append(f"{name}:x:{number}:")
        self.gshadow.lines.append(f"{name}:!*::")
        return number

    def sysusers_user(self, name: str, uid: int | None, group: str | None, *, gecos: str,
                      home: str, shell: str) -> tuple[int, int]:
        """A sysusers.d `u` line: the user if missing. `uid:group` takes that primary
        group; otherwise the group of its name (made with the uid when free, or the
        uid taken from it); no uid: the highest id free as a uid and a gid."""
        existing = self._existing_user(name, gecos, home, shell)
        if existing is not None:
            return existing
        taken = self.passwd.ids()
        if group is not None:
            gid = self.gid(group)
            number = uid if uid is not None and uid not in taken else \
                self._free_top(self.passwd)
        else:
            same = self.group.find(name)
            if uid is not None:
                number = uid
            elif same is not None and int(same[2]) not in taken:
                number = int(same[2])
            else:
                number = self._free_top(self.passwd, self.group)
            gid = int(same[2]) if same is not None else self.sysusers_group(name, number)
        self.passwd.lines.append(f"{name}:x:{number}:{gid}:{gecos}:{home}:{shell}")
        self.shadow.lines.append(f"{name}:!*:::::::")
        return number, gid

    def _existing_user(self, name: str, gecos: str, home: str,
                       shell: str) -> tuple[int, int] | None:
        """The fields of a new user checked; (uid, gid) of the user if it exists."""
        check_name(name, "user")
        check_field(gecos, "Gecos")
        check_field(home, "Home", path=True)
        check_field(shell, "Shell", path=True)
        existing = self.passwd.find(name)
        return (int(existing[2]), int(existing[3])) if existing is not None else None

    def add_user(self, name: str, *, home: str = "/nonexistent", shell: str = NOLOGIN,
                 group: str = "", gecos: str = "", uid: int | None = None) -> tuple[int, int]:
        """Create a system user if missing (and its group); its (uid, gid)."""
        existing = self._existing_user(name, gecos, home, shell)
        if existing is not None:
            return existing
        if group:
            gid = self.add_group(group)
            number = uid if uid is not None else self._free(None, self.passwd)
        else:
            gid = self.add_group(name, gid=uid, like_user=True)
            number = uid if uid is not None else self._free(gid, self.passwd)
        self.passwd.lines.append(f"{name}:x:{number}:{gid}:{gecos}:{home}:{shell}")
        self.shadow.lines.append(f"{name}:!:::::::")
        return number, gid

    def add_login(self, name: str, uid: int) -> tuple[int, int]:
        """The image's non-root account `name` (uid, a group of its name, home in /home)."""
        check_name(name, "user")
        if not self.has_group(name):
            self.group.lines.append(f"{name}:x:{uid}:")
            self.gshadow.lines.append(f"{name}:!::")
        gid = self.gid(name)
        if not self.has_user(name):
            self.passwd.lines.append(f"{name}:x:{uid}:{gid}::/home/{name}:{NOLOGIN}")
            self.shadow.lines.append(f"{name}:!:::::::")
        return self.uid(name), gid

    def add_member(self, user: str, group: str) -> None:
        """Add `user` to the member list of `group`."""
        check_name(user, "user")
        check_name(group, "group")
        if not self.has_user(user):
            raise AccountError(f"no user {user!r} in /etc/passwd")
        for table in (self.group, self.gshadow):
            fields = table.find(group)
            if fields is None:
                if table is self.group:
                    raise AccountError(f"no group {group!r} in /etc/group")
                continue
            members = [m for m in fields[-1].split(",") if m]
            if user not in members:
                fields[-1] = ",".join([*members, user])
                table.replace(group, fields)

    def save(self) -> None:
        """Write the four files (temporary file + rename each, inside the image); the
        shadow files group-owned by shadow once shadow_on made them so."""
        for table in (self.passwd, self.group, self.shadow, self.gshadow):
            if self.fs.is_symlink(table.path):
                raise AccountError(f"/{table.path} is a symlink in the image (refused)")
            try:
                self.fs.write_text(table.path, "".join(f"{line}\n" for line in table.lines),
                                   mode=table.mode, strict=True)
                if self.shadow_gid is not None and table in (self.shadow, self.gshadow):
                    self.fs.chown(table.path, 0, self.shadow_gid)
            except Confinement as exc:
                raise AccountError(f"/{table.path}: {exc}") from None
