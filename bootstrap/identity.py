"""An image's identity as scanners read it: os-release(5) and /etc/debian_version.

Syft, Grype and Trivy name the distribution of an image from /etc/os-release (else
/usr/lib/os-release): `ID` and `VERSION_ID` key their vulnerability data and go into
each package's purl (`pkg:deb/debian/libc6@2.36-9?arch=amd64&distro=debian-12`).
Without it they identify no distribution and give packages no purl.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass

from bootstrap.confined import Confinement, ImageRoot

OS_RELEASE = ("etc/os-release", "usr/lib/os-release")
DEBIAN_VERSION = "etc/debian_version"
_MAX = 64 * 1024


@dataclass(frozen=True)
class Identity:
    """What os-release says (the fields scanners use), and where it was read."""

    id: str
    version_id: str = ""
    version_codename: str = ""
    pretty_name: str = ""
    variant_id: str = ""
    path: str = ""

    @property
    def distro(self) -> str:
        """The purl `distro` qualifier as Syft writes it: `ID-VERSION_ID` (or `ID`)."""
        return f"{self.id}-{self.version_id}" if self.version_id else self.id


def parse_os_release(text: str) -> dict[str, str]:
    """os-release(5): `KEY=value` lines, values in shell quoting; comments and blank
    lines ignored; a line that does not parse is skipped (as systemd does)."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        if not key.replace("_", "").isalnum() or not key.isupper():
            continue
        try:
            words = shlex.split(value, posix=True)
        except ValueError:
            continue
        fields[key] = " ".join(words) if len(words) > 1 else (words[0] if words else "")
    return fields


def identity_of(fields: Mapping[str, str], path: str = "") -> Identity | None:
    if not fields.get("ID"):
        return None
    return Identity(id=fields["ID"].lower(), version_id=fields.get("VERSION_ID", ""),
                    version_codename=fields.get("VERSION_CODENAME", ""),
                    pretty_name=fields.get("PRETTY_NAME", ""),
                    variant_id=fields.get("VARIANT_ID", ""), path=path)


def read_identity(fs: ImageRoot) -> Identity | None:
    """The identity of the image at `fs`: its os-release (through the image's own
    links, never out of it), or None when it has none."""
    for path in OS_RELEASE:
        try:
            if not fs.lexists(path):
                continue
            data = fs.read_bytes(path, limit=_MAX)
        except (OSError, Confinement):
            continue
        found = identity_of(parse_os_release(data.decode("utf-8", "replace")),
                            "/" + path)
        if found is not None:
            return found
    return None
