"""The checks of action field values: `check(value, what) -> value`, ValueError if bad.

Every value is checked where an action is made (translator, recipe, `actions` file),
so that nothing downstream (bootstrap, the rendered sh) sees a name that leaves the
image or breaks /etc/passwd. `what` names the field in the message (its deb822 name).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from recipes.actions.capabilities import parse_capabilities

ACCOUNT_NAME = re.compile(r"[a-z_][-a-z0-9_]*\$?")  # adduser's rule
ACCOUNT_NAME_MAX = 32
NUMERIC_ID = re.compile(r"[0-9]{1,10}")
PRIORITY = re.compile(r"-?[0-9]{1,9}")
OCTAL_MODE = re.compile(r"0?[0-7]{3,4}")
VERSION = re.compile(r"[0-9A-Za-z.+~:-]*")
PACKAGE = re.compile(r"[a-z0-9][a-z0-9+.-]+(:[a-z0-9-]+)?")  # with an optional :arch
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
YES = frozenset({"yes", "true", "1"})
NO = frozenset({"no", "false", "0"})

Check = Callable[[str, str], str]


def plain_text(value: str, what: str) -> str:
    """No control character (newline, NUL, escape ...)."""
    found = _CONTROL.search(value)
    if found:
        char = found.group()
        named = {"\n": "a newline", "\x00": "a NUL", "\t": "a tab"}.get(
            char, f"the control character {char!r}")
        raise ValueError(f"{what} {value!r} contains {named}")
    return value


def check_account_name(value: str, what: str = "user or group name") -> str:
    """A user or group name by adduser's rule (`^[a-z_][-a-z0-9_]*\\$?$`, <= 32)."""
    if not ACCOUNT_NAME.fullmatch(value) or len(value) > ACCOUNT_NAME_MAX:
        raise ValueError(
            f"{what} {value!r} is not a valid name (lower case letters, digits, '_' and "
            f"'-', not starting with a digit or '-', at most {ACCOUNT_NAME_MAX} characters)"
        )
    return value


def check_owner(value: str, what: str = "owner") -> str:
    """An account name or a numeric id, as chown takes them."""
    if NUMERIC_ID.fullmatch(value):
        return value
    return check_account_name(value, what)


def check_fixed_id(value: str, what: str = "id") -> str:
    """A fixed uid or gid (groupadd -g 42): a number in 1..65533 (0 is root's, 65534
    nobody's)."""
    if not NUMERIC_ID.fullmatch(value) or not 0 < int(value) < 65534:
        raise ValueError(f"{what} {value!r} is not an id in 1..65533")
    return str(int(value))


def check_capabilities(value: str, what: str = "capabilities") -> str:
    """A capability text setcap takes (`cap_net_raw+ep`), or nothing."""
    if value:
        try:
            parse_capabilities(value)
        except ValueError as exc:
            raise ValueError(f"{what} {value!r}: {exc}") from None
    return value


def check_name_pattern(value: str, what: str = "pattern") -> str:
    """A file name pattern as find's -name takes it (no '/'), or nothing."""
    if value and ("/" in value or not value.isprintable()):
        raise ValueError(f"{what} {value!r} is not a file name pattern (no '/')")
    return value


def check_link_pattern(value: str, what: str = "pattern") -> str:
    """A pattern of a symbolic link's target as find's -lname takes it, or nothing."""
    if value and not value.isprintable():
        raise ValueError(f"{what} {value!r} is not printable text")
    return value


def check_depth(value: str, what: str = "depth") -> str:
    """A depth of find's -maxdepth (0..99), or nothing."""
    if value and not re.fullmatch(r"[0-9]{1,2}", value):
        raise ValueError(f"{what} {value!r} is not a depth in 0..99")
    return value


def check_path(value: str, what: str = "path") -> str:
    """An absolute path inside the image: leading '/', no '..' component, no control
    character (glob characters are allowed: some actions take patterns)."""
    plain_text(value, what)
    if not value.startswith("/"):
        raise ValueError(f"{what} {value!r} is not an absolute path")
    if ".." in value.split("/"):
        raise ValueError(f"{what} {value!r} has a '..' component")
    return value


