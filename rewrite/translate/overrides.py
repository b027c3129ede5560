"""Tests of dpkg's stat override database read as `Only-If: statoverride PATH [TEXT]`:

    dpkg-statoverride --list /var/log/foo >/dev/null         # statoverride /var/log/foo
    dpkg-statoverride --list /etc/ssl/private 2>&1 | grep -q "root ssl-cert 710"

`--list` with one constant path (no glob: its argument is a pattern) prints the path's
line `OWNER GROUP MODE PATH` and succeeds where it has an override; a quiet grep of a
fixed text (no character a basic regular expression reads otherwise) after it is a
search of that line."""

from __future__ import annotations

import re

from rewrite.shell import Command, Pipeline
from rewrite.translate.context import Ctx, plain_path, quiet, word_value

_TEXT = re.compile(r"[A-Za-z0-9_:+-]+( [A-Za-z0-9_:+-]+)*")  # ('.' is a pattern in grep)
_GREP_QUIET = ("-q", "--quiet", "--silent", "-qs", "-sq", "-s", "-F", "-qF", "-Fq")


def override_test(pipe: Pipeline, ctx: Ctx) -> str | None:
    """The `Only-If` test (before any negation of the pipeline) of a pipeline that reads
    the stat override of one path, or None."""
    commands = pipe.commands
    if not 1 <= len(commands) <= 2 or not all(isinstance(c, Command) for c in commands):
        return None
    listing = commands[0]
    assert isinstance(listing, Command)
    argv = [word_value(w, ctx) for w in listing.words]
    if argv[:2] != ["dpkg-statoverride", "--list"] or len(argv) != 3 or \
            not plain_path(argv[2]):
        return None
    if len(commands) == 1:
        return f"statoverride {argv[2]}"
    grep = commands[1]
    assert isinstance(grep, Command)
    words = [word_value(w, ctx) for w in grep.words]
    if words[:1] != ["grep"]:
        return None
    options = [w for w in words[1:] if w.startswith("-")]
    operands = [w for w in words[1:] if not w.startswith("-")]
    silent = quiet(grep) or any("q" in o or o in ("--quiet", "--silent") for o in options)
    if not silent or any(o not in _GREP_QUIET for o in options) or len(operands) != 1 or \
            not _TEXT.fullmatch(operands[0]):
        return None
    return f"statoverride {argv[2]} {operands[0]}"
