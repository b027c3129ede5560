"""chmod's modes: octal (`0755`, `2750`) or symbolic with the classes named (`g+s`,
`g+rwx`, `u+x,go-w`, `o+X`, `g+u`). Symbolic ones that name no class (`+x`) depend on
the umask and are refused, as is `=` (what it keeps of a directory's set-id bits varies
between chmod implementations). Pure functions: the check, and the mode a change gives
a file (as GNU chmod computes it)."""

from __future__ import annotations

import re
import stat

OCTAL = re.compile(r"0?[0-7]{3,4}")
_CLAUSE = re.compile(r"([ugoa]+)((?:[-+](?:[ugo]|[rwxXst]*))+)")
_ACTION = re.compile(r"([-+])([ugo]|[rwxXst]*)")
# the bits of each class: its permissions, and the special bit it owns
_CLASS = {"u": stat.S_IRWXU | stat.S_ISUID, "g": stat.S_IRWXG | stat.S_ISGID,
          "o": stat.S_IRWXO | stat.S_ISVTX}
_SHIFT = {"u": 6, "g": 3, "o": 0}


def is_symbolic(mode: str) -> bool:
    return bool(mode) and not OCTAL.fullmatch(mode)


def check_chmod_mode(value: str, what: str = "Mode") -> str:
    """An octal mode, or a symbolic one this module computes (ValueError otherwise)."""
    if value == "" or OCTAL.fullmatch(value):
        return value
    if not all(_CLAUSE.fullmatch(clause) for clause in value.split(",")):
        raise ValueError(f"{what} {value!r} is not an octal mode such as 0755 nor a "
                         "symbolic one naming its classes (g+s, u+x,go-w)")
    return value


def changed_mode(mode: str, current: int, *, directory: bool) -> int:
    """The permission bits (07777) `chmod MODE` leaves on a file whose are `current`."""
    check_chmod_mode(mode)
    if OCTAL.fullmatch(mode):
        return int(mode, 8)
    bits = current & 0o7777
    for clause in mode.split(","):
        match = _CLAUSE.fullmatch(clause)
        assert match is not None
        who = set("ugo" if "a" in match.group(1) else match.group(1))
        mask = 0
        for cls in who:
            mask |= _CLASS[cls]
        for op, perms in _ACTION.findall(match.group(2)):
            value = _value(perms, bits, directory=directory) & mask
            bits = bits | value if op == "+" else bits & ~value
    return bits


def _value(perms: str, bits: int, *, directory: bool) -> int:
    """The bits `perms` stands for in every class (masked by the clause's classes)."""
    if perms in _SHIFT:  # (a copy of one class's permissions: `g+u`)
        rwx = (bits >> _SHIFT[perms]) & 0o7
        return rwx << 6 | rwx << 3 | rwx
    value = 0
    for letter in perms:
        if letter == "r":
            value |= 0o444
        elif letter == "w":
            value |= 0o222
        elif letter == "x" or letter == "X" and (directory or bits & 0o111):
            value |= 0o111
        elif letter == "s":
            value |= stat.S_ISUID | stat.S_ISGID
        elif letter == "t":
            value |= stat.S_ISVTX
    return value
