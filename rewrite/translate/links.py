"""Dangling symbolic links removed by a loop over what find lists (ca-certificates'
postrm): `find DIR -type l [-print] | while read [-r] L; do test -f "$L" || rm -f "$L";
done` (or `[ -f "$L" ] ||`, `if [ ! -f "$L" ]; then rm -f "$L"; fi`). That is the
prune-links action: every link under DIR (at any depth, none followed) that leads to no
regular file is removed. Only the `-f` test is this action: `-e` keeps a link to a
directory, which prune-links removes."""

from __future__ import annotations

import re

from recipes.actions import PruneLinks
from rewrite.shell import AndOr, Command, If, Loop, Node, Pipeline
from rewrite.translate.conditions import constant
from rewrite.translate.context import Ctx, word_value

_RM = (["rm", "-f"], ["rm", "-f", "--"], ["/bin/rm", "-f"])


def dangling_links(pipe: Pipeline, ctx: Ctx) -> PruneLinks | None:
    """The prune-links action of the pipeline, or None where it is another one."""
    if len(pipe.commands) != 2 or pipe.negated:
        return None
    find, loop = pipe.commands
    if not isinstance(find, Command) or find.redirects or not isinstance(loop, Loop) or \
            loop.until:
        return None
    argv = [word_value(w, ctx) for w in find.words]
    if argv[0] != "find" or len(argv) < 4 or argv[2:] not in (["-type", "l"],
                                                               ["-type", "l", "-print"]):
        return None
    directory = argv[1]
    if not constant(directory) or not directory.startswith("/") or \
            ".." in directory.split("/"):
        return None
    var = _read_variable(loop.cond)
    if var is None or len(loop.body) != 1 or not _removes_unless_file(loop.body[0], var):
        return None
    return PruneLinks(script=ctx.script, on=ctx.phases, path=directory.rstrip("/") or "/")


def _read_variable(cond: list[Node]) -> str | None:
    """V of a loop condition `read V` / `read -r V` / `IFS= read -r V`."""
    if len(cond) != 1 or not isinstance(cond[0], AndOr) or cond[0].rest:
        return None
    pipe = cond[0].first
    if len(pipe.commands) != 1 or pipe.negated or not isinstance(pipe.commands[0], Command):
        return None
    words = [w.raw for w in pipe.commands[0].words]
    if words[:1] == ["IFS="]:
        words = words[1:]
    if words[:1] != ["read"] or pipe.commands[0].redirects:
        return None
    rest = words[1:]
    if rest[:1] == ["-r"]:
        rest = rest[1:]
    if len(rest) == 1 and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", rest[0]):
        return rest[0]
    return None


def _references(raw: str, var: str) -> bool:
    return raw in (f'"${var}"', f'"${{{var}}}"')


def _simple(node: Node | Pipeline) -> list[str] | None:
    """The raw words of one simple command with no redirection, or None."""
    pipe = node
    if isinstance(node, AndOr):
        if node.rest:
            return None
        pipe = node.first
    if not isinstance(pipe, Pipeline) or pipe.negated or len(pipe.commands) != 1:
        return None
    cmd = pipe.commands[0]
    if not isinstance(cmd, Command) or cmd.redirects:
        return None
    return [w.raw for w in cmd.words]


def _file_test(words: list[str] | None, var: str, *, negated: bool) -> bool:
    """`test -f "$V"` / `[ -f "$V" ]` (with `!` first where `negated`)."""
    if words is None:
        return False
    if words[:1] == ["["] and words[-1:] == ["]"]:
        words = ["test", *words[1:-1]]
    if words[:1] != ["test"]:
        return False
    rest = words[1:]
    if negated:
        if rest[:1] != ["!"]:
            return False
        rest = rest[1:]
    return len(rest) == 2 and rest[0] == "-f" and _references(rest[1], var)


def _removal(words: list[str] | None, var: str) -> bool:
    return words is not None and len(words) >= 3 and words[:-1] in _RM and \
        _references(words[-1], var)


def _removes_unless_file(node: Node, var: str) -> bool:
    if isinstance(node, AndOr) and not node.rest and not node.first.negated and \
            len(node.first.commands) == 1 and isinstance(node.first.commands[0], If):
        node = node.first.commands[0]
    if isinstance(node, AndOr) and len(node.rest) == 1 and node.rest[0][0] == "||":
        return _file_test(_simple(node.first), var, negated=False) and \
            _removal(_simple(node.rest[0][1]), var)
    if isinstance(node, If) and len(node.branches) == 1 and not node.orelse:
        (cond, body), = node.branches
        return len(cond) == 1 and _file_test(_simple(cond[0]), var, negated=True) and \
            len(body) == 1 and _removal(_simple(body[0]), var)
    return False
