"""Index files of our APT archive, rendered by pure functions into deterministic bytes.

Sources of the format: the Debian repository format
(https://wiki.debian.org/DebianRepository/Format) and what apt-ftparchive (apt 2.6)
writes for the same files; `tests/test_indices.py` compares the two field by field.

Packages (one stanza per .deb, :func:`packages_stanza`)
    The control fields of the .deb, values kept as read (multi-line values included,
    in the form `base.deb822` gives them: continuation lines without their space),
    in the order apt-ftparchive writes them (the order dpkg uses for binary control
    files), with ``Filename``, ``Size``, ``MD5sum`` and ``SHA256`` where
    apt-ftparchive puts them: after the relation fields, before ``Homepage`` and
    ``Description``. Fields apt-ftparchive does not know come last, sorted by name
    (apt-ftparchive keeps their order in the control file): the output then depends
    only on the set of fields, never on the order of a mapping that went through the
    catalog (a PostgreSQL JSONB column, for one, reorders keys).
    Dropped from the control file: fields that describe the .deb in the archive
    (``Filename``, ``Size``, ``MD5sum``, ``SHA1``, ``SHA256``, ``SHA512``,
    ``MSDOS-Filename``: we write the true ones) and the fields of dpkg's status
    database (``Status``, ``Config-Version``, ``Conffiles``, ``Triggers-*``).
    Like Debian's own Packages files (dak), no ``SHA1``/``SHA512`` per package:
    apt verifies a .deb with the strongest hash listed, SHA256 here.

Sources (one stanza per source package, :func:`sources_stanza`)
    The .dsc fields with ``Source`` renamed ``Package``, plus ``Directory``,
    ``Files`` (md5) and ``Checksums-Sha256`` over every file of the source package,
    the .dsc included (the .dsc's own ``Files``/``Checksums-*`` are replaced), and
    ``Section``/``Priority`` when given. Order as apt-ftparchive, unknown fields last,
    sorted.

Packages and Sources indices
    Stanzas sorted by (Package, Version in dpkg order, Architecture), each followed by
    one empty line, as apt-ftparchive ends them. A duplicate is an error.

Contents-<arch>
    No header (Debian dropped it); one line per path, sorted by the path's bytes:
    the path, then tabs and spaces up to column 60 (at least one space), then the
    comma-separated, sorted qualified package names (``section/package``). The gap is
    apt-ftparchive's, byte for byte. Directories are not listed.

Release
    Origin, Label, Suite, Codename, Date, Valid-Until, Architectures, Components,
    Description, Acquire-By-Hash, Signed-By, then ``MD5Sum``, ``SHA256``, ``SHA512``:
    each line `` <hash> <size right-aligned in 16 columns> <path>`` as apt-ftparchive
    aligns them, sorted by path. Dates as dak writes them: ``Sat, 11 Jul 2026
    10:16:37 UTC`` (English names whatever the locale, whole seconds). Signed-By is
    written as 40-hex-digit fingerprints joined by "," alone: apt reads white space as
    a comma and refuses the whole field for an empty item (", ") or any other form.

by-hash
    apt (since 1.1, with ``Acquire-By-Hash: yes``) fetches an index as
    ``<dir>/by-hash/<hash name>/<hash>`` using the *strongest* hash the Release lists
    for it: SHA512 here. Other clients (mirror tools, older or other apt versions) may
    pick any listed hash. :func:`by_hash_paths` therefore returns one path per hash
    field of the Release (``MD5Sum``, ``SHA256``, ``SHA512``, named exactly as the
    Release fields, as apt builds the URL from the field name): hard links to one
    file cost nothing. Every file listed in Release that is published needs them.
    (Checked by hand with apt 2.6 over file://: with only by-hash copies on disk it
    fetches by-hash/SHA512; without that directory it fails over to the plain path.)

Compression
    :func:`compressed` gives the index uncompressed, as .gz (zlib, level 9, mtime 0,
    no file name) and .xz (preset 6, CRC64): identical input, identical bytes (with the
    same zlib and liblzma). Release must list the uncompressed file even where it is
    not served (the format requires it); we serve all three.

Every function raises ValueError for input that would give a broken index (a field
value with an empty line, a path with a newline or "..", a naive datetime, ...).
"""

from __future__ import annotations

import hashlib
import lzma
import re
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

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

