"""File capabilities in maintainer scripts, understood as units (set-capability):

- Debian's setuid fallback (iputils-ping's postinst):
  `if command -v setcap >/dev/null; then if setcap CAPS F; then chmod u-s F; else
  [messages] chmod u+s F; fi; else [messages] chmod u+s F; fi`;
- the removal of capabilities a former debconf answer set (iproute2's postinst):
  `if getcap F | grep -qs PATTERN; then if ! setcap -r F; then [messages] fi; fi`.

Only those shapes: anything else in them and the walk goes on as for any statement (a
setcap there is refused). `$(dpkg-divert --truename F)` is F (context.word_value):
where no package diverts F, as in the images bootstrap makes of the surveyed classes."""

from __future__ import annotations

from recipes.actions import SetCapability
from rewrite.shell import AndOr, Command, If, Node, Pipeline
from rewrite.translate.commands import MESSAGE_TOOLS, fields
from rewrite.translate.context import Ctx, quiet


def capability_unit(node: If, ctx: Ctx) -> SetCapability | None:
    """The action of one of the two shapes, or None."""
    if len(node.branches) != 1:
        return None
    (cond, body), orelse = node.branches[0], node.orelse
    test = _command(cond)
    if test is not None and orelse is not None and _argv(test, ctx)[:3] in (
            ["command", "-v", "setcap"], ["which", "setcap"]):
        return _fallback(body, orelse, ctx)
    pipe = _pipeline(cond)
    if orelse is None and pipe is not None and len(pipe.commands) == 2:
        return _removal(pipe, body, ctx)
    return None


def _fallback(body: list[Node], orelse: list[Node], ctx: Ctx) -> SetCapability | None:
    inner = _if(body)
    if inner is None or len(inner.branches) != 1 or inner.orelse is None:
        return None
    setcap = _command(inner.branches[0][0])
    argv = _argv(setcap, ctx) if setcap is not None else []
    if len(argv) != 3 or argv[0] != "setcap" or not _constant(argv[2]):
        return None
    path = argv[2]
    if _chmods(inner.branches[0][1], ctx) != [["chmod", "u-s", path]] or \
            _chmods(inner.orelse, ctx) != [["chmod", "u+s", path]] or \
            _chmods(orelse, ctx) != [["chmod", "u+s", path]]:
        return None
    try:
        return SetCapability(script=ctx.script, on=ctx.phases, path=path,
                             capabilities=argv[1], setuid_fallback=True)
    except ValueError:
        return None


def _removal(pipe: Pipeline, body: list[Node], ctx: Ctx) -> SetCapability | None:
    getcap, grep = (c if isinstance(c, Command) else None for c in pipe.commands)
    if getcap is None or grep is None or pipe.negated:
        return None
    read = _argv(getcap, ctx)
    if len(read) != 2 or read[0] != "getcap" or not _constant(read[1]):
        return None
    path = read[1]
    query = _argv(grep, ctx)
    if query[:1] != ["grep"] or any(c in a for a in query for c in "$`") or \
            not any(a.startswith("-") and "q" in a for a in query[1:]):
        return None
    inner = _if(body)
    if inner is None or len(inner.branches) != 1 or inner.orelse is not None:
        return None
    inner_pipe = _pipeline(inner.branches[0][0])
    setcap = _command(inner.branches[0][0])
    if inner_pipe is None or not inner_pipe.negated or setcap is None or \
            _argv(setcap, ctx) != ["setcap", "-r", path] or \
            _chmods(inner.branches[0][1], ctx) != []:
        return None
    return SetCapability(script=ctx.script, on=ctx.phases, path=path, remove=True)


def _chmods(nodes: list[Node], ctx: Ctx) -> list[list[str]] | None:
    """The commands of a list of messages and chmods (None if there is anything else)."""
    found: list[list[str]] = []
    for node in nodes:
        cmd = _command([node]) if isinstance(node, AndOr) else None
        if cmd is None or not quiet(cmd):
            return None
        argv = _argv(cmd, ctx)
        if argv[:1] == ["chmod"]:
            found.append(argv)
        elif argv[:1] and argv[0] not in MESSAGE_TOOLS:
            return None
    return found


def _pipeline(nodes: list[AndOr]) -> Pipeline | None:
    if len(nodes) != 1 or nodes[0].rest:
        return None
    return nodes[0].first


def _command(nodes: list[AndOr] | list[Node]) -> Command | None:
    """The one simple command of a condition or list (`!` allowed), or None."""
    if len(nodes) != 1 or not isinstance(nodes[0], AndOr) or nodes[0].rest:
        return None
    commands = nodes[0].first.commands
    return commands[0] if len(commands) == 1 and isinstance(commands[0], Command) else None


def _if(nodes: list[Node]) -> If | None:
    if len(nodes) != 1 or not isinstance(nodes[0], AndOr) or nodes[0].rest:
        return None
    commands = nodes[0].first.commands
    if len(commands) != 1 or nodes[0].first.negated or not isinstance(commands[0], If):
        return None
    return commands[0]


def _argv(cmd: Command, ctx: Ctx) -> list[str]:
    try:
        return fields(cmd, ctx)
    except ValueError:
        return []


def _constant(value: str) -> bool:
    return value.startswith("/") and not any(c in value for c in "$`*?[")
