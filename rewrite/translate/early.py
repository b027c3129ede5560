"""An early successful exit behind a test of the system, where what follows it would do
nothing on the systems that take it.

    create_hosts_file() {
      if [ -e /etc/hosts ]; then return 0; fi
      cat > /etc/hosts <<EOF ...
    }
    [ -e /etc/modules ] && return 0
    [ -S /run/dbus/system_bus_socket ] || return 0    # then only a reload, dropped
    if [ ! -e /usr/share/debconf/confmodule ]; then exit; fi     # then only db_ calls

The engine cannot tell which systems take the exit. It translates what follows (the
rest of the function's body for a `return`, the rest of the script for an `exit`) as
if the exit were not taken, and keeps the translation only where that is the same:
what follows must do nothing where the exit is taken. Where the test found paths
present (so that the exit was taken), the only actions allowed after it are those
that do nothing when they exist: create-file and install-config of such a path (they
never overwrite), make-dir of one of its parent directories (no mode nor owner: they
exist); where the test is of something else (a socket, a tool's output), no action at
all. Anything else is refused as before ("exit inside an if that tests the system").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from recipes.actions import (
    Action,
    CreateFile,
    Dropped,
    InstallConfig,
    MakeDir,
    MovePath,
    RecordTest,
    RemovePath,
)
from recipes.actions.fields import condition_paths
from rewrite.shell import AndOr, Command, If, Node
from rewrite.translate.conditions import eval_list, eval_pipeline
from rewrite.translate.context import Ctx, Result, Untranslatable, quiet
from rewrite.translate.effects import affects, of_all
from rewrite.translate.exits import single_command, status_argument, unwrap
from rewrite.translate.tested import file_test, missing_after, tested

Flow = dict[str, str]
Walk = Callable[[list[Node], Ctx, Result], Flow]

_REFUSED = "exit inside an if that tests the system"


@dataclass(frozen=True)
class EarlyExit:
    """`if COND; then [echo ...;] return 0; fi`, `COND && return 0`, `COND || exit 0`."""

    exit: Command
    # paths missing where the walk goes on (so present where the exit is taken)
    missing: frozenset[str]
    tested: frozenset[str]
    status: str  # $? where the walk goes on: T or F
    at_exit: str  # $? where the exit is taken: T or F
    reads: bool  # the test reads the system's files or databases
    goes_on: str | None  # the test of a path that holds where the walk goes on, if it is one


def _is_end(cmd: Command | None) -> bool:
    return cmd is not None and cmd.name in ("exit", "return") and quiet(cmd)


def _message(node: Node) -> bool:
    cmd = single_command(node)
    return cmd is not None and cmd.name in ("echo", "printf") and quiet(cmd)


def early_exit(node: Node, ctx: Ctx) -> EarlyExit | None:
    """The early exit `node` is, when its condition tests the system for every script
    argument here (a test of $1 is modelled exactly by the walk)."""
    if isinstance(unwrap(node), If):
        node = unwrap(node)
        assert isinstance(node, If)
        if len(node.branches) != 1 or node.orelse:
            return None
        cond_nodes, body = node.branches[0]
        end = single_command(body[-1]) if body else None
        if not _is_end(end) or not all(_message(n) for n in body[:-1]):
            return None
        if len(cond_nodes) != 1:
            return None
        # (a chain of tests: no path is known to exist where the exit is taken)
        pipe = cond_nodes[0].first if not cond_nodes[0].rest else None
        try:
            cond = eval_list(cond_nodes, ctx)
        except (ValueError, Untranslatable):
            return None
        op, after, at_exit = "||", "T", "T"  # goes on where the condition fails; $? is 0
        holds = False
    elif isinstance(node, AndOr) and len(node.rest) == 1:
        op, last = node.rest[0]
        end = single_command(last)
        pipe = node.first
        if not _is_end(end) or len(pipe.commands) != 1 or \
                not isinstance(pipe.commands[0], Command):
            return None
        try:
            cond = eval_pipeline(pipe, ctx)
        except Untranslatable:
            return None
        # `C && exit`: goes on where C fails ($? 1); `C || exit`: where C holds ($? 0)
        op, after, at_exit = ("||", "F", "T") if op == "&&" else ("&&", "T", "F")
        holds = op == "&&"
    else:
        return None
    assert end is not None
    if cond.kind not in ("plain", "guard") or cond.true or cond.false:
        return None  # known for some argument, or an init/upgrade test: the walk's own
    if pipe is None:
        return EarlyExit(end, frozenset(), frozenset(), after, at_exit, cond.reads, None)
    return EarlyExit(end, missing_after(pipe, ctx, op), tested([pipe], ctx), after, at_exit,
                     cond.reads, file_test(pipe, ctx, holds))


def _void(action: Action, missing: frozenset[str]) -> bool:
    """Whether the action does nothing where every path of `missing` exists (a
    record-test changes nothing: the actions that test its flag are checked)."""
    if isinstance(action, RecordTest):
        return True
    if isinstance(action, CreateFile | InstallConfig):
        return action.path in missing
    if isinstance(action, MakeDir):
        directory = action.path.rstrip("/")
        return not (action.mode or action.owner or action.group) and any(
            path.startswith(directory + "/") for path in missing)
    return False


def _untouched(test: str, actions: list[Action]) -> bool:
    """Whether none of `actions` may create or change the path `test` is about before
    the last of them is taken (so that it has, when each is taken, the value it had at
    the exit: an action's own change comes after its test; a record-test is checked
    through the actions that test its flag, which carry the test too)."""
    return all(isinstance(action, RecordTest) or
               not affects(of_all(actions[:index]), path) or  # (or it removes that path:
               isinstance(action, RemovePath) and action.path == path or  # a no-op if gone)
               isinstance(action, MovePath) and action.source == path
               for path in condition_paths(test)
               for index, action in enumerate(actions))


def _quiet_after(ctx: Ctx, early: EarlyExit, walk: Walk) -> bool:
    """Whether what the lists enclosing an `exit` run after their block does nothing and
    does not fail (walked aside): then the exit skips nothing the rest of the script
    would do (ucf's `abort-remove) if test "$2" != in-favour; then exit 0; fi; : ;;`)."""
    for rest in ctx.continuation[1:]:
        part = Result()
        try:
            walk(list(rest), replace(ctx, status={p: early.status for p in ctx.phases},
                                     guarded=True), part)
        except Untranslatable:
            return False
        if part.actions or part.fails:
            return False
    return True


def guarded_rest(early: EarlyExit, rest: list[Node], ctx: Ctx, out: Result,
                 walk: Walk) -> Flow:
    """Walk what follows an early exit (see the module's docstring); the arguments that
    go on after it (for a `return`, also those the function returns for)."""
    cmd = early.exit
    text = ctx.source(cmd.line)
    returning = cmd.name == "return"
    if (returning != bool(ctx.calls) or not ctx.top) and (
            returning or not _quiet_after(ctx, early, walk)):
        raise Untranslatable(cmd.line, text, "an exit the engine cannot model exactly (it "
                             "ends more than the list it is in, behind a test of the system)",
                             _REFUSED)
    code = status_argument(cmd, ctx)
    if (early.at_exit == "F") if code is None else code != 0:
        raise Untranslatable(cmd.line, text, "an exit the engine cannot model exactly (a "
                             "failure behind a test of the system)", _REFUSED)
    part = Result()
    after = walk(rest, replace(ctx, status={p: early.status for p in ctx.phases},
                               guarded=True, guard_paths=ctx.guard_paths | early.tested,
                               absent=ctx.tested_missing(early.missing),
                               reads=ctx.reads or early.reads), part)
    loud = [a for a in part.actions if not _void(a, early.missing)]
    if loud and not part.fails and early.goes_on is not None and \
            _untouched(early.goes_on, part.actions):
        # taken only where the walk goes on: where the test holds when the script runs
        part.actions = [a.model_copy(update={"only_if": (*a.only_if, early.goes_on)})
                        for a in part.actions]
        loud = []
    if loud or part.fails:
        what = f"{loud[0].name} {getattr(loud[0], 'path', '')}".strip() if loud else \
            "a failure"
        raise Untranslatable(cmd.line, text, "an exit the engine cannot model exactly "
                             f"(behind a test of the system, and what follows it ({what}) "
                             "would do something where it is taken)", _REFUSED)
    out.actions += part.actions
    out.dropped.append(Dropped(text, "early exit where what follows does nothing: "
                               + (f"{', '.join(sorted(early.missing))} exists there"
                                  if early.missing else "it takes no action"),
                               ctx.origin(cmd.line)))
    out.dropped += part.dropped
    flow: Flow = {}
    for phase in ctx.phases:
        if phase in after:
            flow[phase] = "T" if after[phase] == "T" else "U"
        elif returning and phase in ctx.returned:
            ctx.returned[phase] = "T" if ctx.returned[phase] == "T" else "U"
    return flow
