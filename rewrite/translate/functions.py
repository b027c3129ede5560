"""Shell functions: a definition is remembered, a call walks the body at the call site
with its positional parameters bound; `return` ends the function for the script
arguments that reach it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from rewrite.shell import Command, Function, Group, Node
from rewrite.translate.context import (
    SCRIPT_ARGUMENTS,
    Ctx,
    Idiom,
    Result,
    Untranslatable,
    quiet,
    word_value,
)
from rewrite.translate.exits import fail, status_argument

Flow = dict[str, str]  # script argument that goes on -> its status: T, F or U
Walk = Callable[[list[Node], Ctx, Result], Flow]

MAX_CALLS = 16  # functions calling functions: maintainer scripts use two or three



def define(node: Function, ctx: Ctx) -> Flow:
    """A function definition: nothing to do but remember it (for the script's own list
    only: a definition inside a block or a function depends on the path taken)."""
    if ctx.nested or ctx.calls:
        raise Untranslatable(node.line, ctx.source(node.line),
                             "a function defined inside a block or a function",
                             "function definition inside a block")
    if node.name in ctx.defs:
        raise Untranslatable(node.line, ctx.source(node.line),
                             f"function {node.name} defined a second time",
                             "function defined twice")
    ctx.defs[node.name] = node
    return {p: ctx.status.get(p, "U") for p in ctx.phases}


def call(cmd: Command, ctx: Ctx, out: Result, walk: Walk) -> Flow:
    """A call of a function the script defined: its body walked here, its positional
    parameters bound to the call's words; `return` ends it for the arguments that
    reach it (with its status), `exit` ends the script."""
    name = cmd.name
    text = ctx.source(cmd.line)
    if name in ctx.calls or len(ctx.calls) >= MAX_CALLS:
        raise Untranslatable(cmd.line, text, f"a recursive call of {name}",
                             "recursive function call")
    if not quiet(cmd):
        raise Untranslatable(cmd.line, text, "output redirected to a file",
                             Idiom("output redirected to a file by", "a function"))
    positional: list[str] = []
    for word in cmd.words[1:]:
        if word.value in ("$@", "$*") or (word.value == "$@" and word.quoted):
            if ctx.positional is None:
                positional += ["$1", "$2", "$3", "$4"]  # the script's own arguments
            else:
                positional += list(ctx.positional)
            continue
        value = word_value(word, ctx)
        if "$" in value.replace("${", "$") and value not in SCRIPT_ARGUMENTS or "`" in value:
            raise Untranslatable(cmd.line, text, "a function called with computed arguments",
                                 "function called with computed arguments")
        positional.append(value)
    returned: dict[str, str] = {}
    saved: dict[str, tuple[str, frozenset[str]] | None] = {}
    inner = replace(ctx, calls=(*ctx.calls, name), positional=positional,
                    returned=returned, nested=True, top=True, saved=saved)
    definition = ctx.defs[name]
    body = definition.body.body if isinstance(definition.body, Group) and \
        not definition.body.subshell else [definition.body]
    after = walk(body, inner, out)
    for variable, before in saved.items():  # its locals end with it
        if before is None:
            ctx.vars.pop(variable, None)
        else:
            ctx.vars[variable] = before
    flow = {**after, **returned}
    if ctx.errexit:  # a call that returns a failure ends the script, as a command would
        if any(status == "U" for status in flow.values()):
            raise Untranslatable(cmd.line, text, f"under set -e, {name} may return a "
                                 "failure (the status of a test of the system) that would "
                                 "end the script", "function failing under set -e")
        failed = {p for p, status in flow.items() if status == "F"}
        fail(failed, 1, cmd.line, ctx, out)
        flow = {p: status for p, status in flow.items() if p not in failed}
    return {p: flow[p] for p in ctx.phases if p in flow}


def do_return(cmd: Command, ctx: Ctx, out: Result) -> Flow:
    """`return [N]`: the function ends here for the arguments that reach it."""
    if not ctx.calls:
        raise Untranslatable(cmd.line, ctx.source(cmd.line), "a return outside a function",
                             "return outside a function")
    code = status_argument(cmd, ctx)
    for phase in ctx.phases:
        if code is not None:
            ctx.returned[phase] = "F" if code else "T"
        else:
            ctx.returned[phase] = ctx.status.get(phase, "U")
    return {}
