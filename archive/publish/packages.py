"""The Packages index of our archive: one stanza per .deb, rendered into deterministic bytes.

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

The index (:func:`packages_index`): stanzas sorted by (Package, Version in dpkg order,
Architecture), each followed by one empty line (`archive.publish.common`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from archive.publish.common import Hashes, arrange, check_path, ranks, required, stanza_index

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

_PACKAGES_RANK = ranks(PACKAGES_ORDER)


def packages_stanza(control: Mapping[str, str], *, filename: str, hashes: Hashes) -> str:
    """The Packages stanza of one .deb, ending with "\\n" (no blank line).

    `control`: the fields of the .deb's control file as `base.deb822.parse_one`
    reads them; `filename`: its path from the archive root (``pool/main/...``).
    """
    check_path(filename, "Filename")
    for name in ("Package", "Version", "Architecture"):
        required(control, name, "control file")
    items = [(name, value) for name, value in control.items()
             if name.lower() not in PACKAGES_DROPPED]
    items += [("Filename", filename), ("Size", str(hashes.size)),
              ("MD5sum", hashes.md5), ("SHA256", hashes.sha256)]
    return arrange(items, _PACKAGES_RANK)


PACKAGES_KEY = ("Package", "Version", "Architecture")


def packages_index(stanzas: Iterable[str]) -> bytes:
    """A Packages file: stanzas sorted by (Package, Version, Architecture)."""
    return stanza_index(stanzas, PACKAGES_KEY)
