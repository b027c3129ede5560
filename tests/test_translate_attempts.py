"""Two shapes read as a whole: the loop over what find lists that removes dangling links
(ca-certificates' postrm: prune-links), and a change tried as an if's last test
(tasksel-data's `[ -d D ] && rmdir D` then `ln -s`): their actions, the forms refused,
and the loop run by dash against bootstrap's prune-links on the same tree."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from bootstrap.apply import Applier
from recipes.actions import make_action
from rewrite.translate import Untranslatable, translate

DASH = shutil.which("dash") or "/bin/dash"


def actions(text: str, script: str = "postinst") -> list[dict[str, str]]:
    return [a.stanza() for a in translate(text, script, package="demo").actions]


def refused(text: str, script: str = "postinst") -> Untranslatable:
    with pytest.raises(Untranslatable) as caught:
        translate(text, script, package="demo")
    return caught.value


CA_POSTRM = """#!/bin/sh
set -e
remove_dangling_symlinks() {
    if ! [ -d /etc/ssl/certs ]
    then
        return
    fi
    echo -n "Removing dangling symlinks from /etc/ssl/certs... "
    find /etc/ssl/certs -type l -print | while read h
    do
        test -f "$h" || rm -f "$h"
    done
    echo "done."
}
case "$1" in
    remove)
        remove_dangling_symlinks
        rmdir /usr/local/share/ca-certificates 2>/dev/null || true
        ;;
    purge)
        rm -f /etc/ssl/certs/ca-certificates.crt
        remove_dangling_symlinks
        rm -f /etc/ca-certificates.conf*
        ;;
    upgrade|failed-upgrade|abort-install|abort-upgrade|disappear)
        ;;
    *)
        echo "postrm called with unknown argument \\`$1'" >&2
        exit 1
