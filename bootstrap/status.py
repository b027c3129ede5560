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
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from base.deb822 import format_stanza
from base.errors import FormatError
from bootstrap.confined import Confinement, ImageRoot

ADMIN = "var/lib/dpkg"
#: Debian policy 5.6.1 (package names) and dpkg's architecture names
PACKAGE_NAME = re.compile(r"[a-z0-9][a-z0-9+.-]+")
ARCH_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")


@dataclass(frozen=True)
class DpkgEntry:
    """An installed package as dpkg records it."""

    control: Mapping[str, str]  # the package's control fields, in order
    paths: tuple[str, ...]  # as shipped ("/.", "/usr", "/usr/bin/x"), archive order
    md5sums: str = ""  # the control member, as is
    conffiles: tuple[str, ...] = ()  # image paths
    conffile_md5: Mapping[str, str] | None = None  # path -> md5 of the installed file
    triggers: str = ""  # the package's triggers control member, as is

    @property
    def name(self) -> str:
        return self.control["Package"]

    @property
    def info_name(self) -> str:
        """`name`, or `name:arch` for Multi-Arch: same (dpkg's info file naming).

        Both come from a package's control data: checked, so that the name of an info
        file is always a plain file name."""
        if not PACKAGE_NAME.fullmatch(self.name):
            raise Confinement(f"package name {self.name!r} is not valid")
        if self.control.get("Multi-Arch") == "same":
            arch = self.control.get("Architecture", "")
            if not ARCH_NAME.fullmatch(arch):
                raise Confinement(f"{self.name}: architecture {arch!r} is not valid")
            return f"{self.name}:{arch}"
        return self.name


def status_stanza(entry: DpkgEntry) -> str:
    """The status file stanza of `entry` (ends with a newline).

    Rendered by the one deb822 writer: a control value it cannot write (an empty
    continuation line, which dpkg refuses too, a carriage return, an invalid or
    repeated field name) raises FormatError naming the package.
    """
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
    try:
        return format_stanza(fields)
    except ValueError as exc:
        name = entry.control.get("Package", "")
        raise FormatError(name or "a package without a name",
                          f"control file cannot be written to dpkg's status: {exc}") from None


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


def md5_of(fs: ImageRoot, image_path: str) -> str:
    """The md5 of an installed file (through the image's symlinks), or ''."""
    try:
        return hashlib.md5(fs.read_bytes(image_path), usedforsecurity=False).hexdigest()
    except (OSError, Confinement):
        return ""


_TRIGGER_NAME = re.compile(r"[!-~]+")  # a trigger name: printable, no blank


def interests(entries: list[DpkgEntry]) -> tuple[list[str], dict[str, list[str]]]:
    """dpkg's records of the triggers `entries` are interested in: the lines of
    triggers/File ("PATH PACKAGE[/noawait]") and, per explicit trigger name, the lines of
    triggers/NAME ("PACKAGE[/noawait]"), in the order the packages declare them."""
    files: list[str] = []
    explicit: dict[str, list[str]] = {}
    for entry in entries:
        for line in entry.triggers.splitlines():
            words = line.split("#", 1)[0].split()
            if len(words) != 2 or words[0] not in ("interest", "interest-await",
                                                   "interest-noawait"):
                continue
            name = words[1]
            if not _TRIGGER_NAME.fullmatch(name) or name.startswith(".") or "/" in name \
                    and not name.startswith("/") or name in ("File", "Lock", "Unincorp"):
                raise Confinement(f"{entry.name}: trigger name {name!r} is not valid")
            who = entry.info_name + ("/noawait" if words[0] == "interest-noawait" else "")
            if name.startswith("/"):
                files.append(f"{name} {who}")
            else:
                explicit.setdefault(name, []).append(who)
    return files, explicit


def write_interests(fs: ImageRoot, entries: list[DpkgEntry]) -> None:
    """Add the trigger interests of `entries` to triggers/File and triggers/NAME, in
    place of any the same packages had (as dpkg records them when it unpacks)."""
    files, explicit = interests(entries)
    owners = {entry.info_name for entry in entries}

    def kept(path: str, owner_of: Callable[[str], str]) -> list[str]:
        text = fs.read_text(path, strict=True) if fs.lexists(path) else ""
        return [line for line in text.splitlines()
                if line.strip() and owner_of(line).split("/")[0] not in owners]

    if files or fs.lexists(f"{ADMIN}/triggers/File"):
        lines = kept(f"{ADMIN}/triggers/File", lambda line: line.rsplit(" ", 1)[-1]) + files
        fs.write_text(f"{ADMIN}/triggers/File", "".join(f"{line}\n" for line in lines),
                      strict=True)
    for name, who in explicit.items():
        path = f"{ADMIN}/triggers/{name}"
        lines = kept(path, lambda line: line.strip()) + who
        fs.write_text(path, "".join(f"{line}\n" for line in lines), strict=True)


def write_database(fs: ImageRoot, entries: list[DpkgEntry]) -> None:
    """Write status and the info files of `entries` under /var/lib/dpkg of the image.

    Nothing below /var/lib/dpkg may be a symlink (refused, never followed)."""
    names = [entry.info_name for entry in entries]  # all checked before any write
    status = status_text(entries)
    for sub in ("info", "updates", "triggers", "alternatives"):
        fs.makedirs(f"{ADMIN}/{sub}", strict=True)
    fs.write_text(f"{ADMIN}/info/format", "1\n", strict=True)  # multiarch: name:arch for M-A: same
    for name, entry in zip(names, entries, strict=True):
        write_info(fs, name, entry)
    fs.write_text(f"{ADMIN}/available", "", strict=True)
    fs.write_text(f"{ADMIN}/status", status, strict=True)
    write_interests(fs, entries)


def write_info(fs: ImageRoot, name: str, entry: DpkgEntry) -> None:
    """dpkg's info files of one package (`name`: its info name): .list, .md5sums (when
    the package ships them), .conffiles."""
    info = f"{ADMIN}/info"
    fs.write_text(f"{info}/{name}.list", list_text(entry), strict=True)
    if entry.md5sums:
        fs.write_text(f"{info}/{name}.md5sums", entry.md5sums, strict=True)
    if entry.conffiles:
        fs.write_text(f"{info}/{name}.conffiles",
                      "".join(f"{path}\n" for path in entry.conffiles), strict=True)
