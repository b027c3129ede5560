"""Debian version order (dpkg --compare-versions) as a sort key, for the indices."""

from __future__ import annotations

import re

_Part = tuple[tuple[int, ...], int]
_PartKey = tuple[_Part, tuple[_Part, ...]]
VersionKey = tuple[int, _PartKey, _PartKey]

_VERSION_PART = re.compile(r"(\D*)(\d*)")
_END: _Part = ((0,), 0)  # an exhausted string, as dpkg compares it: ("", 0)


def _weight(char: str) -> int:
    # dpkg's order of non-digit characters: '~' before the end of the string, the end
    # before letters, letters before everything else.
    if char == "~":
        return -1
    if char.isascii() and char.isalpha():
        return ord(char)
    return ord(char) + 256


def _part_key(text: str) -> _PartKey:
    """Sort key of an upstream version or a revision, ordered as dpkg's verrevcmp.

    The text is a series of (non-digits, number) pairs; the non-digits become weights
    ended by 0 (the end of the string), the number an int. Only the first pair can
    have empty non-digits, so the others never equal _END, and the tuple that ends
    with _END first compares as dpkg compares a string that is exhausted.
    """
    pairs: list[_Part] = []
    pos = 0
    while pos < len(text):
        match = _VERSION_PART.match(text, pos)
        assert match is not None  # (\D*)(\d*) always matches
        letters, digits = match.groups()
        pairs.append((tuple(_weight(c) for c in letters) + (0,), int(digits or 0)))
        pos = match.end()
    if not pairs:
        return _END, (_END,)
    return pairs[0], (*pairs[1:], _END)


def version_key(version: str) -> VersionKey:
    """A sort key giving the order of Debian versions (dpkg --compare-versions)."""
    text = version.strip()
    if not text:
        raise ValueError("empty version")
    epoch = 0
    head, colon, rest = text.partition(":")
    if colon:
        if not head.isdigit():
            raise ValueError(f"invalid epoch in version {version!r}")
        epoch = int(head)
        text = rest
    upstream, dash, revision = text.rpartition("-")
    if not dash:
        upstream, revision = text, ""
    if not upstream or (dash and not revision):
        raise ValueError(f"invalid version {version!r} (empty upstream version or revision)")
    return epoch, _part_key(upstream), _part_key(revision)
