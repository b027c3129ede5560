"""Where a script exits or fails: `exit N`, a failing test under `set -e`, and the exits
the engine refuses because it cannot tell which arguments reach them."""

from __future__ import annotations

import re

from rewrite.shell import AndOr, Case, Command, For, Function, Group, If, Loop, Node, Pipeline
from rewrite.translate.conditions import is_condition_cmd
from rewrite.translate.context import Ctx, Idiom, Result, Untranslatable


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
    return isinstance(node, Command) and node.name != "exit" and not is_condition_cmd(node)


def exit_line(nodes: list[Node]) -> int:
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
        return exit_line(list(node.commands))
    if isinstance(node, If):
        for cond, body in node.branches:
            line = exit_line(list(cond)) or exit_line(body)
            if line:
                return line
        return exit_line(node.orelse or [])
    if isinstance(node, Case):
        return exit_line([n for item in node.items for n in item.body])
    if isinstance(node, For | Loop | Group):
        return exit_line(node.body)
    if isinstance(node, Function):
        return _exit_line_of(node.body)
    return 0  # pragma: no cover - the parser makes nothing else


def _is_exit(pipe: Pipeline) -> bool:
    return len(pipe.commands) == 1 and isinstance(pipe.commands[0], Command) and \
        pipe.commands[0].name == "exit"


def refuse_exit(nodes: list[Node], ctx: Ctx, why: str,
                idiom: Idiom | str = "exit the engine cannot model") -> None:
    line = exit_line(nodes)
    if line:
        raise Untranslatable(line, ctx.source(line),
                             f"an exit the engine cannot model exactly ({why})", idiom)


def fail(phases: set[str] | frozenset[str], code: int, line: int, ctx: Ctx,
         out: Result) -> None:
    """The script ends with status `code` for `phases` (at `line`)."""
    if ctx.subshell:
        raise Untranslatable(line, ctx.source(line), "a subshell ( ... ) that exits or fails",
                             "subshell that exits or fails")
    if code:
        for phase in ctx.phases:
            if phase in phases:
                out.fails.setdefault(phase, (code, ctx.origin(line)))


def exit_command(cmd: Command, ctx: Ctx, out: Result) -> None:
    """`exit [N]`: the script ends here for the arguments that reach it."""
    text = ctx.source(cmd.line)
    args = cmd.words[1:]
    if ctx.subshell:
        raise Untranslatable(cmd.line, text, "an exit inside a subshell ( ... )",
                             "exit inside a subshell")
    if len(args) > 1 or (args and (args[0].expands or not re.fullmatch(r"[0-9]{1,9}",
                                                                        args[0].value))):
        raise Untranslatable(cmd.line, text, "an exit whose status is not a number",
                             "exit with a computed status")
    if args:
        fail(set(ctx.phases), int(args[0].value) % 256, cmd.line, ctx, out)
        return
    statuses = {ctx.status.get(p, "U") for p in ctx.phases}
    if "U" in statuses:
        raise Untranslatable(cmd.line, text, "an exit without a status, after a command "
                             "whose status the engine does not know",
                             "exit with the status of a test of the system")
    fail({p for p in ctx.phases if ctx.status[p] == "F"}, 1, cmd.line, ctx, out)

