"""Owners and modes as bind9's postinst reads and changes them: a path's numeric owner
from `ls -ln` (`Only-If: owner PATH ID`), chmod's symbolic modes (`g+s`, `g+rwx`) and
chgrp/chmod of the files a pattern matches (`named.conf*`)."""

from __future__ import annotations

import itertools
import os
import subprocess
from pathlib import Path

import pytest

from recipes.actions import make_action
from recipes.actions.modes import changed_mode, check_chmod_mode
from rewrite.translate import translate
from tests.fixtures.alike import three_ways
from tests.fixtures.onlyif import assert_read_alike

SYMBOLIC = ["g+s", "g+r", "g+rwx", "u+x,go-w", "o+X", "a-x", "g+u", "o+t", "ug+s", "u-s",
            "a+X", "go-rwx", "u+rw-x", "g-s,o+r"]
STARTS = [0o644, 0o755, 0o2750, 0o4711, 0o600, 0o1777]


@pytest.mark.parametrize(("mode", "directory"), list(itertools.product(SYMBOLIC, [False, True])))
def test_symbolic_modes_change_a_mode_as_chmod_does(tmp_path: Path, mode: str,
                                                     directory: bool) -> None:
    for start in STARTS:
        path = tmp_path / f"{start:o}"
        if directory:
            path.mkdir()
        else:
            path.touch()
        path.chmod(start)
        subprocess.run(["chmod", mode, str(path)], check=True)
        assert path.stat().st_mode & 0o7777 == changed_mode(mode, start, directory=directory), \
            (mode, oct(start))


@pytest.mark.parametrize("mode", ["+x", "g=r", "u+q", "0999", "g+s;rm", "ug", "g+rs,"])
def test_modes_chmod_reads_otherwise_are_refused(mode: str) -> None:
    with pytest.raises(ValueError):
        check_chmod_mode(mode)
    with pytest.raises(ValueError):
        make_action("set-owner", "postinst", ("configure",), {"path": "/x", "mode": mode})


@pytest.mark.parametrize("path", ["/etc/*/x", "/etc/x[ab]", "/etc/x y*"])
def test_patterns_outside_the_last_component_are_refused(path: str) -> None:
    with pytest.raises(ValueError):
        make_action("set-owner", "postinst", ("configure",), {"path": path, "group": "adm"})


@pytest.mark.skipif(os.geteuid() != 0, reason="chown: needs root")
def test_owner_is_read_alike(tmp_path: Path) -> None:
    (tmp_path / "root-file").touch()
    (tmp_path / "daemon-file").touch()
    os.chown(tmp_path / "daemon-file", 1, 1)
    (tmp_path / "dir").mkdir()
    (tmp_path / "link").symlink_to("daemon-file")
    os.lchown(tmp_path / "link", 0, 0)
    assert_read_alike(tmp_path, [
        ("owner /root-file 0", True), ("owner /root-file 1", False),
        ("owner /daemon-file 1", True), ("! owner /daemon-file 0", True),
        ("owner /dir 0", False),  # (ls -ln lists a directory's entries)
        ("owner /link 0", True),  # (the link itself, as ls -ln lists it)
        ("owner /missing 0", False), ("! owner /missing 0", True),
    ])


POSTINST = """#!/bin/sh
set -e
if [ "$1" = configure ]; then
    uid=$(ls -ln "$DPKG_ROOT/srv/key" | awk '{print $3}')
    if [ "$uid" = "0" ]; then
\tchown daemon "$DPKG_ROOT/srv/key"
\tchgrp daemon "$DPKG_ROOT/srv"
\tchmod g+s "$DPKG_ROOT/srv"
\tchgrp daemon "$DPKG_ROOT"/srv/named.conf* || true
\tchmod g+r "$DPKG_ROOT/srv/key" "$DPKG_ROOT"/srv/named.conf* || true
    fi
fi
"""


def test_an_owner_test_and_the_changes_behind_it_translate() -> None:
    actions = translate(POSTINST, "postinst", package="demo").actions
    assert [a.name for a in actions] == ["record-test"] + ["set-owner"] * 6
    record = actions[0]
    assert record.only_if == ("owner /srv/key 0",)
    # the chown turns the test: what follows it carries the record
    assert actions[1].only_if == ("owner /srv/key 0",)
    assert all(a.only_if == (f"flag {record.flag}",) for a in actions[2:])
    assert {getattr(a, "mode", "") for a in actions} >= {"g+s", "g+r"}
    assert "/srv/named.conf*" in {getattr(a, "path", "") for a in actions}


def _tree(root: Path) -> list[tuple[str, str, int, int]]:
    return sorted((str(p.relative_to(root)), oct(p.lstat().st_mode), p.lstat().st_uid,
                   p.lstat().st_gid) for p in root.rglob("*"))


@pytest.mark.skipif(os.geteuid() != 0, reason="chown: needs root")
@pytest.mark.parametrize(("key_owner", "confs"), [(0, 2), (1, 2), (0, 0), (None, 1)])
def test_owner_changes_behave_like_the_original(tmp_path: Path, key_owner: int | None,
                                                confs: int) -> None:
    """The original and the rendered script run by dash under $DPKG_ROOT, the actions
    applied natively: the same trees (owners, groups, modes). A missing key: ls fails,
    the pipeline's status is awk's."""
    def prepare(root: Path) -> None:
        (root / "etc").mkdir(parents=True)
        (root / "etc/passwd").write_text("root:x:0:0::/root:/bin/sh\n"
                                         "daemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n")
        (root / "etc/group").write_text("root:x:0:\ndaemon:x:1:\n")
        srv = root / "srv"
        srv.mkdir()
        srv.chmod(0o755)
        if key_owner is not None:
            (srv / "key").write_text("secret\n")
            (srv / "key").chmod(0o600)
            os.chown(srv / "key", key_owner, key_owner)
        for index in range(confs):
            (srv / f"named.conf{'.x' * index}").write_text("")
            (srv / f"named.conf{'.x' * index}").chmod(0o640)
        (srv / ".named.conf.hidden").write_text("")  # (not matched by `named.conf*`)

    trees = [_tree(r) for r in three_ways(tmp_path, POSTINST, "postinst", "configure",
                                          prepare)]
    assert trees[0] == trees[1] == trees[2]
    changed = (tmp_path / "original/srv").stat()
    assert (changed.st_gid == 1 and bool(changed.st_mode & 0o2000)) == (key_owner == 0)