esac
"""


def test_the_dangling_link_loop_is_prune_links() -> None:
    assert actions(CA_POSTRM, "postrm") == [
        {"Action": "prune-links", "Script": "postrm", "On": "remove",
         "Only-If": "-d /etc/ssl/certs", "Path": "/etc/ssl/certs"},
        {"Action": "remove-path", "Script": "postrm", "On": "remove",
         "Path": "/usr/local/share/ca-certificates", "Recursive": "no"},
        {"Action": "remove-path", "Script": "postrm", "On": "purge",
         "Path": "/etc/ssl/certs/ca-certificates.crt", "Recursive": "no"},
        {"Action": "prune-links", "Script": "postrm", "On": "purge",
         "Only-If": "-d /etc/ssl/certs", "Path": "/etc/ssl/certs"},
        {"Action": "remove-path", "Script": "postrm", "On": "purge",
         "Path": "/etc/ca-certificates.conf*", "Recursive": "no"}]


@pytest.mark.parametrize("body", [
    'test -f "$l" || rm -f "$l"',
    '[ -f "$l" ] || rm -f "$l"',
    'if [ ! -f "$l" ]; then rm -f "$l"; fi',
    'test -f "${l}" || rm -f -- "${l}"',
])
def test_every_form_of_the_loop(body: str) -> None:
    text = (f"#!/bin/sh\nset -e\nD=/var/lib/demo\nfind $D -type l | while IFS= read -r l; "
            f"do {body}; done\n")
    assert actions(text) == [{"Action": "prune-links", "Script": "postinst",
                              "On": "configure abort-upgrade abort-remove abort-deconfigure "
                              "triggered reconfigure",
                              "Path": "/var/lib/demo"}]


@pytest.mark.parametrize("loop", [
    # -e keeps a link to a directory; prune-links removes it
    'find /var/lib/demo -type l | while read l; do test -e "$l" || rm -f "$l"; done',
    # one level only: prune-links goes down the whole tree
    'find /var/lib/demo -maxdepth 1 -type l | while read l; do test -f "$l" || rm -f "$l"; done',
    # another variable removed
    'find /var/lib/demo -type l | while read l; do test -f "$l" || rm -f "$m"; done',
    # a relative directory
    'find demo -type l | while read l; do test -f "$l" || rm -f "$l"; done',
    # more in the body
    'find /var/lib/demo -type l | while read l; do test -f "$l" || rm -f "$l"; touch /x; done',
])
def test_other_loops_are_refused(loop: str) -> None:
    refusal = refused(f"#!/bin/sh\nset -e\n{loop}\n")
    assert refusal.line == 3


def _tree(root: Path) -> None:
    certs = root / "etc/ssl/certs"
    (certs / "sub").mkdir(parents=True)
    (certs / "ca.pem").write_text("x\n")
    (certs / "good.0").symlink_to("ca.pem")
    (certs / "gone.0").symlink_to("missing.pem")
    (certs / "dir-link").symlink_to("sub")  # no regular file: removed by both
    (certs / "sub/deep.0").symlink_to("../nothing")
    (certs / "sub/deep-good.0").symlink_to("../ca.pem")
    (certs / "loop").symlink_to("loop")


def _listing(root: Path) -> list[tuple[str, str]]:
    return [(str(p.relative_to(root)), os.readlink(p) if p.is_symlink() else "")
            for p in sorted(root.rglob("*"))]


def test_the_loop_and_prune_links_leave_the_same_tree(tmp_path: Path) -> None:
    """The loop as the package wrote it (under a root) and bootstrap's prune-links."""
    shell, native = tmp_path / "shell", tmp_path / "native"
    _tree(shell)
    _tree(native)
    loop = ('find "$R/etc/ssl/certs" -type l -print | while read h\ndo\n'
            '    test -f "$h" || rm -f "$h"\ndone\n')
    subprocess.run([DASH, "-ec", loop], check=True, timeout=60,
                   env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "R": str(shell)})
    action = make_action("prune-links", "postrm", ["remove"], {"Path": "/etc/ssl/certs"})
    Applier(native).run("demo", action)
    assert _listing(shell) == _listing(native)
    assert ("etc/ssl/certs/good.0", "ca.pem") in _listing(native)
    assert not any(name.endswith(("gone.0", "deep.0", "dir-link", "loop"))
                   for name, _ in _listing(native))


TASKSEL = """#!/bin/sh
set -e
if dpkg --compare-versions "$2" lt 3.14; then
    if [ ! -L /usr/share/doc/tasksel-data ] && \\
       [ -d /usr/share/doc/tasksel-data ] && \\
       rmdir /usr/share/doc/tasksel-data 2>/dev/null; then
        ln -sf tasksel /usr/share/doc/tasksel-data
    fi
fi
"""


def test_rmdir_tried_as_the_last_test() -> None:
    """The directory removed where the tests hold (rmdir: only if empty), the link made
    where nothing is left at its path."""
    assert actions(TASKSEL) == [
        {"Action": "remove-path", "Script": "postinst", "On": "configure abort-remove",
         "Only-If": "! -L /usr/share/doc/tasksel-data, -d /usr/share/doc/tasksel-data",
         "Path": "/usr/share/doc/tasksel-data", "Recursive": "no"},
        {"Action": "symlink", "Script": "postinst", "On": "configure abort-remove",
         "Path": "/usr/share/doc/tasksel-data", "Target": "tasksel"}]


@pytest.mark.parametrize("tests", [
    "[ -d /usr/share/doc/x ]",  # a link to a directory: rmdir fails, remove-path would not
    "[ ! -L /usr/share/doc/x ]",  # nothing there: rmdir fails, and nothing is left either
    "[ ! -L /usr/share/doc/x ] && [ -d /usr/share/doc/y ]",  # another path
])
def test_rmdir_without_the_tests_that_make_it_a_test_is_refused(tests: str) -> None:
    text = (f"#!/bin/sh\nset -e\nif {tests} && rmdir /usr/share/doc/x; then\n"
            "  ln -sf y /usr/share/doc/x\nfi\n")
    assert refused(text).line == 3
