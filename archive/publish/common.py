"""What the index writers share: file hashes, compression, checks of paths and values,
the field order of a stanza, and the sorted index of stanzas.

Sources of the format: the Debian repository format
(https://wiki.debian.org/DebianRepository/Format) and what apt-ftparchive (apt 2.6)
writes for the same files; `tests/test_indices.py` compares the two field by field.
One module per index type renders it (dak-style): `archive.publish.packages`,
`.sources`, `.contents`, `.release`; stanzas go through the one deb822 writer,
`base.deb822`.

Compression
    :func:`compressed` gives the index uncompressed, as .gz (zlib, level 9, mtime 0,
    no file name) and .xz (preset 6, CRC64): identical input, identical bytes (with the
    same zlib and liblzma). Release must list the uncompressed file even where it is
    not served (the format requires it); we serve all three.

Packages and Sources indices
    Stanzas sorted by (Package, Version in dpkg order, Architecture), each followed by
    one empty line, as apt-ftparchive ends them. A duplicate is an error.

Every function raises ValueError for input that would give a broken index (a field
value with an empty line, a path with a newline or "..", a naive datetime, ...).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from archive.publish.versions import version_key
from base.deb822 import format_stanza

# ---------------------------------------------------------------------------------
# hashes


@dataclass(frozen=True, slots=True)
class Hashes:
    """Size and digests (lowercase hex) of one file."""

    size: int
    md5: str
    sha1: str
    sha256: str
    sha512: str

    def __post_init__(self) -> None:
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 0:
            raise ValueError(f"size must be a non-negative integer, not {self.size!r}")
        for name, length in (("md5", 32), ("sha1", 40), ("sha256", 64), ("sha512", 128)):
            value = getattr(self, name)
            if not isinstance(value, str) or not _HEX.fullmatch(value) or len(value) != length:
                raise ValueError(f"{name} must be {length} lowercase hex digits, not {value!r}")


_HEX = re.compile(r"[0-9a-f]+")


def hashes(data: bytes) -> Hashes:
    """Size and digests of `data`."""
    return Hashes(
        size=len(data),
        md5=hashlib.md5(data, usedforsecurity=False).hexdigest(),
        sha1=hashlib.sha1(data, usedforsecurity=False).hexdigest(),
        sha256=hashlib.sha256(data).hexdigest(),
        sha512=hashlib.sha512(data).hexdigest(),
    )


def file_hashes(path: Path) -> Hashes:
    """Size and digests of the file at `path`, read in chunks (pool files can be big)."""
    digests = (hashlib.md5(usedforsecurity=False), hashlib.sha1(usedforsecurity=False),
               hashlib.sha256(), hashlib.sha512())
    size = 0
    with open(path, "rb") as stream:
        while chunk := stream.read(1 << 20):
            size += len(chunk)
            for digest in digests:
                digest.update(chunk)
    md5, sha1, sha256, sha512 = (digest.hexdigest() for digest in digests)
    return Hashes(size=size, md5=md5, sha1=sha1, sha256=sha256, sha512=sha512)


# ---------------------------------------------------------------------------------
# compression


def compressed(data: bytes) -> dict[str, bytes]:
    """{"": data, ".gz": ..., ".xz": ...} of one piece (what `archive.publish.compress`
    makes of an index under its MIN_PIECE): the same data always gives the same bytes."""
    from archive.publish.compress import gzip_piece, xz_piece

    return {"": data, ".gz": gzip_piece(data), ".xz": xz_piece(data)}


# ---------------------------------------------------------------------------------
# checks


def single_line(value: str, what: str, *, spaces: bool = True) -> str:
    """`value` stripped; ValueError if it has a line break (or, without `spaces`, any
    white space)."""
    if not isinstance(value, str) or "\n" in value or "\r" in value:
        raise ValueError(f"{what} must be one line, not {value!r}")
    value = value.strip()
    if not spaces and any(c.isspace() for c in value):
        raise ValueError(f"{what} must have no white space, not {value!r}")
    return value


def required(fields: Mapping[str, str], name: str, what: str) -> str:
    """The non-empty single-word value of field `name` (compared without case)."""
    for key, value in fields.items():
        if key.lower() == name.lower():
            found = single_line(value, f"{what} field {name}", spaces=False)
            if found:
                return found
    raise ValueError(f"{what} has no {name} field")


def check_path(path: str, what: str) -> str:
    """A relative path with no '..', no empty segment, no white space."""
    if (not isinstance(path, str) or not path or path.startswith("/") or path.endswith("/")
            or any(c.isspace() for c in path)
            or any(part in ("", ".", "..") for part in path.split("/"))):
        raise ValueError(f"{what} must be a relative path without '..', '.', empty "
                         f"segments or white space, not {path!r}")
    return path


# ---------------------------------------------------------------------------------
# stanzas and indices


def ranks(order: Sequence[str]) -> dict[str, int]:
    """{field name in lower case: its rank} for :func:`arrange`."""
    return {name.lower(): rank for rank, name in enumerate(order)}


def arrange(items: Iterable[tuple[str, str]], rank: Mapping[str, int]) -> str:
    """Render fields: known ones in `rank` order, then the others sorted by name.

    Rendered by the one deb822 writer (`base.deb822.format_stanza`); `items` values as
    `base.deb822` reads them (continuation lines without their space).
    """
    known: list[tuple[int, str, str]] = []
    unknown: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    for name, value in items:
        key = name.lower()
        if key in seen:
            raise ValueError(f"field {name!r} appears twice")
        seen.add(key)
        if key in rank:
            known.append((rank[key], name, value))
        else:
            unknown.append((key, name, value))
    known.sort()
    unknown.sort()
    return format_stanza([(name, value) for _, name, value in known]
                         + [(name, value) for _, name, value in unknown])


def _head_fields(stanza: str, names: Sequence[str]) -> list[str]:
    """The values of single-line fields `names` of a stanza (they come first in ours)."""
    wanted = {name.lower(): index for index, name in enumerate(names)}
    found: list[str | None] = [None] * len(names)
    left = len(names)
    start = 0
    while left:
        end = stanza.find("\n", start)
        if end == -1:
            break
        line = stanza[start:end]
        start = end + 1
        if line[:1] in (" ", "\t"):
            continue
        name, _, value = line.partition(":")
        index = wanted.get(name.strip().lower())
        if index is not None and found[index] is None:
            found[index] = value.strip()
            left -= 1
    missing = [name for name, value in zip(names, found, strict=True) if not value]
    if missing:
        head = stanza.split("\n", 1)[0]
        raise ValueError(f"stanza {head!r} has no {', '.join(missing)} field")
    return [value for value in found if value is not None]


def stanza_head(stanza: str, names: Sequence[str]) -> list[str]:
    """The values of fields `names` of one stanza (checked: one stanza, ending with a
    newline), the key :func:`keyed_index` sorts it by."""
    if not stanza.endswith("\n") or "\n\n" in stanza or stanza.startswith("\n"):
        raise ValueError(f"not one stanza ending with a newline: {stanza[:60]!r}")
    return _head_fields(stanza, names)


def stanza_index(stanzas: Iterable[str], names: Sequence[str]) -> bytes:
    """Stanzas sorted by the fields `names` (the second a version, in dpkg order), each
    followed by one empty line; two stanzas with the same key are an error."""
    return keyed_index([(stanza_head(stanza, names), stanza) for stanza in stanzas])


def keyed_index(keyed: Iterable[tuple[Sequence[str], str]]) -> bytes:
    """Stanzas, each with the values :func:`stanza_head` gave (name, version, others),
    sorted by name, version in dpkg order, then the others; each stanza followed by one
    empty line. Versions are compared only between stanzas of one name."""
    by_name = sorted(keyed, key=lambda pair: pair[0][0])
    ordered: list[str] = []
    start = 0
    while start < len(by_name):
        end = start + 1
        name = by_name[start][0][0]
        while end < len(by_name) and by_name[end][0][0] == name:
            end += 1
        if end - start == 1:
            ordered.append(by_name[start][1])
        else:
            group = sorted(((version_key(head[1]), *head[2:]), " ".join(head), stanza)
                           for head, stanza in by_name[start:end])
            for (before, _, _), (after, shown, _) in zip(group, group[1:], strict=False):
                if before == after:
                    raise ValueError(f"two stanzas for {shown}")
            ordered += [stanza for _, _, stanza in group]
        start = end
    return "".join(stanza + "\n" for stanza in ordered).encode("utf-8")
