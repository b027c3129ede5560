"""The closed vocabulary of declarative maintainer-script actions.

Each rewritten binary package carries its actions as a deb822 control file named
`actions` (one stanza per action). An installer applies them with no interpreter;
`recipes/templates/` renders the same actions as minimal POSIX sh, so stock dpkg
still installs the package. Every action says when it applies: the maintainer
script (`Script`) and the values of its first argument (`On`, e.g. `configure`).

The vocabulary, with its fields and meaning, is documented in `recipes/README.md`.

Dropped, never turned into actions (recorded in the report with a reason): init
system hooks (deb-systemd-helper, deb-systemd-invoke, invoke-rc.d, update-rc.d,
systemctl: no init in a container) and debconf questions (answered by the recipe or
the template's default).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

SCRIPTS = ("preinst", "postinst", "prerm", "postrm", "config")
PHASES = (
    "install", "upgrade", "abort-upgrade", "configure", "abort-install", "abort-remove",
    "abort-deconfigure", "remove", "purge", "disappear", "failed-upgrade", "deconfigure",
    "triggered", "reconfigure",
)
CACHE_KINDS = ("mime", "desktop", "icons", "glib-schemas", "fonts", "man")

# Action name -> (required fields, optional fields with defaults)
VOCABULARY: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    "system-group": (("Name",), {}),
    "system-user": (
        ("Name",),
        {"Home": "/nonexistent", "Shell": "/usr/sbin/nologin", "Group": "", "Gecos": "",
         "Create-Home": "no"},
    ),
    "user-in-group": (("User", "Group"), {}),
    "remove-user": (("Name",), {}),
    "remove-group": (("Name",), {}),
    "alternative-install": (("Name", "Link", "Path", "Priority"), {"Slaves": ""}),
    "alternative-remove": (("Name", "Path"), {}),
    "ldconfig": ((), {}),
    "rm-conffile": (("Conffile",), {"Prior-Version": "", "Package": ""}),
    "mv-conffile": (("Old", "New"), {"Prior-Version": "", "Package": ""}),
    "symlink-to-dir": (("Pathname", "Old-Target"), {"Prior-Version": "", "Package": ""}),
    "dir-to-symlink": (("Pathname", "New-Target"), {"Prior-Version": "", "Package": ""}),
    "ca-bundle": ((), {}),
    "python-compile": (("Package",), {"Dirs": ""}),
    "python-clean": (("Package",), {}),
    "info-dir": (("File",), {"Remove": "no"}),
    "update-cache": (("Kind",), {"Path": ""}),
    "make-dir": (("Path",), {"Mode": "", "Owner": "", "Group": ""}),
    "remove-path": (("Path",), {"Recursive": "no"}),
    "set-owner": (("Path",), {"Owner": "", "Group": "", "Mode": ""}),
    "symlink": (("Path", "Target"), {}),
    "install-config": (("Source", "Path"), {}),
    "trigger": (("Name",), {"Await": "no"}),
    "tmpfiles": ((), {"Config": ""}),
    "sysusers": ((), {"Config": ""}),
}


class ActionError(ValueError):
    """An action that is not in the vocabulary, lacks a field or has an unsafe value."""


# -- field values --------------------------------------------------------------------
# Every value is checked where an action is made (translator, recipe, `actions` file),
# so that nothing downstream (bootstrap, the rendered sh) sees a name that leaves the
# image or breaks /etc/passwd.
ACCOUNT_NAME = re.compile(r"[a-z_][-a-z0-9_]*\$?")  # adduser's rule
ACCOUNT_NAME_MAX = 32
NUMERIC_ID = re.compile(r"[0-9]{1,10}")
PRIORITY = re.compile(r"-?[0-9]{1,9}")
OCTAL_MODE = re.compile(r"0?[0-7]{3,4}")
VERSION = re.compile(r"[0-9A-Za-z.+~:-]*")
PACKAGE = re.compile(r"[a-z0-9][a-z0-9+.-]+(:[a-z0-9-]+)?")  # with an optional :arch
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_YES_NO = frozenset({"yes", "no", "true", "false", "1", "0"})


def _plain_text(value: str, what: str) -> str:
    """No control character (newline, NUL, escape ...)."""
    found = _CONTROL.search(value)
    if found:
        char = found.group()
        named = {"\n": "a newline", "\x00": "a NUL", "\t": "a tab"}.get(
            char, f"the control character {char!r}")
        raise ValueError(f"{what} {value!r} contains {named}")
    return value


def check_account_name(value: str, what: str = "user or group name") -> str:
    """A user or group name by adduser's rule (`^[a-z_][-a-z0-9_]*\\$?$`, <= 32)."""
    if not ACCOUNT_NAME.fullmatch(value) or len(value) > ACCOUNT_NAME_MAX:
        raise ValueError(
            f"{what} {value!r} is not a valid name (lower case letters, digits, '_' and "
            f"'-', not starting with a digit or '-', at most {ACCOUNT_NAME_MAX} characters)"
        )
    return value


