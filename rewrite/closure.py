"""The upstream dependency closure of some packages (for surveys; pure).

Follows Pre-Depends and Depends, taking in each OR group the first alternative that
exists (by name, else through Provides), as apt would on a system with nothing
installed. Nothing is implied by Essential or Priority.
"""

from __future__ import annotations

from collections.abc import Iterable

from debian.debian_support import version_compare

from archive.upstream.index import BinaryRecord
from base.errors import NotFoundError


def _names(value: str) -> list[list[str]]:
    groups = []
    for group in value.split(","):
        alternatives = []
        for alt in group.split("|"):
            name = alt.strip().split(" ")[0].split("(")[0].split(":")[0].strip()
            if name:
                alternatives.append(name)
        if alternatives:
            groups.append(alternatives)
    return groups


def closure(records: Iterable[BinaryRecord], roots: list[str]) -> list[BinaryRecord]:
    """Newest version of each package in the closure of `roots`, sorted by name."""
    newest: dict[str, BinaryRecord] = {}
    providers: dict[str, list[str]] = {}
    for record in records:
        old = newest.get(record.package)
        if old is None or version_compare(record.version, old.version) > 0:
            newest[record.package] = record
    for record in newest.values():
        for group in _names(record.fields.get("Provides", "")):
            providers.setdefault(group[0], []).append(record.package)
    missing = [name for name in roots if name not in newest]
    if missing:
        raise NotFoundError(", ".join(missing), "not in the upstream Packages index")
    seen: dict[str, BinaryRecord] = {}
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        record = newest[name]
        seen[name] = record
        for field in ("Pre-Depends", "Depends"):
            for group in _names(record.fields.get(field, "")):
                for alt in group:
                    if alt in newest:
                        todo.append(alt)
                        break
                    if alt in providers:
                        todo.append(sorted(providers[alt])[0])
                        break
    return [seen[name] for name in sorted(seen)]
