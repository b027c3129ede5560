"""Path filters with dpkg's semantics (dpkg(1) `--path-exclude` / `--path-include`).

A rule is written as in dpkg's configuration (`/etc/dpkg/dpkg.cfg.d/`) and in
mmdebstrap's `--dpkgopt`: `path-exclude=GLOB` or `path-include=GLOB`. What dpkg does,
and this module too (checked against dpkg 1.21 by tests/test_paths.py):

- a member's path is its archive name as an absolute path with no trailing slash
  (`/usr/share/doc/foo`); every rule is matched against it with fnmatch(3) and no
  flags: `*` and `?` match `/` too, `[...]` is a class (`!` or `^` negates), `\\`
  quotes the next character;
- rules are applied in order and the last one that matches decides; no match: kept;
- an excluded directory or symbolic link is kept after all when its path starts with
  the literal part of an include rule (the pattern up to its first `*`, `?`, `[` or
  `\\`, trailing slashes dropped): `path-include=/usr/share/doc/*/copyright` keeps
  every directory under /usr/share/doc (and /usr/share/doc itself) so that the
  copyright files can be unpacked. Nothing else is re-included: a kept member whose
  parent directory was left out makes dpkg fail, and the unpacker too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

from base.charclass import POSIX_CLASSES

EXCLUDE = "path-exclude"
INCLUDE = "path-include"
_WILDCARDS = "*?[\\"

#: The documentation filter (`--exclude-docs`): manual pages, Info manuals, the
#: documentation directories but for each package's copyright file (licences travel
#: with the binaries), lintian overrides and message catalogs. What Ubuntu's minimised
#: images leave out; nothing a program reads at run time.
DOCS = (
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/info/*",
    "path-exclude=/usr/share/groff/*",
    "path-exclude=/usr/share/lintian/*",
    "path-exclude=/usr/share/linda/*",
    "path-exclude=/usr/share/locale/*",
    "path-include=/usr/share/locale/locale.alias",
)

#: The charset filter (`--exclude-charsets`): glibc's iconv modules. glibc converts
#: UTF-8, ASCII, Latin-1, UCS-2/4 and UTF-16/32 without them; Python's codecs, OpenSSL
#: and most daemons never load one. A program that calls iconv_open() for another
#: charset (EBCDIC, EUC-JP, ...) gets EINVAL.
CHARSETS = (
    "path-exclude=/usr/lib/*/gconv/*",
)


class FilterError(ValueError):
    """A rule that is not `path-exclude=GLOB` / `path-include=GLOB` with a valid glob."""


@dataclass(frozen=True)
class PathRule:
    include: bool
    pattern: str

    @property
    def text(self) -> str:
        return f"{INCLUDE if self.include else EXCLUDE}={self.pattern}"

    @cached_property
    def regex(self) -> re.Pattern[str]:
        return re.compile(glob_regex(self.pattern), re.DOTALL)

    @cached_property
    def literal(self) -> str:
        """The pattern up to its first wildcard, trailing slashes dropped."""
        cut = min((i for i, c in enumerate(self.pattern) if c in _WILDCARDS),
                  default=len(self.pattern))
        return self.pattern[:cut].rstrip("/")


def parse_rule(text: str) -> PathRule:
    """`path-exclude=GLOB` or `path-include=GLOB` (a GLOB that can match an absolute path)."""
    key, sep, pattern = text.strip().partition("=")
    key = key.strip().removeprefix("--")
    if not sep or key not in (EXCLUDE, INCLUDE):
        raise FilterError(f"{text!r}: expected path-exclude=GLOB or path-include=GLOB")
    if not pattern or pattern[0] not in "/*?[":
        raise FilterError(f"{text!r}: the glob would match nothing (dpkg matches absolute "
                          "paths such as /usr/share/doc/x)")
    if "\n" in pattern or "\0" in pattern:
        raise FilterError(f"{text!r}: a glob cannot hold a newline or NUL")
    try:
        glob_regex(pattern)  # refused here, not at the first member
    except FilterError as exc:
        raise FilterError(f"{text!r}: {str(exc).split(': ', 1)[-1]}") from None
    return PathRule(key == INCLUDE, pattern)


def glob_regex(pattern: str) -> str:
    """The regular expression of an fnmatch(3) pattern with no flags (anchored)."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        i += 1
        if c == "*":
            out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "\\":
            if i < len(pattern):
                out.append(re.escape(pattern[i]))
                i += 1
            else:
                out.append(re.escape("\\"))
        elif c == "[":
            klass, end = _bracket(pattern, i)
            if klass is None:
                out.append(re.escape("["))  # no closing bracket: a literal '['
            else:
                out.append(klass)
                i = end
        else:
            out.append(re.escape(c))
    return "(?:" + "".join(out) + r")\Z"


