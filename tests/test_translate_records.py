"""Tests a script's own change turns: read once by a record-test action, as the original
read them (ssl-cert's postrm: the removal of the stat override its if found, then the
directory's owner behind the same test); and `Only-If: statoverride PATH [TEXT]`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bootstrap.apply import ActionFailed, Applier
from recipes.actions import RecordTest, make_action
from rewrite.render import render_script
from rewrite.translate import translate
from tests.fixtures.alike import three_ways
from tests.fixtures.onlyif import assert_read_alike

# (ssl-cert's postrm, on a directory of the test's own and accounts this host has)
POSTRM = """#!/bin/sh -e
if [ "$1" = purge ] ; then
\tif dpkg-statoverride --list /srv/private 2>&1 | grep -q "root adm 710"
\tthen
\t\tdpkg-statoverride --remove /srv/private
\t\tif [ -e "$DPKG_ROOT/srv/private" ] ; then
\t\t\tchgrp root "$DPKG_ROOT/srv/private"
\t\t\tchmod 700 "$DPKG_ROOT/srv/private"
\t\tfi
\tfi
fi
"""


def test_a_test_turned_by_the_script_is_recorded_before_the_change() -> None:
    actions = translate(POSTRM, "postrm", package="demo").actions
    names = [a.name for a in actions]
    assert names == ["record-test", "stat-override", "record-test", "set-owner", "set-owner"]
    first = actions[0]
    assert isinstance(first, RecordTest)
    assert first.only_if == ("statoverride /srv/private root adm 710",)
    assert actions[1].only_if == first.only_if  # (not turned yet: the test itself)
    # the owner and mode changes behind the test the removal turned: its record
    assert f"flag {first.flag}" in actions[3].only_if
    assert f"flag {first.flag}" in actions[4].only_if
    # (a record is taken for every argument: it only reads, and where the change that
    # turns its test does not run, it reads what the if read)
    assert all(a.on == ("purge",) for a in actions if not isinstance(a, RecordTest))
    assert "remove" in first.on and "purge" in first.on


def _tree(root: Path) -> list[tuple[str, str, int]]:
    # (dpkg-statoverride keeps the database it replaced as statoverride-old)
    return sorted((str(p.relative_to(root)), oct(p.lstat().st_mode), p.lstat().st_gid)
                  for p in root.rglob("*") if p.name != "statoverride-old")


@pytest.mark.skipif(os.geteuid() != 0, reason="changes a directory's group: needs root")
@pytest.mark.parametrize("override", ["root adm 710", "root adm 750", None])
def test_a_recorded_test_behaves_like_the_original(tmp_path: Path, override: str | None) -> None:
    """The original and the rendered script run by dash (the real dpkg-statoverride,
    under $DPKG_ROOT), and the actions applied natively, on the same trees."""
    rendered = render_script("postrm", translate(POSTRM, "postrm", package="demo").actions,
                             package="demo")
    assert rendered is not None and "_ue_flag_" in rendered

    def prepare(root: Path) -> None:
        private = root / "srv/private"
        private.mkdir(parents=True)
        os.chown(private, 0, 4)  # adm
        private.chmod(0o710)
        (root / "var/lib/dpkg").mkdir(parents=True)
        (root / "var/lib/dpkg/statoverride").write_text(
            f"{override} /srv/private\n" if override else "")

    roots = three_ways(tmp_path, POSTRM, "postrm", "purge", prepare)
    trees = [(_tree(r), (r / "var/lib/dpkg/statoverride").read_text()) for r in roots]
    assert trees[0] == trees[1] == trees[2], rendered
    removed = override == "root adm 710"
    assert (trees[0][1] == "") == (removed or override is None)
    mode = (tmp_path / "original/srv/private").stat()
    assert (oct(mode.st_mode & 0o7777), mode.st_gid) == (("0o700", 0) if removed
                                                         else ("0o710", 4))


def test_statoverride_is_read_alike(tmp_path: Path) -> None:
    admin = tmp_path / "var/lib/dpkg"
    admin.mkdir(parents=True)
    (admin / "statoverride").write_text("root adm 0710 /srv/private\nroot root 755 /srv/x\n")
    assert_read_alike(tmp_path, [
        ("statoverride /srv/private", True),
        ("statoverride /srv/private root adm 710", True),  # (listed as dpkg prints it)
        ("statoverride /srv/private adm 71", True),  # (a part of the line)
        ("statoverride /srv/private root adm 750", False),
        ("! statoverride /srv/private root adm 750", True),
        ("statoverride /srv/none", False),
        ("! statoverride /srv/none", True),
    ])
    (admin / "statoverride").unlink()
    assert_read_alike(tmp_path, [("statoverride /srv/private", False)])


@pytest.mark.parametrize("item", ["statoverride /srv/*", "statoverride /srv/x root a'b",
                                  "statoverride srv/x", "flag Upper", "flag t1 extra"])
def test_malformed_tests_are_refused(item: str) -> None:
    with pytest.raises(ValueError):
        make_action("remove-path", "postrm", ("purge",), {"path": "/x", "only-if": item})


def test_a_flag_is_false_until_recorded_and_where_its_tests_fail(tmp_path: Path) -> None:
    applier = Applier(tmp_path)
    marker = make_action("create-file", "postinst", ("configure",),
                         {"path": "/made", "only-if": "flag t1"})
    applier.run("demo", marker)
    assert not (tmp_path / "made").exists()  # (never recorded: false)
    record = make_action("record-test", "postinst", ("configure",),
                         {"name": "t1", "only-if": "-e /flag"})
    assert applier.run("demo", record).status == "applied"
    applier.run("demo", marker)
    assert not (tmp_path / "made").exists()
    (tmp_path / "flag").touch()
    applier.run("demo", record)
    (tmp_path / "flag").unlink()  # (turned after the record: the record holds)
    applier.run("demo", marker)
    assert (tmp_path / "made").exists()
    # another package's script has flags of its own
    other = marker.model_copy(update={"path": "/other"})
    applier.run("other", other)
    assert not (tmp_path / "other").exists()


def test_a_record_no_action_tests_is_dropped() -> None:
    """`[ -f F ] || touch F` turns its own test, and nothing after it tests it."""
    text = "#!/bin/sh\nif [ ! -f /etc/flag ]; then\n  touch /etc/flag\nfi\n"
    assert [a.name for a in translate(text, "postinst", package="demo").actions] == \
        ["create-file"]


NARROWED = """#!/bin/sh
set -e
if [ -e "$DPKG_ROOT/etc/flag" ]; then
    case "$1" in
        configure) rm -f "$DPKG_ROOT/etc/flag" ;;
    esac
    chmod 0700 "$DPKG_ROOT/var/lib/y"
