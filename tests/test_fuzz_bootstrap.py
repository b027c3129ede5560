"""Fuzz bootstrap's writers (issue 12): generated data.tar members and actions.

Each example unpacks a generated package into a fresh image root, applies generated
actions to it, writes dpkg's database, and then checks: every failure is one of the
errors bootstrap reports as a one-line message (never another exception), and a
sentinel directory beside the root, at which absolute and relative symlinks aim, is
byte for byte as before. Bounded: a fixed number of examples, no deadline per example.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import tarfile
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from base.errors import UnessentialError
from bootstrap.accounts import AccountError
from bootstrap.apply import ActionFailed, Applier
from bootstrap.confined import Confinement, ImageRoot
from bootstrap.status import DpkgEntry, write_database
from bootstrap.unpack import unpack_deb
from recipes.actions import MODELS, ActionError
from tests.fixtures.handdeb import entry, hand_deb

SENTINEL = "@S"  # replaced by the sentinel's absolute path
COMPONENTS = ["etc", "usr", "var", "lib", "dpkg", "info", "alternatives", "x", "..", ".",
              "passwd", ".passwd.tmp", "ssl", "certs", "ca-certificates.crt", "home", "app",
              SENTINEL, "", "a b", "é"]
EXPECTED = (UnessentialError, ActionFailed, Confinement, AccountError, ActionError)


@st.composite
def paths(draw: st.DrawFn, absolute: bool = False) -> str:
    parts = draw(st.lists(st.sampled_from(COMPONENTS), min_size=1, max_size=5))
    text = "/".join(parts)
    if absolute or draw(st.booleans()):
        text = "/" + text
    return text


MEMBER_KINDS = st.sampled_from(["file", "dir", "symlink", "hardlink"])
members = st.lists(st.tuples(MEMBER_KINDS, paths(), paths()), max_size=12)

# typed values, by attribute name
ACTIONS = {
    "make-dir": lambda p, q: {"path": p, "mode": "0777"},
    "set-owner": lambda p, q: {"path": p, "mode": "4777", "owner": "nobody"},
    "remove-path": lambda p, q: {"path": p, "recursive": True},
    "symlink": lambda p, q: {"path": p, "target": q},
    "install-config": lambda p, q: {"source": q, "path": p},
    "create-file": lambda p, q: {"path": p, "content": (q,), "mode": "4777", "owner": "nobody"},
    "alternative-install": lambda p, q: {"alternative": q.strip("/") or "n", "link": p,
                                         "path": q, "priority": 10,
                                         "slaves": ((p + "s", "s", q + "s"),)},
    "system-user": lambda p, q: {"user": "svc", "home": p, "create_home": True},
    "ca-bundle": lambda p, q: {},
    "sysusers": lambda p, q: {"config": (p,)},
}
actions = st.lists(st.tuples(st.sampled_from(sorted(ACTIONS)), paths(), paths()), max_size=6)


STATS = {"run": 0, "refused": 0}


def snapshot(top: Path) -> dict[str, tuple[int, int, str]]:
    seen = {}
    for folder, subdirs, files in os.walk(top):
        for name in [*subdirs, *files]:
            path = Path(folder) / name
            info = path.lstat()
            content = hashlib.sha256(path.read_bytes()).hexdigest() \
                if stat.S_ISREG(info.st_mode) else \
                os.readlink(path) if stat.S_ISLNK(info.st_mode) else ""
            seen[str(path)] = (info.st_mode, info.st_uid, content)
    return seen


def tar_entries(spec: list[tuple[str, str, str]], sentinel: Path) -> list:  # type: ignore[type-arg]
    out = []
    for kind, name, target in spec:
        name = "." + name if name.startswith("/") else name  # mostly relative members
        target = target.replace(SENTINEL, str(sentinel))
        name = name.replace(SENTINEL, "s")
        if kind == "file":
            out.append(entry(name, b"data\n"))
        elif kind == "dir":
            out.append(entry(name, kind=tarfile.DIRTYPE, mode=0o755))
        elif kind == "symlink":
            out.append(entry(name, kind=tarfile.SYMTYPE, linkname=target))
        else:
            out.append(entry(name, kind=tarfile.LNKTYPE, linkname=target))
    return out


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(spec=members, steps=actions)
def test_generated_members_and_actions_stay_inside(spec: list[tuple[str, str, str]],
                                                   steps: list[tuple[str, str, str]]) -> None:
    with tempfile.TemporaryDirectory() as work:
        top = Path(work)
        sentinel = top / "sentinel"
        (sentinel / "dir").mkdir(parents=True)
        (sentinel / "file").write_text("host\n")
        (sentinel / "x").write_text("host x\n")
        root = top / "root"
        root.mkdir()
        before = snapshot(sentinel)
        deb = hand_deb(top / "p.deb", tar_entries(spec, sentinel))
        with contextlib.suppress(EXPECTED):
            unpack_deb(deb, root, aliases={"lib": "usr/lib"})
        applier = Applier(root)
        outcomes = {"run": 0, "refused": 0}
        for name, first, second in steps:
            values = ACTIONS[name](first.replace(SENTINEL, str(sentinel)),
                                   second.replace(SENTINEL, str(sentinel)))
            # built without validation: the writers must hold even where it would not
            action = MODELS[name].model_construct(script="postinst", on=("configure",),
                                                  **values)
            try:
                applier.run("fuzz", action)
                outcomes["run"] += 1
            except EXPECTED:
                outcomes["refused"] += 1
        try:
            applier.finish()
            write_database(ImageRoot(root), [DpkgEntry(
                control={"Package": "fuzz", "Version": "1", "Architecture": "all"},
                paths=("/usr",))])
        except EXPECTED:
            pass
        assert snapshot(sentinel) == before
        STATS["run"] += outcomes["run"]
        STATS["refused"] += outcomes["refused"]
        assert sorted(p.name for p in top.iterdir()) == ["p.deb", "root", "sentinel"]


def test_the_fuzzer_reached_the_writers() -> None:
    """The generated actions were applied, not all refused up front (run after the fuzz)."""
    if STATS["run"] + STATS["refused"] == 0:
        test_generated_members_and_actions_stay_inside()
    assert STATS["run"] > 20 and STATS["refused"] > 20, STATS
