"""Implicit run-time uses of the essential set: facts about the files a package ships.

Debian Policy lets every package run programs of the essential set (a shell, env,
perl, sed, ...) without declaring a relation; once those relations are stripped such a
program can fail silently in a minimal image. This module finds, in the data member of
a .deb, three kinds of use (the catalog's `implicit_use.kind`):

- ``shebang``: an executable file starting with ``#!``; it needs its interpreter, and
  ``#!/usr/bin/env X`` needs env and the command X (found through PATH);
- ``shell-exec``: an ELF program or library whose dynamic symbol imports include
  ``system`` or ``popen`` (glibc runs ``/bin/sh -c``), or an ``exec*``/``posix_spawn*``
  function together with a shell path string (``/bin/sh``, ``/bin/bash``);
- ``essential-path``: a shell script (any mode: it may be sourced) that names an
  absolute path of a program the policy lists (``/bin/sed``, ``/usr/bin/perl``, ...).

Each use is a `Finding` (file, kind, what it needs, a short printable evidence, the
package that provides the need according to the policy's `[implicit-use.programs]`).
Uses the package satisfies itself (it ships the needed file) are left out.

Package contents are hostile input: the ELF reader bounds every offset, size and count
against the file and refuses (returns None for) anything malformed; files larger than
the limits below are not read, and are named in `Scan.skipped`. The rewrite engine
writes the findings into the rewritten package as the deb822 control member
``implicit-uses`` (`uses_text`); bootstrap reads it back with `parse_uses` without
importing the rewrite engine.
"""

from __future__ import annotations

import io
import re
import struct
import tarfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import IO

from archive.debfile import (
    _CHUNK,
    DATA_EXTENSIONS,
    DATA_TAR_LIMIT,
    DebFile,
    _Bad,
    _decompress_iter,
    _extension,
    _Stream,
)
from base.deb822 import format_stanzas, iter_stanzas
from base.errors import FormatError
from recipes.policy import COMMAND_PATH, IMPLICIT_KINDS, ImplicitUseRules, canonical_path

#: The control member of a rewritten package that lists its implicit uses.
MEMBER = "implicit-uses"

MiB = 1024 * 1024
#: Largest ELF file read whole (its section headers sit at the end).
ELF_LIMIT = 256 * MiB
#: Bytes of a script read for essential paths (the shebang needs only the first line).
SCRIPT_LIMIT = 4 * MiB
#: Bytes of a first line the kernel reads for a shebang (BINPRM_BUF_SIZE, Linux >= 5.1).
SHEBANG_LIMIT = 256
EVIDENCE_LIMIT = 120
#: Findings kept per file and per package: a member never grows past a few hundred KiB.
MAX_PER_FILE = 32
MAX_FINDINGS = 2000

#: Functions that always run the shell (glibc: /bin/sh -c COMMAND).
SHELL_CALLS = ("system", "popen")
#: Functions that run a program; a shell when given a shell path.
EXEC_CALLS = ("execl", "execlp", "execle", "execv", "execve", "execvp", "execvpe",
              "execveat", "fexecve", "posix_spawn", "posix_spawnp")
#: Shell paths looked for in ELF files that import an exec function, as C strings.
SHELL_STRINGS = ("/bin/sh", "/bin/bash")
#: Interpreters whose scripts are searched for essential paths.
SHELLS = frozenset({"sh", "bash", "dash", "ksh", "mksh", "posh", "zsh"})

#: /bin/x, /sbin/x, /usr/bin/x, /usr/sbin/x as a word of its own (not /opt/bin/x, not
#: $DESTDIR/bin/x); a trailing dot ends a sentence, not the name
_ESSENTIAL_PATH = re.compile(r"(?<![\w./+-])(/(?:usr/)?s?bin/[\w+-]+(?:\.[\w+-]+)*)")
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\udc80-\udcff]")


