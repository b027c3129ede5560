"""Maintainer scripts → declarative actions (pure functions).

Walks the tree of `rewrite.shell` with what is known at each point: which
values of `$1` reach it (narrowed by `case "$1"` and `[ "$1" = ... ]`), the debconf
answers, and the recipe's mappings. Each simple command becomes actions from the
vocabulary of `recipes.actions`, or a `Dropped` entry with its reason (init-system
hooks, debconf questions, messages). Anything else raises `Untranslatable` with the
line: the engine never guesses.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from recipes.actions import Action, Dropped, make_action
from rewrite.shell import (
    AndOr,
    Case,
    Command,
    For,
    Function,
    Group,
    If,
    Loop,
    Node,
    Pipeline,
    ShellSyntaxError,
    Word,
    parse,
)

SCRIPT_PHASES: dict[str, tuple[str, ...]] = {
    "preinst": ("install", "upgrade", "abort-upgrade"),
    "postinst": ("configure", "abort-upgrade", "abort-remove", "abort-deconfigure",
                 "triggered", "reconfigure"),
    "prerm": ("remove", "upgrade", "deconfigure", "failed-upgrade"),
    "postrm": ("remove", "purge", "upgrade", "failed-upgrade", "abort-install",
               "abort-upgrade", "disappear"),
    "config": ("configure", "reconfigure"),
}

# Arguments every installation runs a script with: a script failing there is refused.
INSTALL_PHASES: dict[str, tuple[str, ...]] = {
    "preinst": ("install",), "postinst": ("configure",), "config": ("configure",),
}

INIT_TOOLS = {"deb-systemd-helper", "deb-systemd-invoke", "invoke-rc.d", "update-rc.d",
              "systemctl", "start-stop-daemon", "service", "initctl"}
INIT_PATHS = ("/etc/init.d/", "/run/systemd", "/lib/systemd/system", "/etc/init/")
INIT_REASON = "init-system hook: no init system in a container"
DEBCONF_REASON = "debconf: no questions in a container (answers come from the recipe)"
GUARD_TOOLS = {"which", "type"}
CACHE_TOOLS = {
    "update-mime-database": "mime", "update-desktop-database": "desktop",
    "gtk-update-icon-cache": "icons", "update-icon-caches": "icons",
    "glib-compile-schemas": "glib-schemas", "fc-cache": "fonts", "mandb": "man",
}
DROPPED_TOOLS = {
    "update-menus": "Debian menu system: no menus in a container",
    "update-binfmts": "binfmt registration belongs to the host kernel, not the image",
    "ucfr": "ucf's registry of configuration files: not kept in images",
}
MESSAGE_TOOLS = {"echo", "printf"}
NOOP = {"true", ":", "umask", "export", "unset"}


class Untranslatable(Exception):
    """A line the engine cannot map to actions."""

    def __init__(self, line: int, text: str, reason: str) -> None:
        self.line = line
        self.text = text
        self.reason = reason
        super().__init__(f"line {line}: {reason}: {text}")


# A recipe's mapping: (script, stripped line) -> (actions, ignore reason) or None
Lookup = Callable[[str, str], "tuple[list[Action], str] | None"]


@dataclass
class Result:
    actions: list[Action] = field(default_factory=list)
    dropped: list[Dropped] = field(default_factory=list)
    # script argument -> (exit status, origin): where the script fails (`exit N`, N != 0)
    fails: dict[str, tuple[int, str]] = field(default_factory=dict)


@dataclass
class _Ctx:
    script: str
    package: str
    phases: tuple[str, ...]
    answers: dict[str, str]
    lines: list[str]
    lookup: Lookup | None
    subst: dict[str, str] = field(default_factory=dict)
    ret: dict[str, str | None] = field(default_factory=lambda: {"RET": None})
    subshell: bool = False  # inside ( ... ): an exit there leaves only the subshell
    nested: bool = False  # inside a compound command (not the script's own list)
    errexit: bool = False  # set -e
    # $? of each argument at this point: T (0), F (1) or U (unknown)
    status: dict[str, str] = field(default_factory=dict)

    def narrowed(self, phases: set[str] | frozenset[str]) -> _Ctx:
        return replace(self, phases=tuple(p for p in self.phases if p in phases))

    def origin(self, line: int) -> str:
        return f"{self.script}:{line}"

    def source(self, line: int) -> str:
        return self.lines[line - 1].strip() if 0 < line <= len(self.lines) else ""


# -- conditions --------------------------------------------------------------------------
@dataclass(frozen=True)
class Cond:
    """Where a condition may hold: the $1 values, and what kind of test it is.

    `true` and `false` are the script arguments for which its value is known (a test
    of $1, a debconf answer); for the others it depends on the system (a tool or file
    present, an upgrade, an init system). An `exit` is only modelled behind known values.
    """

    phases: frozenset[str]
    kind: str = "plain"  # plain | guard | init | upgrade | false
    why: str = ""
    true: frozenset[str] = frozenset()
    false: frozenset[str] = frozenset()


def _known(phases: frozenset[str], all_phases: frozenset[str]) -> Cond:
    """A test whose value is known: true for `phases`, false for the others."""
    return Cond(phases, "plain", true=phases, false=all_phases - phases)


def _negated(cond: Cond, all_phases: frozenset[str]) -> Cond:
    if cond.kind in ("plain", "false"):
        return Cond(all_phases - cond.phases, "plain", true=cond.false, false=cond.true)
    if cond.kind == "upgrade":
        return Cond(all_phases, "guard")
    return replace(cond, true=cond.false, false=cond.true)


def _and(a: Cond, b: Cond) -> Cond:
    rank = {"false": 4, "init": 3, "upgrade": 2, "plain": 1, "guard": 0}
    kind = a.kind if rank[a.kind] >= rank[b.kind] else b.kind
    why = a.why if kind == a.kind else b.why
    return Cond(a.phases & b.phases, kind, why, a.true & b.true, a.false | b.false)


def _or(a: Cond, b: Cond) -> Cond:
    true, false = a.true | b.true, a.false & b.false
    if a.kind == "false":
        return replace(b, true=true, false=false)
    if b.kind == "false":
        return replace(a, true=true, false=false)
    if a.kind == b.kind:
        return Cond(a.phases | b.phases, a.kind, a.why or b.why, true, false)
    # a phase test or'ed with anything else: keep the widest reading
    kinds = {a.kind, b.kind}
    if "init" in kinds and kinds <= {"init", "guard"}:
        return Cond(a.phases | b.phases, "init", a.why or b.why, true, false)
    return Cond(a.phases | b.phases, "guard" if "guard" in kinds else "plain", a.why or b.why,
                true, false)


def _exact(cond: Cond, phases: tuple[str, ...]) -> bool:
    """Whether the condition's value is known for every one of `phases`."""
    return set(phases) <= cond.true | cond.false


