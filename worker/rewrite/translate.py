"""Maintainer scripts → declarative actions (pure functions).

Walks the tree of `worker.rewrite.shell` with what is known at each point: which
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
from worker.rewrite.shell import (
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

    def narrowed(self, phases: set[str] | frozenset[str]) -> _Ctx:
        return replace(self, phases=tuple(p for p in self.phases if p in phases))

    def origin(self, line: int) -> str:
        return f"{self.script}:{line}"

    def source(self, line: int) -> str:
        return self.lines[line - 1].strip() if 0 < line <= len(self.lines) else ""


# -- conditions --------------------------------------------------------------------------
@dataclass(frozen=True)
class Cond:
    """Where a condition may hold: the $1 values, and what kind of test it is."""

    phases: frozenset[str]
    kind: str = "plain"  # plain | guard | init | upgrade | false
    why: str = ""


def _and(a: Cond, b: Cond) -> Cond:
    rank = {"false": 4, "init": 3, "upgrade": 2, "plain": 1, "guard": 0}
    kind = a.kind if rank[a.kind] >= rank[b.kind] else b.kind
    why = a.why if kind == a.kind else b.why
    return Cond(a.phases & b.phases, kind, why)


def _or(a: Cond, b: Cond) -> Cond:
    if a.kind == "false":
        return b
    if b.kind == "false":
        return a
    if a.kind == b.kind:
        return Cond(a.phases | b.phases, a.kind, a.why or b.why)
    # a phase test or'ed with anything else: keep the widest reading
    kinds = {a.kind, b.kind}
    if "init" in kinds and kinds <= {"init", "guard"}:
        return Cond(a.phases | b.phases, "init", a.why or b.why)
    return Cond(a.phases | b.phases, "guard" if "guard" in kinds else "plain", a.why or b.why)


def _value(word: Word, ctx: _Ctx) -> str:
    """A word's value with known substitutions ($DPKG_ROOT → '', loop variables)."""
    value = word.value
    value = re.sub(r"\$\{DPKG_ROOT(:-)?\}|\$DPKG_ROOT\b", "", value)
    for name, sub in ctx.subst.items():
        value = re.sub(rf"\$\{{{name}\}}|\${name}\b", sub, value)
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
        inner = _test_cond(args[1:], ctx)
        if inner.kind == "plain":
            return Cond(all_phases - inner.phases, "plain")
        return inner if inner.kind != "upgrade" else Cond(all_phases, "guard")
    if len(args) == 3 and args[1] in ("=", "!=", "=="):
        left, op, right = args
        if _phase_word(right) and not _phase_word(left):
            left, right = right, left
        if _phase_word(left):
            wanted = right[1:] if left.startswith("x") and right.startswith("x") else right
            hit = frozenset(p for p in ctx.phases if p == wanted)
            return Cond(hit if op != "!=" else all_phases - hit, "plain")
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
            return Cond(all_phases if holds else frozenset(), "plain" if holds else "false")
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
        if cond.kind == "plain":
            return Cond(frozenset(ctx.phases) - cond.phases, "plain")
        if cond.kind == "upgrade":
            return Cond(frozenset(ctx.phases), "guard")
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
def _walk(nodes: list[Node], ctx: _Ctx, out: Result) -> None:
    for node in nodes:
        if not ctx.phases:
            return
        _statement(node, ctx, out)


def _mapped(node: Node, ctx: _Ctx, out: Result) -> bool:
    if ctx.lookup is None:
        return False
    line = getattr(node, "line", 0)
    hit = ctx.lookup(ctx.script, ctx.source(line))
    if hit is None:
        return False
    actions, reason = hit
    if actions:
        out.actions += [replace(a, origin=ctx.origin(line)) for a in actions]
    else:
        out.dropped.append(Dropped(ctx.source(line), f"recipe: {reason}", ctx.origin(line)))
    return True


def _statement(node: Node, ctx: _Ctx, out: Result) -> None:
    if _mapped(node, ctx, out):
        return
    if isinstance(node, AndOr):
        _and_or(node, ctx, out)
    elif isinstance(node, Pipeline):
        _pipeline(node, ctx, out)
    elif isinstance(node, Command):
        _command(node, ctx, out)
    elif isinstance(node, If):
        _if(node, ctx, out)
    elif isinstance(node, Case):
        _case(node, ctx, out)
    elif isinstance(node, For):
        _for(node, ctx, out)
    elif isinstance(node, Group):
        if node.heredoc is not None:
            raise Untranslatable(node.line, ctx.source(node.line), "a block fed by a here-document")
        _walk(node.body, ctx, out)
    elif isinstance(node, Function):
        raise Untranslatable(node.line, ctx.source(node.line),
                             "a function definition (hand-written logic)")
    elif isinstance(node, Loop):
        raise Untranslatable(node.line, ctx.source(node.line), "a while/until loop")
    else:  # pragma: no cover - the parser makes nothing else
        raise Untranslatable(0, "", f"unknown node {type(node).__name__}")


def _is_condition(pipe: Pipeline, ctx: _Ctx) -> bool:
    if len(pipe.commands) != 1 or not isinstance(pipe.commands[0], Command):
        return False
    cmd = pipe.commands[0]
    name = cmd.name
    return name in ("[", "test", "which", "type", "getent") or \
        (name == "command" and cmd.argv[1:2] == ["-v"]) or \
        (name == "dpkg" and cmd.argv[1:2] == ["--compare-versions"]) or \
        (name == "dpkg-statoverride" and "--list" in cmd.argv)


