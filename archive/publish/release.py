"""The Release file of our archive and the by-hash layout of the files it lists.

Release
    Origin, Label, Suite, Codename, Date, Valid-Until, Architectures, Components,
    Description, Acquire-By-Hash, Signed-By, then ``MD5Sum``, ``SHA256``, ``SHA512``:
    each line `` <hash> <size right-aligned in 16 columns> <path>`` as apt-ftparchive
    aligns them, sorted by path. Dates as dak writes them: ``Sat, 11 Jul 2026
    10:16:37 UTC`` (English names whatever the locale, whole seconds). Signed-By is
    written as 40-hex-digit fingerprints joined by "," alone: apt reads white space as
    a comma and refuses the whole field for an empty item (", ") or any other form.
    Rendered by the one deb822 writer (`base.deb822.format_field`).

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
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from archive.publish.common import Hashes, check_path, single_line
from base.deb822 import format_field

#: The hash fields of Release, with the Hashes attribute each lists; by-hash uses them.
RELEASE_HASHES: tuple[tuple[str, str], ...] = (
    ("MD5Sum", "md5"),
    ("SHA256", "sha256"),
    ("SHA512", "sha512"),
)


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
    value = single_line(value, "Signed-By")
    items = [item for item in re.split(r"[\s,]+", value) if item]
    if value and (not items or not all(_FINGERPRINT.fullmatch(item) for item in items)):
        raise ValueError("Signed-By must list 40-hex-digit key fingerprints (apt accepts "
                         f"nothing else), not {value!r}")
    return ",".join(item.upper() for item in items)


def release_text(fields: ReleaseFields, files: Mapping[str, Hashes]) -> str:
    """The text of a Release file; `files` maps paths under dists/<suite>/ to hashes."""
    suite = single_line(fields.suite, "Suite", spaces=False)
    codename = single_line(fields.codename, "Codename", spaces=False)
    if not suite and not codename:
        raise ValueError("a Release needs a Suite or a Codename")
    words: dict[str, tuple[str, ...]] = {"Architectures": fields.architectures,
                                         "Components": fields.components}
    for name, values in words.items():
        if isinstance(values, str) or not values:
            raise ValueError(f"{name} must be a non-empty tuple of names, not {values!r}")
        for value in values:
            if not value or single_line(value, name, spaces=False) != value:
                raise ValueError(f"invalid name in {name}: {value!r}")
        if len(set(values)) != len(values):
            raise ValueError(f"{name} lists a name twice: {values!r}")
    date = format_date(fields.date)
    valid_until = format_date(fields.valid_until) if fields.valid_until is not None else ""
    if fields.valid_until is not None and fields.valid_until <= fields.date:
        raise ValueError("Valid-Until must be later than Date")
    for path in files:
        check_path(path, "Release file path")

    head = [
        ("Origin", single_line(fields.origin, "Origin")),
        ("Label", single_line(fields.label, "Label")),
        ("Suite", suite),
        ("Codename", codename),
        ("Date", date),
        ("Valid-Until", valid_until),
        ("Architectures", " ".join(fields.architectures)),
        ("Components", " ".join(fields.components)),
        ("Description", single_line(fields.description, "Description")),
        ("Acquire-By-Hash", "yes" if fields.acquire_by_hash else ""),
        ("Signed-By", _signed_by(fields.signed_by)),
    ]
    lines = [format_field(name, value) for name, value in head if value]
    paths = sorted(files)
    for name, attribute in RELEASE_HASHES:
        lines.append(format_field(name, "".join(
            f"\n{getattr(files[path], attribute)} {files[path].size:>16} {path}"
            for path in paths)))
    return "".join(lines)


def by_hash_paths(path: str, h: Hashes) -> list[str]:
    """Where the by-hash copies of the index at `path` (under dists/<suite>/) go.

    One per hash field of the Release (MD5Sum, SHA256, SHA512), in that order: apt
    asks for the strongest one listed, other clients may ask for any.
    ``main/binary-amd64/Packages.xz`` gives ``main/binary-amd64/by-hash/SHA512/<sha512>``
    among others.
    """
    check_path(path, "index path")
    directory = path.rpartition("/")[0]
    prefix = f"{directory}/by-hash/" if directory else "by-hash/"
    return [f"{prefix}{name}/{getattr(h, attribute)}" for name, attribute in RELEASE_HASHES]
