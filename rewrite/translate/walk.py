"""The walk of a script's statements, for each script argument (`$1`).

The walk follows each script argument: which statements it reaches and the status
($?) it has after each one: T (0), F (1: a test that failed) or U (unknown: it
depends on the system). Commands succeed in the model (under `set -e` a failing one
would stop the script). An `exit` ends the script for the arguments that reach it,
so what follows only applies to the others (their actions are restricted to those);
so does a failing test under `set -e`, and the status the script ends with. All of
this is modelled only where the engine knows it exactly (tests of $1, case on $1,
debconf answers); behind a test of the system (a tool, a file, an upgrade, an init
system) it is refused, never guessed. The rendered script exits where the original
fails (`Result.fails`).
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import replace

from recipes.actions import Action, Dropped, MovePath, RecordTest, RemovePath
from recipes.actions.fields import FILE_TESTS, condition_parts, condition_paths
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
    Word,
)
from rewrite.translate.attempts import attempted_change
from rewrite.translate.capabilities import capability_unit
from rewrite.translate.commands import take, translate_command
from rewrite.translate.conditions import (
    Cond,
    constant,
    eval_list,
    eval_pipeline,
    is_condition_cmd,
    is_exact,
    is_predicate,
    negated,
    phase_word,
)
from rewrite.translate.context import (
    Ctx,
    Idiom,
    Result,
    Untranslatable,
    braces,
    idiom_of,
    quiet,
    word_value,
)
from rewrite.translate.early import early_exit, guarded_rest
from rewrite.translate.effects import affects, of_all
from rewrite.translate.exits import (
    exit_command,
    exit_line,
    fail,
    refuse_exit,
)
from rewrite.translate.functions import call, define, do_return
from rewrite.translate.links import dangling_links
from rewrite.translate.nss import nss_unit
from rewrite.translate.systemd import INIT_REASON
from rewrite.translate.tested import (
    file_test,
    holding_tests,
    missing_after,
    missing_where_true,
    tested,
)
from rewrite.translate.writes import writes_file

UNREACHABLE = "unreachable: every script argument has exited before this line"
MAPPED_EXIT = Idiom("recipe mapping over an exit")
Flow = dict[str, str]  # script argument that goes on -> its status: T, F or U


def _either(a: str, b: str) -> str:
    return a if a == b else "U"


def walk(nodes: list[Node], ctx: Ctx, out: Result) -> Flow:
    """Translate a list of statements into `out`; the arguments that go on after it."""
    if ctx.straight:
        return _walk(nodes, ctx, out)
    scope: list[str] = []  # what the block assigns is known in it, not after it
    try:
        return _walk(nodes, replace(ctx, scope=scope), out)
    finally:
        for name in scope:
            ctx.vars.pop(name, None)
            if ctx.guarded:  # (behind a test of the system: the system's value)
                ctx.unknown.add(name)


def _walk(nodes: list[Node], ctx: Ctx, out: Result) -> Flow:
    flow = {p: ctx.status.get(p, "U") for p in ctx.phases}
    errexit = ctx.errexit
    positional = ctx.positional
    for index, node in enumerate(nodes):
        if not flow:
            if ctx.phases:  # every argument exited in this list: the rest is dead code
                for dead in nodes[index:]:
                    out.dropped.append(Dropped(ctx.source(dead.line), UNREACHABLE,
                                               ctx.origin(dead.line)))
            return flow
        if positional is None and set(flow) == {"triggered"} and _is_shift(node):
            positional = list(TRIGGER_NAMES)  # `shift`: "$@" holds the triggers' names
            continue
        current = replace(ctx.narrowed(set(flow)), status=flow, errexit=errexit,
                          positional=positional,
                          continuation=(tuple(nodes[index + 1:]), *ctx.continuation))
        early = None if _is_mapped(node, current) else early_exit(node, current)
        if early is not None:
            return guarded_rest(early, nodes[index + 1:], current, out, walk)
        flow = _statement(node, current, out)
        switch = _set_e(node)
        if switch is not None and switch != errexit:
            if ctx.nested:
                raise Untranslatable(node.line, ctx.source(node.line),
                                     "set -e or +e inside a block", "set -e or +e in a block")
            errexit = switch
    return flow


# the positional parameters of `triggered` after `shift`: names of activated triggers
TRIGGER_NAMES = ("$_ue_trigger",) * 4


def _is_shift(node: Node) -> bool:
    return isinstance(node, AndOr) and not node.rest and not node.first.negated and \
        len(node.first.commands) == 1 and isinstance(node.first.commands[0], Command) and \
        [w.value for w in node.first.commands[0].words] == ["shift"]


def _trigger_loop(node: For, ctx: Ctx, out: Result) -> Flow | None:
    """`for t in $2` on `triggered` (or `shift; for t in "$@"`) with a `case "$t"` of the
    trigger names: each item walked once with its name (the widest reading: which of
    the triggers fired is not known, what each does is idempotent); None if the loop
    is not of that form."""
    body = node.body[0] if len(node.body) == 1 else None
    while isinstance(body, AndOr) and not body.rest and not body.first.negated and \
            len(body.first.commands) == 1:
        body = body.first.commands[0]
    if set(ctx.phases) != {"triggered"} or len(node.words) != 1 or not isinstance(body, Case):
        return None
    word = node.words[0].value
    if not (word in ("$@", "$*") and ctx.positional == list(TRIGGER_NAMES) or
            word in ("$2", "${2}") and ctx.positional is None):
        return None
    case = body
    if case.word.value not in (f"${node.var}", f"${{{node.var}}}"):
        return None
    flows: list[Flow] = []
    for item in case.items:
        for pattern in item.patterns:
            value = pattern.value
            if pattern.expands or (value != "*" and any(c in value for c in "*?[")):
                raise Untranslatable(item.line, ctx.source(item.line), "a case on the "
                                     "activated triggers with a computed or glob pattern",
                                     "trigger loop with a computed pattern")
            subst = {**ctx.subst} if value == "*" else {**ctx.subst, node.var: value}
            flows.append(walk(item.body, replace(ctx, subst=subst, status={"triggered": "T"},
                                                 nested=True), out))
    if any("triggered" not in flow for flow in flows):
        raise Untranslatable(node.line, ctx.source(node.line), "an exit inside a loop over "
                             "the activated triggers", "exit in a trigger loop")
    ends = {flow["triggered"] for flow in flows}
    return {"triggered": ends.pop() if len(ends) == 1 else "U"} if flows else \
        {"triggered": "T"}


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


def _is_mapped(node: Node, ctx: Ctx) -> bool:
    return ctx.lookup is not None and \
        ctx.lookup(ctx.script, ctx.source(getattr(node, "line", 0))) is not None


def _mapped(node: Node, ctx: Ctx, out: Result) -> bool:
    if ctx.lookup is None:
        return False
    line = getattr(node, "line", 0)
    hit = ctx.lookup(ctx.script, ctx.source(line))
    if hit is None:
        return False
    refuse_exit([node], ctx, "a recipe mapping covers a line that exits: map the "
                "lines after it instead", idiom=MAPPED_EXIT)
    actions, reason = hit
    for action in actions:
        on = tuple(p for p in action.on if p in ctx.phases)
        if on:  # the recipe's arguments, as far as they reach this line
            out.actions.append(action.model_copy(update={"on": on, "origin": ctx.origin(line)}))
    if not actions:
        out.dropped.append(Dropped(ctx.source(line), f"recipe: {reason}", ctx.origin(line)))
    return True


def _statement(node: Node, ctx: Ctx, out: Result) -> Flow:
    if _mapped(node, ctx, out):
        return {p: "T" for p in ctx.phases}
    if isinstance(node, AndOr):
        return _and_or(node, ctx, out)
    if isinstance(node, Pipeline):
        return _pipeline(node, ctx, out)
    if isinstance(node, Command):
        return _command(node, ctx, out)
    nested = replace(ctx, nested=True, top=False)  # each block says whether it is straight
    if isinstance(node, If):
        return _if(node, nested, out)
    if isinstance(node, Case):
        return _case(node, nested, out)
    if isinstance(node, For):
        return _for(node, nested, out)
    if isinstance(node, Group):
        if node.heredoc is not None:
            raise Untranslatable(node.line, ctx.source(node.line), "a block fed by a here-document",
                                 "block fed by a here-document")
        if node.subshell:  # what it assigns stays in it: the values after it are those before
            values, unknown, digests = dict(ctx.vars), set(ctx.unknown), dict(ctx.digests)
            owners = dict(ctx.owners)
            flow = walk(node.body, replace(nested, subshell=True, straight=False), out)
            ctx.vars.clear()
            ctx.vars.update(values)
            ctx.unknown.clear()
            ctx.unknown.update(unknown)
            ctx.digests.clear()
            ctx.digests.update(digests)
            ctx.owners.clear()
            ctx.owners.update(owners)
            if any(status != "T" for status in flow.values()):
                raise Untranslatable(node.line, ctx.source(node.line),
                                     "a subshell ( ... ) whose status is not known",
                                     "subshell with an unknown status")
            return {p: "T" for p in ctx.phases}
        return walk(node.body, nested, out)
    if isinstance(node, Function):
        return define(node, ctx)
    if isinstance(node, Loop):
        raise Untranslatable(node.line, ctx.source(node.line), "a while/until loop",
                             "while/until loop")
    raise Untranslatable(0, "", f"unknown node {type(node).__name__}")  # pragma: no cover


def _is_condition(pipe: Pipeline, ctx: Ctx) -> bool:
    if len(pipe.commands) != 1 or not isinstance(pipe.commands[0], Command):
        return False
    cmd = pipe.commands[0]
    return is_condition_cmd(cmd) or (cmd.name in ctx.defs and not cmd.words[0].quoted
                                     and is_predicate(cmd.name, ctx.defs))


def _and_or(node: AndOr, ctx: Ctx, out: Result) -> Flow:
    """`a && b || c` chains, evaluated for each script argument.

    The status of each argument after a pipeline: T, F, U, or D (a test the engine
    drops: init system, upgrade). A command after `&&` runs where the status is T,
    after `||` where it is F; where it is U the command is translated too (the widest
    reading: actions are idempotent), but an exit there is refused. Under `set -e` a
    test that fails as the last of the chain ends the script."""
    chain = [("", node.first), *node.rest]
    if node.rest and any(isinstance(c, Function) for _, pipe in chain for c in pipe.commands):
        raise Untranslatable(node.line, ctx.source(node.line), "a function defined inside a "
                             "&& or || list", "function definition inside a block")
    if node.rest and any(_set_e(AndOr(pipe, [], pipe.line)) is not None for _, pipe in chain):
        raise Untranslatable(node.line, ctx.source(node.line), "set -e or +e in a && or || list",
                             "set -e or +e in a && or || list")
    live = set(ctx.phases)
    status: dict[str, str] = {p: ctx.status.get(p, "U") for p in live}
    reads = ctx.reads
    # the tests of paths that hold after each pipeline (`[ -f F ] && cmd`: "-f F"), while
    # the list is one `&&` chain or `test || cmd`; `unlisted`: a test of the system that
    # is not one of them came before
    # (a last `|| echo ...` after an `&&` chain only says it failed: `cmp -s A B && mv B
    # B.old || echo "B modified"`)
    chained = node.rest[:-1] if len(node.rest) > 1 and node.rest[-1][0] == "||" and \
        _is_trivial_fallback(node.rest[-1][1]) else node.rest
    simple = all(o == "&&" for o, _ in chained) or len(node.rest) == 1
    tests: list[tuple[str, int]] = []
    unlisted = False
    upgrade_dropped = False  # an upgrade test (not an init one) was dropped
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
        if op == "&&" and upgrade_dropped and any(status[p] == "D" for p in live):
            # (dropped, the exit would let what follows run on those upgrades too; behind
            # an init test it never runs, as an if's branch on one)
            refuse_exit([pipe], ctx, "it runs only on an upgrade or with an init system, "
                        "which the engine drops", idiom="exit behind an upgrade or init test")
        runs = sure | maybe
        if not runs:
            continue
        skipped = "T" if op == "||" else "F"  # the status of a maybe-phase that skips it
        missing = missing_after(chain[index - 1][1], ctx, op) if op else frozenset()
        current = replace(ctx.narrowed(runs), status={p: "T" if op == "&&" else "F"
                                                      if op else status[p] for p in runs},
                          errexit=ctx.errexit and final,
                          straight=ctx.straight and (not node.rest or not maybe and (
                              not op or sure == live)),
                          guarded=ctx.guarded or bool(maybe),
                          guard_paths=ctx.guard_paths | tested(
                              [pipe for _, pipe in chain[:index]], ctx),
                          absent=ctx.tested_missing(missing), reads=reads,
                          conditions=ctx.conditions + tuple(tests),
                          unlisted=ctx.unlisted or unlisted)
        if _is_condition(pipe, current):
            cond = eval_pipeline(pipe, current)
            reads = reads or cond.reads
            if not is_exact(cond, current.phases):
                test = file_test(pipe, ctx, following == "&&") if simple and following \
                    else None
                if test is None and cond.system:
                    unlisted = True
                elif test is not None:
                    tests.append((test, len(ctx.effects)))
            if cond.kind in ("init", "upgrade") and following == "&&":
                reason = INIT_REASON if cond.kind == "init" else \
                    f"only on {cond.why or 'upgrades'}: images are installed fresh"
                out.dropped.append(Dropped(current.source(pipe.line), reason,
                                           current.origin(pipe.line)))
                status.update({p: "D" for p in runs})
                upgrade_dropped = upgrade_dropped or cond.kind == "upgrade"
                continue
            failed: set[str] = set()
            for p in runs:
                value = "T" if p in cond.true else "F" if p in cond.false else "U"
                if current.errexit and value != "T":
                    if p in maybe or value == "U" or pipe.negated:
                        if not pipe.negated:
                            raise Untranslatable(pipe.line, ctx.source(pipe.line),
                                                 "under set -e, a test of the system whose "
                                                 "failure would end the script",
                                                 "test of the system under set -e")
                    else:
                        failed.add(p)
                status[p] = _either(value, skipped) if p in maybe else value
            if failed:
                fail(failed, 1, pipe.line, current, out)
                live -= failed
            continue
        if op == "||" and _is_trivial_fallback(pipe):
            status.update({p: "T" for p in runs})
            continue
        if maybe:
            refuse_exit([pipe], current, "it runs only if a test of the system fails or "
                        "succeeds", idiom="exit behind a test of the system")
        after = _pipeline(pipe, current, out)
        live -= runs - set(after)
        for p, value in after.items():
            status[p] = _either(value, skipped) if p in maybe else value
    return {p: "U" if status[p] == "D" else status[p] for p in ctx.phases if p in live}


def _is_trivial_fallback(pipe: Pipeline) -> bool:
    if len(pipe.commands) != 1 or not isinstance(pipe.commands[0], Command):
        return False
    if not quiet(pipe.commands[0]):  # `|| echo x > F` writes a file: not a fallback
        return False
    argv = pipe.commands[0].argv
    return argv[:1] in (["true"], [":"]) or (argv[:1] in (["echo"], ["printf"]))


def _pipe_names(pipe: Pipeline) -> str:
    """`find | xargs`: the commands of a pipeline, by name ("..." for a compound one)."""
    return " | ".join(cmd.name if isinstance(cmd, Command) else "..." for cmd in pipe.commands)


def _pipeline(pipe: Pipeline, ctx: Ctx, out: Result) -> Flow:
    pruned = dangling_links(pipe, ctx)
    if pruned is not None:  # `find D -type l | while read l; do test -f "$l" || rm ...`
        take([pruned], pipe.line, ctx, out)
        return {p: "T" for p in ctx.phases}
    found = _find_xargs_rm(pipe)
    if found is not None:  # `find D -type f -print0 | xargs -0r rm -f`: find's -delete
        return _statement(found, ctx, out)
    if len(pipe.commands) != 1:
        raise Untranslatable(pipe.line, ctx.source(pipe.line), "a pipeline",
                             Idiom("pipeline", _pipe_names(pipe)))
    inner = pipe.commands[0]
    if pipe.negated:
        raise Untranslatable(pipe.line, ctx.source(pipe.line), "a negated command",
                             "negated command")
    return _statement(inner, ctx, out)


def _find_xargs_rm(pipe: Pipeline) -> Command | None:
    """`find D ... -type f|l [-print0] | xargs [-0] [-r] rm [-f]` as the `find D ...
    -delete` it amounts to (rm removes no directory: only files or links found), or
    None."""
    if len(pipe.commands) != 2 or pipe.negated or \
            not all(isinstance(c, Command) and not c.redirects for c in pipe.commands):
        return None
    find, xargs = pipe.commands
    assert isinstance(find, Command) and isinstance(xargs, Command)
    words = [w.value for w in xargs.words]
    options = [w for w in words[1:] if w.startswith("-") and w not in ("-f",)]
    tool = [w for w in words[1:] if not w.startswith("-")]
    types = [find.words[i + 1].value for i, w in enumerate(find.words[:-1])
             if w.value == "-type"]
    if find.name != "find" or words[:1] != ["xargs"] or tool not in (["rm"], ["/bin/rm"]) or \
            not all(o in ("-0", "-r", "-0r", "-r0", "--null", "--no-run-if-empty")
                    for o in options) or types not in (["f"], ["l"]) or \
            words[-1] != "-f" and words[-1] not in ("rm", "/bin/rm"):
        return None
    kept = [w for w in find.words if w.value not in ("-print0", "-print")]
    return Command(words=[*kept, Word(raw="-delete", value="-delete", expands=False,
                                      quoted=False)], redirects=[], line=find.line)


def _if(node: If, ctx: Ctx, out: Result) -> Flow:
    attempt = attempted_change(node)
    if attempt is not None:  # `if [ -d D ] && ... && rmdir D; then`: tried, then tested
        return _walk(attempt, ctx, out)
    capability = capability_unit(node, ctx)
    if capability is not None:  # setcap with setuid fallback, or its removal
        holding = ctx.holding() if ctx.guarded else ()
        if holding is None and capability.remove:
            holding = ()  # (the widest reading: a file without capabilities is left as is)
        if holding is None:
            raise Untranslatable(node.line, ctx.source(node.line), "file capabilities "
                                 "behind a test of the system they cannot carry",
                                 "setcap behind a test of the system")
        out.actions.append(capability.model_copy(update={"only_if": holding,
                                                         "origin": ctx.origin(node.line)}))
        ctx.ran(frozenset({capability.path}))
        return {p: "T" for p in ctx.phases}
    unit = nss_unit(node, ctx)
    if unit is not None:  # dh_installnss's snippet
        holding = ctx.holding() if ctx.guarded else ()
        if holding is None:
            raise Untranslatable(node.line, ctx.source(node.line), "dh_installnss's edit "
                                 "behind a test of the system it cannot carry",
                                 "nsswitch.conf edit behind a test of the system")
        if unit.on:
            out.actions.append(unit.model_copy(update={"only_if": holding,
                                                       "origin": ctx.origin(node.line)}))
            ctx.ran(frozenset({"/etc/nsswitch.conf"}))
        return {p: "T" for p in ctx.phases}
    if _inert(node):  # `if test "${2+set}" = set; then :; else :; fi`: nothing to decide
        out.dropped.append(Dropped(_block_text(node, ctx), "an if whose branches do nothing "
                                   "(no-ops and messages) behind plain tests",
                                   ctx.origin(node.line)))
        return {p: "T" for p in ctx.phases}
    return _if_statement(node, ctx, out)


_INERT = {":", "true", "echo", "printf"}


def _inert(node: If) -> bool:
    """Whether an if only runs tests (`[`, `test`: no command substitution) and, in every
    branch, no-ops and messages: whichever branch runs, nothing changes, and the status
    after it is 0."""
    def simple(pipe: Pipeline, names: set[str]) -> bool:
        return len(pipe.commands) == 1 and isinstance(pipe.commands[0], Command) and \
            pipe.commands[0].name in names and quiet(pipe.commands[0]) and \
            pipe.commands[0].heredoc is None and \
            not any("$(" in w.raw or "`" in w.raw for w in pipe.commands[0].words)

    for cond, body in node.branches:
        if not all(simple(pipe, {"[", "test"}) for item in cond
                   for pipe in (item.first, *(p for _, p in item.rest))):
            return False
        if not body or not all(isinstance(item, AndOr) and not item.rest and
                               not item.first.negated and simple(item.first, _INERT)
                               for item in body):
            return False
    return node.orelse is None or (bool(node.orelse) and all(
        isinstance(item, AndOr) and not item.rest and not item.first.negated and
        simple(item.first, _INERT) for item in node.orelse))


def _if_statement(node: If, ctx: Ctx, out: Result) -> Flow:
    exits = exit_line([n for _, body in node.branches for n in body] + (node.orelse or []),
                      ctx.defs)
    remaining = set(ctx.phases)
    upgrade_exit = 0  # the line of an exit in a dropped upgrade branch
    ends: dict[str, set[str]] = {}  # argument -> the statuses it may have after the if
    exact = True
    all_guards = True
    reads = ctx.reads  # the else branch runs where the tests failed
    # the tests of paths that failed where the next branch runs
    failed: list[tuple[str, int]] = []
    unlisted = ctx.unlisted
    # the branches exclude each other: each starts from what ran before the if (its
    # tests do not see what another branch changes; `_exclusive` checks that the
    # actions' own tests still keep them apart), all of it counts after the if
    before, made = list(ctx.effects), []
    taken: list[tuple[int, int, frozenset[str]]] = []  # out.actions[start:end], its tests
    for index, (cond_nodes, body) in enumerate(node.branches):
        current = ctx.narrowed(remaining)
        try:
            # (a function called as the first test runs before any branch: what it
            # changes is part of what every branch starts from)
            called = _call_condition(cond_nodes, current, out) if index == 0 else None
            if called is not None:
                before = list(ctx.effects)
            cond = called or eval_list(cond_nodes, current)
        except ValueError as exc:
            raise Untranslatable(node.line, ctx.source(node.line), f"condition {exc}",
                                 idiom_of(exc, Idiom(f"condition: {exc}"))) from exc
        if current.phases and not is_exact(cond, current.phases):
            exact = False
            # (an init test's branch never runs here; an upgrade test's is dropped, its
            # exit too, if nothing follows the if: else it would run on those upgrades)
            ending = exit_line([n for _, body in node.branches for n in body] +
                               (node.orelse or []), ctx.defs, failures=False)
            if exits and cond.kind == "upgrade":
                upgrade_exit = exits
            elif ending and cond.kind != "init":  # (a failure: a fail action, where taken)
                raise Untranslatable(ending, ctx.source(ending), "an exit the engine cannot "
                                     f"model exactly (inside the if of line {node.line}, whose "
                                     "condition tests the system, not the script argument)",
                                     "exit inside an if that tests the system")
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
        holding: list[tuple[str, int]] = []
        if current.phases and not is_exact(cond, current.phases) and cond.system:
            held = holding_tests(cond_nodes, current)
            if held is None:
                unlisted = True
            else:
                holding = [(test, len(ctx.effects)) for test in held]
        if branch_phases:
            ctx.effects[:] = before
            start = len(out.actions)
            tests = (*ctx.conditions, *failed, *holding)
            after = walk(body, replace(ctx.narrowed(branch_phases),
                                       status={p: "T" for p in branch_phases},
                                       straight=ctx.straight and exact,
                                       guarded=ctx.guarded or not exact,
                                       guard_paths=ctx.guard_paths
                                       | tested(cond_nodes, ctx),
                                       absent=ctx.tested_missing(
                                           missing_where_true(cond_nodes, ctx)),
                                       reads=ctx.reads or cond.reads,
                                       conditions=tests, unlisted=unlisted), out)
            made += ctx.effects[len(before):]
            taken.append((start, len(out.actions), frozenset(t for t, _ in tests)))
            for p, value in after.items():
                ends.setdefault(p, set()).add(value)
            for p in branch_phases - set(after):
                ends.setdefault(p, set())  # exited in this branch
        if cond.kind == "plain":
            all_guards = False
            remaining -= cond.phases
        elif cond.kind == "either":
            all_guards = False  # the next branches may run too
        reads = reads or cond.reads
        if len(holding) == 1:  # (the next branch runs where it failed)
            test, count = holding[0]
            failed.append((test[2:] if test.startswith("! ") else f"! {test}", count))
        elif holding:  # where one of several failed: not a list of tests
            unlisted = True
    else:
        # the else of tests of paths only (`if [ -e A ]; then ...; else rm B; fi`) is a
        # branch too: taken where they failed
        tested_paths = bool(failed) and not unlisted
        if node.orelse and (not all_guards or tested_paths) and remaining:
            ctx.effects[:] = before
            start = len(out.actions)
            after = walk(node.orelse, replace(ctx.narrowed(remaining),
                                              status={p: "F" for p in remaining},
                                              straight=ctx.straight and exact,
                                              guarded=ctx.guarded or not exact,
                                              reads=reads,
                                              conditions=(*ctx.conditions, *failed),
                                              unlisted=unlisted), out)
            made += ctx.effects[len(before):]
            taken.append((start, len(out.actions),
                          frozenset(t for t, _ in (*ctx.conditions, *failed))))
            for p, value in after.items():
                ends.setdefault(p, set()).add(value)
            for p in remaining - set(after):
                ends.setdefault(p, set())
            remaining = set()
        elif node.orelse and all_guards:
            failing = exit_line(node.orelse, ctx.defs)
            if failing and not exact:  # (a fallback that fails is no fallback to drop)
                raise Untranslatable(failing, ctx.source(failing), "an exit the engine "
                                     f"cannot model exactly (inside the if of line "
                                     f"{node.line}, whose condition tests the system, not "
                                     "the script argument)",
                                     "exit inside an if that tests the system")
            out.dropped.append(Dropped(
                "else branch of a guard", "fallback when a tool or file is missing: "
                "the actions do not need it", ctx.origin(node.line)))
    ctx.effects[:] = before + made
    _exclusive(out.actions, taken, node, ctx)
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
    if upgrade_exit and flow:
        raise Untranslatable(upgrade_exit, ctx.source(upgrade_exit), "an exit the engine "
                             f"cannot model exactly (inside the if of line {node.line}, "
                             "whose condition tests an upgrade's version, before what "
                             "would then run on those upgrades too)",
                             "exit inside an if that tests the system")
    return flow


def _exclusive(actions: list[Action], taken: list[tuple[int, int, frozenset[str]]],
               node: If, ctx: Ctx) -> None:
    """The actions of a later branch are taken after those of an earlier one, each where
    its `Only-If` holds then: refused where an earlier branch's change may turn a test of
    a later one's action, unless that action also tests that a path exists which the
    earlier branch removes whenever it runs, or removes or moves that path itself (a
    no-op then: whiptail's preinst, `mv F F.dpkg-bak` where F was modified, else `rm F`).
    A record-test is checked through the actions that test its flag (an unused one is
    dropped at the end): a `flag NAME` test stands for the tests it recorded."""
    recorded = {a.flag: a.only_if for a in actions if isinstance(a, RecordTest)}

    def tests_of(action: Action) -> tuple[str, ...]:
        out: list[str] = []
        for test in action.only_if:
            negated, kind, name, _ = condition_parts(test)
            if kind == "flag" and not negated:
                out += recorded.get(name, ())
            else:
                out.append(test)
        return tuple(out)

    for index, (start, end, tests) in enumerate(taken):
        earlier = actions[start:end]
        changed = of_all(earlier)
        gone = {a.path if isinstance(a, RemovePath) else a.source for a in earlier
                if isinstance(a, RemovePath | MovePath) and set(a.only_if) <= tests
                and not any(c in a.path for c in "*?[")}
        for later_start, later_end, _ in taken[index + 1:]:
            for action in actions[later_start:later_end]:
                if isinstance(action, RecordTest):
                    continue
                turned = [t for t in tests_of(action)
                          if any(affects(changed, p) for p in condition_paths(t))]
                # (a recorded test was read before the removal: not one that excludes)
                excluded = any(not negated and test in FILE_TESTS and path in gone
                               for negated, test, path, _ in map(condition_parts,
                                                                 action.only_if)) or \
                    isinstance(action, RemovePath) and action.path in gone or \
                    isinstance(action, MovePath) and action.source in gone  # (a no-op)
                if turned and not excluded:
                    raise Untranslatable(node.line, ctx.source(node.line), "an if whose "
                                         "branches the engine cannot keep apart: a change "
                                         f"in one may turn the test {turned[0]!r} of "
                                         "another's", "if whose branches a change may turn")


def _upgrade_only_conffiles(body: list[Node], ctx: Ctx) -> str:
    """The prior versions when every statement of a loop's body is `dpkg-maintscript-helper
    rm_conffile|mv_conffile ... PRIOR-VERSION ...` with constant versions ("" otherwise):
    what those do depends on an upgrade from PRIOR-VERSION or older having happened (on
    a fresh install, its remove and its purge, they do nothing)."""
    priors: list[str] = []
    for node in body:
        cmd = node.first.commands[0] if isinstance(node, AndOr) and not node.rest and \
            len(node.first.commands) == 1 else None
        if not isinstance(cmd, Command) or not quiet(cmd):
            return ""
        argv = [word_value(w, ctx) for w in cmd.words]
        if "--" in argv:
            argv = argv[:argv.index("--")]
        fields = {"rm_conffile": 3, "mv_conffile": 4}.get(argv[1] if len(argv) > 1 else "")
        if argv[0] != "dpkg-maintscript-helper" or fields is None or len(argv) < fields + 1:
            return ""
        prior = argv[fields]
        if not constant(prior) or not re.fullmatch(r"[0-9][A-Za-z0-9.+:~-]*", prior):
            return ""
        priors.append(prior)
    return ", ".join(dict.fromkeys(priors))


def _call_condition(cond_nodes: list[AndOr], ctx: Ctx, out: Result) -> Cond | None:
    """`if f ARGS; then` (or `! f`) where f is a function of the script that does more
    than read the system (slapd's `remove_database_on_purge`, systemd's `_systemctl`):
    the call walked where the condition stands (set -e does not apply there), its status
    for each script argument the condition's value; None for any other condition."""
    if len(cond_nodes) != 1 or cond_nodes[0].rest:
        return None
    pipe = cond_nodes[0].first
    if len(pipe.commands) != 1 or not isinstance(pipe.commands[0], Command):
        return None
    cmd = pipe.commands[0]
    if cmd.name not in ctx.defs or cmd.words[0].quoted or is_predicate(cmd.name, ctx.defs):
        return None
    flow = call(cmd, replace(ctx, errexit=False), out, walk)
    if set(ctx.phases) - set(flow):
        raise Untranslatable(cmd.line, ctx.source(cmd.line), f"{cmd.name}, called as a "
                             "condition, exits the script", "function exiting in a condition")
    every = frozenset(ctx.phases)
    true = frozenset(p for p, status in flow.items() if status == "T")
    false = frozenset(p for p, status in flow.items() if status == "F")
    unknown = every - true - false
    cond = Cond(true | unknown, "either" if unknown else "plain", f"the status of {cmd.name}",
                true=true, false=false, reads=bool(unknown), system=bool(unknown))
    return negated(cond, every) if pipe.negated else cond


def _block_text(node: If | Case, ctx: Ctx) -> str:
    end = node.end or node.line
    return "\n".join(ctx.lines[node.line - 1:end]).strip()


def _case(node: Case, ctx: Ctx, out: Result) -> Flow:
    subject = word_value(node.word, ctx)
    digest = re.fullmatch(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", subject)
    if digest is not None and digest.group(1) in ctx.digests:
        return _digest_case(node, ctx.digests[digest.group(1)], ctx, out)
    if constant(subject):
        return _constant_case(node, subject, ctx, out)
    if not phase_word(subject):
        raise Untranslatable(node.line, ctx.source(node.line), "a case on something other than $1",
                             "case on something other than $1")
    remaining = set(ctx.phases)
    flow: Flow = {}
    for item in node.items:
        matched: set[str] = set()
        for pattern in item.patterns:
            text = pattern.value
            if pattern.expands:
                raise Untranslatable(item.line, ctx.source(item.line),
                                     "a case pattern built from a variable",
                                     "case pattern built from a variable")
            if text == "*" and not pattern.quoted:
                matched |= remaining
                continue
            if any(ch in text for ch in "*?[") and pattern.quoted:
                raise Untranslatable(item.line, ctx.source(item.line),
                                     "a case pattern partly quoted around a wildcard",
                                     "case pattern partly quoted around a wildcard")
            if any(ch in text for ch in "*?["):
                matched |= {p for p in remaining if re.fullmatch(_glob(text), p)}
                continue
            matched |= {p for p in remaining if p == text}
        if [p.value for p in item.patterns] == ["*"] and _only_complains(item.body):
            out.dropped.append(Dropped(
                ctx.source(item.line), "error exit for arguments the script does not expect",
                ctx.origin(item.line)))
        if matched:
            if item.body:
                flow.update(walk(item.body, ctx.narrowed(matched), out))
            else:
                flow.update({p: "T" for p in matched})
        remaining -= matched
    flow.update({p: "T" for p in remaining})  # no pattern matched: status 0
    return {p: flow[p] for p in ctx.phases if p in flow}


_MD5 = re.compile(r"[0-9a-f]{32}")


def _digest_case(node: Case, digest: tuple[str, int], ctx: Ctx, out: Result) -> Flow:
    """A case on a file's md5 (`case "$md5" in HASH|HASH) rm /etc/hosts ;; esac`): each
    item's actions are taken only where the file has one of its hashes (`Only-If: md5
    FILE HASH...`), the default item's where it has none of the others."""
    path, count = digest
    seen: list[str] = []
    ends: dict[str, set[str]] = {}
    # the items exclude each other: what one does is not seen by the tests of the next
    # (each starts from what ran before the case; all of it counts after)
    before, made = list(ctx.effects), []
    for item in node.items:
        ctx.effects[:] = before
        texts = [word_value(p, ctx) for p in item.patterns]
        if texts == ["*"] and not item.patterns[0].quoted:
            test = f"! md5 {path} {' '.join(seen)}" if seen else ""
        elif all(_MD5.fullmatch(t) for t in texts):
            test = f"md5 {path} {' '.join(texts)}"
            seen += texts
        else:
            raise Untranslatable(item.line, ctx.source(item.line), "a case on a file's md5 "
                                 "with a pattern other than hashes", "case on a file's md5 "
                                 "with other patterns")
        if item.body:
            after = walk(item.body, replace(ctx, status={p: "T" for p in ctx.phases},
                                            straight=False, guarded=True, attach=True,
                                            conditions=(*ctx.conditions, (test, count))
                                            if test else ctx.conditions), out)
            for phase in ctx.phases:
                ends.setdefault(phase, set()).add(after.get(phase, "exited"))
            made += ctx.effects[len(before):]
        if not test:
            break
    ctx.effects[:] = before + made
    flow: Flow = {}
    for phase in ctx.phases:
        values = ends.get(phase, set()) | {"T"}  # (no item matched: status 0)
        if "exited" in values:
            raise Untranslatable(node.line, ctx.source(node.line), "an exit inside a case on "
                                 "a file's md5", "exit inside an if that tests the system")
        flow[phase] = values.pop() if len(values) == 1 else "U"
    return flow


def _constant_case(node: Case, subject: str, ctx: Ctx, out: Result) -> Flow:
    """A case on a value the engine knows: the first matching item runs, for every
    argument."""
    for item in node.items:
        for pattern in item.patterns:
            text = word_value(pattern, ctx)
            if not constant(text):
                raise Untranslatable(item.line, ctx.source(item.line),
                                     "a case pattern built from a variable",
                                     "case pattern built from a variable")
            if pattern.quoted and any(c in text for c in "*?["):
                raise Untranslatable(item.line, ctx.source(item.line),
                                     "a case pattern partly quoted around a wildcard",
                                     "case pattern partly quoted around a wildcard")
            if text == subject if pattern.quoted else fnmatch.fnmatchcase(subject, text):
                if not item.body:
                    return {p: "T" for p in ctx.phases}
                return walk(item.body, ctx, out)
    return {p: "T" for p in ctx.phases}  # no pattern matched: status 0


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


def _for(node: For, ctx: Ctx, out: Result) -> Flow:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", node.var):
        raise Untranslatable(node.line, ctx.source(node.line),
                             f"a loop variable that is not a name: {node.var!r}",
                             "loop variable that is not a name")
    triggers = _trigger_loop(node, ctx, out)
    if triggers is not None:
        return triggers
    values = []
    for word in node.words:
        value = word_value(word, ctx)
        if "$" in value or "`" in value or any(c in value for c in "*?["):
            prior = _upgrade_only_conffiles(node.body, ctx)
            if prior:
                out.dropped.append(Dropped(ctx.source(node.line), "dpkg-maintscript-helper "
                                           "over computed conffiles: it acts only on systems "
                                           f"upgraded from version {prior} or older: images "
                                           "are installed fresh", ctx.origin(node.line)))
                return {p: ctx.status.get(p, "U") for p in ctx.phases}
            raise Untranslatable(node.line, ctx.source(node.line), "a loop over computed values",
                                 "loop over computed values")
        try:
            expanded = braces(word, value, ctx)  # bash: `for f in a.{conf,local}`
        except ValueError as exc:
            raise Untranslatable(node.line, ctx.source(node.line), str(exc),
                                 idiom_of(exc, Idiom("bash brace expansion"))) from exc
        if len(expanded) > 1:
            values += expanded
        elif word.expands and not word.quoted:  # `for x in $list`: split into fields
            values += value.split()
        else:
            values.append(value)
    if not node.words:
        raise Untranslatable(node.line, ctx.source(node.line), "a loop over the arguments",
                             "loop over the arguments")
    ctx.vars.pop(node.var, None)  # after the loop it holds the last value: not followed
    flow: Flow = {p: ctx.status.get(p, "U") for p in ctx.phases}
    for value in values:
        if not flow:
            break
        flow = walk(node.body, replace(ctx.narrowed(set(flow)), status=flow,
                                       subst={**ctx.subst, node.var: value}), out)
    return flow


def _command(cmd: Command, ctx: Ctx, out: Result) -> Flow:
    """Translate one simple command; return the arguments for which the script goes on."""
    if cmd.words and cmd.words[0].value == "return":
        return do_return(cmd, ctx, out)
    if cmd.name in ctx.defs and not cmd.words[0].quoted:
        return call(cmd, ctx, out, walk)
    if not quiet(cmd) and writes_file(cmd, ctx, out):
        return {p: "T" for p in ctx.phases}
    if cmd.words and cmd.words[0].value == "exit":
        if not quiet(cmd):
            raise Untranslatable(cmd.line, ctx.source(cmd.line), "output redirected to a file",
                                 Idiom("output redirected to a file by", "exit"))
        exit_command(cmd, ctx, out)
        return {}
    translate_command(cmd, ctx, out)
    return {p: "T" for p in ctx.phases}