def check_owner(value: str, what: str = "owner") -> str:
    """An account name or a numeric id, as chown takes them."""
    if NUMERIC_ID.fullmatch(value):
        return value
    return check_account_name(value, what)


def check_path(value: str, what: str = "path") -> str:
    """An absolute path inside the image: leading '/', no '..' component, no control
    character (glob characters are allowed: some actions take patterns)."""
    _plain_text(value, what)
    if not value.startswith("/"):
        raise ValueError(f"{what} {value!r} is not an absolute path")
    if ".." in value.split("/"):
        raise ValueError(f"{what} {value!r} has a '..' component")
    return value


def check_alternative_name(value: str, what: str = "alternative name") -> str:
    """A name under /etc/alternatives and /var/lib/dpkg/alternatives: one plain word."""
    _plain_text(value, what)
    if not value or "/" in value or re.search(r"\s", value) or value in (".", ".."):
        raise ValueError(f"{what} {value!r} is not a plain name (no '/', no blank, "
                         "not '.' or '..')")
    return value


def check_gecos(value: str, what: str = "Gecos") -> str:
    _plain_text(value, what)
    if ":" in value:
        raise ValueError(f"{what} {value!r} contains ':'")
    return value


def check_account_path(value: str, what: str) -> str:
    """A home directory or login shell: absolute, and no ':' (a field of passwd)."""
    check_path(value, what)
    if ":" in value:
        raise ValueError(f"{what} {value!r} contains ':'")
    return value


def check_slaves(value: str, what: str = "Slaves") -> str:
    """Slaves of an alternative: one "LINK NAME PATH" per line ("." is a blank line)."""
    for line in value.split("\n"):
        words = line.split()
        if not words or words == ["."]:
            continue
        _plain_text(line, what)
        if len(words) != 3:
            raise ValueError(f"{what}: alternative slave {line.strip()!r} is not "
                             "LINK NAME PATH")
        check_path(words[0], "slave link")
        check_alternative_name(words[1], "slave name")
        check_path(words[2], "slave path")
    return value


def _regex(pattern: re.Pattern[str], describe: str) -> Callable[[str, str], str]:
    def check(value: str, what: str) -> str:
        if not pattern.fullmatch(value):
            raise ValueError(f"{what} {value!r} is not {describe}")
        return value

    return check


def _optional(check: Callable[[str, str], str]) -> Callable[[str, str], str]:
    def optional(value: str, what: str) -> str:
        return value if value == "" else check(value, what)

    return optional


def _yes_no(value: str, what: str) -> str:
    if value.strip().lower() not in _YES_NO:
        raise ValueError(f"{what} {value!r} is not yes or no")
    return value


def _target(value: str, what: str) -> str:
    """A symlink target: relative targets are fine (they resolve inside the image)."""
    _plain_text(value, what)
    if not value:
        raise ValueError(f"{what} is empty")
    return value


def _word(value: str, what: str) -> str:
    _plain_text(value, what)
    if not value or re.search(r"\s", value):
        raise ValueError(f"{what} {value!r} is not one word")
    return value


def _paths(value: str, what: str) -> str:
    for word in _plain_text(value, what).split():
        check_path(word, what)
    return value


def _files(value: str, what: str) -> str:
    """Configuration files: absolute paths, or plain file names (no '/')."""
    for word in _plain_text(value, what).split():
        if word.startswith("/"):
            check_path(word, what)
        elif "/" in word or word in (".", ".."):
            raise ValueError(f"{what} {word!r} is neither absolute nor a plain file name")
    return value


def _alternative_path(value: str, what: str) -> str:
    return value if value == "*" else check_path(value, what)


_account = check_account_name
_owner = _optional(check_owner)
_priority = _regex(PRIORITY, "an integer priority")
_mode = _optional(_regex(OCTAL_MODE, "an octal mode such as 0755"))
_version = _optional(_regex(VERSION, "a Debian version"))
_package = _regex(PACKAGE, "a package name")
_maintscript_package = _optional(_package)
_MAINTSCRIPT = {"Prior-Version": _version, "Package": _maintscript_package}

