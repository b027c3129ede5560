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

_SPECIAL = set(".[]\\*^$/")
MAX_PATTERN = 256
MAX_STARS = 6
_CLASSES = {"alpha": "a-zA-Z", "digit": "0-9", "alnum": "a-zA-Z0-9", "upper": "A-Z",
            "lower": "a-z", "space": " \\t\\n\\r\\f\\v", "blank": " \\t",
            "punct": re.escape("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
            "xdigit": "0-9A-Fa-f"}


def bre_to_python(pattern: str) -> str:
    """The Python regular expression of a BRE of the subset (ValueError outside it)."""
    if not pattern or not pattern.isprintable() or " " in pattern or "," in pattern:
        raise ValueError(f"pattern {pattern!r}: empty, or with a blank, a comma or a "
                         "control character")
    if len(pattern) > MAX_PATTERN or pattern.count("*") > MAX_STARS:
        # (Python's matcher backtracks: many stars make a line take exponential time)
        raise ValueError(f"pattern {pattern[:40]!r}...: longer than {MAX_PATTERN} "
                         f"characters or with more than {MAX_STARS} stars")
    out: list[str] = []
    index = 0
    atom = False  # the last item can take a `*`
    quantified = False  # the last item was a `*` after an atom
    while index < len(pattern):
        char = pattern[index]
        quantified = quantified and char == "*"
        if char == "^" and index == 0:
            out.append("^")
            atom = False
        elif char == "$" and index == len(pattern) - 1:
            out.append("$")
            atom = False
        elif char == "*":
            if atom:
                out.append("*")
                atom, quantified = False, True
            elif quantified:
                pass  # `a**` is `a*`
            else:  # first, or after ^: a literal star (an atom itself)
                out.append("\\*")
                atom = True
            index += 1
            continue
        elif char == ".":
            out.append(".")
            atom = True
        elif char == "[":
            index, bracket = _bracket(pattern, index)
            out.append(bracket)
            atom = True
            continue
        elif char == "\\":
            if index + 1 >= len(pattern) or pattern[index + 1] not in _SPECIAL:
                raise ValueError(f"pattern {pattern!r}: {pattern[index:index + 2]!r} is not "
                                 "in the subset the engine reads")
            out.append(re.escape(pattern[index + 1]))
            index += 2
            atom = True
            continue
        else:
            out.append(re.escape(char))
            atom = True
        index += 1
    result = "".join(out)
    try:
        re.compile(result)
    except re.error as exc:  # (a range backwards: grep refuses it too)
        raise ValueError(f"pattern {pattern!r}: {exc}") from None
    return result


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
            if name not in _CLASSES:
                raise ValueError(f"pattern {pattern!r}: class [:{name}:] is not read")
            parts.append(_CLASSES[name])
            index = end + 2
        elif pattern.startswith(("[.", "[="), index):
            raise ValueError(f"pattern {pattern!r}: collating elements are not read")
        elif char == "-" and parts and index + 1 < len(pattern) and pattern[index + 1] != "]":
            parts.append("-")
            index += 1
        else:
            parts.append("\\" + char if char in "\\^]-[" else char)
            index += 1
        first = False
    raise ValueError(f"pattern {pattern!r}: a bracket expression that does not end")


def matches(pattern: str, text: str) -> bool:
    """Whether a line of `text` matches the BRE `pattern` (grep -q)."""
    compiled = re.compile(bre_to_python(pattern))
    lines = text.split("\n")
    if lines[-1] == "":  # (the newline ending the last line starts no other)
        lines.pop()
    return any(compiled.search(line) for line in lines)
