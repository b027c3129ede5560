"""The paths a test is about: what a condition finds missing (so that a write behind it
creates a file) and what it tests (so that an owner or mode change behind it is known
to be guarded by a test of that path, not of the system)."""

from __future__ import annotations

import re
from dataclasses import replace

from rewrite.shell import AndOr, Command, Group, If, Node, Pipeline
from rewrite.translate.conditions import (
    KERNEL_PATHS,
    constant,
    digest_test,
    diversion_test,
    same_files,
    test_condition,
)
from rewrite.translate.contents import grep_test, size_test
from rewrite.translate.context import Ctx, plain_path, quiet, word_value
from rewrite.translate.exits import unwrap
from rewrite.translate.overrides import override_test

_EXISTS = ("-e", "-f", "-d", "-h", "-L")


def _test_words(pipe: Pipeline, ctx: Ctx) -> tuple[bool, list[str]]:
    """Whether `pipe`, a `[ ... ]` or `test ...` command, is negated (`!` before it or
    as its first word), and its operands ([] for anything else)."""
    if len(pipe.commands) != 1 or not isinstance(pipe.commands[0], Command):
        return False, []
    argv = [word_value(w, ctx) for w in pipe.commands[0].words]
    if argv[:1] == ["["] and argv[-1:] == ["]"]:
        argv = argv[1:-1]
    elif argv[:1] == ["test"]:
        argv = argv[1:]
    else:
        return False, []
    negated = pipe.negated
    if argv[:1] == ["!"]:
        negated, argv = not negated, argv[1:]
    return negated, argv


def missing_after(pipe: Pipeline, ctx: Ctx, op: str) -> frozenset[str]:
    """The path a test pipeline finds missing for what runs after it with `op`
    (`[ -e P ] || ...`, `[ ! -e P ] && ...`)."""
    negated, argv = _test_words(pipe, ctx)
    node = node_path(argv[1], ctx) if len(argv) == 2 else None
    if node is not None and argv[0] in _EXISTS:  # `[ -d "$dir" ]`, dir=/x/$(uname -n)
        argv = [argv[0], node]
    elif len(argv) != 2 or argv[0] not in _EXISTS or not constant(argv[1]):
        return frozenset()
    # missing where the test fails (||) or where its negation holds (&&)
    return frozenset({argv[1]}) if (op == "||") != negated else frozenset()


def tested(nodes: list[AndOr] | list[Pipeline], ctx: Ctx) -> frozenset[str]:
    """The paths a condition is about: those of its existence tests (`[ -e P ]`,
    `[ ! -f P ]` ...) and of `dpkg-statoverride --list P` (an owner or mode change of
    such a path is what the test guards)."""
    pipes: list[Pipeline] = []
    for node in nodes:
        if isinstance(node, AndOr):
            pipes += [node.first, *(pipe for _, pipe in node.rest)]
        else:
            pipes.append(node)
    found: set[str] = set()
    for pipe in pipes:
        found |= missing_after(pipe, ctx, "||") | missing_after(pipe, ctx, "&&")
        if len(pipe.commands) == 1 and isinstance(pipe.commands[0], Command):
            argv = [word_value(w, ctx) for w in pipe.commands[0].words]
            if argv[:2] == ["dpkg-statoverride", "--list"] and len(argv) == 3:
                found.add(argv[2])
            compared = same_files(argv)
            if compared is not None and not pipe.negated:  # (both exist where it holds)
                found.update(compared.split())
    return frozenset(p for p in found if constant(p))


def missing_where_true(cond_nodes: list[AndOr], ctx: Ctx) -> frozenset[str]:
    """The paths an if's condition finds missing where its branch runs (every test of an
    `&&` list holds there)."""
    if len(cond_nodes) != 1 or any(op != "&&" for op, _ in cond_nodes[0].rest):
        return frozenset()
    found: frozenset[str] = frozenset()
    for pipe in (cond_nodes[0].first, *(pipe for _, pipe in cond_nodes[0].rest)):
        found |= missing_after(pipe, ctx, "&&")
    return found


