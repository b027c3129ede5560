"""dpkg's stat override database, /var/lib/dpkg/statoverride: a line `OWNER GROUP MODE
PATH` per path (the mode in octal, as dpkg writes it). Pure functions over its text."""

from __future__ import annotations

from collections.abc import Mapping

from recipes.actions.fields import STATOVERRIDES


def parse_statoverrides(text: str, what: str = STATOVERRIDES) -> dict[str, str]:
    """path -> "owner group mode" (ValueError naming the line that is not four fields)."""
    table: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 4:
            raise ValueError(f"{what}:{number}: not 'owner group mode path': {line!r}")
        table[fields[3]] = " ".join(fields[:3])
    return table


def render_statoverrides(table: Mapping[str, str]) -> str:
    """The database's text (sorted by path, as a stable file)."""
    return "".join(f"{table[path]} {path}\n" for path in sorted(table))


def listed(table: Mapping[str, str], path: str) -> str | None:
    """The line `dpkg-statoverride --list PATH` prints for a path with no glob character
    ("owner group mode path", the mode without leading zeros), or None."""
    found = table.get(path)
    if found is None:
        return None
    owner, group, mode = found.split()
    return f"{owner} {group} {int(mode, 8):o} {path}"