def check_pattern_path(value: str, what: str = "path") -> str:
    """An absolute path (check_path) whose last component may be a pattern of `*` and
    `?` (the files sh's glob finds in one directory: `/etc/bind/named.conf*`), not
    starting with '.' (sh's `.*` finds `.` and `..` too)."""
    check_path(value, what)
    if any(c in value for c in "*?["):
        directory, last = value.rsplit("/", 1)
        if "[" in value or any(c in directory for c in "*?") or last.startswith(".") or \
                not re.fullmatch(r"[A-Za-z0-9_./*?+@-]+", value):
            raise ValueError(f"{what} {value!r}: a pattern only of '*' and '?', in its last "
                             "component, of letters, digits and '_./+@-'")
    return value


def check_alternative_name(value: str, what: str = "alternative name") -> str:
    """A name under /etc/alternatives and /var/lib/dpkg/alternatives: one plain word."""
    plain_text(value, what)
    if not value or "/" in value or re.search(r"\s", value) or value in (".", ".."):
        raise ValueError(f"{what} {value!r} is not a plain name (no '/', no blank, "
                         "not '.' or '..')")
    return value


def check_gecos(value: str, what: str = "Gecos") -> str:
    plain_text(value, what)
    if ":" in value:
        raise ValueError(f"{what} {value!r} contains ':'")
    return value


def check_account_path(value: str, what: str) -> str:
    """A home directory or login shell: absolute, and no ':' (a field of passwd)."""
    check_path(value, what)
    if ":" in value:
        raise ValueError(f"{what} {value!r} contains ':'")
    return value


def check_slaves(value: str, what: str = "Slaves") -> str:
    """Slaves of an alternative: one "LINK NAME PATH" per line ("." is a blank line)."""
    for line in value.split("\n"):
        words = line.split()
        if not words or words == ["."]:
            continue
        plain_text(line, what)
        if len(words) != 3:
            raise ValueError(f"{what}: alternative slave {line.strip()!r} is not "
                             "LINK NAME PATH")
        check_path(words[0], "slave link")
        check_alternative_name(words[1], "slave name")
        check_path(words[2], "slave path")
    return value


def regex(pattern: re.Pattern[str], describe: str) -> Check:
    def check(value: str, what: str) -> str:
        if not pattern.fullmatch(value):
            raise ValueError(f"{what} {value!r} is not {describe}")
        return value

    return check


def optional(check: Check) -> Check:
    """`check`, or the empty value (an optional field left out)."""

    def optional(value: str, what: str) -> str:
        return value if value == "" else check(value, what)

    return optional


def check_yes_no(value: str, what: str) -> str:
    if value.strip().lower() not in YES | NO:
        raise ValueError(f"{what} {value!r} is not yes or no")
    return value


def check_target(value: str, what: str) -> str:
    """A symlink target: relative targets are fine (they resolve inside the image)."""
    plain_text(value, what)
    if not value:
        raise ValueError(f"{what} is empty")
    return value


def check_word(value: str, what: str) -> str:
    plain_text(value, what)
    if not value or re.search(r"\s", value):
        raise ValueError(f"{what} {value!r} is not one word")
    return value


def check_paths(value: str, what: str) -> str:
    for word in plain_text(value, what).split():
        check_path(word, what)
    return value


def check_files(value: str, what: str) -> str:
    """Configuration files: absolute paths, or plain file names (no '/')."""
    for word in plain_text(value, what).split():
        if word.startswith("/"):
            check_path(word, what)
        elif "/" in word or word in (".", ".."):
            raise ValueError(f"{what} {word!r} is neither absolute nor a plain file name")
    return value


def check_alternative_path(value: str, what: str) -> str:
    """The path of one alternative, or '*' (all of them)."""
    return value if value == "*" else check_path(value, what)


check_priority = regex(PRIORITY, "an integer priority")
check_mode = optional(regex(OCTAL_MODE, "an octal mode such as 0755"))
check_version = optional(regex(VERSION, "a Debian version"))
check_package = regex(PACKAGE, "a package name")


def check_file_names(value: str, what: str) -> str:
    """Plain file names (a directory's entries: no '/', not '.' or '..')."""
    for word in plain_text(value, what).split():
        if not re.fullmatch(r"[A-Za-z0-9_.+-]+", word) or word in (".", ".."):
            raise ValueError(f"{what} {word!r} is not a plain file name")
    return value


def check_names(value: str, what: str) -> str:
    """Plain names (an NSS database or service): letters, digits, '_' and '-'."""
    for word in plain_text(value, what).split():
        if not re.fullmatch(r"[A-Za-z0-9_-]+", word):
            raise ValueError(f"{what} {word!r} is not a plain name")
    return value