#: The hash fields of Release, with the Hashes attribute each lists; by-hash uses them.
RELEASE_HASHES: tuple[tuple[str, str], ...] = (
    ("MD5Sum", "md5"),
    ("SHA256", "sha256"),
    ("SHA512", "sha512"),
)


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
# field order

# The order in which apt-ftparchive (apt 2.6) writes the fields of a Packages stanza,
# observed on a .deb carrying every one of them; the generated fields sit among them.
PACKAGES_ORDER: tuple[str, ...] = (
    "Package", "Package-Type", "Architecture", "Subarchitecture", "Version",
    "Kernel-Version", "Built-Using", "Static-Built-Using", "Built-For-Profiles",
    "Auto-Built-Package", "Multi-Arch", "Priority", "Build-Essential", "Protected",
    "Important", "Essential", "Installer-Menu-Item", "Section", "Source", "Origin",
    "Maintainer", "Original-Maintainer", "Bugs", "Installed-Size", "Provides",
    "Pre-Depends", "Depends", "Recommends", "Suggests", "Conflicts", "Breaks",
    "Replaces", "Enhances", "Filename", "Size", "MD5sum", "SHA256", "Homepage",
    "Description", "Description-md5", "Tag", "Task",
)

# Control fields never copied into Packages (compared without case).
PACKAGES_DROPPED: frozenset[str] = frozenset(name.lower() for name in (
    # the .deb in the archive: written from `filename` and `hashes`
    "Filename", "MSDOS-Filename", "Size", "MD5sum", "SHA1", "SHA256", "SHA512",
    # dpkg's status database only
    "Status", "Config-Version", "Conffiles", "Triggers-Awaited", "Triggers-Pending",
))

# The order in which apt-ftparchive (apt 2.6) writes the fields of a Sources stanza.
SOURCES_ORDER: tuple[str, ...] = (
    "Package", "Format", "Binary", "Architecture", "Version", "Priority", "Section",
    "Origin", "Maintainer", "Original-Maintainer", "Uploaders", "Dm-Upload-Allowed",
    "Standards-Version", "Build-Depends", "Build-Depends-Arch", "Build-Depends-Indep",
    "Build-Conflicts", "Build-Conflicts-Arch", "Build-Conflicts-Indep", "Testsuite",
    "Testsuite-Triggers", "Homepage", "Description", "Vcs-Browser", "Vcs-Arch",
    "Vcs-Bzr", "Vcs-Cvs", "Vcs-Darcs", "Vcs-Git", "Vcs-Hg", "Vcs-Mtn", "Vcs-Svn",
    "Directory", "Package-List", "Files", "Checksums-Sha256",
)

# .dsc fields never copied into Sources: the file lists are rebuilt with the .dsc.
SOURCES_DROPPED: frozenset[str] = frozenset(name.lower() for name in (
    "Files", "Checksums-Md5", "Checksums-Sha1", "Checksums-Sha256", "Checksums-Sha512",
    "Directory",
))

_PACKAGES_RANK = {name.lower(): rank for rank, name in enumerate(PACKAGES_ORDER)}
_SOURCES_RANK = {name.lower(): rank for rank, name in enumerate(SOURCES_ORDER)}

_FIELD_NAME = re.compile(r"[!-9;-~]+")  # printable ASCII but colon; no space


def _arrange(items: Iterable[tuple[str, str]], rank: Mapping[str, int]) -> str:
    """Render fields: known ones in `rank` order, then the others sorted by name."""
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
    return "".join([_field(name, value) for _, name, value in known]
                   + [_field(name, value) for _, name, value in unknown])


def _field(name: str, value: str) -> str:
    """One field; `value` as base.deb822 reads it (continuations without their space)."""
    if not _FIELD_NAME.fullmatch(name) or name[0] in "#-":
        raise ValueError(f"invalid field name {name!r}")
    if not isinstance(value, str):
        raise ValueError(f"field {name}: value must be a string, not {value!r}")
    if "\r" in value:
        raise ValueError(f"field {name}: value has a carriage return")
    first, *rest = value.split("\n")
    first = first.strip()
    parts = [f"{name}: {first}\n" if first else f"{name}:\n"]
    for line in rest:
        if not line.strip():
            raise ValueError(f"field {name}: value has an empty line (it would end the "
                             "stanza; deb822 writes an empty line as '.')")
        parts.append(f" {line}\n")
    return "".join(parts)


