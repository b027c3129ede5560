"""Packages and Sources indices as typed records (pure functions)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from archive.digests import (
    HEX_LENGTHS,
    PACKAGES_DIGEST_FIELDS,
    SOURCES_DIGEST_FIELDS,
    is_digest,
    is_plain_name,
    is_relative_path,
    is_size,
    shown,
)
from base.deb822 import Stanza, iter_stanzas, split_lines
from base.errors import FormatError


@dataclass(frozen=True, slots=True)
class FileRef:
    name: str
    size: int
    sha256: str


# Fields of an index stanza that no part of the toolchain reads from an upstream record
# (a .deb's own control file and a .dsc are read for what they say): checked where
# they are digests, then left out of `fields`. They are most of an index's text; left
# out, a warm read (archive/upstream/parsed.py) and a worker's memory are about halved.
PACKAGES_UNREAD = frozenset({
    "Description", "Description-md5", "Tag", "Homepage", "Maintainer",
    "Original-Maintainer", "Bugs", "SHA1", "Build-Ids",
})
SOURCES_UNREAD = frozenset({
    "Files", "Checksums-Sha1", "Package-List", "Maintainer", "Uploaders",
    "Original-Maintainer", "Homepage", "Standards-Version", "Testsuite",
    "Testsuite-Triggers", "Dgit", "Vcs-Arch", "Vcs-Browser", "Vcs-Bzr", "Vcs-Cvs",
    "Vcs-Darcs", "Vcs-Git", "Vcs-Hg", "Vcs-Mtn", "Vcs-Svn", "Description",
})


def _kept(stanza: Stanza, unread: frozenset[str]) -> Stanza:
    return {name: value for name, value in stanza.items() if name not in unread}


class BinaryRecord(NamedTuple):
    """A Packages stanza, typed. A named tuple rather than a dataclass: a warm read
    makes ~63,000 of them for bookworm main from the parsed-index cache's rows
    (archive/upstream/parsed.py), three times faster than a frozen dataclass.
    `record._replace(fields=...)` makes a changed copy."""

    package: str
    version: str
    architecture: str
    source: str
    source_version: str
    filename: str
    size: int
    sha256: str
    essential: bool
    priority: str
    fields: Stanza  # the stanza but for PACKAGES_UNREAD

    @property
    def depends(self) -> str:
        return self.fields.get("Depends", "")

    @property
    def pre_depends(self) -> str:
        return self.fields.get("Pre-Depends", "")


class SourceRecord(NamedTuple):
    """A Sources stanza, typed (a named tuple, as BinaryRecord)."""

    package: str
    version: str
    directory: str
    fields: Stanza  # the stanza but for SOURCES_UNREAD

    @property
    def files(self) -> tuple[FileRef, ...]:
        """The files of the source package, from Checksums-Sha256."""
        return parse_checksums(
            self.fields["Checksums-Sha256"], f"Sources stanza of {self.package}"
        )

    @property
    def binaries(self) -> tuple[str, ...]:
        return tuple(b.strip() for b in self.fields.get("Binary", "").split(",") if b.strip())

    @property
    def dsc(self) -> FileRef:
        for ref in self.files:
            if ref.name.endswith(".dsc"):
                return ref
        raise FormatError(f"{self.package}_{self.version}", "Sources stanza lists no .dsc")


def binary_record(stanza: Stanza, what: str) -> BinaryRecord:
    """A typed Packages stanza; `what` (the index) and the package name its errors.

    Size must be decimal digits, every digest field (MD5sum, SHA1, SHA256, SHA512) hex of
    its exact length, and Filename a relative path without '..': the SHA256 becomes a
    file name under partial/ and in the cache, the size bounds a download.
    """
    try:
        package = stanza["Package"]
        version = stanza["Version"]
        source = stanza.get("Source", package)
        source_version = version
        if " " in source:
            source, _, rest = source.partition(" ")
            source_version = rest.strip("() ")
        filename = stanza["Filename"]
        size = stanza["Size"]
        sha256 = stanza["SHA256"]
        architecture = stanza["Architecture"]
    except KeyError as exc:
        name = stanza.get("Package", "?")
        raise FormatError(what, f"stanza of {shown(name)} lacks field {exc.args[0]}") from exc
    if not is_size(size):
        raise FormatError(what, f"stanza of {shown(package)}: Size is not a number of "
                          f"bytes: {shown(size)}")
    for field_name, algorithm in PACKAGES_DIGEST_FIELDS.items():
        value = stanza.get(field_name)
        if value is not None and not is_digest(value, algorithm):
            raise FormatError(what, f"stanza of {shown(package)}: {field_name} is not "
                              f"{HEX_LENGTHS[algorithm]} hex digits: {shown(value)}")
    if not is_relative_path(filename):
        raise FormatError(what, f"stanza of {shown(package)}: unsafe Filename "
                          f"{shown(filename)} (absolute, '..' or control characters)")
    return BinaryRecord(
        package=package,
        version=version,
        architecture=architecture,
        source=source,
        source_version=source_version,
        filename=filename,
        size=int(size),
        sha256=sha256.lower(),
        essential=stanza.get("Essential", "no") == "yes",
        priority=stanza.get("Priority", ""),
        fields=_kept(stanza, PACKAGES_UNREAD),
    )


def parse_packages(text: str, what: str) -> list[BinaryRecord]:
    """Parse a Packages index; `what` names it in errors."""
    try:
        return [binary_record(stanza, what) for stanza in iter_stanzas(text)]
    except ValueError as exc:
        raise FormatError(what, str(exc)) from exc


def parse_checksums(value: str, what: str, field: str = "Checksums-Sha256",
                    algorithm: str = "SHA256") -> tuple[FileRef, ...]:
    """The `<digest> <size> <name>` lines of a checksum field of a Sources stanza or .dsc.

    Each digest must be hex of the algorithm's length, each size decimal digits and each
    name a plain file name (no '/', not '..'): they become file names.
    """
    refs = []
    for line in split_lines(value):
        parts = line.split()
        if (len(parts) != 3 or not is_size(parts[1]) or not is_digest(parts[0], algorithm)
                or not is_plain_name(parts[2])):
            raise FormatError(what, f"bad {field} line: {shown(line)}")
        refs.append(FileRef(name=parts[2], size=int(parts[1]), sha256=parts[0].lower()))
    return tuple(refs)


def source_record(stanza: Stanza, what: str) -> SourceRecord:
    """A typed Sources stanza; its checksum fields and Directory are checked here."""
    try:
        if "Checksums-Sha256" not in stanza:
            raise KeyError("Checksums-Sha256")
        package = stanza["Package"]
        record = SourceRecord(
            package=package,
            version=stanza["Version"],
            directory=stanza["Directory"],
            fields=_kept(stanza, SOURCES_UNREAD),
        )
    except KeyError as exc:
        name = stanza.get("Package", "?")
        raise FormatError(what, f"stanza of {shown(name)} lacks field {exc.args[0]}") from exc
    where = f"{what}: stanza of {shown(package)}"
    for field_name, algorithm in SOURCES_DIGEST_FIELDS.items():
        if field_name in stanza:
            parse_checksums(stanza[field_name], where, field_name, algorithm)
    if not is_relative_path(record.directory):
        raise FormatError(where, f"unsafe Directory {shown(record.directory)} "
                          "(absolute, '..' or control characters)")
    return record


def parse_sources(text: str, what: str) -> list[SourceRecord]:
    """Parse a Sources index; `what` names it in errors."""
    try:
        return [source_record(stanza, what) for stanza in iter_stanzas(text)]
    except ValueError as exc:
        raise FormatError(what, str(exc)) from exc