_FILE_TESTS = {"-e": "-e", "-f": "-f", "-d": "-d", "-L": "-L", "-h": "-L", "-x": "-x",
               "-s": "-s"}


def file_test(pipe: Pipeline, ctx: Ctx, holds: bool) -> str | None:
    """The `Only-If` test ("-f /etc/x", "! -e /etc/y") that says where `pipe`, a test of
    one constant path, succeeds (`holds`) or fails; None for any other pipeline."""
    compared = _compared(pipe, ctx)
    if compared is not None:  # `cmp -s A B`: `same A B` where it holds
        return compared if holds != pipe.negated else negate(compared)
    negated, argv = _test_words(pipe, ctx)
    test = _path_test(argv, holds == negated)
    if test is None:
        try:
            diversion = diversion_test(argv, ctx)
        except ValueError:
            return None
        if diversion is not None and holds == negated:  # where it fails
            return negate(diversion)
        return diversion
    return test


def holding_tests(cond_nodes: list[AndOr], ctx: Ctx) -> list[str] | None:
    """The `Only-If` tests that hold where an if's condition does, when it is an `&&` chain
    (or `-a` operands) of tests of paths and of known values (`[ "$1" = purge ] && !
    [ -e /etc/x ]`, `[ "$1" = remove -a -L /usr/bin/touch ]`): the path tests, the others
    left out (the branch runs only where they hold); None if another test of the system
    is among them."""
    if len(cond_nodes) != 1 or any(op != "&&" for op, _ in cond_nodes[0].rest):
        return None
    tests: list[str] = []
    for pipe in (cond_nodes[0].first, *(pipe for _, pipe in cond_nodes[0].rest)):
        compared = _compared(pipe, ctx)
        if compared is not None:
            tests.append(negate(compared) if pipe.negated else compared)
            continue
        negated, argv = _test_words(pipe, ctx)
        if not argv:
            return None
        parts: list[list[str]] = [[]]
        for word in argv:
            if word == "-a":
                parts.append([])
            else:
                parts[-1].append(word)
        if negated and len(parts) > 1 or "-o" in argv:
            return None  # ! (a -a b): not a conjunction
        for part in parts:
            if len(part) == 3 and part[0] == "!":  # `[ ! -e P -a ... ]`
                part_negated, part = not negated, part[1:]
            else:
                part_negated = negated
            test = _path_test(part, part_negated) or _digest_part(part, part_negated, ctx)
            if test is not None:
                tests.append(test)
                continue
            try:
                if test_condition(part, ctx).system:
                    return None
            except ValueError:
                return None
    return tests


def _compared(pipe: Pipeline, ctx: Ctx, depth: int = 0) -> str | None:
    """The `Only-If` test of a pipeline that compares or searches files: `same A B` of
    `cmp -s A B`, `grep F PATTERN` of `grep -q PATTERN F`, `statoverride P [TEXT]` of
    `dpkg-statoverride --list P [| grep -q TEXT]`; None for anything else."""
    override = override_test(pipe, ctx)
    if override is not None:
        return override
    if len(pipe.commands) != 1 or not isinstance(pipe.commands[0], Command):
        return None
    cmd = pipe.commands[0]
    predicate = _predicate(cmd, ctx, depth)
    if predicate is not None:
        return predicate
    argv = [word_value(w, ctx) for w in cmd.words]
    if argv[:1] == ["mountpoint"] and (argv[1:2] == ["-q"] and len(argv) == 3 or
                                       len(argv) == 2 and quiet(cmd)) and \
            plain_path(argv[-1]) and not argv[-1].startswith(KERNEL_PATHS):
        return f"mountpoint {argv[-1]}"
    compared = same_files(argv)
    return f"same {compared}" if compared is not None else grep_test(argv, quiet(cmd))


