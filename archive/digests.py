"""Shapes of the checksum and size fields of APT indices and Release files.

A digest read from a signed index is later used as a file name (`partial/<sha256>.part`,
the cache's `by-hash/SHA256/<sha256>`) and in URLs (`by-hash/SHA256/<sha256>`); a size
is used to resume and to stop a download. A signature says who wrote an index, not
that its fields are sane: each is checked for its exact shape where it is parsed.
"""

from __future__ import annotations

import re

_HEX = re.compile(r"[0-9a-fA-F]+")
_SIZE = re.compile(r"[0-9]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

HEX_LENGTHS: dict[str, int] = {"MD5": 32, "SHA1": 40, "SHA256": 64, "SHA512": 128}
"""Hex digits of each digest algorithm."""

PACKAGES_DIGEST_FIELDS: dict[str, str] = {
    "MD5sum": "MD5", "SHA1": "SHA1", "SHA256": "SHA256", "SHA512": "SHA512",
}
"""Digest fields of a Packages stanza and their algorithm."""

RELEASE_DIGEST_FIELDS: dict[str, str] = {
    "MD5Sum": "MD5", "SHA1": "SHA1", "SHA256": "SHA256", "SHA512": "SHA512",
}
"""Digest fields of a Release file (one `<digest> <size> <path>` line per file)."""

SOURCES_DIGEST_FIELDS: dict[str, str] = {
    "Files": "MD5", "Checksums-Sha1": "SHA1", "Checksums-Sha256": "SHA256",
    "Checksums-Sha512": "SHA512",
}
"""Digest fields of a Sources stanza or a .dsc (one `<digest> <size> <name>` line each)."""


def is_digest(value: str, algorithm: str) -> bool:
    """True if `value` is a hex digest of exactly the length `algorithm` gives."""
    return len(value) == HEX_LENGTHS[algorithm] and _HEX.fullmatch(value) is not None


def is_size(value: str) -> bool:
    """True if `value` is a size in bytes: decimal digits only (no sign, no spaces)."""
    return _SIZE.fullmatch(value) is not None


def shown(value: str, limit: int = 80) -> str:
    """A field value as it may appear in a one-line error: quoted, escaped, shortened."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def is_plain_name(name: str) -> bool:
    """A file name without directory: no '/', not '.' or '..', no control characters."""
    return (
        bool(name)
        and "/" not in name
        and name not in (".", "..")
        and _CONTROL.search(name) is None
    )


def is_relative_path(path: str) -> bool:
    """A relative path (`pool/main/h/hello/x.deb`, `./x.deb`): no '..', no control chars."""
    if not path or path.startswith("/") or _CONTROL.search(path) is not None:
        return False
    return ".." not in path.split("/")