def _value(word: Word, ctx: _Ctx) -> str:
    """A word's value with known substitutions ($DPKG_ROOT → '', loop variables)."""
    value = word.value
    value = re.sub(r"\$\{DPKG_ROOT(:-)?\}|\$DPKG_ROOT\b", "", value)
    for name, sub in ctx.subst.items():
        # a function as replacement: the value is used as is (no \1 group references)
        value = re.sub(rf"\$\{{{re.escape(name)}\}}|\${re.escape(name)}\b",
                       lambda _match, sub=sub: sub, value)
    return value


def _phase_word(value: str) -> bool:
    return value in ("$1", "${1}", "x$1", "x${1}")


def _version_word(value: str) -> bool:
    return value in ("$2", "${2}", "${2:-}", "x$2", "x${2}")


def _test_cond(args: list[str], ctx: _Ctx) -> Cond:
    """`[ ... ]` / `test ...` as a condition."""
    all_phases = frozenset(ctx.phases)
    if "-o" in args:
        i = args.index("-o")
        return _or(_test_cond(args[:i], ctx), _test_cond(args[i + 1:], ctx))
    if "-a" in args:
        i = args.index("-a")
        return _and(_test_cond(args[:i], ctx), _test_cond(args[i + 1:], ctx))
    if args and args[0] == "!":
        return _negated(_test_cond(args[1:], ctx), all_phases)
    if len(args) == 3 and args[1] in ("=", "!=", "=="):
        left, op, right = args
        if _phase_word(right) and not _phase_word(left):
            left, right = right, left
        if _phase_word(left):
            wanted = right[1:] if left.startswith("x") and right.startswith("x") else right
            hit = frozenset(p for p in ctx.phases if p == wanted)
            return _known(hit if op != "!=" else all_phases - hit, all_phases)
        if _version_word(left) or _version_word(right):
            other = right if _version_word(left) else left
            if other in ("", "x"):
                return Cond(all_phases, "guard" if op != "!=" else "upgrade",
                            "fresh install" if op != "!=" else "upgrade from a previous version")
        if left in ("$RET", "${RET}") or right in ("$RET", "${RET}"):
            other = right if left.startswith("$") else left
            ret = ctx.ret.get("RET")
            if ret is None:
                raise ValueError("tests a debconf answer ($RET) with no db_get before it")
            equal = ret == other
            holds = equal if op != "!=" else not equal
            if holds:
                return _known(all_phases, all_phases)
            return Cond(frozenset(), "false", false=all_phases)
        raise ValueError(f"compares {left!r} {op} {right!r}")
    if len(args) == 2 and args[0] in ("-z", "-n"):
        operand = args[1]
        if operand in ("$2", "${2}", "${2:-}"):
            if args[0] == "-z":
                return Cond(all_phases, "guard", "fresh install")
            return Cond(all_phases, "upgrade", "upgrade from a previous version")
        if operand in ("${DPKG_ROOT:-}", "$DPKG_ROOT", "${DPKG_ROOT}", ""):
            return Cond(all_phases, "guard")
        raise ValueError(f"tests the variable {operand!r}")
    if len(args) == 2 and args[0] in ("-x", "-e", "-f", "-d", "-L", "-h", "-s", "-r", "-w"):
        path = args[1]
        if any(p in path for p in INIT_PATHS):
            return Cond(all_phases, "init", INIT_REASON)
        if "$" in path.replace("$(command -v", "").replace("`command -v", "") and \
                "command -v" not in path:
            raise ValueError(f"tests a path built from a variable: {path!r}")
        return Cond(all_phases, "guard", f"tests {path}")
    raise ValueError("a test the engine does not know")


def _cond_command(cmd: Command, ctx: _Ctx) -> Cond | None:
    """A command used as a condition, or None if it is not one we know."""
    argv = [_value(w, ctx) for w in cmd.words]
    if not argv:
        return None
    name = argv[0]
    all_phases = frozenset(ctx.phases)
    if name in ("[", "test"):
        args = argv[1:-1] if name == "[" and argv[-1] == "]" else argv[1:]
        return _test_cond(args, ctx)
    if name in INIT_TOOLS or (name in GUARD_TOOLS | {"command"} and
                              any(a in INIT_TOOLS for a in argv[1:])):
        return Cond(all_phases, "init", INIT_REASON)
    if name in GUARD_TOOLS or (name == "command" and argv[1:2] == ["-v"]):
        return Cond(all_phases, "guard", f"tool present: {argv[-1]}")
    if name == "getent" or (name == "dpkg-statoverride" and "--list" in argv):
        return Cond(all_phases, "guard", " ".join(argv))
    if name == "dpkg" and argv[1:2] == ["--compare-versions"]:
        if len(argv) == 5 and argv[2] in ("$2", "${2}", "${2:-}", "$oldversion"):
            return Cond(all_phases, "upgrade", f"upgrade from a version {argv[3]} {argv[4]}")
        raise ValueError("dpkg --compare-versions on something other than $2")
    if name == "db_get" and len(argv) == 2:
        _db_get(argv[1], ctx, cmd.line)
        return Cond(all_phases, "guard")
    return None


def _eval_pipeline(pipe: Pipeline, ctx: _Ctx) -> Cond:
    if len(pipe.commands) != 1 or not isinstance(pipe.commands[0], Command):
        raise Untranslatable(pipe.line, ctx.source(pipe.line), "a pipeline or compound condition")
    cmd = pipe.commands[0]
    try:
        cond = _cond_command(cmd, ctx)
    except ValueError as exc:
        raise Untranslatable(cmd.line, ctx.source(cmd.line), f"condition {exc}") from exc
    if cond is None:
        raise Untranslatable(cmd.line, ctx.source(cmd.line), "a condition the engine does not know")
    if pipe.negated:
        return _negated(cond, frozenset(ctx.phases))
    return cond


