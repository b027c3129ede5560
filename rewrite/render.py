"""Render declarative actions as a minimal POSIX sh maintainer script.

The script is what stock dpkg runs; the bootstrap installer reads the `actions`
control file instead. Templates live in `recipes/templates/`: `script.sh.j2` (the
frame), `actions/<action>.sh.j2` (one per action model of the vocabulary, which it
receives as `a`) and `helpers/<function>.sh.j2` (pure-sh functions, written only when
an action needs them). Every file path is prefixed with "$DPKG_ROOT".
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

import recipes
from recipes.actions import (
    MODELS,
    PHASES,
    SCRIPTS,
    Action,
    CaBundle,
    CreateFile,
    MakeDir,
    NodeDirectory,
    RecordTest,
    RemoveGroup,
    RemoveUser,
    SetOwner,
    SystemGroup,
    SystemUser,
    UserInGroup,
)
from recipes.actions.fields import condition_parts

# (`recipes.__file__` is None where an old editable install sees only a namespace package)
TEMPLATES = (
    Path(recipes.__file__).parent if recipes.__file__ else Path(next(iter(recipes.__path__)))
) / "templates"

_GLOB = re.compile(r"[*?\[]")
_GLOB_SAFE = re.compile(r"[A-Za-z0-9_./*?+@-]+")
_PACKAGE = re.compile(r"[a-z0-9][a-z0-9+.-]+")

# The template of each action model.
TEMPLATE_OF: dict[type[Action], str] = {
    model: f"actions/{name}.sh.j2" for name, model in MODELS.items()
}

# Helper functions in the order they are written, each with the helpers it calls.
HELPERS: dict[str, tuple[str, ...]] = {
    "_ue_has": (),
    "_ue_id": (),
    "_ue_free_id": (),
    "_ue_edit": (),
    "_ue_add_group": ("_ue_id", "_ue_free_id", "_ue_edit"),
    "_ue_add_fixed_group": ("_ue_id", "_ue_edit"),
    "_ue_chown": ("_ue_id",),
    "_ue_ca_config": (),
}
# The helpers each action model's template calls (make-dir, set-owner and create-file:
# to chown).
HELPERS_OF: dict[type[Action], tuple[str, ...]] = {
    SystemGroup: ("_ue_add_group",),
    SystemUser: ("_ue_has", "_ue_add_group", "_ue_free_id", "_ue_edit"),
    UserInGroup: ("_ue_has", "_ue_edit"),
    RemoveUser: ("_ue_edit",),
    RemoveGroup: ("_ue_edit",),
    MakeDir: ("_ue_chown",),
    SetOwner: ("_ue_chown",),
    CreateFile: ("_ue_chown",),
    NodeDirectory: ("_ue_chown",),
    CaBundle: ("_ue_ca_config",),
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


def only_if_test(conditions: tuple[str, ...]) -> str:
    """The sh condition of an action's `Only-If` (paths under "$DPKG_ROOT", no glob)."""
    tests = []
    for item in conditions:
        negated, test, path, hashes = condition_parts(item)
        if test == "md5":  # the file's md5 is one of them (a missing file: none)
            patterns = "|".join(f"'{h}  -'" for h in hashes)
            check = (f"{{ _ue_md5=$(md5sum < {_root(path, glob=False)} 2>/dev/null) && "
                     f"case \"$_ue_md5\" in {patterns}) true ;; *) false ;; esac; }}")
        elif test == "dpkg-md5":  # as the rm_conffile idiom: none and none are the same
            # (dpkg-query reads $DPKG_ADMINDIR, which dpkg sets for the script)
            check = (f"[ \"$(md5sum < {_root(path, glob=False)} 2>/dev/null | "
                     "{ read -r _ue_h _ue_r && echo \"$_ue_h\"; })\" = "
                     f"\"$(dpkg-query -W -f='${{Conffiles}}\\n' {literal(hashes[0])} "
                     "2>/dev/null | while read -r _ue_p _ue_h _ue_r; do "
                     f"[ \"$_ue_p\" = {literal(path)} ] && echo \"$_ue_h\"; done)\" ]")
        elif test == "same":  # (cmp fails where either is missing or a directory)
            check = (f"cmp -s {_root(path, glob=False)} {_root(hashes[0], glob=False)} "
                     "2>/dev/null")
        elif test == "size":  # (a missing file: no number, the test fails)
            check = (f"[ $(wc -c < {_root(path, glob=False)} 2>/dev/null) "
                     f"-eq {int(hashes[0])} ] 2>/dev/null")
        elif test == "grep":
            check = f"grep -q -e {literal(hashes[0])} {_root(path, glob=False)} 2>/dev/null"
        elif test == "statoverride":  # (as --list prints it: "owner group mode path")
            check = (f"dpkg-statoverride ${{DPKG_ROOT:+--root \"$DPKG_ROOT\"}} --list "
                     f"{literal(path)} 2>/dev/null" + (
                         f" | grep -qF -e {literal(' '.join(hashes))}" if hashes else
                         " >/dev/null"))
        elif test == "mountpoint":  # (as os.path.ismount: another device than its
            # parent's, or the same directory; util-linux's mountpoint may be missing)
            where, parent = _root(path, glob=False), _root(path.rstrip("/") + "/..",
                                                           glob=False)
            check = (f"{{ [ -d {where} ] && [ ! -L {where} ] && {{ "
                     f"[ \"$(stat -c %d -- {where})\" != \"$(stat -c %d -- {parent})\" ] || "
                     f"[ \"$(stat -c %i -- {where})\" = \"$(stat -c %i -- {parent})\" ]; }}; }}")
        elif test == "owner":  # (ls -ln lists a directory's entries: never a match)
            where = _root(path, glob=False)
            check = (f"{{ {{ [ -e {where} ] || [ -L {where} ]; }} && "
                     f"{{ [ -L {where} ] || [ ! -d {where} ]; }} && "
                     f"[ \"$(stat -c %u -- {where})\" = {int(hashes[0])} ]; }}")
        elif test == "flag":  # (set by a record-test action earlier in the script)
            check = f"[ -n \"${{{_flag_variable(path)}:-}}\" ]"
        elif test == "diverted":  # (dpkg-divert prints LOCAL for a local diversion)
            holder = literal(hashes[0]) if hashes else "''"
            same = bool(hashes) != negated
            negated = False
            check = (f"[ \"$(dpkg-divert ${{DPKG_ROOT:+--root \"$DPKG_ROOT\"}} --listpackage "
                     f"{literal(path)} 2>/dev/null)\" {'=' if same else '!='} {holder} ]")
        else:
            check = f"[ {test} {_root(path, glob=False)} ]"
        tests.append(("! " if negated else "") + check)
    return " && ".join(tests)