@dataclass(frozen=True)
class Finding:
    """One implicit use: `path` (in the package) of `kind` runs `needs`."""

    path: str  # "/usr/bin/pygettext3.11"
    kind: str  # one of IMPLICIT_KINDS
    needs: str  # "/usr/bin/env", "/bin/sh", or a bare command ("python3") from env
    evidence: str  # "#! /usr/bin/env python3", "imports system", "line 3: sed ..."
    provider: str | None = None  # the package that ships `needs` (policy), if known
    declared: bool = False  # the rewritten package names the provider in its relations

    def stanza(self) -> dict[str, str]:
        fields = {"Path": self.path, "Kind": self.kind, "Needs": self.needs,
                  "Evidence": self.evidence}
        if self.provider:
            fields["Provider"] = self.provider
        fields["Declared"] = "yes" if self.declared else "no"
        return fields


@dataclass
class Scan:
    """What `scan_deb` found in one package."""

    uses: list[Finding] = field(default_factory=list)
    #: files not read (larger than the limits, or the list was full), and why
    skipped: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------
# the member


def uses_text(uses: Iterable[Finding]) -> str:
    """The `implicit-uses` control member: one deb822 stanza per use."""
    return format_stanzas(use.stanza() for use in uses)


def parse_uses(text: str) -> list[Finding]:
    """The uses an `implicit-uses` member lists; ValueError names what is wrong."""
    uses = []
    for number, stanza in enumerate(iter_stanzas(text), 1):
        try:
            path, kind, needs = stanza["Path"], stanza["Kind"], stanza["Needs"]
        except KeyError as exc:
            raise ValueError(f"stanza {number}: no {exc.args[0]} field") from None
        if kind not in IMPLICIT_KINDS:
            raise ValueError(f"stanza {number}: unknown Kind {printable(kind)!r}")
        if not path.startswith("/") or "\n" in path:
            raise ValueError(f"stanza {number}: Path {printable(path)!r} is not absolute")
        if not needs or any(c.isspace() for c in needs):
            raise ValueError(f"stanza {number}: Needs {printable(needs)!r} is not a path "
                             "or a command")
        declared = stanza.get("Declared", "no")
        if declared not in ("yes", "no"):
            raise ValueError(f"stanza {number}: Declared is {printable(declared)!r}, "
                             "not yes or no")
        uses.append(Finding(printable(path), kind, printable(needs),
                            _evidence(stanza.get("Evidence", "")),
                            printable(stanza.get("Provider", "")) or None, declared == "yes"))
    return uses


# ---------------------------------------------------------------------------------
# one package


def scan_deb(deb: DebFile, rules: ImplicitUseRules) -> Scan:
    """The implicit uses of the files in `deb`'s data member (streamed, never unpacked).

    Providers come from `rules`; a use of a file the package ships itself is left out.
    FormatError (naming the package) if the data member is corrupt."""
    scan = Scan()
    shipped: set[str] = set()
    found: list[Finding] = []
    for path, mode, handle in _entries(deb):
        shipped.add(canonical_path(path))
        if handle is None:
            continue
        head = handle.read(4)
        if head == b"\x7fELF":
            size = _size(handle)
            if size > ELF_LIMIT:
                scan.skipped.append(f"{path}: ELF file larger than {ELF_LIMIT // MiB} MiB")
                continue
            found += scan_elf(path, head + handle.read(ELF_LIMIT))
        elif head[:2] == b"#!":
            body = head + handle.read(SCRIPT_LIMIT)
            found += scan_script(path, mode, body, rules)
    seen: set[tuple[str, str]] = set()
    for use in found:
        if _satisfied_by(use.needs, shipped) or (use.path, use.needs) in seen:
            continue
        seen.add((use.path, use.needs))
        if len(scan.uses) >= MAX_FINDINGS:
            scan.skipped.append(f"{use.path}: more than {MAX_FINDINGS} uses in the "
                                "package; the rest are not listed")
            break
        scan.uses.append(replace(use, provider=rules.provider(use.needs)))
    return scan


def _satisfied_by(needs: str, shipped: set[str]) -> bool:
    if "/" in needs:
        return canonical_path(needs) in shipped
    return any(canonical_path(f"{folder}/{needs}") in shipped for folder in COMMAND_PATH)


def _size(handle: IO[bytes]) -> int:
    return int(getattr(handle, "size", 0))