def _eval_andor(node: AndOr, ctx: _Ctx) -> Cond:
    cond = _eval_pipeline(node.first, ctx)
    for op, pipe in node.rest:
        other = _eval_pipeline(pipe, ctx)
        cond = _and(cond, other) if op == "&&" else _or(cond, other)
    return cond


def _eval_list(nodes: list[AndOr], ctx: _Ctx) -> Cond:
    if not nodes:
        raise ValueError("empty condition")
    cond = _eval_andor(nodes[-1], ctx)
    for node in nodes[:-1]:  # earlier commands run for effect (db_get ...)
        _eval_andor(node, ctx)
    return cond


# -- statements --------------------------------------------------------------------------
# The walk follows each script argument: which statements it reaches and the status
# ($?) it has after each one: T (0), F (1: a test that failed) or U (unknown: it
# depends on the system). Commands succeed in the model (under `set -e` a failing one
# would stop the script). An `exit` ends the script for the arguments that reach it,
# so what follows only applies to the others (their actions are restricted to those);
# so does a failing test under `set -e`, and the status the script ends with. All of
# this is modelled only where the engine knows it exactly (tests of $1, case on $1,
# debconf answers); behind a test of the system (a tool, a file, an upgrade, an init
# system) it is refused, never guessed. The rendered script exits where the original
# fails (`Result.fails`).
UNREACHABLE = "unreachable: every script argument has exited before this line"
Flow = dict[str, str]  # script argument that goes on -> its status: T, F or U


def _either(a: str, b: str) -> str:
    return a if a == b else "U"


def _walk(nodes: list[Node], ctx: _Ctx, out: Result) -> Flow:
    flow = {p: ctx.status.get(p, "U") for p in ctx.phases}
    errexit = ctx.errexit
    for index, node in enumerate(nodes):
        if not flow:
            if ctx.phases:  # every argument exited in this list: the rest is dead code
                for dead in nodes[index:]:
                    out.dropped.append(Dropped(ctx.source(dead.line), UNREACHABLE,
                                               ctx.origin(dead.line)))
            return flow
        current = replace(ctx.narrowed(set(flow)), status=flow, errexit=errexit)
        flow = _statement(node, current, out)
        switch = _set_e(node)
        if switch is not None and switch != errexit:
            if ctx.nested:
                raise Untranslatable(node.line, ctx.source(node.line),
                                     "set -e or +e inside a block")
            errexit = switch
    return flow


def _set_e(node: Node) -> bool | None:
    """True for `set -e`, False for `set +e`, None for anything else."""
    if isinstance(node, AndOr) and not node.rest and len(node.first.commands) == 1:
        cmd = node.first.commands[0]
        if isinstance(cmd, Command) and cmd.name == "set":
            flags = [w.value for w in cmd.words[1:]]
            setting = None
            for flag in flags:
                if flag[:1] in "-+" and "e" in flag:
                    setting = flag[0] == "-"
            return setting
    return None


def _simple_command(node: Node) -> bool:
    """One command that is not a test: its status is success in the engine's model."""
    if isinstance(node, AndOr):
        if node.rest:
            return False
        node = node.first
    if isinstance(node, Pipeline):
        if node.negated or len(node.commands) != 1:
            return False
        node = node.commands[0]
    return isinstance(node, Command) and node.name != "exit" and not _is_condition_cmd(node)


def _exit_line(nodes: list[Node]) -> int:
    """The line of the first `exit` that decides where the script ends, or 0.

    `command || exit N` (a command, not a test) is an error path: the engine models
    commands as succeeding (as `set -e` would stop the script where they fail)."""
    for node in nodes:
        line = _exit_line_of(node)
        if line:
            return line
    return 0


def _exit_line_of(node: Node) -> int:
    if isinstance(node, Command):
        return node.line if node.name == "exit" else 0
    if isinstance(node, AndOr):
        chain = [node.first, *(pipe for _, pipe in node.rest)]
        for index, pipe in enumerate(chain):
            if index and node.rest[index - 1][0] == "||" and _is_exit(pipe) and \
                    all(_simple_command(p) for p in chain[:index]):
                continue
            line = _exit_line_of(pipe)
            if line:
                return line
        return 0
    if isinstance(node, Pipeline):
        return _exit_line(list(node.commands))
    if isinstance(node, If):
        for cond, body in node.branches:
            line = _exit_line(list(cond)) or _exit_line(body)
            if line:
                return line
        return _exit_line(node.orelse or [])
    if isinstance(node, Case):
        return _exit_line([n for item in node.items for n in item.body])
    if isinstance(node, For | Loop | Group):
        return _exit_line(node.body)
    if isinstance(node, Function):
        return _exit_line_of(node.body)
    return 0  # pragma: no cover - the parser makes nothing else


def _is_exit(pipe: Pipeline) -> bool:
    return len(pipe.commands) == 1 and isinstance(pipe.commands[0], Command) and \
        pipe.commands[0].name == "exit"


def _refuse_exit(nodes: list[Node], ctx: _Ctx, why: str) -> None:
    line = _exit_line(nodes)
    if line:
        raise Untranslatable(line, ctx.source(line),
                             f"an exit the engine cannot model exactly ({why})")


def _fail(phases: set[str] | frozenset[str], code: int, line: int, ctx: _Ctx,
          out: Result) -> None:
    """The script ends with status `code` for `phases` (at `line`)."""
    if ctx.subshell:
        raise Untranslatable(line, ctx.source(line), "a subshell ( ... ) that exits or fails")
    if code:
        for phase in ctx.phases:
            if phase in phases:
                out.fails.setdefault(phase, (code, ctx.origin(line)))


def _mapped(node: Node, ctx: _Ctx, out: Result) -> bool:
    if ctx.lookup is None:
        return False
    line = getattr(node, "line", 0)
    hit = ctx.lookup(ctx.script, ctx.source(line))
    if hit is None:
        return False
    _refuse_exit([node], ctx, "a recipe mapping covers a line that exits: map the "
                 "lines after it instead")
    actions, reason = hit
    for action in actions:
        on = tuple(p for p in action.on if p in ctx.phases)
        if on:  # the recipe's arguments, as far as they reach this line
            out.actions.append(replace(action, on=on, origin=ctx.origin(line)))
    if not actions:
        out.dropped.append(Dropped(ctx.source(line), f"recipe: {reason}", ctx.origin(line)))
    return True


