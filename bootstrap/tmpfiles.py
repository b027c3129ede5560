"""What `systemd-tmpfiles --create FILE...` makes of tmpfiles.d lines, natively (the
tmpfiles action): the creating types, as tmpfiles.d(5) has them.

- `d`, `D`, and the subvolume types `v`, `q`, `Q` (a directory here): created where
  missing, mode and owner set (also on an existing one, unless written `:MODE`,
  `:USER`); `L` a symbolic link where nothing is (`L+`: replacing what is);
  `f` a file where missing, with the argument as content (`f+`: rewritten);
- missing parent directories are made 0755 root:root, as systemd-tmpfiles does;
- `z` adjusts the mode and owner of what exists;
- left out: lines for boot only (`!`), those reading credentials (`^`), paths with
  specifiers (`%`: the host's name, a user's home: the running system's), what lives
  only on a running system (/run, /tmp, /var/tmp, /proc, /sys, /dev: a container's
  runtime mounts its own), the recursive and attribute types (Z, a, h, x, X, r, R, e,
  C, w, t, T) and nodes (p, c, b).

A line that cannot be applied (a user that does not exist, a file in the way) ends
with an error unless the type carries `-`, as with systemd-tmpfiles."""

from __future__ import annotations

import stat
from collections.abc import Callable
from dataclasses import dataclass

from bootstrap.confined import ImageRoot

RUNTIME = ("/run", "/tmp", "/var/tmp", "/proc", "/sys", "/dev")
DIRECTORIES = "dDvqQ"


@dataclass(frozen=True)
class Line:
    kind: str  # d, D, v, q, Q, L, f
    plus: bool  # `+`: replace / rewrite
    ignore_errors: bool  # `-`
    path: str
    mode: int | None
    mode_on_create: bool  # `:MODE`
    user: str
    group: str
    owner_on_create: bool
    argument: str


def parse(text: str) -> list[Line]:
    """The creating lines of a tmpfiles.d file that apply to an image (see above)."""
    lines = []
    for raw in text.splitlines():
        words = raw.split(None, 6)  # (the argument as written: quotes are kept)
        if len(words) < 2 or words[0].startswith("#"):
            continue
        kind, modifiers = words[0][0], words[0][1:]
        path = words[1]
        if kind not in DIRECTORIES + "Lfz" or "!" in modifiers or "^" in modifiers or \
                "%" in path or not path.startswith("/") or \
                any(path == r or path.startswith(r + "/") for r in RUNTIME):
            continue
        field = [*words[2:], "-", "-", "-", "-", "-"]
        mode_text, user, group = field[0], field[1], field[2]
        argument = words[6].strip() if len(words) > 6 else ""
        mode = None
        on_create = mode_text.startswith(":")
        digits = mode_text.lstrip(":~")
        if digits != "-":
            mode = int(digits, 8) if digits and all(c in "01234567" for c in digits) \
                else _bad(raw, "mode")
        lines.append(Line(kind, "+" in modifiers, "-" in modifiers, path.rstrip("/") or "/",
                          mode, on_create, user.lstrip(":"), group.lstrip(":"),
                          user.startswith(":") or group.startswith(":"), argument))
    return lines


def create(fs: ImageRoot, lines: list[Line], uid: Callable[[str], int],
           gid: Callable[[str], int]) -> list[str]:
    """Apply `lines` to the image (parents first); the paths made or changed."""
    done = []
    for line in sorted(lines, key=lambda item: item.path):
        try:
            if _one(fs, line, uid, gid):
                done.append(line.path)
        except (OSError, ValueError) as exc:
            if not line.ignore_errors:
                raise ValueError(f"tmpfiles line for {line.path}: {exc}") from None
    return done


def _one(fs: ImageRoot, line: Line, uid: Callable[[str], int],
         gid: Callable[[str], int]) -> bool:
    parent = line.path.rsplit("/", 1)[0] or "/"
    existing = fs.lstat(line.path, follow=False)
    if line.kind == "z":  # adjust what exists
        if existing is None or stat.S_ISLNK(existing.st_mode):
            return False
        created = False
        default = stat.S_IMODE(existing.st_mode)
        return _adjust(fs, line, created, default, uid, gid)
    if line.kind == "L":
        if existing is not None and not line.plus:
            return False
        fs.makedirs(parent)
        if existing is not None and not stat.S_ISLNK(existing.st_mode):
            fs.remove(line.path, recursive=True)
        fs.symlink(line.path, line.argument, replace=True)
        return True
    created = existing is None
    if line.kind in DIRECTORIES:
        if existing is not None and not stat.S_ISDIR(existing.st_mode):
            raise ValueError("not a directory")
        fs.makedirs(line.path)
        default = 0o755
    else:  # f
        if existing is not None and not stat.S_ISREG(existing.st_mode):
            raise ValueError("not a regular file")
        if created or line.plus:
            fs.makedirs(parent)
            fs.write_text(line.path, line.argument, mode=line.mode or 0o644)
            created = True
        default = 0o644
    return _adjust(fs, line, created, default, uid, gid)


def _adjust(fs: ImageRoot, line: Line, created: bool, default: int,
            uid: Callable[[str], int], gid: Callable[[str], int]) -> bool:
    if line.mode is not None and (created or not line.mode_on_create):
        fs.chmod(line.path, line.mode)
    elif created:
        fs.chmod(line.path, default)
    if created or not line.owner_on_create:
        owner = uid(line.user) if line.user not in ("", "-") else (0 if created else -1)
        group = gid(line.group) if line.group not in ("", "-") else (0 if created else -1)
        if owner != -1 or group != -1:
            fs.chown(line.path, owner, group)
    return True


def _bad(raw: str, what: str) -> int:
    raise ValueError(f"tmpfiles line {raw.strip()!r}: bad {what}")
