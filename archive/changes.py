"""A build's upload description: a Debian `.changes` file (Debian policy 5.5, format 1.8).

What a buildd signs and uploads, and what dak's process-upload reads: the source and
version, the binaries and architectures, and each file with its size and digests
(`Checksums-Sha1`, `Checksums-Sha256`, `Files` with MD5, section and priority). Our
build identity travels in fields of our own (`Unessential-Build`, `-Recipe`,
`-Environment`, `-Counter`), so the publisher's intake can check the upload against
the catalog's build row. Pure functions: render, and parse with every field checked
(an upload is untrusted input: file names must be plain names, digests well formed).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime

from base.deb822 import format_stanza, iter_stanzas, split_lines
from base.errors import FormatError

FORMAT = "1.8"
_NAME = re.compile(r"[a-z0-9][a-z0-9+.-]+")
_VERSION = re.compile(r"[0-9A-Za-z.+~:-]+")
_FILE = re.compile(r"[A-Za-z0-9][A-Za-z0-9+.~_-]*")
_ARCH = re.compile(r"[a-z0-9][a-z0-9-]*")
_HEX = {"md5": 32, "sha1": 40, "sha256": 64}
_DIGEST = re.compile(r"[0-9a-f]+")
OWN_FIELDS = ("Unessential-Build", "Unessential-Recipe", "Unessential-Environment",
              "Unessential-Counter")


@dataclass(frozen=True)
class UploadFile:
    name: str  # a plain file name: hello_2.10-3ue1_amd64.deb
    size: int
    md5: str
    sha1: str
    sha256: str
    section: str = "misc"
    priority: str = "optional"


@dataclass(frozen=True)
class Upload:
    source: str
    version: str  # the version of the upload (ours, marked)
    architectures: tuple[str, ...]  # e.g. ("amd64", "all"), or ("source", ...)
    binaries: tuple[str, ...]
    files: tuple[UploadFile, ...]
    build_id: int
    recipe_digest: str
    env_digest: str
    counter: int | None
    date: datetime
    distribution: str = "stable"
    maintainer: str = "unessential <unessential@localhost>"
    changes: str = ""  # the changelog entry, if any


def changes_text(upload: Upload) -> str:
    """The `.changes` of `upload` (unsigned), fields in policy order."""
    check(upload, upload.source)
    files = sorted(upload.files, key=lambda f: f.name)
    fields: list[tuple[str, str]] = [
        ("Format", FORMAT),
        ("Date", format_datetime(upload.date.astimezone(UTC))),
        ("Source", upload.source),
        ("Binary", " ".join(sorted(upload.binaries))),
        ("Architecture", " ".join(upload.architectures)),
        ("Version", upload.version),
        ("Distribution", upload.distribution),
        ("Urgency", "medium"),
        ("Maintainer", upload.maintainer),
        ("Changed-By", upload.maintainer),
        ("Description", "\n" + "\n".join(f"{name} - rebuilt by unessential"
                                         for name in sorted(upload.binaries))),
        ("Changes", "\n" + "\n".join(
            line if line.strip() else "." for line in
            (upload.changes or f"{upload.source} ({upload.version}) rebuilt by "
             "unessential").splitlines())),
        ("Checksums-Sha1", "\n" + "\n".join(f"{f.sha1} {f.size} {f.name}" for f in files)),
        ("Checksums-Sha256", "\n" + "\n".join(f"{f.sha256} {f.size} {f.name}"
                                              for f in files)),
        ("Files", "\n" + "\n".join(f"{f.md5} {f.size} {f.section} {f.priority} {f.name}"
                                   for f in files)),
        ("Unessential-Build", str(upload.build_id)),
        ("Unessential-Recipe", upload.recipe_digest),
        ("Unessential-Environment", upload.env_digest),
    ]
    if upload.counter is not None:
        fields.append(("Unessential-Counter", str(upload.counter)))
    return format_stanza(fields)


def parse_changes(text: str, what: str) -> Upload:
    """The Upload a `.changes` text describes; FormatError naming `what` and the field
    for anything missing or malformed (the three checksum lists must agree)."""
    try:
        stanzas = list(iter_stanzas(text))
    except ValueError as exc:
        raise FormatError(what, f"not a .changes file: {exc}") from None
    if len(stanzas) != 1:
        raise FormatError(what, f"expected one stanza, found {len(stanzas)}")
    fields = stanzas[0]
    for name in ("Format", "Source", "Version", "Architecture", "Binary", "Date",
                 "Checksums-Sha1", "Checksums-Sha256", "Files", "Unessential-Build",
                 "Unessential-Recipe", "Unessential-Environment"):
        if not fields.get(name, "").strip():
            raise FormatError(what, f"no {name} field")
    if fields["Format"].strip() != FORMAT:
        raise FormatError(what, f"Format {fields['Format'].strip()!r}, expected {FORMAT}")
    sha1 = _sums(fields, "Checksums-Sha1", "sha1", what)
    sha256 = _sums(fields, "Checksums-Sha256", "sha256", what)
    listed = _files(fields, what)
    if not (set(sha1) == set(sha256) == set(listed)):
        raise FormatError(what, "Files, Checksums-Sha1 and Checksums-Sha256 list different "
                                "files")
    files = []
    for name, (md5, size, section, priority) in sorted(listed.items()):
        for other, kind in ((sha1[name], "Checksums-Sha1"), (sha256[name], "Checksums-Sha256")):
            if other[1] != size:
                raise FormatError(what, f"{name}: {kind} says {other[1]} bytes, Files {size}")
        files.append(UploadFile(name, size, md5, sha1[name][0], sha256[name][0], section,
                                priority))
    counter = fields.get("Unessential-Counter", "").strip()
    try:
        build_id = int(fields["Unessential-Build"])
        count = int(counter) if counter else None
    except ValueError:
        raise FormatError(what, "Unessential-Build and -Counter must be numbers") from None
    upload = Upload(
        source=fields["Source"].split()[0], version=fields["Version"].strip(),
        architectures=tuple(fields["Architecture"].split()),
        binaries=tuple(fields["Binary"].split()), files=tuple(files), build_id=build_id,
        recipe_digest=fields["Unessential-Recipe"].strip(),
        env_digest=fields["Unessential-Environment"].strip(), counter=count,
        date=_date(fields["Date"], what), distribution=fields.get("Distribution", "").strip(),
        maintainer=fields.get("Maintainer", "").strip())
    check(upload, what)
    return upload


def check(upload: Upload, what: str) -> None:
    """Names, versions, architectures and file names an archive can hold."""
    if not _NAME.fullmatch(upload.source):
        raise FormatError(what, f"source name {upload.source!r} is not valid")
    if not _VERSION.fullmatch(upload.version):
        raise FormatError(what, f"version {upload.version!r} is not valid")
    for arch in upload.architectures:
        if not _ARCH.fullmatch(arch):
            raise FormatError(what, f"architecture {arch!r} is not valid")
    for name in upload.binaries:
        if not _NAME.fullmatch(name):
            raise FormatError(what, f"binary name {name!r} is not valid")
    if not upload.files:
        raise FormatError(what, "no files")
    for item in upload.files:
        if not _FILE.fullmatch(item.name) or item.name in (".", ".."):
            raise FormatError(what, f"file name {item.name!r} is not a plain file name")
        for kind, value in (("md5", item.md5), ("sha1", item.sha1), ("sha256", item.sha256)):
            if len(value) != _HEX[kind] or not _DIGEST.fullmatch(value):
                raise FormatError(what, f"{item.name}: {kind} {value!r} is not a digest")
        if item.size < 0:
            raise FormatError(what, f"{item.name}: a negative size")


def _sums(fields: Mapping[str, str], name: str, kind: str,
          what: str) -> dict[str, tuple[str, int]]:
    out: dict[str, tuple[str, int]] = {}
    for line in split_lines(fields[name]):
        words = line.split()
        if len(words) != 3 or not words[1].isdigit():
            raise FormatError(what, f"{name}: malformed line {line.strip()!r}")
        digest, size, file = words
        if file in out:
            raise FormatError(what, f"{name}: {file} listed twice")
        if len(digest) != _HEX[kind] or not _DIGEST.fullmatch(digest):
            raise FormatError(what, f"{name}: {file}: {digest!r} is not a {kind} digest")
        out[file] = (digest, int(size))
    return out


def _files(fields: Mapping[str, str], what: str) -> dict[str, tuple[str, int, str, str]]:
    out: dict[str, tuple[str, int, str, str]] = {}
    for line in split_lines(fields["Files"]):
        words = line.split()
        if len(words) != 5 or not words[1].isdigit():
            raise FormatError(what, f"Files: malformed line {line.strip()!r}")
        md5, size, section, priority, file = words
        if file in out:
            raise FormatError(what, f"Files: {file} listed twice")
        out[file] = (md5, int(size), section, priority)
    return out


def _date(text: str, what: str) -> datetime:
    from email.utils import parsedate_to_datetime

    try:
        value = parsedate_to_datetime(text.strip())
    except (TypeError, ValueError):
        raise FormatError(what, f"Date {text.strip()!r} is not an RFC 2822 date") from None
    if value.tzinfo is None:
        raise FormatError(what, f"Date {text.strip()!r} has no time zone")
    return value