def _statement(node: Node, ctx: _Ctx, out: Result) -> Flow:
    if _mapped(node, ctx, out):
        return {p: "T" for p in ctx.phases}
    if isinstance(node, AndOr):
        return _and_or(node, ctx, out)
    if isinstance(node, Pipeline):
        return _pipeline(node, ctx, out)
    if isinstance(node, Command):
        return _command(node, ctx, out)
    nested = replace(ctx, nested=True)
    if isinstance(node, If):
        return _if(node, nested, out)
    if isinstance(node, Case):
        return _case(node, nested, out)
    if isinstance(node, For):
        return _for(node, nested, out)
    if isinstance(node, Group):
        if node.heredoc is not None:
            raise Untranslatable(node.line, ctx.source(node.line), "a block fed by a here-document")
        if node.subshell:
            flow = _walk(node.body, replace(nested, subshell=True), out)
            if any(status != "T" for status in flow.values()):
                raise Untranslatable(node.line, ctx.source(node.line),
                                     "a subshell ( ... ) whose status is not known")
            return {p: "T" for p in ctx.phases}
        return _walk(node.body, nested, out)
    if isinstance(node, Function):
        raise Untranslatable(node.line, ctx.source(node.line),
                             "a function definition (hand-written logic)")
    if isinstance(node, Loop):
        raise Untranslatable(node.line, ctx.source(node.line), "a while/until loop")
    raise Untranslatable(0, "", f"unknown node {type(node).__name__}")  # pragma: no cover


def _is_condition_cmd(cmd: Command) -> bool:
    name = cmd.name
    return name in ("[", "test", "which", "type", "getent") or \
        (name == "command" and cmd.argv[1:2] == ["-v"]) or \
        (name == "dpkg" and cmd.argv[1:2] == ["--compare-versions"]) or \
        (name == "dpkg-statoverride" and "--list" in cmd.argv)


def _is_condition(pipe: Pipeline, ctx: _Ctx) -> bool:
    if len(pipe.commands) != 1 or not isinstance(pipe.commands[0], Command):
        return False
    return _is_condition_cmd(pipe.commands[0])


def _and_or(node: AndOr, ctx: _Ctx, out: Result) -> Flow:
    """`a && b || c` chains, evaluated for each script argument.

    The status of each argument after a pipeline: T, F, U, or D (a test the engine
    drops: init system, upgrade). A command after `&&` runs where the status is T,
    after `||` where it is F; where it is U the command is translated too (the widest
    reading: actions are idempotent), but an exit there is refused. Under `set -e` a
    test that fails as the last of the chain ends the script."""
    chain = [("", node.first), *node.rest]
    if node.rest and any(_set_e(AndOr(pipe, [], pipe.line)) is not None for _, pipe in chain):
        raise Untranslatable(node.line, ctx.source(node.line), "set -e or +e in a && or || list")
    live = set(ctx.phases)
    status: dict[str, str] = {p: ctx.status.get(p, "U") for p in live}
    for index, (op, pipe) in enumerate(chain):
        final = index == len(chain) - 1
        following = chain[index + 1][0] if not final else ""
        if not op:
            sure, maybe = set(live), set()
        elif op == "&&":
            sure = {p for p in live if status[p] == "T"}
            maybe = {p for p in live if status[p] == "U"}
        else:
            sure = {p for p in live if status[p] == "F"}
            maybe = {p for p in live if status[p] in ("U", "D")}
        if op == "&&" and any(status[p] == "D" for p in live):
            _refuse_exit([pipe], ctx, "it runs only on an upgrade or with an init system, "
                         "which the engine drops")
        runs = sure | maybe
        if not runs:
            continue
        skipped = "T" if op == "||" else "F"  # the status of a maybe-phase that skips it
        current = replace(ctx.narrowed(runs), status={p: "T" if op == "&&" else "F"
                                                      if op else status[p] for p in runs},
                          errexit=ctx.errexit and final)
        if _is_condition(pipe, current):
            cond = _eval_pipeline(pipe, current)
            if cond.kind in ("init", "upgrade") and following == "&&":
                reason = INIT_REASON if cond.kind == "init" else \
                    f"only on {cond.why or 'upgrades'}: images are installed fresh"
                out.dropped.append(Dropped(current.source(pipe.line), reason,
                                           current.origin(pipe.line)))
                status.update({p: "D" for p in runs})
                continue
            failed: set[str] = set()
            for p in runs:
                value = "T" if p in cond.true else "F" if p in cond.false else "U"
                if current.errexit and value != "T":
                    if p in maybe or value == "U" or pipe.negated:
                        if not pipe.negated:
                            raise Untranslatable(pipe.line, ctx.source(pipe.line),
                                                 "under set -e, a test of the system whose "
                                                 "failure would end the script")
                    else:
                        failed.add(p)
                status[p] = _either(value, skipped) if p in maybe else value
            if failed:
                _fail(failed, 1, pipe.line, current, out)
                live -= failed
            continue
        if op == "||" and _is_trivial_fallback(pipe):
            status.update({p: "T" for p in runs})
            continue
        if maybe:
            _refuse_exit([pipe], current, "it runs only if a test of the system fails or "
                         "succeeds")
        after = _pipeline(pipe, current, out)
        live -= runs - set(after)
        for p, value in after.items():
            status[p] = _either(value, skipped) if p in maybe else value
    return {p: "U" if status[p] == "D" else status[p] for p in ctx.phases if p in live}


def _is_trivial_fallback(pipe: Pipeline) -> bool:
    if len(pipe.commands) != 1 or not isinstance(pipe.commands[0], Command):
        return False
    argv = pipe.commands[0].argv
    return argv[:1] in (["true"], [":"]) or (argv[:1] in (["echo"], ["printf"]))


def _pipeline(pipe: Pipeline, ctx: _Ctx, out: Result) -> Flow:
    if len(pipe.commands) != 1:
        raise Untranslatable(pipe.line, ctx.source(pipe.line), "a pipeline")
    inner = pipe.commands[0]
    if pipe.negated:
        raise Untranslatable(pipe.line, ctx.source(pipe.line), "a negated command")
    return _statement(inner, ctx, out)


