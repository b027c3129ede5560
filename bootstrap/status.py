"""dpkg's database of an image: /var/lib/dpkg/status and info/<package>.{list,md5sums,...}.

What dpkg itself writes for an installed package, so that dpkg-query, `dpkg --verify`
and scanners (Trivy, Grype, Syft read the status file and the .list/.md5sums files)
see every package: the control fields with `Status: install ok installed` after
`Package`, `Conffiles` (with the md5 of each installed conffile) before
`Description`, stanzas sorted by package name. Pure functions build the texts; one
function writes them.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from bootstrap.rootpath import inside

ADMIN = "var/lib/dpkg"


@dataclass(frozen=True)
class DpkgEntry:
    """An installed package as dpkg records it."""

    control: Mapping[str, str]  # the package's control fields, in order
    paths: tuple[str, ...]  # as shipped ("/.", "/usr", "/usr/bin/x"), archive order
    md5sums: str = ""  # the control member, as is
    conffiles: tuple[str, ...] = ()  # image paths
    conffile_md5: Mapping[str, str] | None = None  # path -> md5 of the installed file

    @property
    def name(self) -> str:
        return self.control["Package"]

    @property
    def info_name(self) -> str:
        """`name`, or `name:arch` for Multi-Arch: same (dpkg's info file naming)."""
        if self.control.get("Multi-Arch") == "same":
            return f"{self.name}:{self.control.get('Architecture', '')}"
        return self.name


def status_stanza(entry: DpkgEntry) -> str:
    """The status file stanza of `entry` (ends with a newline)."""
    fields: list[tuple[str, str]] = []
    for key, value in entry.control.items():
        if key in ("Status", "Conffiles"):
            continue
        if key == "Description" and entry.conffiles:
            fields.append(("Conffiles", _conffiles(entry)))
        fields.append((key, value))
        if key == "Package":
            fields.append(("Status", "install ok installed"))
    if entry.conffiles and "Description" not in entry.control:
        fields.append(("Conffiles", _conffiles(entry)))
    lines = []
    for key, value in fields:
        first, *rest = value.split("\n")
        lines.append(f"{key}: {first}".rstrip() if first else f"{key}:")
        lines += [f" {line}" if line.strip() else " ." for line in rest]
    return "\n".join(lines) + "\n"


def _conffiles(entry: DpkgEntry) -> str:
    sums = entry.conffile_md5 or {}
    return "\n" + "\n".join(f"{path} {sums.get(path, 'newconffile')}"
                            for path in entry.conffiles)


def status_text(entries: Iterable[DpkgEntry]) -> str:
    """The whole status file: stanzas sorted by (name, architecture)."""
    ordered = sorted(entries, key=lambda e: (e.name, e.control.get("Architecture", "")))
    return "\n".join(status_stanza(e) for e in ordered)


def list_text(entry: DpkgEntry) -> str:
    """info/<package>.list: every shipped path, "/." first, no trailing slashes."""
    seen: list[str] = []
    known: set[str] = set()
    for path in ("/.", *entry.paths):
        path = path.rstrip("/") or "/."
        if path not in known:
            known.add(path)
            seen.append(path)
    return "".join(f"{p}\n" for p in seen)


def md5_of(root: Path, image_path: str) -> str:
    """The md5 of an installed file (through the image's symlinks), or ''."""
    try:
        with inside(root, image_path).open("rb") as handle:
            return hashlib.md5(handle.read(), usedforsecurity=False).hexdigest()
    except OSError:
        return ""


def write_database(root: Path, entries: list[DpkgEntry]) -> None:
    """Write status and the info files of `entries` under root/var/lib/dpkg."""
    admin = root / ADMIN
    for sub in ("info", "updates", "triggers", "alternatives"):
        (admin / sub).mkdir(parents=True, exist_ok=True)
    _write(admin / "info" / "format", "1\n")  # multiarch naming: name:arch for M-A: same
    for entry in entries:
        _write(admin / "info" / f"{entry.info_name}.list", list_text(entry))
        if entry.md5sums:
            _write(admin / "info" / f"{entry.info_name}.md5sums", entry.md5sums)
        if entry.conffiles:
            _write(admin / "info" / f"{entry.info_name}.conffiles",
                   "".join(f"{path}\n" for path in entry.conffiles))
    _write(admin / "available", "")
    _write(admin / "status", status_text(entries))


def _write(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.chmod(temporary, 0o644)
    os.replace(temporary, path)
