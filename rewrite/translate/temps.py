"""The script's temporary files: `tmp=$(mktemp)` ... `rm -f "$tmp"` (base-passwd's
postinst). mktemp makes a new file (or, -d, directory) under /tmp that nothing else
knows of; its removal undoes it. Neither is part of what the script leaves in the
image, so both are dropped with that reason; any other use of the name (its content
copied somewhere, a command reading it) is left to the rest of the engine, which
refuses a path it does not know."""

from __future__ import annotations

import re

from rewrite.translate.context import Ctx

TEMP_REASON = "the script's temporary file (mktemp under /tmp): nothing of it stays"

# NAME=$(mktemp [OPTIONS] [TEMPLATE]) or with backquotes: options that keep it in /tmp
_MKTEMP = re.compile(
    r"""(?P<name>[A-Za-z_][A-Za-z0-9_]*)=(?P<q>"?)(?:\$\(|`)\s*mktemp"""
    r"""(?P<args>(?:\s+(?:-[dqtu]+|--directory|--quiet|--dry-run|--suffix=[A-Za-z0-9._-]+"""
    r"""|--tmpdir|[A-Za-z0-9._-]*X{3,}[A-Za-z0-9._-]*))*)\s*(?:\)|`)(?P=q)""")
_REFERENCE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")


def temp_assignment(raw: str) -> bool:
    """Whether the assignment word `raw` makes a temporary file."""
    match = _MKTEMP.fullmatch(raw)
    return match is not None and "--dry-run" not in match.group("args") and \
        not re.search(r"(^|\s)-[a-z]*u", match.group("args"))


def temp_removal(argv: list[str], ctx: Ctx) -> bool:
    """Whether `rm [-f] [-r] "$tmp"...` removes only the script's temporary files."""
    if argv[:1] != ["rm"]:
        return False
    paths = [a for a in argv[1:] if not re.fullmatch(r"-[frv]+|--", a)]
    return bool(paths) and all(
        (m := _REFERENCE.fullmatch(p)) is not None and m.group(1) in ctx.temps for p in paths)