def _if(node: If, ctx: _Ctx, out: Result) -> Flow:
    exits = _exit_line([n for _, body in node.branches for n in body] + (node.orelse or []))
    remaining = set(ctx.phases)
    ends: dict[str, set[str]] = {}  # argument -> the statuses it may have after the if
    exact = True
    all_guards = True
    for cond_nodes, body in node.branches:
        current = ctx.narrowed(remaining)
        try:
            cond = _eval_list(cond_nodes, current)
        except ValueError as exc:
            raise Untranslatable(node.line, ctx.source(node.line), f"condition {exc}") from exc
        if current.phases and not _exact(cond, current.phases):
            exact = False
            if exits:
                raise Untranslatable(exits, ctx.source(exits), "an exit the engine cannot "
                                     f"model exactly (inside the if of line {node.line}, whose "
                                     "condition tests the system, not the script argument)")
        if cond.kind in ("init", "upgrade"):
            reason = INIT_REASON if cond.kind == "init" else \
                f"only on {cond.why or 'upgrades'}: images are installed fresh"
            out.dropped.append(Dropped(_block_text(node, ctx), reason, ctx.origin(node.line)))
            all_guards = all_guards and cond.kind == "init"
            if cond.kind == "init":
                remaining = set(ctx.phases) - set(ends)  # the rest of the if is dropped
                break
            continue
        if cond.kind == "false":
            all_guards = False
            continue
        branch_phases = remaining & cond.phases
        if branch_phases:
            after = _walk(body, replace(ctx.narrowed(branch_phases),
                                        status={p: "T" for p in branch_phases}), out)
            for p, value in after.items():
                ends.setdefault(p, set()).add(value)
            for p in branch_phases - set(after):
                ends.setdefault(p, set())  # exited in this branch
        if cond.kind == "plain":
            all_guards = False
            remaining -= cond.phases
    else:
        if node.orelse and not all_guards and remaining:
            after = _walk(node.orelse, replace(ctx.narrowed(remaining),
                                               status={p: "F" for p in remaining}), out)
            for p, value in after.items():
                ends.setdefault(p, set()).add(value)
            for p in remaining - set(after):
                ends.setdefault(p, set())
            remaining = set()
        elif node.orelse and all_guards:
            out.dropped.append(Dropped(
                "else branch of a guard", "fallback when a tool or file is missing: "
                "the actions do not need it", ctx.origin(node.line)))
    for p in remaining:  # no branch taken: status 0
        ends.setdefault(p, set()).add("T")
    flow: Flow = {}
    for p in ctx.phases:
        values = ends.get(p, set())
        if not values:
            continue  # exited
        if not exact:
            values = values | {"T"}  # the engine cannot tell which branch ran
        flow[p] = values.pop() if len(values) == 1 else "U"
    return flow


def _block_text(node: If | Case, ctx: _Ctx) -> str:
    end = node.end or node.line
    return "\n".join(ctx.lines[node.line - 1:end]).strip()


def _case(node: Case, ctx: _Ctx, out: Result) -> Flow:
    subject = _value(node.word, ctx)
    if not _phase_word(subject):
        raise Untranslatable(node.line, ctx.source(node.line), "a case on something other than $1")
    remaining = set(ctx.phases)
    flow: Flow = {}
    for item in node.items:
        matched: set[str] = set()
        for pattern in item.patterns:
            text = pattern.value
            if pattern.expands:
                raise Untranslatable(item.line, ctx.source(item.line),
                                     "a case pattern built from a variable")
            if text == "*" and not pattern.quoted:
                matched |= remaining
                continue
            if any(ch in text for ch in "*?[") and not pattern.quoted:
                matched |= {p for p in remaining if re.fullmatch(_glob(text), p)}
                continue
            matched |= {p for p in remaining if p == text}
        if [p.value for p in item.patterns] == ["*"] and _only_complains(item.body):
            out.dropped.append(Dropped(
                ctx.source(item.line), "error exit for arguments the script does not expect",
                ctx.origin(item.line)))
        if matched:
            if item.body:
                flow.update(_walk(item.body, ctx.narrowed(matched), out))
            else:
                flow.update({p: "T" for p in matched})
        remaining -= matched
    flow.update({p: "T" for p in remaining})  # no pattern matched: status 0
    return {p: flow[p] for p in ctx.phases if p in flow}


def _only_complains(body: list[Node]) -> bool:
    """A default branch that only prints a message and exits non-zero."""
    for node in body:
        pipe = node.first if isinstance(node, AndOr) and not node.rest else None
        cmd = pipe.commands[0] if pipe and len(pipe.commands) == 1 else None
        if not isinstance(cmd, Command) or cmd.name not in ("echo", "printf", "exit"):
            return False
    return bool(body)


def _glob(pattern: str) -> str:
    return "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)


def _for(node: For, ctx: _Ctx, out: Result) -> Flow:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", node.var):
        raise Untranslatable(node.line, ctx.source(node.line),
                             f"a loop variable that is not a name: {node.var!r}")
    values = []
    for word in node.words:
        value = _value(word, ctx)
        if "$" in value or "`" in value or any(c in value for c in "*?["):
            raise Untranslatable(node.line, ctx.source(node.line), "a loop over computed values")
        values.append(value)
    if not node.words:
        raise Untranslatable(node.line, ctx.source(node.line), "a loop over the arguments")
    flow: Flow = {p: ctx.status.get(p, "U") for p in ctx.phases}
    for value in values:
        if not flow:
            break
        flow = _walk(node.body, replace(ctx.narrowed(set(flow)), status=flow,
                                        subst={**ctx.subst, node.var: value}), out)
    return flow


# -- commands ----------------------------------------------------------------------------
def _db_get(question: str, ctx: _Ctx, line: int) -> None:
    if "$" in question:
        raise Untranslatable(line, ctx.source(line), "db_get of a computed question name")
    if question not in ctx.answers:
        raise Untranslatable(line, ctx.source(line),
                             f"debconf question {question} has no answer (recipe or template)")
    ctx.ret["RET"] = ctx.answers[question]


def _quiet(cmd: Command) -> bool:
    """Output goes nowhere that matters (stdout/stderr, /dev/null)."""
    for redirect in cmd.redirects:
        target = redirect.lstrip("0123456789").lstrip(">&<")
        if target not in ("/dev/null", "1", "2", "&1", "&2") and not redirect.endswith(">&2") \
                and not redirect.endswith(">&1"):
            return False
    return True


