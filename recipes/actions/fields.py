"""The types of action fields: what a value is, how it is read from the text of an
`actions` stanza (checked, with the field's deb822 name in the message) and written back.

Each type is an `Annotated` type carrying a `Value`: `parse(value, what)` accepts the
text of the field (or an already typed value) and returns the typed value, ValueError
if it is unsafe or malformed; `text(value)` is the field's deb822 value.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, NamedTuple, get_args

from recipes.actions.checks import (
    YES,
    Check,
    check_account_name,
    check_account_path,
    check_alternative_name,
    check_alternative_path,
    check_capabilities,
    check_depth,
    check_file_names,
    check_files,
    check_fixed_id,
    check_gecos,
    check_link_pattern,
    check_mode,
    check_name_pattern,
    check_names,
    check_owner,
    check_package,
    check_path,
    check_paths,
    check_pattern_path,
    check_priority,
    check_slaves,
    check_target,
    check_version,
    check_word,
    check_yes_no,
    optional,
    plain_text,
)
from recipes.actions.modes import check_chmod_mode
from recipes.actions.patterns import bre_to_python

ScriptName = Literal["preinst", "postinst", "prerm", "postrm", "config"]
Phase = Literal[
    "install", "upgrade", "abort-upgrade", "configure", "abort-install", "abort-remove",
    "abort-deconfigure", "remove", "purge", "disappear", "failed-upgrade", "deconfigure",
    "triggered", "reconfigure",
]
CacheKind = Literal["mime", "desktop", "icons", "glib-schemas", "fonts", "man", "hwdb",
                    "journal-catalog"]
# what identifies one running system or is its own secret, made by its tool (the command
# as maintainer scripts run it)
IdentityKind = Literal["machine-id", "dbus-machine-id", "snakeoil-certificate", "rndc-key"]
PythonName = Literal["python3", "pypy3"]
SCRIPTS: tuple[str, ...] = get_args(ScriptName)
PHASES: tuple[str, ...] = get_args(Phase)
CACHE_KINDS: tuple[str, ...] = get_args(CacheKind)
FindType = Literal["", "f", "l", "d"]  # find's -type: a regular file, a link, a directory
FIND_TYPES: tuple[str, ...] = get_args(FindType)
IDENTITY_KINDS: tuple[str, ...] = get_args(IdentityKind)
PYTHONS: tuple[str, ...] = get_args(PythonName)


@dataclass(frozen=True)
class Value:
    """How a field's value is read (and checked) and written back as deb822 text."""

    parse: Callable[[Any, str], Any]
    text: Callable[[Any], str] = str


class Slave(NamedTuple):
    """One slave link of an alternative (update-alternatives --slave LINK NAME PATH)."""

    link: str
    name: str
    path: str


def _text(check: Check) -> Callable[[Any, str], str]:
    def parse(value: Any, what: str) -> str:
        if not isinstance(value, str):
            raise ValueError(f"{what} {value!r} is not text")
        return check(value, what)

    return parse


def _yes_no(value: Any, what: str) -> bool:
    if isinstance(value, bool):
        return value
    return _text(check_yes_no)(value, what).strip().lower() in YES


