"""An action's `Only-If` tests, evaluated in the image as test(1) evaluates them on a
system: `-e` exists, `-f` regular file, `-d` directory, `-L` symbolic link (the last
component not followed), `-x` any execute bit (root's view), `-s` size above zero;
`! ` negates; `md5 PATH HASH...` a regular file whose md5 is one of the hashes;
`dpkg-md5 PATH PACKAGE` PATH's md5 is the one dpkg records for it among PACKAGE's
conffiles (none and none count as the same, as in the shell idiom it comes from);
`diverted PATH [PACKAGE]` dpkg's diversion database diverts PATH (by PACKAGE);
`statoverride PATH [TEXT]` dpkg's stat override database has an entry for PATH (its
line as `dpkg-statoverride --list` prints it contains TEXT); `flag NAME` a test recorded
earlier in the same run of the script held; `owner PATH ID` PATH (not followed) is not
a directory and its owner's id is ID; `mountpoint PATH` a file system is mounted there;
`same PATH OTHER` both are one file, or regular files (links followed) with the same
bytes (cmp -s); `size PATH N` a regular file of N bytes; `grep PATH PATTERN` a line
of the file matches the basic regular expression (grep -q).
Paths resolve inside the image root (ImageRoot)."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Mapping

from bootstrap.confined import Confinement, ImageRoot
from bootstrap.diversions import DIVERSIONS, parse_diversions
from bootstrap.statoverrides import listed, parse_statoverrides
from recipes.actions.fields import STATOVERRIDES, condition_parts
from recipes.actions.patterns import matches


def holds(fs: ImageRoot, condition: str,
          recorded: Mapping[str, Mapping[str, str]] | None = None,
          flags: Mapping[str, bool] | None = None) -> bool:
    """Whether one test such as "-f /etc/x", "! -e /etc/y" or "md5 /etc/x HASH..."
    holds in the image; `recorded`: package -> conffile -> the md5 dpkg records (the
    packages unpacked so far); `flags`: the tests recorded so far in this run of the
    script (a flag not recorded is false)."""
    negated, test, path, hashes = condition_parts(condition)
    if test == "flag":
        return bool((flags or {}).get(path, False)) != negated
    if test == "mountpoint":  # (a directory, not a link, on another device than its
        # parent's, or the same directory as its parent: os.path.ismount's reading)
        try:
            if fs.is_symlink(path):
                return negated
            where = fs.canonical(path)
        except (Confinement, OSError):
            return negated
        real = fs.root / where.lstrip("/")
        return (real.is_dir() and not real.is_symlink() and os.path.ismount(real)) != negated
    if test == "owner":  # (as `ls -ln PATH` lists it: a directory lists its entries)
        try:
            status = fs.lstat(path, follow=False)
        except (Confinement, OSError):
            status = None
        return (status is not None and not stat.S_ISDIR(status.st_mode) and
                status.st_uid == int(hashes[0])) != negated
    if test == "statoverride":  # (`dpkg-statoverride --list PATH | grep -qF TEXT`)
        overrides = parse_statoverrides(fs.read_text(STATOVERRIDES, strict=True)) \
            if fs.lexists(STATOVERRIDES) else {}
        line = listed(overrides, path)
        return (line is not None and " ".join(hashes) in line) != negated
    if test == "diverted":
        table = parse_diversions(fs.read_text(DIVERSIONS, strict=True)) \
            if fs.lexists(DIVERSIONS) else {}
        found = table.get(path)
        return (found is not None and (not hashes or found.holder == hashes[0])) != negated
    if test == "same":  # (as cmp: one file twice is the same, a directory is an error)
        try:
            first, second = fs.lstat(path), fs.lstat(hashes[0])
            same = first is not None and second is not None and (
                (first.st_dev, first.st_ino) == (second.st_dev, second.st_ino) or
                fs.is_file(path) and fs.is_file(hashes[0]) and
                fs.read_bytes(path) == fs.read_bytes(hashes[0]))
        except (Confinement, OSError):
            same = False
        return same != negated
    if test in ("size", "grep"):  # (a file that cannot be read: the test fails)
        try:
            status = fs.lstat(path)
            if status is None:
                result = False
            elif test == "size":  # (wc -c < DIR prints 0)
                result = (status.st_size if stat.S_ISREG(status.st_mode) else
                          0 if stat.S_ISDIR(status.st_mode) else -1) == int(hashes[0])
            else:
                result = stat.S_ISREG(status.st_mode) and \
                    matches(hashes[0], fs.read_bytes(path).decode("latin-1"))
        except (Confinement, OSError):
            result = False
        return result != negated
    if test in ("md5", "dpkg-md5"):
        try:
            data = fs.read_bytes(path) if fs.is_file(path) else None
        except (Confinement, OSError):
            data = None
        digest = hashlib.md5(data, usedforsecurity=False).hexdigest() \
            if data is not None else ""
        if test == "md5":
            return (bool(digest) and digest in hashes) != negated
        record = (recorded or {}).get(hashes[0], {}).get(path, "")
        return (digest == record) != negated
    try:
        status = fs.lstat(path, follow=test != "-L")
    except (Confinement, OSError):
        status = None
    if status is None:
        result = False
    elif test == "-e":
        result = True
    elif test == "-f":
        result = stat.S_ISREG(status.st_mode)
    elif test == "-d":
        result = stat.S_ISDIR(status.st_mode)
    elif test == "-L":
        result = stat.S_ISLNK(status.st_mode)
    elif test == "-x":
        result = bool(status.st_mode & 0o111)
    elif test == "-s":
        result = status.st_size > 0
    else:
        raise ValueError(f"Only-If {condition!r}: unknown test {test}")
    return result != negated
