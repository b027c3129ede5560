"""File capabilities as the kernel stores them: the `security.capability` xattr, in the
revision 2 layout setcap writes (struct vfs_cap_data: magic and effective bit, then the
permitted and inheritable masks in two little-endian 32-bit halves)."""

from __future__ import annotations

import struct

from recipes.actions.capabilities import parse_capabilities

XATTR = "security.capability"
_REVISION_2 = 0x02000000
_EFFECTIVE = 0x000001


def capability_xattr(text: str) -> bytes:
    """The xattr value setcap writes for a capability text (ValueError if it is bad)."""
    permitted, inheritable, effective = parse_capabilities(text)
    return struct.pack("<5I", _REVISION_2 | (_EFFECTIVE if effective else 0),
                       permitted & 0xFFFFFFFF, inheritable & 0xFFFFFFFF,
                       permitted >> 32, inheritable >> 32)