def node_path(value: str, ctx: Ctx) -> str | None:
    """`DIR/$(uname -n)` for a reference to a variable holding a path named after the
    node (`$dir`, `${dir}`), None for anything else."""
    match = re.fullmatch(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", value)
    if match is None or match.group(1) not in ctx.nodes:
        return None
    return f"{ctx.nodes[match.group(1)].rstrip('/')}/$(uname -n)"


def negate(test: str) -> str:
    """The `Only-If` test that holds where `test` does not."""
    return test[2:] if test.startswith("! ") else f"! {test}"


_PREDICATE_DEPTH = 8


def _predicate(cmd: Command, ctx: Ctx, depth: int) -> str | None:
    """The `Only-If` test a call of a function of the script stands for, where its body is
    one test of the system and its status (`is_mountpoint() { if mountpoint -q "$1"; then
    return 0; fi; return 1; }`, its negation with `return 1` first, or the test alone),
    with the call's arguments as its positional parameters; None otherwise."""
    name = cmd.words[0].value if cmd.words and not cmd.words[0].quoted else ""
    if name not in ctx.defs or depth >= _PREDICATE_DEPTH or cmd.redirects and not quiet(cmd):
        return None
    args = [word_value(w, ctx) for w in cmd.words[1:]]
    if any("$" in a or "`" in a for a in args):
        return None
    body = ctx.defs[name].body
    nodes = body.body if isinstance(body, Group) and not body.subshell else [body]
    inner = replace(ctx, positional=args)
    first = unwrap(nodes[0]) if nodes else None
    if len(nodes) == 1:
        test_of = nodes[0]
        negated = False
    elif len(nodes) == 2 and isinstance(first, If) and len(first.branches) == 1 and \
            first.orelse is None and len(first.branches[0][0]) == 1 and \
            len(first.branches[0][1]) == 1:
        inside = _returned(first.branches[0][1][0])
        last = _returned(nodes[1])
        if {inside, last} != {0, 1}:
            return None
        test_of = first.branches[0][0][0]
        negated = inside == 1
    else:
        return None
    if not isinstance(test_of, AndOr) or test_of.rest:
        return None
    test = _compared(test_of.first, inner, depth + 1)
    if test is not None:
        test = negate(test) if test_of.first.negated else test
    else:
        test = file_test(test_of.first, inner, True)
    if test is None:
        return None
    return negate(test) if negated else test


def _returned(node: Node) -> int | None:
    """N of a statement `return N`."""
    if isinstance(node, AndOr) and not node.rest and len(node.first.commands) == 1 and \
            not node.first.negated:
        cmd = node.first.commands[0]
        if isinstance(cmd, Command) and cmd.name == "return" and len(cmd.words) == 2 and \
                cmd.words[1].value in ("0", "1"):
            return int(cmd.words[1].value)
    return None


def _digest_part(argv: list[str], negated: bool, ctx: Ctx) -> str | None:
    """`"$md5" = "$old_md5"` (`!=`): its `Only-If` test (`dpkg-md5 F PKG`, `md5 F HASH`)."""
    try:
        diversion = diversion_test(argv, ctx)
    except ValueError:
        return None
    if diversion is not None:  # `"$diverter" = dash`: `diverted /bin/sh dash`
        return negate(diversion) \
            if negated else diversion
    if len(argv) != 3 or argv[1] not in ("=", "==", "!="):
        return None
    try:
        test = digest_test(argv[0], argv[2], ctx)
    except ValueError:
        return None
    if test is None:
        return None
    return f"! {test}" if negated != (argv[1] == "!=") else test


def _path_test(argv: list[str], negated: bool) -> str | None:
    size = size_test(argv)
    if size is not None:  # `[ $(wc -c < F) -eq N ]`
        return negate(size) if negated else size
    if len(argv) != 2 or argv[0] not in _FILE_TESTS or not constant(argv[1]) or \
            not argv[1].startswith("/") or any(c in argv[1] for c in "*?[,") or \
            ".." in argv[1].split("/") or argv[1].startswith(KERNEL_PATHS):
        return None  # (/proc and /sys are the running kernel's, not the image's)
    test = f"{_FILE_TESTS[argv[0]]} {argv[1]}"
    return f"! {test}" if negated else test