def _entries(deb: DebFile) -> Iterator[tuple[str, int, IO[bytes] | None]]:
    """(image path, mode, reader of a regular file or None) of each data.tar entry."""
    subject = deb.origin or deb.data_name
    member = deb.data_name
    try:
        ext = _extension(member, "data.tar", DATA_EXTENSIONS)
        stream = _Stream(_decompress_iter(deb.data, ext, member), member, DATA_TAR_LIMIT)
        with tarfile.open(fileobj=io.BufferedReader(stream, _CHUNK), mode="r|",
                          encoding="utf-8", errors="surrogateescape") as tar:
            for info in tar:
                name = info.name[2:] if info.name.startswith("./") else info.name
                path = "/" + printable(name.strip("/"))
                yield path, info.mode, tar.extractfile(info) if info.isreg() else None
    except _Bad as exc:
        raise FormatError(subject, str(exc)) from None
    except (tarfile.TarError, EOFError, ValueError, OverflowError, OSError) as exc:
        raise FormatError(subject, f"corrupt {member}: {exc}") from None


# ---------------------------------------------------------------------------------
# scripts


def parse_shebang(data: bytes) -> tuple[str, tuple[str, ...]] | None:
    """(interpreter, arguments) of a `#!` first line, or None (no shebang, no absolute
    interpreter). The line is read as the kernel does: at most SHEBANG_LIMIT bytes."""
    if not data.startswith(b"#!"):
        return None
    line = data[2:SHEBANG_LIMIT].split(b"\n", 1)[0]
    words = [printable(word.decode("utf-8", "surrogateescape"))
             for word in line.replace(b"\t", b" ").split(b" ") if word]
    if not words or not words[0].startswith("/"):
        return None
    return words[0], tuple(words[1:])


def env_command(args: tuple[str, ...]) -> str | None:
    """The command `env ARGS...` runs: options (-S splits its value) and NAME=VALUE
    assignments skipped; None if there is none."""
    words = list(args)
    while words:
        word = words.pop(0)
        if word in ("-S", "--split-string"):
            continue
        if word.startswith("-S"):
            words = word[2:].split() + words
            continue
        if word in ("-u", "--unset", "-C", "--chdir"):
            if words:
                words.pop(0)
            continue
        if word.startswith("-") or ("=" in word and not word.startswith("/")):
            continue
        return word
    return None


def scan_script(path: str, mode: int, data: bytes, rules: ImplicitUseRules) -> list[Finding]:
    """Uses of a file starting with `#!`: its interpreter (executable files only) and
    the essential paths of a shell script."""
    parsed = parse_shebang(data)
    if parsed is None:
        return []
    interpreter, args = parsed
    out: list[Finding] = []
    line = _evidence(data[:SHEBANG_LIMIT].split(b"\n", 1)[0].decode("utf-8", "replace"))
    command = env_command(args) if interpreter.rsplit("/", 1)[-1] == "env" else None
    if mode & 0o111:
        out.append(Finding(path, "shebang", interpreter, line))
        if command is not None:
            out.append(Finding(path, "shebang", command, line))
    shell = (command or interpreter).rsplit("/", 1)[-1]
    if shell in SHELLS:
        out += _essential_paths(path, data, rules)
    return out[:MAX_PER_FILE]


def _essential_paths(path: str, data: bytes, rules: ImplicitUseRules) -> list[Finding]:
    out: list[Finding] = []
    seen: set[str] = set()
    text = data.decode("utf-8", "replace")
    for number, line in enumerate(text.split("\n"), 1):
        stripped = line.strip()
        if number == 1 or not stripped or stripped.startswith("#"):
            continue
        for match in _ESSENTIAL_PATH.finditer(line):
            needs = match.group(1)
            if needs in seen or rules.program(needs) is None:
                continue
            seen.add(needs)
            out.append(Finding(path, "essential-path", needs,
                               _evidence(f"line {number}: {stripped}")))
            if len(out) >= MAX_PER_FILE:
                return out
    return out


# ---------------------------------------------------------------------------------
# ELF


_SHT_DYNSYM = 11
_SHN_UNDEF = 0
_BINDINGS = (1, 2)  # STB_GLOBAL, STB_WEAK
_MAX_SECTIONS = 1 << 16
_MAX_SYMBOLS = 1 << 20
_MAX_NAME = 1024


