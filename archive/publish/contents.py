"""The Contents-<arch> index of our archive: which package ships which path.

Contents-<arch>
    No header (Debian dropped it); one line per path, sorted by the path's bytes:
    the path, then tabs and spaces up to column 60 (at least one space), then the
    comma-separated, sorted qualified package names (``section/package``). The gap is
    apt-ftparchive's, byte for byte. Directories are not listed.
"""

from __future__ import annotations

from collections.abc import Iterable


def contents_entries(listing: Iterable[tuple[str, str, int]],
                     qualified: str) -> list[tuple[str, str]]:
    """Contents entries of one package from `archive.debfile.data_listing`.

    Every entry but directories (files, symlinks, hard links, ...), as apt-ftparchive
    lists them; `qualified` is the package's ``section/name``.
    """
    return [(path, qualified) for path, kind, _ in listing
            if kind != "d" and path not in ("", ".", "./")]


def _contents_gap(length: int) -> bytes:
    # apt-ftparchive's layout: tabs to column 56, spaces to column 60, or one space.
    if length >= 60:
        return b" "
    if length < 56:
        return b"\t" * (7 - length // 8) + b"    "
    return b" " * (60 - length)


def contents_index(entries: Iterable[tuple[str, str]]) -> bytes:
    """A Contents-<arch> file from (path in the package, "section/package") pairs."""
    table: dict[bytes, set[str]] = {}
    for path, package in entries:
        if path.startswith("./"):
            path = path[2:]
        if not path or path == "." or path.startswith("/") or "\n" in path or "\r" in path:
            raise ValueError(f"invalid path for Contents: {path!r}")
        if not package or "," in package or any(c.isspace() for c in package):
            raise ValueError(f"invalid qualified package name for Contents: {package!r}")
        table.setdefault(path.encode("utf-8", "surrogateescape"), set()).add(package)
    return b"".join(
        path + _contents_gap(len(path)) + ",".join(sorted(table[path])).encode("utf-8")
        + b"\n"
        for path in sorted(table)
    )
