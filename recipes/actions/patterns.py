"""The basic regular expressions (POSIX BRE, as grep reads them) that an `Only-If` test
`grep PATH PATTERN` may hold, and their Python equivalent.

Only a subset is accepted, the one maintainer scripts test configuration files with
(`^[^#]`, `^foo *=`, `sendmail`): ordinary characters, `.`, `*` after an atom, `^` first,
`$` last, bracket expressions (`[...]`, `[^...]`, ranges, `[:space:]`-style classes) and
backslash-escaped special characters. Anything else (groups, intervals, back-references,
GNU's `\\+`, `\\?`, `\\|`, `\\w`) is refused rather than read differently from grep; so are
patterns with a blank or a comma (an `Only-If` list is split at them)."""

from __future__ import annotations

import re

from base.charclass import POSIX_CLASSES

_SPECIAL = set(".[]\\*^$/")
MAX_PATTERN = 256


def bre_to_python(pattern: str) -> str:
    """The Python regular expression of a BRE of the subset (ValueError outside it)."""
    anchored, items, ended = _parse(pattern)
    return ("^" if anchored else "") + "".join(
        atom + ("*" if starred else "") for atom, starred in items) + ("$" if ended else "")


def _parse(pattern: str) -> tuple[bool, list[tuple[str, bool]], bool]:
    """(anchored at the start, the items: a one-character Python class and whether a `*`
    repeats it, anchored at the end) of a BRE of the subset; ValueError outside it."""
    if not pattern or not pattern.isprintable() or not pattern.isascii() or \
            " " in pattern or "," in pattern:
        raise ValueError(f"pattern {pattern!r}: empty, not ASCII, or with a blank, a comma "
                         "or a control character")
    if len(pattern) > MAX_PATTERN:
        raise ValueError(f"pattern {pattern[:40]!r}...: longer than {MAX_PATTERN} characters")
    items: list[tuple[str, bool]] = []
    anchored = ended = False
    index = 0
    atom = False  # the last item can take a `*`
    while index < len(pattern):
        char = pattern[index]
        if char == "^" and index == 0:
            anchored = True
        elif char == "$" and index == len(pattern) - 1:
            ended = True
        elif char == "*":
            if atom:
                items[-1] = (items[-1][0], True)
                atom = False
            elif not items or not items[-1][1]:  # first, or after ^: a literal star
                items.append(("\\*", False))
                atom = True
            # (else `a**` is `a*`)
        elif char == ".":
            items.append((".", False))
            atom = True
        elif char == "[":
            index, bracket = _bracket(pattern, index)
            items.append((bracket, False))
            atom = True
            continue
        elif char == "\\":
            if index + 1 >= len(pattern) or pattern[index + 1] not in _SPECIAL:
                raise ValueError(f"pattern {pattern!r}: {pattern[index:index + 2]!r} is not "
                                 "in the subset the engine reads")
            items.append((re.escape(pattern[index + 1]), False))
            index += 2
            atom = True
            continue
        else:
            items.append((re.escape(char), False))
            atom = True
        index += 1
    for item, _ in items:
        try:
            re.compile(item)
        except re.error as exc:  # (a range backwards: grep refuses it too)
            raise ValueError(f"pattern {pattern!r}: {exc}") from None
    return anchored, items, ended


def _bracket(pattern: str, start: int) -> tuple[int, str]:
    """(the index after it, the Python class) of the bracket expression at `start`."""
    index = start + 1
    negated = index < len(pattern) and pattern[index] == "^"
    if negated:
        index += 1
    parts: list[str] = []
    first = True
    while index < len(pattern):
        char = pattern[index]
        if char == "]" and not first:
            body = "".join(parts)
            return index + 1, f"[{'^' if negated else ''}{body}]"
        if pattern.startswith("[:", index):
            end = pattern.find(":]", index + 2)
            name = pattern[index + 2:end] if end != -1 else ""
            if name not in POSIX_CLASSES:
                raise ValueError(f"pattern {pattern!r}: class [:{name}:] is not read")
            parts.append(POSIX_CLASSES[name])
            index = end + 2
        elif pattern.startswith(("[.", "[="), index):
            raise ValueError(f"pattern {pattern!r}: collating elements are not read")
        elif char == "-" and parts and index + 1 < len(pattern) and pattern[index + 1] != "]":
            parts.append("-")
            index += 1
        else:
            parts.append("\\" + char if char in "\\^]-[&~|" else char)
            index += 1
        first = False
    raise ValueError(f"pattern {pattern!r}: a bracket expression that does not end")


def matches(pattern: str, text: str) -> bool:
    """Whether a line of `text` matches the BRE `pattern` (grep -q), in time linear in
    the text (the items run as a set of states: no backtracking)."""
    anchored, items, ended = _parse(pattern)
    classes = [re.compile(item, re.S) for item, _ in items]
    lines = text.split("\n")
    if lines[-1] == "":  # (the newline ending the last line starts no other)
        lines.pop()
    return any(_line_matches(classes, [s for _, s in items], anchored, ended, line)
               for line in lines)


def _line_matches(classes: list[re.Pattern[str]], starred: list[bool], anchored: bool,
                  ended: bool, line: str) -> bool:
    final = len(classes)

    def closure(states: set[int]) -> set[int]:
        out = set(states)
        for state in sorted(states):
            while state < final and starred[state]:  # a starred item may match nothing
                state += 1
                out.add(state)
        return out

    states = closure({0})
    for char in line:
        if final in states and not ended:
            return True
        moved = {state if starred[state] else state + 1 for state in states
                 if state < final and classes[state].fullmatch(char)}
        states = closure(moved | (set() if anchored else {0}))
    return final in states
