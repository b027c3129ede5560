"""Where a script exits or fails: `exit N`, a failing test under `set -e`, and the exits
the engine refuses because it cannot tell which arguments reach them."""

from __future__ import annotations

import re
from collections.abc import Mapping

from recipes.actions import Fail
from rewrite.shell import AndOr, Case, Command, For, Function, Group, If, Loop, Node, Pipeline
from rewrite.translate.conditions import is_condition_cmd
from rewrite.translate.context import Ctx, Idiom, Result, Untranslatable

Defs = Mapping[str, Function]
_ENDS = ("exit", "return")  # a return ends a function's body as an exit ends the script


def unwrap(node: Node) -> Node:
    """The one command or block a statement is (no && nor ||, no pipe, not negated)."""
    if isinstance(node, AndOr) and not node.rest:
        node = node.first
    if isinstance(node, Pipeline) and not node.negated and len(node.commands) == 1:
        node = node.commands[0]
    return node


def single_command(node: Node) -> Command | None:
    """The one simple command a statement is, or None."""
    node = unwrap(node)
    return node if isinstance(node, Command) else None


def _simple_command(node: Node, defs: Defs) -> bool:
    """One command that is not a test nor a function call: its status is success in the
    engine's model."""
    cmd = single_command(node)
    return cmd is not None and cmd.name not in _ENDS and cmd.name not in defs \
        and not is_condition_cmd(cmd)


def exit_line(nodes: list[Node], defs: Defs | None = None,
              seen: frozenset[str] = frozenset(), *, failures: bool = True) -> int:
    """The line of the first `exit` that decides where the script ends, or 0.

    `command || exit N` (a command, not a test) is an error path: the engine models
    commands as succeeding (as `set -e` would stop the script where they fail). A
    `return` counts (it ends the function being walked), and so does a call of a
    function of `defs` whose body exits. Without `failures`, `exit N` with a status
    other than 0 does not count (behind a test of the system, the walk makes it a
    fail action)."""
    for node in nodes:
        line = _exit_line_of(node, defs or {}, seen, failures)
        if line:
            return line
    return 0


def _exit_line_of(node: Node, defs: Defs, seen: frozenset[str], failures: bool) -> int:
    if isinstance(node, Command):
        # a return ends the body being walked, not the caller of a function it calls
        if node.name == "exit" and (failures or not _failure(node)) or \
                (node.name == "return" and not seen):
            return node.line
        if node.name in defs and node.name not in seen:
            ends = exit_line([defs[node.name].body], defs, seen | {node.name},
                             failures=failures)
            return node.line if ends else 0
        return 0
    if isinstance(node, AndOr):
        chain = [node.first, *(pipe for _, pipe in node.rest)]
        for index, pipe in enumerate(chain):
            if index and node.rest[index - 1][0] == "||" and _is_exit(pipe) and \
                    all(_simple_command(p, defs) for p in chain[:index]):
                continue
            line = _exit_line_of(pipe, defs, seen, failures)
            if line:
                return line
        return 0
    if isinstance(node, Pipeline):
        return exit_line(list(node.commands), defs, seen, failures=failures)
    if isinstance(node, If):
        for cond, body in node.branches:
            line = exit_line(list(cond), defs, seen, failures=failures) or \
                exit_line(body, defs, seen, failures=failures)
            if line:
                return line
        return exit_line(node.orelse or [], defs, seen, failures=failures)
    if isinstance(node, Case):
        return exit_line([n for item in node.items for n in item.body], defs, seen,
                         failures=failures)
    if isinstance(node, For | Loop | Group):
        return exit_line(node.body, defs, seen, failures=failures)
    if isinstance(node, Function):
        return 0  # a definition ends nothing; its calls do
    return 0  # pragma: no cover - the parser makes nothing else


def _failure(cmd: Command) -> bool:
    """`exit N` with a literal status other than 0."""
    args = cmd.words[1:]
    return len(args) == 1 and not args[0].expands and \
        re.fullmatch(r"[0-9]{1,9}", args[0].value) is not None and int(args[0].value) % 256 != 0


def _is_exit(pipe: Pipeline) -> bool:
    """`exit N`, or a block that prints a message and exits (`|| ( cat <<EOF ...; exit 1 )`,
    `|| { echo ... >&2; exit 1; }`)."""
    if len(pipe.commands) != 1 or pipe.negated:
        return False
    node = pipe.commands[0]
    if isinstance(node, Command):
        return node.name == "exit"
    if not isinstance(node, Group) or node.heredoc is not None or not node.body:
        return False
    *messages, last = node.body
    return all(_message(n) for n in messages) and isinstance(last, AndOr) and \
        not last.rest and _is_exit(last.first)


def _message(node: Node) -> bool:
    if not isinstance(node, AndOr) or node.rest or len(node.first.commands) != 1:
        return False
    cmd = node.first.commands[0]
    return isinstance(cmd, Command) and (cmd.name in ("echo", "printf") or (
        cmd.name == "cat" and len(cmd.words) == 1 and cmd.heredoc is not None)) and \
        all(r.endswith(("&2", "&1")) or r.endswith("/dev/null") for r in cmd.redirects)


def refuse_exit(nodes: list[Node], ctx: Ctx, why: str,
                idiom: Idiom | str = "exit the engine cannot model") -> None:
    line = exit_line(nodes, ctx.defs)
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


def status_argument(cmd: Command, ctx: Ctx) -> int | None:
    """The status `exit N` / `return N` gives (None: no N, the status of the last
    command); refused in a subshell ( ... ) or when N is not a number."""
    word = cmd.name
    text = ctx.source(cmd.line)
    args = cmd.words[1:]
    if ctx.subshell:
        raise Untranslatable(cmd.line, text, f"a {word} inside a subshell ( ... )",
                             "exit inside a subshell")
    if len(args) > 1 or (args and (args[0].expands or not re.fullmatch(r"[0-9]{1,9}",
                                                                        args[0].value))):
        raise Untranslatable(cmd.line, text, f"a {word} whose status is not a number",
                             f"{word} with a computed status")
    return int(args[0].value) % 256 if args else None


def exit_command(cmd: Command, ctx: Ctx, out: Result) -> None:
    """`exit [N]`: the script ends here for the arguments that reach it."""
    text = ctx.source(cmd.line)
    code = status_argument(cmd, ctx)
    if code and ctx.guarded:  # (behind a test of the system: where its tests hold)
        holding = ctx.holding()
        if holding is None:
            raise Untranslatable(cmd.line, text, "an exit the engine cannot model exactly "
                                 "(a failure behind a test of the system it cannot carry)",
                                 "exit inside an if that tests the system")
        out.actions.append(Fail(**{"Script": ctx.script, "On": ctx.phases, "Status": code,
                                   "Only-If": holding, "origin": ctx.origin(cmd.line)}))
        return
    if code is not None:
        fail(set(ctx.phases), code, cmd.line, ctx, out)
        return
    statuses = {ctx.status.get(p, "U") for p in ctx.phases}
    if "U" in statuses:
        raise Untranslatable(cmd.line, text, "an exit without a status, after a command "
                             "whose status the engine does not know",
                             "exit with the status of a test of the system")
    fail({p for p in ctx.phases if ctx.status[p] == "F"}, 1, cmd.line, ctx, out)