def _and_or(node: AndOr, ctx: _Ctx, out: Result) -> None:
    """`a && b || c` chains: conditions narrow or guard, commands translate."""
    chain = [("", node.first), *node.rest]
    current = ctx
    for index, (op, pipe) in enumerate(chain):
        if _is_condition(pipe, current):
            cond = _eval_pipeline(pipe, current)
            following = chain[index + 1][0] if index + 1 < len(chain) else ""
            if cond.kind in ("init", "upgrade", "false") and following == "&&":
                reason = INIT_REASON if cond.kind == "init" else \
                    f"only on {cond.why or 'upgrades'}: images are installed fresh"
                if cond.kind != "false":
                    out.dropped.append(Dropped(current.source(pipe.line), reason,
                                               current.origin(pipe.line)))
                return
            if cond.kind == "plain" and following == "&&":
                current = current.narrowed(cond.phases)
            continue
        if op == "||" and _is_trivial_fallback(pipe):
            continue
        _pipeline(pipe, current, out)


def _is_trivial_fallback(pipe: Pipeline) -> bool:
    if len(pipe.commands) != 1 or not isinstance(pipe.commands[0], Command):
        return False
    argv = pipe.commands[0].argv
    return argv[:1] in (["true"], [":"]) or argv == ["exit", "0"] or \
        (argv[:1] in (["echo"], ["printf"]))


def _pipeline(pipe: Pipeline, ctx: _Ctx, out: Result) -> None:
    if len(pipe.commands) != 1:
        raise Untranslatable(pipe.line, ctx.source(pipe.line), "a pipeline")
    inner = pipe.commands[0]
    if pipe.negated:
        raise Untranslatable(pipe.line, ctx.source(pipe.line), "a negated command")
    _statement(inner, ctx, out)


def _if(node: If, ctx: _Ctx, out: Result) -> None:
    remaining = set(ctx.phases)
    all_guards = True
    for cond_nodes, body in node.branches:
        try:
            cond = _eval_list(cond_nodes, replace(ctx, phases=tuple(
                p for p in ctx.phases if p in remaining)))
        except ValueError as exc:
            raise Untranslatable(node.line, ctx.source(node.line), f"condition {exc}") from exc
        if cond.kind in ("init", "upgrade"):
            reason = INIT_REASON if cond.kind == "init" else \
                f"only on {cond.why or 'upgrades'}: images are installed fresh"
            out.dropped.append(Dropped(_block_text(node, ctx), reason, ctx.origin(node.line)))
            all_guards = all_guards and cond.kind == "init"
            if cond.kind == "init":
                return
            continue
        if cond.kind == "false":
            all_guards = False
            continue
        branch_phases = remaining & cond.phases
        _walk(body, ctx.narrowed(branch_phases), out)
        if cond.kind == "plain":
            all_guards = False
            remaining -= cond.phases
    if node.orelse:
        if all_guards:
            out.dropped.append(Dropped(
                "else branch of a guard", "fallback when a tool or file is missing: "
                "the actions do not need it", ctx.origin(node.line)))
            return
        _walk(node.orelse, ctx.narrowed(remaining), out)


def _block_text(node: If | Case, ctx: _Ctx) -> str:
    end = node.end or node.line
    return "\n".join(ctx.lines[node.line - 1:end]).strip()


def _case(node: Case, ctx: _Ctx, out: Result) -> None:
    subject = _value(node.word, ctx)
    if not _phase_word(subject):
        raise Untranslatable(node.line, ctx.source(node.line), "a case on something other than $1")
    remaining = set(ctx.phases)
    for item in node.items:
        matched: set[str] = set()
        for pattern in item.patterns:
            text = pattern.value
            if text == "*":
                matched |= remaining
                continue
            if any(ch in text for ch in "*?["):
                matched |= {p for p in remaining if re.fullmatch(_glob(text), p)}
                continue
            matched |= {p for p in remaining if p == text}
        if [p.value for p in item.patterns] == ["*"] and _only_complains(item.body):
            out.dropped.append(Dropped(
                ctx.source(item.line), "error exit for arguments the script does not expect",
                ctx.origin(item.line)))
        else:
            _walk(item.body, ctx.narrowed(matched), out)
        remaining -= matched


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


def _for(node: For, ctx: _Ctx, out: Result) -> None:
    values = []
    for word in node.words:
        value = _value(word, ctx)
        if "$" in value or "`" in value or any(c in value for c in "*?["):
            raise Untranslatable(node.line, ctx.source(node.line), "a loop over computed values")
        values.append(value)
    for value in values:
        _walk(node.body, replace(ctx, subst={**ctx.subst, node.var: value}), out)


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


def _command(cmd: Command, ctx: _Ctx, out: Result) -> None:
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
    if name == "exit" and argv[1:] in ([], ["0"]):
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
    owner, _, group = rest[0].replace(".", ":").partition(":")
    return [_act(ctx, "set-owner", path=p, owner=owner, group=group) for p in rest[1:]]


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
        interpreter = shlex.split(first[2:])[0] if first[2:].strip() else ""
        if interpreter.rsplit("/", 1)[-1] not in ("sh", "dash", "bash"):
            raise Untranslatable(1, first, f"not a shell script ({interpreter})")
    try:
        nodes = parse(text)
    except ShellSyntaxError as exc:
        raise Untranslatable(exc.line, "", f"shell syntax the parser does not read: {exc}") \
            from exc
    ctx = _Ctx(script=script, package=package, phases=SCRIPT_PHASES[script],
               answers=dict(answers or {}), lines=text.split("\n"), lookup=lookup)
    out = Result()
    _walk(nodes, ctx, out)
    return out
