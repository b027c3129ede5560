"""dpkg's diversion database, /var/lib/dpkg/diversions: for each diversion three lines,
the diverted path, where its files go, and the package that holds it (`:` for a local
diversion, dpkg-divert --local). Pure functions over its text, and the diversions an
unpack honours."""

from __future__ import annotations

from collections.abc import Mapping

DIVERSIONS = "/var/lib/dpkg/diversions"
LOCAL = ":"


class Diversion(tuple[str, str]):
    """(divert-to, holder) of one diverted path (`holder` ":" for a local one)."""

    __slots__ = ()

    def __new__(cls, to: str, holder: str) -> Diversion:
        return super().__new__(cls, (to, holder))

    @property
    def to(self) -> str:
        return self[0]

    @property
    def holder(self) -> str:
        return self[1]


def parse_diversions(text: str, what: str = DIVERSIONS) -> dict[str, Diversion]:
    """The diversions of the database's text, by diverted path (ValueError naming the
    line where it is not triples of absolute paths and a holder)."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) % 3:
        raise ValueError(f"{what}: {len(lines)} lines, not triples of path, divert-to, "
                         "package")
    table: dict[str, Diversion] = {}
    for index in range(0, len(lines), 3):
        path, to, holder = lines[index:index + 3]
        for value in (path, to):
            if not value.startswith("/"):
                raise ValueError(f"{what}:{index + 1}: {value!r} is not an absolute path")
        if not holder or " " in holder:
            raise ValueError(f"{what}:{index + 3}: {holder!r} is not a package name or ':'")
        if path in table:
            raise ValueError(f"{what}:{index + 1}: {path} is diverted twice")
        table[path] = Diversion(to, holder)
    return table


def render_diversions(table: Mapping[str, Diversion]) -> str:
    """The database's text (sorted by diverted path, as a stable file)."""
    return "".join(f"{path}\n{d.to}\n{d.holder}\n" for path, d in sorted(table.items()))


def clash(table: Mapping[str, Diversion], path: str, to: str, holder: str) -> str:
    """Why diverting `path` to `to` for `holder` clashes with the table ("" if it does
    not, or if that very diversion is there already)."""
    existing = table.get(path)
    if existing is not None and existing != Diversion(to, holder):
        return (f"the diversion of {path} to {existing.to} by {existing.holder} is there "
                f"already (dpkg-divert: clashes)")
    for other, diversion in table.items():
        if other != path and diversion.to == to:
            return f"{other} is diverted to {to} already (dpkg-divert: clashes)"
        if other != path and diversion.to == path:
            return f"{path} is where {other} is diverted to (dpkg-divert: clashes)"
    if to in table:
        return f"{to} is itself diverted (dpkg-divert: clashes)"
    return ""


def diverted_path(table: Mapping[str, Diversion], path: str, package: str) -> str:
    """Where `package`'s file at `path` is unpacked: where a diversion held by another
    package (or a local one) sends it, else `path`."""
    diversion = table.get(path)
    if diversion is None or diversion.holder == package:
        return path
    return diversion.to
