"""The host's APT sources: deb822 `.sources` files and one-line `.list` files.

Pure parsing (plus reading the files named). Each enabled (URI, suite) becomes one
`SourceEntry` with its components and the keys that may sign it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from archive.urls import display_url
from base.deb822 import iter_stanzas
from base.errors import ConfigError

FINGERPRINT = re.compile(r"^[0-9A-Fa-f]{16}([0-9A-Fa-f]{24})?!?$")


@dataclass(frozen=True)
class SignedBy:
    """What may sign a source: keyring files, an inline key block, or fingerprints."""

    keyrings: tuple[Path, ...] = ()
    inline: str | None = None
    fingerprints: tuple[str, ...] = ()

    def describe(self) -> str:
        parts = [str(p) for p in self.keyrings]
        if self.inline:
            parts.append("(inline key block)")
        parts += list(self.fingerprints)
        return ", ".join(parts) if parts else "(APT's trusted keyrings)"


@dataclass(frozen=True)
class SourceEntry:
    uri: str
    suite: str
    components: tuple[str, ...]
    types: tuple[str, ...] = ("deb",)
    signed_by: SignedBy = field(default_factory=SignedBy)
    architectures: tuple[str, ...] = ()
    origin: str = ""

    @property
    def label(self) -> str:
        """URI and suite as messages show them (a password in the URI is masked)."""
        return f"{display_url(self.uri)} {self.suite}"


def parse_signed_by(value: str, origin: str) -> SignedBy:
    value = value.strip()
    if "BEGIN PGP PUBLIC KEY BLOCK" in value:
        lines = [("" if line.strip() == "." else line) for line in value.split("\n")]
        return SignedBy(inline="\n".join(lines).strip() + "\n")
    keyrings: list[Path] = []
    fingerprints: list[str] = []
    for item in re.split(r"[\s,]+", value):
        if not item:
            continue
        if item.startswith("/"):
            keyrings.append(Path(item))
        elif FINGERPRINT.match(item):
            fingerprints.append(item.rstrip("!").upper())
        else:
            raise ConfigError(
                origin, f"Signed-By: expected a keyring path or fingerprint: {item!r}"
            )
    return SignedBy(keyrings=tuple(keyrings), fingerprints=tuple(fingerprints))


def parse_deb822_sources(text: str, origin: str) -> list[SourceEntry]:
    entries: list[SourceEntry] = []
    try:
        stanzas = list(iter_stanzas(text, comments=True))
    except ValueError as exc:
        raise ConfigError(origin, f"not a deb822 sources file: {exc}") from exc
    for number, stanza in enumerate(stanzas, start=1):
        where = f"{origin} (stanza {number})"
        if stanza.get("Enabled", "yes").strip().lower() == "no":
            continue
        for required in ("Types", "URIs", "Suites"):
            if not stanza.get(required, "").strip():
                raise ConfigError(where, f"missing field {required}")
        types = tuple(stanza["Types"].split())
        signed_by = parse_signed_by(stanza.get("Signed-By", ""), where)
        archs = tuple(stanza.get("Architectures", "").split())
        components = tuple(stanza.get("Components", "").split())
        for uri in stanza["URIs"].split():
            for suite in stanza["Suites"].split():
                entries.append(
                    SourceEntry(
                        uri=uri.rstrip("/"),
                        suite=suite,
                        components=components,
                        types=types,
                        signed_by=signed_by,
                        architectures=archs,
                        origin=where,
                    )
                )
    return entries


ONE_LINE = re.compile(r"^(deb|deb-src)\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)\s*(.*)$")


def parse_one_line_sources(text: str, origin: str) -> list[SourceEntry]:
    entries: list[SourceEntry] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        where = f"{origin}:{number}"
        match = ONE_LINE.match(line)
        if not match:
            raise ConfigError(where, f"not a sources.list line: {raw.strip()!r}")
        kind, options, uri, suite, rest = match.groups()
        opts: dict[str, str] = {}
        for option in (options or "").split():
            key, sep, value = option.partition("=")
            if not sep:
                raise ConfigError(where, f"option without a value: {option!r}")
            opts[key] = value
        signed_by = parse_signed_by(opts.get("signed-by", "").replace(",", " "), where)
        entries.append(
            SourceEntry(
                uri=uri.rstrip("/"),
                suite=suite,
                components=tuple(rest.split()),
                types=(kind,),
                signed_by=signed_by,
                architectures=tuple(opts.get("arch", "").replace(",", " ").split()),
                origin=where,
            )
        )
    return entries


def read_apt_sources(paths: list[Path]) -> list[SourceEntry]:
    """Read every `.list` and `.sources` file under `paths`, in APT's order."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.suffix in (".list", ".sources"))
        elif path.is_file():
            files.append(path)
    entries: list[SourceEntry] = []
    for file in files:
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(str(file), f"cannot read: {exc}") from exc
        if file.suffix == ".sources":
            entries += parse_deb822_sources(text, str(file))
        else:
            entries += parse_one_line_sources(text, str(file))
    return merge_entries(entries)


def merge_entries(entries: list[SourceEntry]) -> list[SourceEntry]:
    """One entry per (URI, suite): deb and deb-src lines merged, order kept."""
    merged: dict[tuple[str, str], SourceEntry] = {}
    for entry in entries:
        key = (entry.uri, entry.suite)
        if key not in merged:
            merged[key] = entry
            continue
        old = merged[key]
        components = old.components + tuple(c for c in entry.components if c not in old.components)
        types = old.types + tuple(t for t in entry.types if t not in old.types)
        merged[key] = replace(old, components=components, types=types)
    return list(merged.values())