def _single_line(value: str, what: str, *, spaces: bool = True) -> str:
    if not isinstance(value, str) or "\n" in value or "\r" in value:
        raise ValueError(f"{what} must be one line, not {value!r}")
    value = value.strip()
    if not spaces and any(c.isspace() for c in value):
        raise ValueError(f"{what} must have no white space, not {value!r}")
    return value


def _required(fields: Mapping[str, str], name: str, what: str) -> str:
    for key, value in fields.items():
        if key.lower() == name.lower():
            found = _single_line(value, f"{what} field {name}", spaces=False)
            if found:
                return found
    raise ValueError(f"{what} has no {name} field")


def _check_path(path: str, what: str) -> str:
    """A relative path with no '..', no empty segment, no white space."""
    if (not isinstance(path, str) or not path or path.startswith("/") or path.endswith("/")
            or any(c.isspace() for c in path)
            or any(part in ("", ".", "..") for part in path.split("/"))):
        raise ValueError(f"{what} must be a relative path without '..', '.', empty "
                         f"segments or white space, not {path!r}")
    return path


# ---------------------------------------------------------------------------------
# Packages and Sources stanzas


def packages_stanza(control: Mapping[str, str], *, filename: str, hashes: Hashes) -> str:
    """The Packages stanza of one .deb, ending with "\\n" (no blank line).

    `control`: the fields of the .deb's control file as `base.deb822.parse_one`
    reads them; `filename`: its path from the archive root (``pool/main/...``).
    """
    _check_path(filename, "Filename")
    for name in ("Package", "Version", "Architecture"):
        _required(control, name, "control file")
    items = [(name, value) for name, value in control.items()
             if name.lower() not in PACKAGES_DROPPED]
    items += [("Filename", filename), ("Size", str(hashes.size)),
              ("MD5sum", hashes.md5), ("SHA256", hashes.sha256)]
    return _arrange(items, _PACKAGES_RANK)


def sources_stanza(dsc: Mapping[str, str], *, directory: str,
                   files: Sequence[tuple[str, Hashes]],
                   section: str = "", priority: str = "") -> str:
    """The Sources stanza of one source package, ending with "\\n" (no blank line).

    `dsc`: the fields of the .dsc (its body, without an OpenPGP armour);
    `directory`: where its files are, from the archive root (``pool/main/h/hello``);
    `files`: (file name, hashes) of every file of the package, the .dsc included,
    conventionally the .dsc first, then the others in the .dsc's order (the order is
    kept). `section`/`priority`, when given, replace the .dsc's (apt-ftparchive takes
    them from its override files).
    """
    _check_path(directory, "Directory")
    for name in ("Source", "Version"):
        _required(dsc, name, ".dsc")
    if any(name.lower() == "package" for name in dsc):
        raise ValueError(".dsc has a Package field (Sources' Package is the .dsc's Source)")
    section = _single_line(section, "Section", spaces=False)
    priority = _single_line(priority, "Priority", spaces=False)
    names: set[str] = set()
    for name, _ in files:
        if not name or "/" in name or name in (".", "..") or any(c.isspace() for c in name):
            raise ValueError(f"invalid source file name {name!r}")
        if name in names:
            raise ValueError(f"source file {name!r} is listed twice")
        names.add(name)
    if sum(name.endswith(".dsc") for name in names) != 1:
        raise ValueError("the files of a source package must include its one .dsc")

    replaced = {"section"} if section else set()
    if priority:
        replaced.add("priority")
    items: list[tuple[str, str]] = []
    for name, value in dsc.items():
        key = name.lower()
        if key == "source":
            items.append(("Package", value))
        elif key not in SOURCES_DROPPED and key not in replaced:
            items.append((name, value))
    items.append(("Directory", directory))
    items.append(("Files", "".join(f"\n{h.md5} {h.size} {name}" for name, h in files)))
    items.append(("Checksums-Sha256",
                  "".join(f"\n{h.sha256} {h.size} {name}" for name, h in files)))
    if section:
        items.append(("Section", section))
    if priority:
        items.append(("Priority", priority))
    return _arrange(items, _SOURCES_RANK)


# ---------------------------------------------------------------------------------
# Debian version order