def _priority(value: Any, what: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        check_priority(str(value), what)
        return value
    return int(_text(check_priority)(value, what))


def _exit_status(value: Any, what: str) -> int:
    """An exit status a script fails with: 1..255."""
    text = str(value).strip()
    if not re.fullmatch(r"[0-9]{1,3}", text) or not 0 < int(text) < 256:
        raise ValueError(f"{what} {text!r} is not an exit status in 1..255")
    return int(text)


def _slaves(value: Any, what: str) -> tuple[Slave, ...]:
    if isinstance(value, str):
        check_slaves(value, what)
        return tuple(Slave(*words) for words in (line.split() for line in value.split("\n"))
                     if words and words != ["."])
    if not isinstance(value, list | tuple):
        raise ValueError(f"{what} {value!r} is not a list of slaves")
    slaves = []
    for item in value:
        if not isinstance(item, list | tuple) or len(item) != 3 or \
                not all(isinstance(word, str) for word in item):
            raise ValueError(f"{what}: alternative slave {item!r} is not LINK NAME PATH")
        link, name, path = item
        for word in item:
            check_word(word, what)
        slaves.append(Slave(check_path(link, "slave link"),
                            check_alternative_name(name, "slave name"),
                            check_path(path, "slave path")))
    return tuple(slaves)


def _slaves_text(slaves: tuple[Slave, ...]) -> str:
    return "".join(f"\n{link} {name} {path}" for link, name, path in slaves)


def _words(check: Check) -> Callable[[Any, str], tuple[str, ...]]:
    """Blank-separated words, each passing `check` (a string, or a list of words)."""

    def parse(value: Any, what: str) -> tuple[str, ...]:
        if isinstance(value, str):
            return tuple(check(value, what).split())
        if not isinstance(value, list | tuple) or not all(isinstance(w, str) for w in value):
            raise ValueError(f"{what} {value!r} is not a list of words")
        return tuple(check(check_word(word, what), what) for word in value)

    return parse


def _one_of(choices: tuple[str, ...], message: str) -> Callable[[Any, str], str]:
    def parse(value: Any, what: str) -> str:
        if value not in choices:
            raise ValueError(message.format(what=what, value=value))
        return str(value)

    return parse


_CONTENT_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")  # a tab is text


def _content_line(line: Any, what: str) -> str:
    if not isinstance(line, str):
        raise ValueError(f"{what}: line {line!r} is not text")
    found = _CONTENT_CONTROL.search(line)
    if found:
        raise ValueError(f"{what}: line {line!r} contains the control character "
                         f"{found.group()!r}")
    return line


def _content(value: Any, what: str) -> tuple[str, ...]:
    """The lines of a file: a list of lines, or the deb822 text of `Content` (its first
    line, then each continuation line; a line starting with '.' loses that '.', so an
    empty line is written '.' and a line '.x' is written '..x')."""
    if isinstance(value, list | tuple):
        return tuple(_content_line(line, what) for line in value)
    if not isinstance(value, str):
        raise ValueError(f"{what} {value!r} is not text")
    first, *rest = value.split("\n")
    lines = [first.strip()] if first.strip() else []
    for line in rest:
        if not line.strip():
            raise ValueError(f"{what}: an empty or blank line is written '.' (the file "
                             "always ends with a newline)")
        lines.append(line)
    return tuple(_content_line(line[1:] if line.startswith(".") else line, what)
                 for line in lines)


def _content_text(lines: tuple[str, ...]) -> str:
    return "".join("\n." + line if line.startswith(".") or not line.strip() else "\n" + line
                   for line in lines)


def _phases(value: Any, what: str) -> tuple[str, ...]:
    phases = tuple(value.split()) if isinstance(value, str) else tuple(value)
    bad = [str(phase) for phase in phases if phase not in PHASES]
    if bad:
        raise ValueError(f"unknown script argument(s) {', '.join(bad)}")
    return phases


# -- the field types ---------------------------------------------------------------------
AccountName = Annotated[str, Value(_text(check_account_name))]
OptionalAccountName = Annotated[str, Value(_text(optional(check_account_name)))]
Owner = Annotated[str, Value(_text(optional(check_owner)))]  # a name or an id; optional
Capabilities = Annotated[str, Value(_text(check_capabilities))]  # optional
NamePattern = Annotated[str, Value(_text(check_name_pattern))]  # optional
LinkPattern = Annotated[str, Value(_text(check_link_pattern))]  # optional
Depth = Annotated[str, Value(_text(check_depth))]  # optional
FoundType = Annotated[FindType, Value(_one_of(FIND_TYPES, "{what} must be f, l, d or nothing"))]
FixedId = Annotated[str, Value(_text(optional(check_fixed_id)))]  # optional
AbsolutePath = Annotated[str, Value(_text(check_path))]
PatternPath = Annotated[str, Value(_text(check_pattern_path))]  # `/etc/x/named.conf*`
OptionalPath = Annotated[str, Value(_text(optional(check_path)))]
AccountPath = Annotated[str, Value(_text(check_account_path))]  # home, shell: no ':'
Gecos = Annotated[str, Value(_text(check_gecos))]
AlternativeName = Annotated[str, Value(_text(check_alternative_name))]
AlternativePath = Annotated[str, Value(_text(check_alternative_path))]  # or '*'
Target = Annotated[str, Value(_text(check_target))]  # a symlink target, maybe relative
Word = Annotated[str, Value(_text(check_word))]
FlagName = Annotated[str, Value(_text(lambda value, what: _flag_name(value, what)))]
OctalMode = Annotated[str, Value(_text(check_mode))]  # as written: "0755", "755"; optional
ChmodMode = Annotated[str, Value(_text(check_chmod_mode))]  # octal or "g+s"; optional
Version = Annotated[str, Value(_text(check_version))]  # optional
PackageName = Annotated[str, Value(_text(check_package))]  # with an optional :arch
OptionalPackageName = Annotated[str, Value(_text(optional(check_package)))]
YesNo = Annotated[bool, Value(_yes_no, text=lambda value: "yes" if value else "no")]
Priority = Annotated[int, Value(_priority)]
ExitStatus = Annotated[int, Value(_exit_status)]
Message = Annotated[str, Value(_text(plain_text))]  # one line of text; optional
Slaves = Annotated[tuple[Slave, ...], Value(_slaves, text=_slaves_text)]
Paths = Annotated[tuple[str, ...], Value(_words(check_paths), text=" ".join)]
# the text of a file, line by line (each ends with a newline; no lines: an empty file)
FileContent = Annotated[tuple[str, ...], Value(_content, text=_content_text)]
ConfigFiles = Annotated[tuple[str, ...], Value(_words(check_files), text=" ".join)]
FileNames = Annotated[tuple[str, ...], Value(_words(check_file_names), text=" ".join)]
Names = Annotated[tuple[str, ...], Value(_words(check_names), text=" ".join)]  # [a-z0-9_-]
Kind = Annotated[CacheKind, Value(_one_of(
    CACHE_KINDS, "{what} must be one of " + ", ".join(CACHE_KINDS)))]
Identity = Annotated[IdentityKind, Value(_one_of(
    IDENTITY_KINDS, "{what} must be one of " + ", ".join(IDENTITY_KINDS)))]
Script = Annotated[ScriptName, Value(_one_of(SCRIPTS, "unknown maintainer script {value!r}"))]
Interpreter = Annotated[PythonName, Value(_one_of(
    PYTHONS, "{what} must be one of " + ", ".join(PYTHONS)))]
Phases = Annotated[tuple[Phase, ...], Value(_phases, text=" ".join)]

# `Only-If`: tests of paths in the image that must all hold for the action to be taken,
# as test(1) has them: "-f /etc/x", "! -e /etc/y" ("-L" does not follow a last symlink,
# the others do; "-x" is any execute bit, "-s" a size above zero); and "md5 PATH HASH..."
# (a regular file whose md5 is one of the hashes: a file as a package shipped it); and
# "dpkg-md5 PATH PACKAGE" (PATH's md5 is the one dpkg records for it among PACKAGE's
# conffiles: the old rm_conffile idiom, `md5sum F` against `dpkg-query -W
# -f='${Conffiles}' PACKAGE`; no file and no record count as the same, as there); and
# "diverted PATH [PACKAGE]" (dpkg's diversion database has a diversion of PATH, held
# by PACKAGE where one is named: `dpkg-divert --listpackage PATH`); and "same PATH OTHER"
# (both are files with the same bytes, links followed: `cmp -s PATH OTHER`); "size PATH
# N" (a regular file of N bytes: `[ $(wc -c < PATH) -eq N ]`); "grep PATH PATTERN" (a
# line of the file matches the basic regular expression, of the subset
# recipes.actions.patterns reads: `grep -q PATTERN PATH`); "statoverride PATH [TEXT]"
# (dpkg's stat override database has an entry for PATH, whose line as `dpkg-statoverride
# --list PATH` prints it, `OWNER GROUP MODE PATH`, contains TEXT where one is given:
# words of letters, digits and `_.:+-` joined by single blanks); "flag NAME" (a test
# recorded earlier in the same run of the script by a `record-test` action held then:
# a test of the system as the original script read it, before a change of its own
# turned it); "owner PATH ID" (PATH, its last component not followed, is not a directory
# and its owner's numeric id is ID: `[ "$(ls -ln PATH | awk '{print $3}')" = ID ]`);
# "mountpoint PATH" (a file system is mounted at PATH: `mountpoint -q PATH`)
FILE_TESTS = ("-e", "-f", "-d", "-L", "-x", "-s")
STATOVERRIDES = "/var/lib/dpkg/statoverride"
_OVERRIDE_WORD = re.compile(r"[A-Za-z0-9_.:+-]+")
FLAG = re.compile(r"[a-z][a-z0-9-]{0,31}")
_MD5 = re.compile(r"[0-9a-f]{32}")
_PACKAGE = re.compile(r"[a-z0-9][a-z0-9+.-]+")


def condition_parts(item: str) -> tuple[bool, str, str, tuple[str, ...]]:
    """(negated, test, path, hashes) of one `Only-If` item (ValueError if malformed);
    for `dpkg-md5`, the package's name in place of the hashes."""
    negated = item.startswith("! ")
    words = (item[2:] if negated else item).split(" ")
    test, path, rest = (words[0], words[1], tuple(words[2:])) if len(words) >= 2 else \
        ("", "", ())
    if test in FILE_TESTS and not rest or test == "md5" and rest and all(
            _MD5.fullmatch(h) for h in rest) or test == "dpkg-md5" and len(rest) == 1 and \
            _PACKAGE.fullmatch(rest[0]) or test == "diverted" and len(rest) <= 1 and \
            all(_PACKAGE.fullmatch(r) for r in rest) or test == "same" and len(rest) == 1 \
            or test == "size" and len(rest) == 1 and re.fullmatch(r"[0-9]{1,15}", rest[0]) \
            or test == "grep" and len(rest) == 1 and _pattern(rest[0]) \
            or test == "statoverride" and not any(c in path for c in "*?[") and all(
                _OVERRIDE_WORD.fullmatch(r) for r in rest) \
            or test == "flag" and not rest and FLAG.fullmatch(path) \
            or test == "owner" and len(rest) == 1 and re.fullmatch(r"[0-9]{1,10}", rest[0]) \
            or test == "mountpoint" and not rest:
        return negated, test, path, rest
    raise ValueError(f"{item!r} is not a test such as '-f /path', '! -e /path', "
                     "'md5 /path HASH...', 'dpkg-md5 /path PACKAGE', "
                     "'diverted /path [PACKAGE]', 'same /path /other', 'size /path N', "
                     "'grep /path PATTERN', 'statoverride /path [TEXT]', 'owner /path ID', "
                     "'mountpoint /path' or 'flag NAME'")


def _flag_name(value: str, what: str) -> str:
    """The name of a recorded test: a lower-case letter, then letters, digits and '-'."""
    if not FLAG.fullmatch(value):
        raise ValueError(f"{what} {value!r} is not a flag name (a lower-case letter, then "
                         "lower-case letters, digits and '-', at most 32)")
    return value


def _pattern(value: str) -> bool:
    try:
        bre_to_python(value)
    except ValueError:
        return False
    return True


def condition_paths(item: str) -> tuple[str, ...]:
    """The paths whose change may turn one `Only-If` test (both of `same`)."""
    _, test, path, rest = condition_parts(item)
    if test == "flag":  # (what it recorded does not change)
        return ()
    if test == "statoverride":  # (the database, not the file: a chown leaves it)
        return (STATOVERRIDES,)
    return (path, *rest) if test == "same" else (path,)


def _conditions(value: Any, what: str) -> tuple[str, ...]:
    items = tuple(value) if isinstance(value, (tuple, list)) else tuple(
        part.strip() for part in str(value).split(",") if part.strip())
    for item in items:
        try:
            paths = condition_paths(item)
        except ValueError as exc:
            raise ValueError(f"{what} {exc}") from None
        _, test, tested, _ = condition_parts(item)
        for path in (*paths, tested) if test == "statoverride" else paths:
            if "," in path:
                raise ValueError(f"{what} {item!r}: a path with a comma")
            check_path(path, what)
    return items


Conditions = Annotated[tuple[str, ...], Value(_conditions, text=", ".join)]