# Action -> field -> check(value, what); fields not listed only refuse control characters.
FIELD_CHECKS: dict[str, dict[str, Callable[[str, str], str]]] = {
    "system-group": {"Name": _account},
    "system-user": {"Name": _account, "Group": _optional(check_account_name),
                    "Home": check_account_path, "Shell": check_account_path,
                    "Gecos": check_gecos, "Create-Home": _yes_no},
    "user-in-group": {"User": _account, "Group": _account},
    "remove-user": {"Name": _account},
    "remove-group": {"Name": _account},
    "alternative-install": {"Name": check_alternative_name, "Link": check_path,
                            "Path": check_path, "Priority": _priority, "Slaves": check_slaves},
    "alternative-remove": {"Name": check_alternative_name, "Path": _alternative_path},
    "rm-conffile": {"Conffile": check_path, **_MAINTSCRIPT},
    "mv-conffile": {"Old": check_path, "New": check_path, **_MAINTSCRIPT},
    "symlink-to-dir": {"Pathname": check_path, "Old-Target": _target, **_MAINTSCRIPT},
    "dir-to-symlink": {"Pathname": check_path, "New-Target": _target, **_MAINTSCRIPT},
    "python-compile": {"Package": _package, "Dirs": _paths},
    "python-clean": {"Package": _package},
    "info-dir": {"File": check_path, "Remove": _yes_no},
    "update-cache": {"Path": _optional(check_path)},
    "make-dir": {"Path": check_path, "Mode": _mode, "Owner": _owner, "Group": _owner},
    "remove-path": {"Path": check_path, "Recursive": _yes_no},
    "set-owner": {"Path": check_path, "Owner": _owner, "Group": _owner, "Mode": _mode},
    "symlink": {"Path": check_path, "Target": _target},
    "install-config": {"Source": check_path, "Path": check_path},
    "trigger": {"Name": _word, "Await": _yes_no},
    "tmpfiles": {"Config": _files},
    "sysusers": {"Config": _files},
}


def check_fields(name: str, fields: Mapping[str, str]) -> None:
    """ActionError if a field value of action `name` is unsafe or malformed."""
    checks = FIELD_CHECKS.get(name, {})
    for key, value in fields.items():
        check = checks.get(key)
        try:
            if check is not None:
                check(value, key)
            else:
                _plain_text(value, key)
        except ValueError as exc:
            raise ActionError(f"action {name}: {exc}") from None


@dataclass(frozen=True)
class Action:
    """One declarative action: its name, when it applies, and its fields."""

    name: str
    script: str
    on: tuple[str, ...]
    fields: tuple[tuple[str, str], ...] = ()
    origin: str = ""  # "postinst:12" — where it came from, for the report

    def get(self, key: str) -> str:
        for name, value in self.fields:
            if name == key:
                return value
        return VOCABULARY[self.name][1].get(key, "")

    def stanza(self) -> dict[str, str]:
        out = {"Action": self.name, "Script": self.script, "On": " ".join(self.on)}
        out.update({k: v for k, v in self.fields if v != ""})
        return out


@dataclass
class Dropped:
    """A script line that needs nothing in a container, and why."""

    what: str
    reason: str
    origin: str = ""


def _canonical(key: str) -> str:
    return "-".join(part.capitalize() for part in key.replace("_", "-").split("-"))


def make_action(
    name: str,
    script: str,
    on: tuple[str, ...] | list[str],
    values: Mapping[str, Any] | None = None,
    origin: str = "",
) -> Action:
    """Build a validated action; field keys may be given as `prior_version` too."""
    if name not in VOCABULARY:
        raise ActionError(f"unknown action {name!r} (known: {', '.join(sorted(VOCABULARY))})")
    if script not in SCRIPTS:
        raise ActionError(f"unknown maintainer script {script!r}")
    bad = [phase for phase in on if phase not in PHASES]
    if bad:
        raise ActionError(f"unknown script argument(s) {', '.join(bad)}")
    required, optional = VOCABULARY[name]
    given = {_canonical(k): str(v) for k, v in (values or {}).items()}
    unknown = sorted(set(given) - set(required) - set(optional))
    if unknown:
        raise ActionError(f"action {name}: unknown field(s) {', '.join(unknown)}")
    missing = [key for key in required if not given.get(key)]
    if missing:
        raise ActionError(f"action {name}: missing field(s) {', '.join(missing)}")
    if name == "update-cache" and given["Kind"] not in CACHE_KINDS:
        raise ActionError(f"update-cache: Kind must be one of {', '.join(CACHE_KINDS)}")
    check_fields(name, given)
    ordered = tuple((key, given[key]) for key in (*required, *optional) if key in given)
    return Action(name=name, script=script, on=tuple(on), fields=ordered, origin=origin)


def action_from_stanza(stanza: Mapping[str, str]) -> Action:
    """Read one stanza of an `actions` control file."""
    values = {k: v for k, v in stanza.items() if k not in ("Action", "Script", "On")}
    return make_action(
        stanza.get("Action", ""), stanza.get("Script", ""), stanza.get("On", "").split(), values
    )


def render_actions_file(actions: list[Action]) -> str:
    """The deb822 `actions` control file (deterministic: order as given)."""
    blocks = []
    for action in actions:
        lines = []
        for key, value in action.stanza().items():
            if "\n" in value:
                first, *rest = value.split("\n")
                lines.append(f"{key}: {first}")
                lines += [f" {line}" if line else " ." for line in rest]
            else:
                lines.append(f"{key}: {value}")
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


@dataclass
class ScriptReport:
    """What became of one maintainer script."""

    script: str
    original_sha256: str
    status: str  # "translated", "kept" (recipe: keep as is), "flagged" (unknown line)
    actions: list[Action] = field(default_factory=list)
    dropped: list[Dropped] = field(default_factory=list)
    problem: str = ""
    # script argument -> (exit status, origin) where the script fails (rendered as is)
    fails: dict[str, tuple[int, str]] = field(default_factory=dict)
