"""Tests of a file's content that an action can carry as `Only-If`: `grep -q PATTERN F`
(`grep F PATTERN`, a basic regular expression of the subset recipes.actions.patterns
reads; `-F STRING` escaped into one) and `[ $(wc -c < F) -eq N ]` (`size F N`).
ifupdown's preinst removes an old dummy /etc/network/interfaces behind both."""

from __future__ import annotations

import re

from recipes.actions.patterns import bre_to_python

_PATH = re.compile(r"/[^\s\"'`$()|;&<>*?\[\],]+")
_SIZE = re.compile(r"""(?:\$\(|`)\s*wc\s+-c\s*<\s*(?P<q>"?)(?P<path>/[^\s"'`$()|;&<>*?\[\],]+)"""
                   r"""(?P=q)\s*(?:\)|`)""")
_UNKNOWN = re.compile(r"\$[A-Za-z_{(0-9@*#?!-]|`")  # an expansion the walk left as it is
_GREP_FLAGS = {"-q", "-s", "-qs", "-sq", "--quiet", "--silent", "--no-messages", "-F",
               "--fixed-strings", "-qF", "-Fq", "-sF", "-Fs"}


def grep_test(argv: list[str], quiet: bool) -> str | None:
    """`grep FILE PATTERN` of `grep -q [-s] [-F] [-e] PATTERN FILE` (or its output
    silenced: `quiet`), with one absolute FILE the engine knows; None for anything else
    (other options, a pattern outside the subset, several files, standard input)."""
    if argv[:1] not in (["grep"], ["fgrep"]):
        return None
    fixed = argv[0] == "fgrep"
    words = argv[1:]
    patterns: list[str] = []  # (given with -e: every other operand is a file)
    operands: list[str] = []
    silent = quiet
    index = 0
    while index < len(words):
        word = words[index]
        if word == "-e" and index + 1 < len(words):
            patterns.append(words[index + 1])
            index += 2
            continue
        if word.startswith("-") and not operands and word in _GREP_FLAGS:
            fixed = fixed or "F" in word.lstrip("-") or word == "--fixed-strings"
            silent = silent or "q" in word.lstrip("-") or word in ("--quiet", "--silent")
        elif word.startswith("-") and word != "-":
            return None
        else:
            operands.append(word)
        index += 1
    if not patterns and operands:
        patterns, operands = operands[:1], operands[1:]
    if not silent or len(patterns) != 1 or len(operands) != 1 or \
            not _PATH.fullmatch(operands[0]) or ".." in operands[0].split("/") or \
            _UNKNOWN.search(patterns[0]):  # (a pattern the engine knows)
        return None
    operands = [patterns[0], operands[0]]
    pattern = operands[0]
    if fixed:
        pattern = re.sub(r"([.\[\]\\*^$/])", r"\\\1", pattern)
    try:
        bre_to_python(pattern)
    except ValueError:
        return None
    return f"grep {operands[1]} {pattern}"


def size_test(args: list[str]) -> str | None:
    """`size F N` of the test `[ $(wc -c < F) -eq N ]` (either side); None for anything
    else (-ne too: where F cannot be read, it fails as -eq does, not as `! size`)."""
    if len(args) != 3 or args[1] != "-eq":  # (-ne fails, as -eq, where F is unreadable)
        return None
    for side, other in ((args[0], args[2]), (args[2], args[0])):
        match = _SIZE.fullmatch(side)
        if match is not None and re.fullmatch(r"[0-9]{1,15}", other) and \
                ".." not in match.group("path").split("/"):
            return f"size {match.group('path')} {int(other)}"
    return None