def _flag_variable(name: str) -> str:
    """The shell variable of a recorded test (its name's '-' as '_': names have no '_')."""
    return "_ue_flag_" + name.replace("-", "_")


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
        dirname=posixpath.dirname,
    )
    env.tests.update(glob=_is_glob)
    return env


def _check(script: str, action: Action) -> None:
    """The action belongs in `script` (its fields were checked when it was made)."""
    if type(action) not in TEMPLATE_OF:
        raise ValueError(f"unknown action {action.name!r}")
    if action.script != script:
        raise ValueError(f"action {action.name} is for {action.script}, not {script}")
    bad = [phase for phase in action.on if phase not in PHASES]
    if bad:
        raise ValueError(f"action {action.name}: unknown script argument(s) {', '.join(bad)}")


def _helpers_of(action: Action) -> tuple[str, ...]:
    if isinstance(action, MakeDir | SetOwner | CreateFile) and not (action.owner or action.group):
        return ()
    if isinstance(action, CaBundle) and not action.trust_new:
        return ()
    if isinstance(action, SystemGroup) and action.gid:
        return ("_ue_add_fixed_group",)
    return HELPERS_OF.get(type(action), ())


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
    groups: list[tuple[tuple[str, ...], list[str]]] = []
    for action in actions:
        _check(script, action)
        body = env.get_template(TEMPLATE_OF[type(action)]).render(
            a=action, package=package, script=script
        ).strip("\n")
        if action.only_if:
            # (a recorded test is false where its tests fail: never left from elsewhere)
            otherwise = f"\nelse\n    {_flag_variable(action.flag)}=" \
                if isinstance(action, RecordTest) else ""
            body = f"if {only_if_test(action.only_if)}; then\n" + "\n".join(
                f"    {line}" if line else line for line in body.split("\n")) + \
                otherwise + "\nfi"
        # (consecutive actions of the same arguments share a case: the order is kept)
        if groups and groups[-1][0] == action.on:
            groups[-1][1].append(body)
        else:
            groups.append((action.on, [body]))
    return env.get_template("script.sh.j2").render(
        package=package,
        script=script,
        helpers=_helpers(actions),
        groups=[{"on": on, "body": "\n\n".join(bodies)} for on, bodies in groups],
        fails=[{"on": on, "code": code} for code, on in sorted(by_code.items())],
    )
