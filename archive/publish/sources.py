"""The Sources index of our archive: one stanza per source package.

Sources (one stanza per source package, :func:`sources_stanza`)
    The .dsc fields with ``Source`` renamed ``Package``, plus ``Directory``,
    ``Files`` (md5) and ``Checksums-Sha256`` over every file of the source package,
    the .dsc included (the .dsc's own ``Files``/``Checksums-*`` are replaced), and
    ``Section``/``Priority`` when given. Order as apt-ftparchive, unknown fields last,
    sorted.

The index (:func:`sources_index`): stanzas sorted by (Package, Version in dpkg order),
each followed by one empty line (`archive.publish.common`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from archive.publish.common import (
    Hashes,
    arrange,
    check_path,
    ranks,
    required,
    single_line,
    stanza_index,
)

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

_SOURCES_RANK = ranks(SOURCES_ORDER)


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
    check_path(directory, "Directory")
    for name in ("Source", "Version"):
        required(dsc, name, ".dsc")
    if any(name.lower() == "package" for name in dsc):
        raise ValueError(".dsc has a Package field (Sources' Package is the .dsc's Source)")
    section = single_line(section, "Section", spaces=False)
    priority = single_line(priority, "Priority", spaces=False)
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
    return arrange(items, _SOURCES_RANK)


SOURCES_KEY = ("Package", "Version")


def sources_index(stanzas: Iterable[str]) -> bytes:
    """A Sources file: stanzas sorted by (Package, Version)."""
    return stanza_index(stanzas, SOURCES_KEY)
