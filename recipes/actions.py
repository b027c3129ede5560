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

from collections.abc import Mapping
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
    """An action that is not in the vocabulary or lacks a field."""


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