_Part = tuple[tuple[int, ...], int]
_PartKey = tuple[_Part, tuple[_Part, ...]]
VersionKey = tuple[int, _PartKey, _PartKey]

_VERSION_PART = re.compile(r"(\D*)(\d*)")
_END: _Part = ((0,), 0)  # an exhausted string, as dpkg compares it: ("", 0)


def _weight(char: str) -> int:
    # dpkg's order of non-digit characters: '~' before the end of the string, the end
    # before letters, letters before everything else.
    if char == "~":
        return -1
    if char.isascii() and char.isalpha():
        return ord(char)
    return ord(char) + 256


def _part_key(text: str) -> _PartKey:
    """Sort key of an upstream version or a revision, ordered as dpkg's verrevcmp.

    The text is a series of (non-digits, number) pairs; the non-digits become weights
    ended by 0 (the end of the string), the number an int. Only the first pair can
    have empty non-digits, so the others never equal _END, and the tuple that ends
    with _END first compares as dpkg compares a string that is exhausted.
    """
    pairs: list[_Part] = []
    pos = 0
    while pos < len(text):
        match = _VERSION_PART.match(text, pos)
        assert match is not None  # (\D*)(\d*) always matches
        letters, digits = match.groups()
        pairs.append((tuple(_weight(c) for c in letters) + (0,), int(digits or 0)))
        pos = match.end()
    if not pairs:
        return _END, (_END,)
    return pairs[0], (*pairs[1:], _END)


def version_key(version: str) -> VersionKey:
    """A sort key giving the order of Debian versions (dpkg --compare-versions)."""
    text = version.strip()
    if not text:
        raise ValueError("empty version")
    epoch = 0
    head, colon, rest = text.partition(":")
    if colon:
        if not head.isdigit():
            raise ValueError(f"invalid epoch in version {version!r}")
        epoch = int(head)
        text = rest
    upstream, dash, revision = text.rpartition("-")
    if not dash:
        upstream, revision = text, ""
    if not upstream or (dash and not revision):
        raise ValueError(f"invalid version {version!r} (empty upstream version or revision)")
    return epoch, _part_key(upstream), _part_key(revision)


# ---------------------------------------------------------------------------------
# indices


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


def _index(stanzas: Iterable[str], names: Sequence[str]) -> bytes:
    keyed: list[tuple[tuple[object, ...], str]] = []
    for stanza in stanzas:
        if not stanza.endswith("\n") or "\n\n" in stanza or stanza.startswith("\n"):
            raise ValueError(f"not one stanza ending with a newline: {stanza[:60]!r}")
        values = _head_fields(stanza, names)
        keyed.append(((values[0], version_key(values[1]), *values[2:]), stanza))
    keyed.sort(key=lambda pair: pair[0])
    for (before, _), (after, stanza) in zip(keyed, keyed[1:], strict=False):
        if before == after:
            shown = " ".join(_head_fields(stanza, names))
            raise ValueError(f"two stanzas for {shown}")
    return "".join(stanza + "\n" for _, stanza in keyed).encode("utf-8")


def packages_index(stanzas: Iterable[str]) -> bytes:
    """A Packages file: stanzas sorted by (Package, Version, Architecture)."""
    return _index(stanzas, ("Package", "Version", "Architecture"))


def sources_index(stanzas: Iterable[str]) -> bytes:
    """A Sources file: stanzas sorted by (Package, Version)."""
    return _index(stanzas, ("Package", "Version"))


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


def compressed(data: bytes) -> dict[str, bytes]:
    """{"": data, ".gz": ..., ".xz": ...}: the same data always gives the same bytes."""
    encoder = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS, 9)  # mtime 0, no name
    return {
        "": data,
        ".gz": encoder.compress(data) + encoder.flush(),
        ".xz": lzma.compress(data, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64, preset=6),
    }


# ---------------------------------------------------------------------------------
# Release


@dataclass(frozen=True)
class ReleaseFields:
    """The fields of a Release file other than the file lists."""

    origin: str
    label: str
    suite: str
    codename: str
    date: datetime
    valid_until: datetime | None
    architectures: tuple[str, ...]
    components: tuple[str, ...]
    description: str = ""
    acquire_by_hash: bool = True
    #: Fingerprints (40 hex digits) of the keys that must sign the *next* Release,
    #: separated by commas or white space; written comma-separated, as apt needs.
    signed_by: str = ""


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun",
           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_FINGERPRINT = re.compile(r"[0-9A-Fa-f]{40}")