def _command(cmd: Command, ctx: _Ctx, out: Result) -> Flow:
    """Translate one simple command; return the arguments for which the script goes on."""
    if cmd.words and cmd.words[0].value == "exit":
        if not _quiet(cmd):
            raise Untranslatable(cmd.line, ctx.source(cmd.line), "output redirected to a file")
        _exit(cmd, ctx, out)
        return {}
    _translate_command(cmd, ctx, out)
    return {p: "T" for p in ctx.phases}


def _exit(cmd: Command, ctx: _Ctx, out: Result) -> None:
    """`exit [N]`: the script ends here for the arguments that reach it."""
    text = ctx.source(cmd.line)
    args = cmd.words[1:]
    if ctx.subshell:
        raise Untranslatable(cmd.line, text, "an exit inside a subshell ( ... )")
    if len(args) > 1 or (args and (args[0].expands or not re.fullmatch(r"[0-9]{1,9}",
                                                                        args[0].value))):
        raise Untranslatable(cmd.line, text, "an exit whose status is not a number")
    if args:
        _fail(set(ctx.phases), int(args[0].value) % 256, cmd.line, ctx, out)
        return
    statuses = {ctx.status.get(p, "U") for p in ctx.phases}
    if "U" in statuses:
        raise Untranslatable(cmd.line, text, "an exit without a status, after a command "
                             "whose status the engine does not know")
    _fail({p for p in ctx.phases if ctx.status[p] == "F"}, 1, cmd.line, ctx, out)


def _translate_command(cmd: Command, ctx: _Ctx, out: Result) -> None:
    argv = [_value(w, ctx) for w in cmd.words]
    where = ctx.origin(cmd.line)
    text = ctx.source(cmd.line)
    if not argv:
        raise Untranslatable(cmd.line, text, "a redirection without a command")
    if all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", a, re.S) for a in argv):
        if any("$(" in w.raw or "`" in w.raw for w in cmd.words):
            raise Untranslatable(cmd.line, text, "an assignment from a command substitution")
        return  # plain assignments: values used later make those lines untranslatable
    name = argv[0]
    if not _quiet(cmd):
        raise Untranslatable(cmd.line, text, "output redirected to a file")
    if name in NOOP or (name == "set" and all(re.fullmatch(r"[-+][euxv]+", a) for a in argv[1:])):
        return
    if name in MESSAGE_TOOLS or (name == "cat" and cmd.heredoc is not None and not cmd.redirects):
        return
    if name in (".", "source"):
        if argv[1:] == ["/usr/share/debconf/confmodule"]:
            out.dropped.append(Dropped(text, DEBCONF_REASON, where))
            return
        raise Untranslatable(cmd.line, text, "sources another shell file")
    if name.startswith("db_"):
        if name == "db_get" and len(argv) == 2:
            _db_get(argv[1], ctx, cmd.line)
            return
        out.dropped.append(Dropped(text, DEBCONF_REASON, where))
        return
    if name in INIT_TOOLS:
        out.dropped.append(Dropped(text, INIT_REASON, where))
        return
    if name in DROPPED_TOOLS:
        out.dropped.append(Dropped(text, DROPPED_TOOLS[name], where))
        return
    handler = HANDLERS.get(name)
    if handler is None:
        raise Untranslatable(cmd.line, text, f"command {name!r} is not in the vocabulary")
    expanded = [a for a in argv[1:] if "$" in a and a not in ('$@', '"$@"')]
    if expanded or any("`" in a for a in argv):
        raise Untranslatable(cmd.line, text, "uses a shell variable or command substitution")
    try:
        actions = handler(argv, ctx)
    except ValueError as exc:
        raise Untranslatable(cmd.line, text, str(exc)) from exc
    out.actions += [replace(a, origin=where) for a in actions]


def _act(ctx: _Ctx, action: str, **values: str) -> Action:
    return make_action(action, ctx.script, ctx.phases, values)


def _options(args: list[str], with_value: set[str]) -> tuple[dict[str, str], list[str]]:
    opts: dict[str, str] = {}
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("--") and "=" in arg:
            key, _, value = arg.partition("=")
            opts[key] = value
        elif arg in with_value:
            if i + 1 >= len(args):
                raise ValueError(f"option {arg} without a value")
            opts[arg] = args[i + 1]
            i += 1
        elif arg.startswith("-") and arg != "-":
            opts[arg] = ""
        else:
            rest.append(arg)
        i += 1
    return opts, rest


def _h_ldconfig(argv: list[str], ctx: _Ctx) -> list[Action]:
    return [_act(ctx, "ldconfig")]


def _h_update_alternatives(argv: list[str], ctx: _Ctx) -> list[Action]:
    args = [a for a in argv[1:] if a not in ("--quiet", "--verbose")]
    if args[:1] == ["--install"]:
        if len(args) < 5:
            raise ValueError("update-alternatives --install needs link, name, path, priority")
        link, name, path, priority = args[1:5]
        slaves = []
        rest = args[5:]
        while rest:
            if rest[0] != "--slave" or len(rest) < 4:
                raise ValueError(f"unexpected update-alternatives argument {rest[0]!r}")
            slaves.append(" ".join(rest[1:4]))
            rest = rest[4:]
        return [_act(ctx, "alternative-install", name=name, link=link, path=path,
                     priority=priority, slaves="\n" + "\n".join(slaves) if slaves else "")]
    if args[:1] == ["--remove"] and len(args) == 3:
        return [_act(ctx, "alternative-remove", name=args[1], path=args[2])]
    if args[:1] == ["--auto"] and len(args) == 2:
        return []  # a fresh image has every alternative in auto mode already
    if args[:1] == ["--remove-all"] and len(args) == 2:
        return [_act(ctx, "alternative-remove", name=args[1], path="*")]
    raise ValueError("an update-alternatives call the engine does not know")