def _bracket(pattern: str, start: int) -> tuple[str | None, int]:
    """The class starting after '[' at `start`: (regex, index after ']'), or (None, _)."""
    i = start
    negate = i < len(pattern) and pattern[i] in "!^"
    if negate:
        i += 1
    items: list[str] = []
    first = True
    while i < len(pattern):
        c = pattern[i]
        if c == "]" and not first:
            body = "".join(items)
            return (f"[^{body}]" if negate else f"[{body}]"), i + 1
        first = False
        if c == "[" and pattern.startswith("[:", i):
            end = pattern.find(":]", i + 2)
            name = pattern[i + 2:end] if end != -1 else ""
            if name not in POSIX_CLASSES:
                raise FilterError(f"{pattern!r}: unknown character class [:{name}:]")
            items.append(POSIX_CLASSES[name])
            i = end + 2
            continue
        if c == "\\" and i + 1 < len(pattern):
            i += 1
            c = pattern[i]
        if i + 2 < len(pattern) and pattern[i + 1] == "-" and pattern[i + 2] != "]":
            low, high = c, pattern[i + 2]
            if high == "\\" and i + 3 < len(pattern):
                high = pattern[i + 3]
                i += 1
            if ord(low) > ord(high):
                raise FilterError(f"{pattern!r}: range {low}-{high} is backwards")
            items.append(f"{re.escape(low)}-{re.escape(high)}")
            i += 3
            continue
        items.append(re.escape(c))
        i += 1
    return None, start


@dataclass(frozen=True)
class PathFilter:
    """Ordered rules; `skips(path, kind)` says whether dpkg would leave the member out."""

    rules: tuple[PathRule, ...] = ()

    @classmethod
    def parse(cls, texts: Iterable[str]) -> PathFilter:
        return cls(tuple(parse_rule(text) for text in texts))

    def __bool__(self) -> bool:
        return bool(self.rules)

    @property
    def texts(self) -> list[str]:
        return [rule.text for rule in self.rules]

    def skips(self, path: str, kind: str) -> bool:
        """Whether the member at `path` ("/usr/share/doc/x", no trailing slash) of
        `kind` ('d' directory, 'l' symlink, anything else a non-directory) is left out."""
        if not self.rules or path in ("", "/", "/."):
            return False
        skip = False
        for rule in self.rules:
            if rule.regex.match(path):
                skip = not rule.include
        if skip and kind in ("d", "l"):
            return not any(rule.include and path.startswith(rule.literal)
                           for rule in self.rules)
        return skip


def dpkg_config(rules: Sequence[PathRule]) -> str:
    """The rules as a dpkg configuration file (/etc/dpkg/dpkg.cfg.d/): dpkg run later in
    the image (if it ever is) leaves out the same paths."""
    head = ("# Path filters the image was made with (unessential bootstrap); dpkg applies\n"
            "# them to every package it unpacks here.\n")
    return head + "".join(f"{rule.text}\n" for rule in rules)