def scan_elf(path: str, data: bytes) -> list[Finding]:
    """The shell-exec use of an ELF file, if any (none for malformed input)."""
    imports = elf_imports(data)
    if not imports:
        return []
    calls = [name for name in SHELL_CALLS if name in imports]
    if calls:
        return [Finding(path, "shell-exec", "/bin/sh", f"imports {', '.join(calls)}")]
    execs = [name for name in EXEC_CALLS if name in imports]
    if not execs:
        return []
    for shell in SHELL_STRINGS:
        if shell.encode() + b"\0" in data:
            shown = ", ".join(execs[:4]) + (", ..." if len(execs) > 4 else "")
            return [Finding(path, "shell-exec", shell,
                            f"imports {shown} and holds the string {shell}")]
    return []


def elf_imports(data: bytes) -> frozenset[str] | None:
    """The undefined (imported) global and weak symbols of an ELF file's .dynsym.

    32- and 64-bit, either byte order. None if `data` is not ELF or is malformed (an
    offset, size or count outside the file, a bad entry size); an empty set for an ELF
    file without section headers or dynamic symbols. Never raises on any input."""
    try:
        return _elf_imports(data)
    except (struct.error, ValueError, IndexError, OverflowError):
        return None


def _within(offset: int, size: int, total: int) -> bool:
    return offset >= 0 and size >= 0 and offset + size <= total


def _elf_imports(data: bytes) -> frozenset[str] | None:
    if len(data) < 16 or data[:4] != b"\x7fELF":
        return None
    wide, order = data[4], data[5]
    if wide not in (1, 2) or order not in (1, 2):
        return None
    end = "<" if order == 1 else ">"
    if wide == 1:
        header, section, symbol = end + "HHIIIIIHHHHHH", end + "IIIIIIIIII", end + "IIIBBH"
    else:
        header, section, symbol = end + "HHIQQQIHHHHHH", end + "IIQQQQIIQQ", end + "IBBHQQ"
    if not _within(16, struct.calcsize(header), len(data)):
        return None
    fields = struct.unpack_from(header, data, 16)
    shoff, shentsize, shnum = fields[5], fields[10], fields[11]
    section_size, symbol_size = struct.calcsize(section), struct.calcsize(symbol)
    if shoff == 0:
        return frozenset()
    if shentsize < section_size or not _within(shoff, section_size, len(data)):
        return None
    if shnum == 0:  # extended numbering: the count is section 0's sh_size
        shnum = struct.unpack_from(section, data, shoff)[5]
    if shnum > _MAX_SECTIONS or not _within(shoff, shnum * shentsize, len(data)):
        return None
    sections = [struct.unpack_from(section, data, shoff + index * shentsize)
                for index in range(shnum)]
    names: set[str] = set()
    for _name, kind, _flags, _addr, offset, size, link, _info, _align, entsize in sections:
        if kind != _SHT_DYNSYM:
            continue
        if link >= shnum:
            return None
        strings, strings_size = sections[link][4], sections[link][5]
        entsize = entsize or symbol_size
        if (entsize < symbol_size or not _within(offset, size, len(data))
                or not _within(strings, strings_size, len(data))):
            return None
        limit = strings + strings_size
        for index in range(1, min(size // entsize, _MAX_SYMBOLS)):
            entry = struct.unpack_from(symbol, data, offset + index * entsize)
            if wide == 1:
                name, info, shndx = entry[0], entry[3], entry[5]
            else:
                name, info, shndx = entry[0], entry[1], entry[3]
            if shndx != _SHN_UNDEF or info >> 4 not in _BINDINGS or name >= strings_size:
                continue
            start = strings + name
            stop = data.find(b"\0", start, min(limit, start + _MAX_NAME))
            if stop > start:
                names.add(data[start:stop].decode("latin-1"))
    return frozenset(names)


# ---------------------------------------------------------------------------------
# text


def printable(text: str) -> str:
    """`text` with control characters escaped: one line, safe on a terminal."""
    return _UNPRINTABLE.sub(lambda m: f"\\x{_byte(m.group()):02x}", text)


def _byte(char: str) -> int:
    """The byte a control character or an undecodable byte (surrogateescape) stands for."""
    code = ord(char)
    return code - 0xDC00 if code >= 0xDC80 else code


def _evidence(text: str) -> str:
    shown = printable(" ".join(text.split()))
    if len(shown) > EVIDENCE_LIMIT:
        shown = shown[:EVIDENCE_LIMIT - 3] + "..."
    return shown