def _h_adduser(argv: list[str], ctx: _Ctx) -> list[Action]:
    opts, rest = _options(argv[1:], {"--home", "--shell", "--ingroup", "--gecos", "--uid",
                                     "--gid", "--firstuid", "--lastuid", "--comment"})
    name = argv[0]
    system = "--system" in opts
    if name in ("addgroup",) or (name == "adduser" and "--group" in opts and not system):
        if len(rest) != 1:
            raise ValueError("addgroup needs one group name")
        return [_act(ctx, "system-group", name=rest[0])]
    if not system:
        if len(rest) == 2:
            return [_act(ctx, "user-in-group", user=rest[0], group=rest[1])]
        raise ValueError("adduser of a non-system user")
    if len(rest) != 1:
        raise ValueError("adduser --system needs one user name")
    user = rest[0]
    group = opts.get("--ingroup", user if "--group" in opts else "nogroup")
    actions = []
    if "--group" in opts:
        actions.append(_act(ctx, "system-group", name=user))
    actions.append(_act(
        ctx, "system-user", name=user, home=opts.get("--home", "/nonexistent"),
        shell=opts.get("--shell", "/usr/sbin/nologin"), group=group,
        gecos=opts.get("--gecos", opts.get("--comment", "")),
        create_home="no" if "--no-create-home" in opts or "--home" not in opts else "yes",
    ))
    return actions


def _h_useradd(argv: list[str], ctx: _Ctx) -> list[Action]:
    opts, rest = _options(argv[1:], {"-d", "--home-dir", "-s", "--shell", "-g", "--gid",
                                     "-c", "--comment", "-u", "--uid", "-G", "--groups"})
    if "-r" not in opts and "--system" not in opts:
        raise ValueError("useradd of a non-system user")
    if len(rest) != 1:
        raise ValueError("useradd needs one user name")
    return [_act(ctx, "system-user", name=rest[0],
                 home=opts.get("-d", opts.get("--home-dir", "/nonexistent")),
                 shell=opts.get("-s", opts.get("--shell", "/usr/sbin/nologin")),
                 group=opts.get("-g", opts.get("--gid", "")),
                 gecos=opts.get("-c", opts.get("--comment", "")),
                 create_home="yes" if "-m" in opts or "--create-home" in opts else "no")]


def _h_groupadd(argv: list[str], ctx: _Ctx) -> list[Action]:
    opts, rest = _options(argv[1:], {"-g", "--gid"})
    if len(rest) != 1:
        raise ValueError("groupadd needs one group name")
    return [_act(ctx, "system-group", name=rest[0])]


def _h_deluser(argv: list[str], ctx: _Ctx) -> list[Action]:
    _, rest = _options(argv[1:], set())
    if len(rest) != 1:
        raise ValueError(f"{argv[0]} needs one name")
    kind = "remove-group" if argv[0] in ("delgroup", "groupdel") else "remove-user"
    return [_act(ctx, kind, name=rest[0])]


MAINTSCRIPT = {
    "rm_conffile": ("rm-conffile", ("conffile",)),
    "mv_conffile": ("mv-conffile", ("old", "new")),
    "symlink_to_dir": ("symlink-to-dir", ("pathname", "old_target")),
    "dir_to_symlink": ("dir-to-symlink", ("pathname", "new_target")),
}


def _h_maintscript(argv: list[str], ctx: _Ctx) -> list[Action]:
    args = argv[1:]
    if "--" in args:
        args = args[: args.index("--")]
    if not args or args[0] not in MAINTSCRIPT:
        raise ValueError("a dpkg-maintscript-helper command the engine does not know")
    name, fields = MAINTSCRIPT[args[0]]
    values = dict(zip(fields, args[1:], strict=False))
    extra = args[1 + len(fields):]
    if len(extra) > 2:
        raise ValueError("too many dpkg-maintscript-helper arguments")
    if extra:
        values["prior_version"] = extra[0]
    if len(extra) > 1:
        values["package"] = extra[1]
    return [_act(ctx, name, **values)]


def _h_update_ca(argv: list[str], ctx: _Ctx) -> list[Action]:
    return [_act(ctx, "ca-bundle")]


def _h_py3compile(argv: list[str], ctx: _Ctx) -> list[Action]:
    opts, rest = _options(argv[1:], {"-p", "--package", "-V", "-X"})
    package = opts.get("-p", opts.get("--package", ""))
    if not package:
        raise ValueError("py3compile without -p PACKAGE")
    return [_act(ctx, "python-compile", package=package, dirs=" ".join(rest))]


def _h_py3clean(argv: list[str], ctx: _Ctx) -> list[Action]:
    opts, rest = _options(argv[1:], {"-p", "--package", "-V"})
    package = opts.get("-p", opts.get("--package", ""))
    if not package:
        raise ValueError(f"{argv[0]} without -p PACKAGE")
    return [_act(ctx, "python-clean", package=package)]


def _h_install_info(argv: list[str], ctx: _Ctx) -> list[Action]:
    opts, rest = _options(argv[1:], {"--section", "--info-dir", "--dir-file"})
    if not rest:
        raise ValueError("install-info without a file")
    remove = "--remove" in opts or "--delete" in opts
    return [_act(ctx, "info-dir", file=rest[-1], remove="yes" if remove else "no")]


def _h_cache(argv: list[str], ctx: _Ctx) -> list[Action]:
    _, rest = _options(argv[1:], {"-t"})
    return [_act(ctx, "update-cache", kind=CACHE_TOOLS[argv[0]], path=rest[0] if rest else "")]


def _h_mkdir(argv: list[str], ctx: _Ctx) -> list[Action]:
    opts, rest = _options(argv[1:], {"-m", "--mode"})
    if not rest:
        raise ValueError("mkdir without a directory")
    mode = opts.get("-m", opts.get("--mode", ""))
    return [_act(ctx, "make-dir", path=p, mode=mode) for p in rest]


def _h_rm(argv: list[str], ctx: _Ctx) -> list[Action]:
    opts, rest = _options(argv[1:], set())
    flags = "".join(k.lstrip("-") for k in opts)
    recursive = "r" in flags or "R" in flags or "--recursive" in opts
    if not rest:
        raise ValueError("rm without a path")
    for path in rest:
        if not path.startswith("/") or path.rstrip("/*") in ("", "/etc", "/usr", "/var"):
            raise ValueError(f"refuses to remove {path!r}")
    return [_act(ctx, "remove-path", path=p, recursive="yes" if recursive else "no")
            for p in rest]


def _h_rmdir(argv: list[str], ctx: _Ctx) -> list[Action]:
    _, rest = _options(argv[1:], set())
    return [_act(ctx, "remove-path", path=p, recursive="no") for p in rest]


def _h_chown(argv: list[str], ctx: _Ctx) -> list[Action]:
    opts, rest = _options(argv[1:], set())
    if len(rest) < 2 or any(k in opts for k in ("-R", "--recursive")):
        raise ValueError("chown of several or recursive paths")
    owner, group = _owner_group(rest[0])
    return [_act(ctx, "set-owner", path=p, owner=owner, group=group) for p in rest[1:]]


