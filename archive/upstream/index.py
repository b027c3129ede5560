"""Packages and Sources indices as typed records (pure functions)."""

from __future__ import annotations

from dataclasses import dataclass

from archive.deb822 import Stanza, iter_stanzas, split_lines
from unessential.errors import FormatError


@dataclass(frozen=True, slots=True)
class FileRef:
    name: str
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class BinaryRecord:
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
    fields: Stanza

    @property
    def depends(self) -> str:
        return self.fields.get("Depends", "")

    @property
    def pre_depends(self) -> str:
        return self.fields.get("Pre-Depends", "")


@dataclass(frozen=True, slots=True)
class SourceRecord:
    package: str
    version: str
    directory: str
    fields: Stanza

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
    try:
        package = stanza["Package"]
        version = stanza["Version"]
        source = stanza.get("Source", package)
        source_version = version
        if " " in source:
            source, _, rest = source.partition(" ")
            source_version = rest.strip("() ")
        return BinaryRecord(
            package=package,
            version=version,
            architecture=stanza["Architecture"],
            source=source,
            source_version=source_version,
            filename=stanza["Filename"],
            size=int(stanza["Size"]),
            sha256=stanza["SHA256"],
            essential=stanza.get("Essential", "no") == "yes",
            priority=stanza.get("Priority", ""),
            fields=stanza,
        )
    except KeyError as exc:
        name = stanza.get("Package", "?")
        raise FormatError(what, f"stanza of {name!r} lacks field {exc.args[0]}") from exc
    except ValueError as exc:
        raise FormatError(what, f"stanza of {stanza.get('Package', '?')!r}: {exc}") from exc


def parse_packages(text: str, what: str) -> list[BinaryRecord]:
    """Parse a Packages index; `what` names it in errors."""
    try:
        return [binary_record(stanza, what) for stanza in iter_stanzas(text)]
    except ValueError as exc:
        raise FormatError(what, str(exc)) from exc


def parse_checksums(value: str, what: str) -> tuple[FileRef, ...]:
    refs = []
    for line in split_lines(value):
        parts = line.split()
        if len(parts) != 3 or not parts[1].isdigit() or len(parts[0]) != 64:
            raise FormatError(what, f"bad Checksums-Sha256 line: {line!r}")
        refs.append(FileRef(name=parts[2], size=int(parts[1]), sha256=parts[0].lower()))
    return tuple(refs)


def source_record(stanza: Stanza, what: str) -> SourceRecord:
    try:
        if "Checksums-Sha256" not in stanza:
            raise KeyError("Checksums-Sha256")
        return SourceRecord(
            package=stanza["Package"],
            version=stanza["Version"],
            directory=stanza["Directory"],
            fields=stanza,
        )
    except KeyError as exc:
        name = stanza.get("Package", "?")
        raise FormatError(what, f"stanza of {name!r} lacks field {exc.args[0]}") from exc


def parse_sources(text: str, what: str) -> list[SourceRecord]:
    """Parse a Sources index; `what` names it in errors."""
    try:
        return [source_record(stanza, what) for stanza in iter_stanzas(text)]
    except ValueError as exc:
        raise FormatError(what, str(exc)) from exc
