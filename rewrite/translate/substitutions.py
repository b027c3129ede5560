"""The command substitutions of a word as the shell finds them: `$( ... )` (parentheses
balanced, a backslash-escaped character and quoted text skipped: `$(echo a\\)b; rm x)`
is one substitution that runs rm) and backquotes; single-quoted text expands nothing."""

from __future__ import annotations

from collections.abc import Iterator


def substitutions(raw: str, *, arithmetic: bool = True) -> Iterator[str]:
    """The text of each command substitution of the word `raw` (as written, quotes
    included). `$(( ... ))` is arithmetic: given as `( ... )` where `arithmetic` (a
    caller that reads it as a command refuses it), else skipped."""
    index = 0
    double = False  # inside "..."
    while index < len(raw):
        skipped = _skip(raw, index, double)
        if skipped is not None:
            index = skipped
            continue
        char = raw[index]
        if char == '"':
            double = not double
        elif raw.startswith("$((", index) and not arithmetic:
            index = _closing(raw, index + 1) + 1
            continue
        elif raw.startswith("$(", index):
            end = _closing(raw, index + 1)
            yield raw[index + 2:end]
            index = end + 1
            continue
        elif char == "`":
            end = index + 1
            while end < len(raw) and raw[end] != "`":
                end += 2 if raw[end] == "\\" else 1
            yield raw[index + 1:end].replace("\\`", "`")
            index = end + 1
            continue
        index += 1


def _skip(raw: str, index: int, double: bool) -> int | None:
    """Where the text after an escaped character or a single-quoted string at `index`
    resumes (None: neither is there)."""
    if raw[index] == "\\":
        return index + 2
    if raw[index] == "'" and not double:
        end = raw.find("'", index + 1)
        return len(raw) if end == -1 else end + 1
    return None


def _closing(raw: str, start: int) -> int:
    """The index of the `)` that closes the `(` at `start` (len(raw) if none), skipping
    escaped characters and quoted text."""
    depth = 0
    index = start
    double = False
    while index < len(raw):
        skipped = _skip(raw, index, double)
        if skipped is not None:
            index = skipped
            continue
        char = raw[index]
        if char == '"':
            double = not double
        elif not double and char == "(":
            depth += 1
        elif not double and char == ")":
            depth -= 1
            if depth == 0:
                return index
        index += 1
    return len(raw)