fi
"""


@pytest.mark.parametrize("argument", ["configure", "abort-upgrade"])
@pytest.mark.parametrize("flag", [True, False])
def test_a_record_holds_for_arguments_the_change_does_not_run_for(
        tmp_path: Path, argument: str, flag: bool) -> None:
    """The removal runs on configure only; the chmod behind the test on every argument:
    on abort-upgrade the record reads the test as the if did, too."""
    def prepare(root: Path) -> None:
        (root / "etc").mkdir(parents=True)
        (root / "var/lib/y").mkdir(parents=True)
        (root / "var/lib/y").chmod(0o755)
        if flag:
            (root / "etc/flag").touch()

    trees = [_tree(r) for r in three_ways(tmp_path, NARROWED, "postinst", argument, prepare)]
    assert trees[0] == trees[1] == trees[2]
    mode = (tmp_path / "original/var/lib/y").stat().st_mode & 0o777
    assert mode == (0o700 if flag else 0o755)


def test_a_broken_stat_override_database_is_one_clear_error(tmp_path: Path) -> None:
    """A hostile or damaged /var/lib/dpkg/statoverride: the action fails naming the file
    and the line; nothing is recorded for it."""
    (tmp_path / "var/lib/dpkg").mkdir(parents=True)
    (tmp_path / "var/lib/dpkg/statoverride").write_text("root adm /srv/private\n")
    applier = Applier(tmp_path)
    record = make_action("record-test", "postrm", ("purge",),
                         {"name": "t1", "only-if": "statoverride /srv/private"})
    with pytest.raises(ActionFailed, match=r"statoverride:1: not 'owner group mode path'"):
        applier.run("demo", record)
    assert applier.flags.get(("demo", "postrm"), {}) == {}