def _owner_group(spec: str) -> tuple[str, str]:
    """chown's OWNER[:GROUP] (the legacy OWNER.GROUP only when there is no ':')."""
    separator = ":" if ":" in spec else "." if "." in spec else ""
    if not separator:
        return spec, ""
    owner, _, group = spec.partition(separator)
    if not group and owner:
        raise ValueError(f"chown {spec!r} (the owner's login group) is not modelled")
    if not owner and not group:
        raise ValueError(f"chown {spec!r} changes nothing")
    return owner, group


def _h_chmod(argv: list[str], ctx: _Ctx) -> list[Action]:
    opts, rest = _options(argv[1:], set())
    if len(rest) < 2 or opts:
        raise ValueError("chmod with options")
    return [_act(ctx, "set-owner", path=p, mode=rest[0]) for p in rest[1:]]


def _h_statoverride(argv: list[str], ctx: _Ctx) -> list[Action]:
    opts, rest = _options(argv[1:], set())
    if "--add" in opts and len(rest) == 4:
        owner, group, mode, path = rest
        return [_act(ctx, "set-owner", path=path, owner=owner, group=group, mode=mode)]
    raise ValueError("a dpkg-statoverride call the engine does not know")


def _h_ln(argv: list[str], ctx: _Ctx) -> list[Action]:
    opts, rest = _options(argv[1:], set())
    flags = "".join(k.lstrip("-") for k in opts)
    if "s" not in flags or len(rest) != 2:
        raise ValueError("ln other than ln -s TARGET LINK")
    return [_act(ctx, "symlink", target=rest[0], path=rest[1])]


def _h_ucf(argv: list[str], ctx: _Ctx) -> list[Action]:
    opts, rest = _options(argv[1:], {"--debconf-ok", "--src-dir", "--sum-file"})
    if "--purge" in opts:
        return []
    if len(rest) != 2:
        raise ValueError("ucf other than ucf SOURCE DEST")
    return [_act(ctx, "install-config", source=rest[0], path=rest[1])]


def _h_trigger(argv: list[str], ctx: _Ctx) -> list[Action]:
    opts, rest = _options(argv[1:], set())
    if len(rest) != 1:
        raise ValueError("dpkg-trigger needs one trigger name")
    wait = "no" if "--no-await" in opts else "yes"
    return [_act(ctx, "trigger", **{"name": rest[0], "await": wait})]


def _h_systemd_files(argv: list[str], ctx: _Ctx) -> list[Action]:
    opts, rest = _options(argv[1:], set())
    name = "tmpfiles" if argv[0] == "systemd-tmpfiles" else "sysusers"
    if name == "tmpfiles" and "--create" not in opts:
        raise ValueError("systemd-tmpfiles other than --create")
    return [_act(ctx, name, config=" ".join(rest))]


HANDLERS: dict[str, Callable[[list[str], _Ctx], list[Action]]] = {
    "ldconfig": _h_ldconfig,
    "update-alternatives": _h_update_alternatives,
    "adduser": _h_adduser, "addgroup": _h_adduser,
    "useradd": _h_useradd, "groupadd": _h_groupadd,
    "deluser": _h_deluser, "delgroup": _h_deluser, "userdel": _h_deluser,
    "groupdel": _h_deluser,
    "dpkg-maintscript-helper": _h_maintscript,
    "update-ca-certificates": _h_update_ca,
    "py3compile": _h_py3compile, "py3clean": _h_py3clean, "pyclean": _h_py3clean,
    "install-info": _h_install_info,
    **{tool: _h_cache for tool in CACHE_TOOLS},
    "mkdir": _h_mkdir, "rm": _h_rm, "rmdir": _h_rmdir,
    "chown": _h_chown, "chmod": _h_chmod, "dpkg-statoverride": _h_statoverride,
    "ln": _h_ln, "ucf": _h_ucf, "dpkg-trigger": _h_trigger,
    "systemd-tmpfiles": _h_systemd_files, "systemd-sysusers": _h_systemd_files,
}


def translate(
    text: str,
    script: str,
    *,
    package: str,
    answers: dict[str, str] | None = None,
    lookup: Lookup | None = None,
) -> Result:
    """Translate one maintainer script; raise Untranslatable on the first unknown line."""
    if script not in SCRIPT_PHASES:
        raise ValueError(f"not a maintainer script: {script}")
    first = text.split("\n", 1)[0]
    if first.startswith("#!"):
        try:
            words = shlex.split(first[2:])
        except ValueError as exc:
            raise Untranslatable(1, first, f"an interpreter line that does not parse: {exc}") \
                from exc
        interpreter = words[0] if words else ""
        if interpreter.rsplit("/", 1)[-1] not in ("sh", "dash", "bash"):
            raise Untranslatable(1, first, f"not a shell script ({interpreter})")
    try:
        nodes = parse(text)
    except ShellSyntaxError as exc:
        raise Untranslatable(exc.line, "", f"shell syntax the parser does not read: {exc}") \
            from exc
    phases = SCRIPT_PHASES[script]
    errexit = bool(re.fullmatch(r"#!\s*\S+\s+-\w*e\w*\s*", first))  # #!/bin/sh -e
    ctx = _Ctx(script=script, package=package, phases=phases, answers=dict(answers or {}),
               lines=text.split("\n"), lookup=lookup, errexit=errexit,
               status={p: "T" for p in phases})
    out = Result()
    try:
        flow = _walk(nodes, ctx, out)
    except RecursionError as exc:  # the parser limits nesting; this is a last resort
        raise Untranslatable(0, "", "nesting too deep for the engine") from exc
    last = nodes[-1].line if nodes else 1
    if any(status == "U" for status in flow.values()):
        raise Untranslatable(last, ctx.source(last), "the script ends with the status of a "
                             "test of the system (end it with exit 0?)")
    _fail({p for p, status in flow.items() if status == "F"}, 1, last, ctx, out)
    for phase in INSTALL_PHASES.get(script, ()):
        if phase in out.fails:
            code, origin = out.fails[phase]
            line = int(origin.rsplit(":", 1)[1])
            raise Untranslatable(line, ctx.source(line),
                                 f"the script fails (exit {code}) on {phase}: the package "
                                 "could never be installed")
    return out
