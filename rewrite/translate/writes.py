"""Files written by the shell itself: `echo TEXT > F`, `cat > F <<EOF`, `: > F` where a
test found F missing, as one create-file action (with the lines appended after it)."""

from __future__ import annotations

import re

from recipes.actions import Action, CreateFile, SetOwner
from recipes.actions.modes import is_symbolic
from rewrite.shell import Command, ShellSyntaxError, word_of
from rewrite.translate.conditions import constant
from rewrite.translate.context import Ctx, Result, word_value

_WRITE = re.compile(r"1?(>>|>)(.+)", re.S)


def writes_file(cmd: Command, ctx: Ctx, out: Result) -> bool:
    """`echo TEXT > F`, `cat > F <<EOF` or `: > F` where a test found F missing, and the lines
    appended after it (`echo MORE >> F`) while nothing else runs: one create-file
    action. False when the command is not such a write (the caller refuses it)."""
    match = _WRITE.fullmatch(cmd.redirects[0]) if len(cmd.redirects) == 1 else None
    if match is None or cmd.name not in ("echo", "cat", ":", "true"):
        return False
    try:
        path = word_value(word_of(match.group(2)), ctx)
    except ShellSyntaxError:
        return False
    lines = written_lines(cmd, ctx)
    if lines is None or not constant(path) or not path.startswith("/"):
        return False
    if match.group(1) == ">":
        if not ctx.missing(path):
            return False
        out.actions.append(CreateFile(script=ctx.script, on=ctx.phases, path=path,
                                      content=tuple(lines), origin=ctx.origin(cmd.line)))
        ctx.ran(frozenset({path}))  # (its parents exist: the write did not fail)
        ctx.writing[path] = (len(out.actions) - 1, len(ctx.effects))
        return True
    index, count = ctx.writing.get(path, (-1, -1))
    if count != len(ctx.effects) or not isinstance(out.actions[index], CreateFile):
        return False
    action = out.actions[index]
    assert isinstance(action, CreateFile)
    if action.on != ctx.phases:
        return False  # appended for other arguments than it was created for
    out.actions[index] = action.model_copy(update={"content": (*action.content, *lines)})
    return True


def written_lines(cmd: Command, ctx: Ctx) -> list[str] | None:
    """The lines an echo (no option, no backslash, no unquoted pattern) or a cat of a
    here-document (no expansion, no backslash) writes; None for anything else."""
    if cmd.name in (":", "true"):
        return [] if len(cmd.words) == 1 else None  # `: > F`: an empty file
    if cmd.name == "cat":
        if len(cmd.words) != 1 or cmd.heredoc is None or any(
                c in cmd.heredoc for c in "$`\\"):
            return None
        return cmd.heredoc.split("\n") if cmd.heredoc else []
    words = cmd.words[1:]
    values = [word_value(w, ctx) for w in words]
    if values[:1] and values[0].startswith("-") or any(
            not constant(v) or "\\" in v or "\n" in v or (not w.quoted and any(
                c in v for c in "*?[")) for w, v in zip(words, values, strict=True)):
        return None
    return [" ".join(values)]


def fold_owner(actions: list[Action], ctx: Ctx, out: Result) -> bool:
    """`chmod 644 F` / `chown U:G F` right after the write that created F (nothing else
    run since, the same script arguments): the mode and owner of the create-file action,
    set only on the file it creates, as the original set them only on the file its
    write had just made. False when the actions are not such a change."""
    if not actions or not all(isinstance(a, SetOwner) and not is_symbolic(a.mode)
                              for a in actions):
        return False  # (a symbolic mode changes the file's: not one to create it with)
    updates: list[tuple[int, dict[str, str]]] = []
    for action in actions:
        assert isinstance(action, SetOwner)
        index, count = ctx.writing.get(action.path, (-1, -1))
        created = out.actions[index] if index >= 0 else None
        if count != len(ctx.effects) or not isinstance(created, CreateFile) or \
                created.on != ctx.phases or not any(path == action.path
                                                    for path, _ in ctx.absent):
            return False  # (outside the test's block, the change is made in every case)
        update = {k: v for k, v in (("mode", action.mode), ("owner", action.owner),
                                    ("group", action.group)) if v}
        updates.append((index, update))
    for index, update in updates:
        out.actions[index] = out.actions[index].model_copy(update=update)
    return True
