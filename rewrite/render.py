"""Render declarative actions as a minimal POSIX sh maintainer script.

The script is what stock dpkg runs; the bootstrap installer reads the `actions`
control file instead. Templates live in `recipes/templates/`: `script.sh.j2` (the
frame), `actions/<action>.sh.j2` (one per action of the vocabulary) and
`helpers/<function>.sh.j2` (pure-sh functions, written only when an action needs
them). Every file path is prefixed with "$DPKG_ROOT".
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

import recipes
from recipes.actions import CACHE_KINDS, PHASES, SCRIPTS, VOCABULARY, Action

# (`recipes.__file__` is None where an old editable install sees only a namespace package)
TEMPLATES = (
    Path(recipes.__file__).parent if recipes.__file__ else Path(next(iter(recipes.__path__)))
) / "templates"

_GLOB = re.compile(r"[*?\[]")
_GLOB_SAFE = re.compile(r"[A-Za-z0-9_./*?+@-]+")
_PACKAGE = re.compile(r"[a-z0-9][a-z0-9+.-]+")
_YES = frozenset({"yes", "true", "1"})

# Helper functions in the order they are written, each with the helpers it calls.
HELPERS: dict[str, tuple[str, ...]] = {
    "_ue_has": (),
    "_ue_id": (),
    "_ue_free_id": (),
    "_ue_edit": (),
    "_ue_add_group": ("_ue_id", "_ue_free_id", "_ue_edit"),
    "_ue_chown": ("_ue_id",),
}


def _single(value: object) -> str:
    text = str(value)
    if "\n" in text or "\0" in text:
        raise ValueError(f"a newline or NUL in a single shell word: {text!r}")
    return text


def literal(value: object) -> str:
    """One shell word with exactly this value: always single-quoted."""
    text = _single(value)
    return "'" + text.replace("'", "'\\''") + "'"


def sh_quote(value: object) -> str:
    """One shell word; a plain path with glob characters is left for sh to expand."""
    text = _single(value)
    if _GLOB.search(text) and _GLOB_SAFE.fullmatch(text):
        return text
    return literal(text)


def _root(path: object, glob: bool = True) -> str:
    """An absolute path under "$DPKG_ROOT", as shell words."""
    text = _single(path)
    if not text.startswith("/"):
        raise ValueError(f"not an absolute path: {text!r}")
    return '"$DPKG_ROOT"' + (sh_quote(text) if glob else literal(text))


def _name(value: object) -> str:
    """A user or group name, quoted; refused if it would break /etc/passwd or group."""
    text = _single(value)
    if not text or re.search(r"[:,\s]", text):
        raise ValueError(f"not a valid user or group name: {text!r}")
    return literal(text)


def _priority(value: object) -> str:
    text = str(value).strip()
    if not re.fullmatch(r"-?[0-9]{1,9}", text):
        raise ValueError(f"alternative priority is not a number: {text!r}")
    return text


def _slaves(text: str) -> list[tuple[str, str, str]]:
    """Slaves of an alternative: one "LINK NAME PATH" per line ("." is a blank line)."""
    slaves = []
    for line in text.split("\n"):
        words = line.split()
        if not words or words == ["."]:
            continue
        if len(words) != 3:
            raise ValueError(f"alternative slave is not LINK NAME PATH: {line.strip()!r}")
        slaves.append((words[0], words[1], words[2]))
    return slaves


def _is_yes(value: object) -> bool:
    return str(value).strip().lower() in _YES


def _is_glob(value: object) -> bool:
    return sh_quote(value) == str(value)


@cache
def environment() -> Environment:
    """The jinja2 environment of the maintainer-script templates."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=False,
        keep_trailing_newline=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        sh=sh_quote, literal=literal, root=_root, name=_name, priority=_priority,
        slaves=_slaves, dirname=posixpath.dirname,
    )
    env.tests.update(yes=_is_yes, glob=_is_glob)
    return env


