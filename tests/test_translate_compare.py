"""`cmp -s A B` as a test of two paths (postfix's preinst: a configuration file the
administrator did not modify moved aside): the `same A B` Only-If test, as bootstrap
reads it and as the rendered sh runs it; the engine's reading of the idiom."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rewrite.translate import Untranslatable, translate
from tests.fixtures.onlyif import assert_read_alike

DASH = shutil.which("dash") or "/bin/dash"

POSTFIX = """#!/bin/sh
set -e
case "$1" in
    upgrade)
        cmp -s /usr/share/postfix/main.cf.dist /etc/postfix/main.cf.proto && \\
            mv /etc/postfix/main.cf.proto /etc/postfix/main.cf.proto.old \\
            || echo "/etc/postfix/main.cf.proto modified, not updating."
        if [ -e /etc/suid.conf ] && [ -x /usr/sbin/suidunregister ]; then
            if grep -q sendmail /etc/suid.conf; then
                /usr/sbin/suidunregister -s postfix /usr/sbin/sendmail
            fi
        fi
        ;;
esac
"""


def _stanzas(text: str, script: str = "preinst") -> list[dict[str, str]]:
    return [a.stanza() for a in translate(text, script, package="demo").actions]


def test_a_move_behind_cmp_carries_the_comparison() -> None:
    assert _stanzas(POSTFIX) == [
        {"Action": "move-path", "Script": "preinst", "On": "upgrade",
         "Only-If": "same /usr/share/postfix/main.cf.dist /etc/postfix/main.cf.proto",
         "Source": "/etc/postfix/main.cf.proto", "Path": "/etc/postfix/main.cf.proto.old"}]


def test_an_if_on_cmp_and_its_else() -> None:
    text = ("#!/bin/sh\nset -e\nif cmp -s /etc/a.conf /etc/a.conf.new; then\n"
            "  rm -f /etc/a.flag\nelse\n  rm -f /etc/b.flag\nfi\n")
    assert [(a["Path"], a.get("Only-If")) for a in _stanzas(text, "postinst")] == [
        ("/etc/a.flag", "same /etc/a.conf /etc/a.conf.new"),
        ("/etc/b.flag", "! same /etc/a.conf /etc/a.conf.new")]
    # a branch that removes what the comparison reads: the other's test would turn
    with pytest.raises(Untranslatable, match="cannot keep apart"):
        translate(text.replace("/etc/a.flag", "/etc/a.conf.new"), "postinst", package="demo")


@pytest.mark.parametrize("line", [
    "cmp /a /b && rm -f /b",  # prints the difference: not only a test
    "cmp -s a /b && rm -f /b",  # a relative path
    "cmp -s /a /b /c && rm -f /b",
])
def test_other_comparisons_are_refused(line: str) -> None:
    with pytest.raises(Untranslatable):
        translate(f"#!/bin/sh\nset -e\n{line}\n", "postinst", package="demo")


def test_same_as_bootstrap_reads_it_and_as_cmp_runs(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/a").write_text("one\n")
    (root / "etc/b").write_text("one\n")
    (root / "etc/c").write_text("two\n")
    (root / "etc/link").symlink_to("a")
    (root / "etc/dir").mkdir()
    assert_read_alike(root, [("same /etc/a /etc/b", True), ("same /etc/a /etc/c", False),
                           ("same /etc/link /etc/b", True), ("same /etc/a /etc/none", False),
                           ("same /etc/dir /etc/dir", True), ("same /etc/dir /etc/a", False),
                           ("! same /etc/a /etc/c", True),
                           ("! same /etc/a /etc/none", True)])
