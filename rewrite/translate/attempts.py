"""A change tried as the last test of an if: `if [ ! -L D ] && [ -d D ] && rmdir D
2>/dev/null; then ln -s T D; fi` (tasksel-data's postinst: an empty directory replaced
by a link). The branch runs where the change was made. With the tests before it, that is
a test of the path after the attempt, so the if is read as

    if [ ! -L D ] && [ -d D ]; then rmdir D 2>/dev/null || true
        if [ ! -e D ]; then ln -s T D; fi; fi

which the rest of the engine translates: where D was a directory (and not a link),
rmdir succeeds exactly where D is gone afterwards. Only that form is read so: the earlier
tests must establish that D is a directory and not a link, else rmdir's failure (D
missing) and its success look alike afterwards, and remove-path would remove a link."""

from __future__ import annotations

from rewrite.shell import AndOr, Command, If, Node, Pipeline, Word

_QUIET = ("2>/dev/null", "2> /dev/null", ">/dev/null 2>&1", "> /dev/null 2>&1")


def attempted_change(node: If) -> list[Node] | None:
    """The if read as the tests, the change and a test of its result; None where it is
    not that form."""
    if len(node.branches) != 1 or node.orelse is not None:
        return None
    (cond, body), = node.branches
    if len(cond) != 1:
        return None
    chain = cond[0]
    if not chain.rest or any(op != "&&" for op, _ in chain.rest):
        return None
    last = chain.rest[-1][1]
    change = _rmdir(last)
    if change is None:
        return None
    target = change.words[1]
    tests = [chain.first, *(p for _, p in chain.rest[:-1])]
    if not (_tests(tests, "-d", target, negated=False) and (
            _tests(tests, "-L", target, negated=True)
            or _tests(tests, "-h", target, negated=True))):
        return None
    line = last.line
    attempt = AndOr(first=Pipeline(commands=[change], negated=False, line=line),
                    rest=[("||", Pipeline(commands=[Command(words=[_word("true")],
                                                            redirects=[], line=line)],
                                          negated=False, line=line))], line=line)
    gone = Command(words=[_word("["), _word("!"), _word("-e"), target, _word("]")],
                   redirects=[], line=line)
    inner = If(branches=[([AndOr(first=Pipeline(commands=[gone], negated=False, line=line),
                                 rest=[], line=line)], body)],
               orelse=None, line=node.line, end=node.end)
    prefix = AndOr(first=chain.first, rest=chain.rest[:-1], line=chain.line)
    return [If(branches=[([prefix], [attempt, inner])], orelse=None, line=node.line,
               end=node.end)]


def _word(text: str) -> Word:
    return Word(raw=text, value=text, expands=False, quoted=False)


def _rmdir(pipe: Pipeline) -> Command | None:
    """`rmdir PATH` (its errors silenced or not) as the pipeline, or None."""
    if pipe.negated or len(pipe.commands) != 1 or not isinstance(pipe.commands[0], Command):
        return None
    cmd = pipe.commands[0]
    if [w.value for w in cmd.words[:1]] != ["rmdir"] or len(cmd.words) != 2 or \
            cmd.words[1].value.startswith("-") or cmd.heredoc is not None or \
            not all(r.replace(" ", "") in {q.replace(" ", "") for q in _QUIET}
                    for r in cmd.redirects):
        return None
    return cmd


def _tests(pipes: list[Pipeline], test: str, target: Word, *, negated: bool) -> bool:
    """Whether one of the pipelines is `[ [!] TEST PATH ]` or `test [!] TEST PATH` of the
    same word as `target` (as written)."""
    for pipe in pipes:
        if len(pipe.commands) != 1 or not isinstance(pipe.commands[0], Command):
            continue
        words = [w.raw for w in pipe.commands[0].words]
        if words[:1] == ["["] and words[-1:] == ["]"]:
            words = words[1:-1]
        elif words[:1] == ["test"]:
            words = words[1:]
        else:
            continue
        bang = pipe.negated
        if words[:1] == ["!"]:
            bang, words = not bang, words[1:]
        if bang == negated and words == [test, target.raw]:
            return True
    return False