def format_date(when: datetime) -> str:
    """RFC 2822 in UTC, as in Debian's Release files: ``Sat, 11 Jul 2026 10:16:37 UTC``.

    Seconds are truncated; a naive datetime is refused (its zone would be a guess).
    """
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"a Release date needs a time zone: {when!r}")
    u = when.astimezone(UTC)
    return (f"{_DAYS[u.weekday()]}, {u.day:02d} {_MONTHS[u.month - 1]} {u.year:04d} "
            f"{u.hour:02d}:{u.minute:02d}:{u.second:02d} UTC")


def _signed_by(value: str) -> str:
    """Fingerprints joined by "," alone: apt turns white space into commas and refuses
    the field when an item is not exactly 40 hex digits, so ", " (an empty item between
    the two separators), a "!" suffix or a v5 fingerprint would make apt reject it."""
    value = _single_line(value, "Signed-By")
    items = [item for item in re.split(r"[\s,]+", value) if item]
    if value and (not items or not all(_FINGERPRINT.fullmatch(item) for item in items)):
        raise ValueError("Signed-By must list 40-hex-digit key fingerprints (apt accepts "
                         f"nothing else), not {value!r}")
    return ",".join(item.upper() for item in items)


def release_text(fields: ReleaseFields, files: Mapping[str, Hashes]) -> str:
    """The text of a Release file; `files` maps paths under dists/<suite>/ to hashes."""
    suite = _single_line(fields.suite, "Suite", spaces=False)
    codename = _single_line(fields.codename, "Codename", spaces=False)
    if not suite and not codename:
        raise ValueError("a Release needs a Suite or a Codename")
    words: dict[str, tuple[str, ...]] = {"Architectures": fields.architectures,
                                         "Components": fields.components}
    for name, values in words.items():
        if isinstance(values, str) or not values:
            raise ValueError(f"{name} must be a non-empty tuple of names, not {values!r}")
        for value in values:
            if not value or _single_line(value, name, spaces=False) != value:
                raise ValueError(f"invalid name in {name}: {value!r}")
        if len(set(values)) != len(values):
            raise ValueError(f"{name} lists a name twice: {values!r}")
    date = format_date(fields.date)
    valid_until = format_date(fields.valid_until) if fields.valid_until is not None else ""
    if fields.valid_until is not None and fields.valid_until <= fields.date:
        raise ValueError("Valid-Until must be later than Date")
    for path in files:
        _check_path(path, "Release file path")

    lines: list[str] = []

    def add(name: str, value: str) -> None:
        if value:
            lines.append(f"{name}: {value}\n")

    add("Origin", _single_line(fields.origin, "Origin"))
    add("Label", _single_line(fields.label, "Label"))
    add("Suite", suite)
    add("Codename", codename)
    add("Date", date)
    add("Valid-Until", valid_until)
    add("Architectures", " ".join(fields.architectures))
    add("Components", " ".join(fields.components))
    add("Description", _single_line(fields.description, "Description"))
    if fields.acquire_by_hash:
        add("Acquire-By-Hash", "yes")
    add("Signed-By", _signed_by(fields.signed_by))
    paths = sorted(files)
    for name, attribute in RELEASE_HASHES:
        lines.append(f"{name}:\n")
        lines.extend(f" {getattr(files[path], attribute)} {files[path].size:>16} {path}\n"
                     for path in paths)
    return "".join(lines)


def by_hash_paths(path: str, h: Hashes) -> list[str]:
    """Where the by-hash copies of the index at `path` (under dists/<suite>/) go.

    One per hash field of the Release (MD5Sum, SHA256, SHA512), in that order: apt
    asks for the strongest one listed, other clients may ask for any.
    ``main/binary-amd64/Packages.xz`` gives ``main/binary-amd64/by-hash/SHA512/<sha512>``
    among others.
    """
    _check_path(path, "index path")
    directory = path.rpartition("/")[0]
    prefix = f"{directory}/by-hash/" if directory else "by-hash/"
    return [f"{prefix}{name}/{getattr(h, attribute)}" for name, attribute in RELEASE_HASHES]