def _check(script: str, action: Action) -> None:
    if action.name not in VOCABULARY:
        raise ValueError(f"unknown action {action.name!r}")
    if action.script != script:
        raise ValueError(f"action {action.name} is for {action.script}, not {script}")
    bad = [phase for phase in action.on if phase not in PHASES]
    if bad:
        raise ValueError(f"action {action.name}: unknown script argument(s) {', '.join(bad)}")
    missing = [key for key in VOCABULARY[action.name][0] if not action.get(key)]
    if missing:
        raise ValueError(f"action {action.name}: missing field(s) {', '.join(missing)}")
    if action.name == "update-cache" and action.get("Kind") not in CACHE_KINDS:
        raise ValueError(f"update-cache: Kind must be one of {', '.join(CACHE_KINDS)}")
    if action.name == "system-user":
        for key in ("Gecos", "Home", "Shell"):
            if ":" in action.get(key):
                raise ValueError(f"system-user: {key} may not contain ':'")


def _fields(action: Action) -> dict[str, str]:
    """All fields of the action (defaults filled in), keyed like `prior_version`."""
    required, optional = VOCABULARY[action.name]
    return {key.lower().replace("-", "_"): action.get(key) for key in (*required, *optional)}


def _helpers_of(action: Action) -> tuple[str, ...]:
    if action.name == "system-group":
        return ("_ue_add_group",)
    if action.name == "system-user":
        return ("_ue_has", "_ue_add_group", "_ue_free_id", "_ue_edit")
    if action.name == "user-in-group":
        return ("_ue_has", "_ue_edit")
    if action.name in ("remove-user", "remove-group"):
        return ("_ue_edit",)
    if action.name in ("make-dir", "set-owner") and (action.get("Owner") or action.get("Group")):
        return ("_ue_chown",)
    return ()


def _helpers(actions: list[Action]) -> list[str]:
    needed: set[str] = set()
    todo = [name for action in actions for name in _helpers_of(action)]
    while todo:
        name = todo.pop()
        if name not in needed:
            needed.add(name)
            todo.extend(HELPERS[name])
    return [name for name in HELPERS if name in needed]


def render_script(
    script: str, actions: list[Action], *, package: str, fails: Mapping[str, int] | None = None
) -> str | None:
    """The maintainer script `script` that performs `actions`; None if there is nothing
    to do.

    Actions are grouped by their `On` values, in order of first appearance, each group
    in a `case "$1" in ... esac` (an action with no `On` runs whatever the argument).
    `fails` maps the script arguments for which the original script fails to its exit
    status: after the actions (those of a failing argument are the ones that ran before
    its exit), the rendered script exits with that status too.
    """
    fails = dict(fails or {})
    if not actions and not fails:
        return None
    if script not in SCRIPTS:
        raise ValueError(f"unknown maintainer script {script!r}")
    if not _PACKAGE.fullmatch(package):
        raise ValueError(f"not a package name: {package!r}")
    for phase, code in fails.items():
        if phase not in PHASES or not 0 < code < 256:
            raise ValueError(f"not a failing script argument and exit status: {phase} {code}")
    by_code: dict[int, list[str]] = {}
    for phase in PHASES:
        if phase in fails:
            by_code.setdefault(fails[phase], []).append(phase)
    env = environment()
    groups: dict[tuple[str, ...], list[str]] = {}
    for action in actions:
        _check(script, action)
        body = env.get_template(f"actions/{action.name}.sh.j2").render(
            a=_fields(action), package=package, script=script
        )
        groups.setdefault(action.on, []).append(body.strip("\n"))
    return env.get_template("script.sh.j2").render(
        package=package,
        script=script,
        helpers=_helpers(actions),
        groups=[{"on": on, "body": "\n\n".join(bodies)} for on, bodies in groups.items()],
        fails=[{"on": on, "code": code} for code, on in sorted(by_code.items())],
    )
