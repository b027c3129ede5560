"""One maintainer script → actions: its interpreter, its parse, the walk, and what it
must not do (fail where every installation runs it)."""

from __future__ import annotations

import re
import shlex

from recipes.actions import Dropped, Fail, RecordTest
from recipes.actions.fields import condition_parts
from rewrite.shell import (
    AndOr,
    Case,
    For,
    Function,
    Group,
    If,
    Loop,
    Node,
    Pipeline,
    ShellSyntaxError,
    parse,
)
from rewrite.translate.context import (
    INSTALL_PHASES,
    SCRIPT_PHASES,
    Ctx,
    Idiom,
    Lookup,
    Result,
    Untranslatable,
    assigned_names,
)
from rewrite.translate.debconf_only import DEBCONF_ONLY_REASON, debconf_only
from rewrite.translate.dictionaries import DICTIONARY_CONFIG_REASON, dictionary_config
from rewrite.translate.exits import fail
from rewrite.translate.walk import walk


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
            raise Untranslatable(1, first, f"an interpreter line that does not parse: {exc}",
                                 "interpreter line that does not parse") from exc
        interpreter = words[0] if words else ""
        if script == "config" and dictionary_config(text):
            return Result(dropped=[Dropped("the whole script", DICTIONARY_CONFIG_REASON,
                                           "config:1")])
        if interpreter.rsplit("/", 1)[-1] not in ("sh", "dash", "bash"):
            raise Untranslatable(1, first, f"not a shell script ({interpreter})",
                                 Idiom("interpreter", interpreter.rsplit("/", 1)[-1]))
    try:
        nodes = parse(text)
    except ShellSyntaxError as exc:
        raise Untranslatable(exc.line, "", f"shell syntax the parser does not read: {exc}",
                             "shell syntax the parser does not read") from exc
    phases = SCRIPT_PHASES[script]
    errexit = bool(re.fullmatch(r"#!\s*\S+\s+-\w*e\w*\s*", first))  # #!/bin/sh -e
    bash = bool(re.match(r"#!\s*(\S*/)?bash(\s|$)", first))
    ctx = Ctx(script=script, package=package, phases=phases, answers=dict(answers or {}),
               lines=text.split("\n"), lookup=lookup, errexit=errexit, bash=bash,
               assigned=assigned_names(text),
               status={p: "T" for p in phases}, functions=frozenset(_functions(nodes)))
    out = Result()
    try:
        flow = walk(nodes, ctx, out)
    except RecursionError as exc:  # the parser limits nesting; this is a last resort
        raise Untranslatable(0, "", "nesting too deep for the engine",
                             "nesting too deep") from exc
    except Untranslatable:
        if script != "config" or not debconf_only(nodes):
            raise
        out = Result(dropped=[Dropped("the whole script", DEBCONF_ONLY_REASON, "config:1")])
        return out
    last = nodes[-1].line if nodes else 1
    if any(status == "U" for status in flow.values()):
        raise Untranslatable(last, ctx.source(last), "the script ends with the status of a "
                             "test of the system (end it with exit 0?)",
                             "script ending with the status of a test of the system")
    fail({p for p, status in flow.items() if status == "F"}, 1, last, ctx, out)
    _recorded_tests(out, ctx)
    for action in out.actions:  # (a failure behind no test that the walk could carry)
        if isinstance(action, Fail) and not action.only_if and \
                set(action.on) & set(INSTALL_PHASES.get(script, ())):
            line = int(action.origin.rsplit(":", 1)[1])
            where = next(p for p in action.on if p in INSTALL_PHASES[script])
            raise Untranslatable(line, ctx.source(line), f"the script fails (exit "
                                 f"{action.status}) on {where}: the package could never be "
                                 "installed", Idiom("script failing on", where))
    for phase in INSTALL_PHASES.get(script, ()):
        if phase in out.fails:
            code, origin = out.fails[phase]
            line = int(origin.rsplit(":", 1)[1])
            raise Untranslatable(line, ctx.source(line),
                                 f"the script fails (exit {code}) on {phase}: the package "
                                 "could never be installed", Idiom("script failing on", phase))
    return out


def _recorded_tests(out: Result, ctx: Ctx) -> None:
    """Each `flag NAME` test after the record-test action of that name (Untranslatable
    where the record was made in a part the walk read aside), and the records no action
    tests dropped."""
    recorded: set[str] = set()
    used: set[str] = set()
    for action in out.actions:
        if isinstance(action, RecordTest):
            recorded.add(action.flag)
        for test in action.only_if:
            negated, kind, name, _ = condition_parts(test)
            if kind != "flag":
                continue
            if name not in recorded:
                line = int(action.origin.rsplit(":", 1)[1]) if action.origin else 0
                raise Untranslatable(line, ctx.source(line), "a test of the system turned "
                                     "by the script itself, recorded where the engine "
                                     "cannot keep the record", "test turned by the script")
            used.add(name)
    out.actions = [a for a in out.actions
                   if not isinstance(a, RecordTest) or a.flag in used]


def _functions(nodes: list[Node]) -> set[str]:
    """Names of the functions defined anywhere in `nodes` (their calls name an idiom)."""
    names: set[str] = set()
    for node in nodes:
        if isinstance(node, Function):
            names.add(node.name)
            names |= _functions([node.body])
        elif isinstance(node, AndOr):
            names |= _functions([node.first, *(pipe for _, pipe in node.rest)])
        elif isinstance(node, Pipeline):
            names |= _functions(node.commands)
        elif isinstance(node, If):
            names |= _functions([n for cond, body in node.branches for n in [*cond, *body]])
            names |= _functions(node.orelse or [])
        elif isinstance(node, Case):
            names |= _functions([n for item in node.items for n in item.body])
        elif isinstance(node, For | Group):
            names |= _functions(node.body)
        elif isinstance(node, Loop):
            names |= _functions([*node.cond, *node.body])
    return names
