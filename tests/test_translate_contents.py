"""Tests of a file's content carried as `Only-If`: `grep F PATTERN` (grep -q, of a basic
regular expression subset) and `size F N` (wc -c). The subset is read as GNU grep reads
it (checked against grep itself), bootstrap and the rendered sh agree, and the engine
reads ifupdown's preinst (an old dummy /etc/network/interfaces removed) exactly."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recipes.actions.patterns import bre_to_python, matches
from rewrite.translate import Untranslatable, translate
from tests.fixtures.onlyif import assert_read_alike

DASH = shutil.which("dash") or "/bin/dash"
GREP = shutil.which("grep") or "/bin/grep"

TEXTS = ["# only comments\n#\n", "auto lo\n# c\n", "", "\n", "a.b\nx*y\n", "tab\there\n",
         "[x]\n", "^caret\n", "dollar$\n", "back\\slash\n", "  indented = 1\n",
         "no newline at the end", "Foo=bar\nfoo = baz\n"]
PATTERNS = ["^[^#]", "^#", "auto", "^$", "a.b", "a\\.b", "x\\*y", "x*y", "^[[:space:]]*[a-z]",
            "[[:space:]]here", "\\[x\\]", "\\^caret", "dollar\\$$", "back\\\\slash",
            "^[[:alpha:]]*[[:space:]]*=", "[]x]", "[^]x]", "^foo[[:blank:]]*=", "**", "a**",
            "^**", "[a-c-]", "*star",
            "^*x", "[[:digit:]]", "end$"]


def _grep(pattern: str, text: str, tmp_path: Path) -> bool:
    path = tmp_path / "f"
    path.write_bytes(text.encode())
    return subprocess.run([GREP, "-q", "-e", pattern, str(path)],
                          env={"LC_ALL": "C"}).returncode == 0


@pytest.mark.parametrize("pattern", PATTERNS)
def test_the_subset_reads_as_grep_does(pattern: str, tmp_path: Path) -> None:
    for text in TEXTS:
        assert matches(pattern, text) == _grep(pattern, text, tmp_path), (pattern, text)


@settings(max_examples=150, deadline=None)
@given(pattern=st.text(alphabet="^$.*[]ab#-\\:", min_size=1, max_size=8),
       text=st.text(alphabet="ab#.*[]^$ -\n\\", max_size=20))
def test_every_pattern_of_the_subset_reads_as_grep_does(pattern: str, text: str,
                                                        tmp_path_factory: pytest.TempPathFactory
                                                        ) -> None:
    try:
        bre_to_python(pattern)
    except ValueError:
        return  # (refused: not read at all)
    tmp = tmp_path_factory.mktemp("grep")
    assert matches(pattern, text) == _grep(pattern, text, tmp), (pattern, text)


def test_matching_takes_no_backtracking() -> None:
    """Stars run as a set of states: a long line against many stars stays linear."""
    assert not matches("a*a*a*a*a*a*a*a*b", "a" * 20000)
    assert matches(".*.*.*.*X", "y" * 5000 + "X")
    assert bre_to_python("^a*b$") == "^a*b$"
    assert matches("[a&&b]", "x&y")  # (no set operation: Python would warn)


@pytest.mark.parametrize("pattern", ["a b", "a,b", "\\(a\\)", "a\\{2\\}", "a\\+", "\\w",
                                     "[[:nope:]]", "[abc", "", "a\\",
                                     "x" * 257, "caf\u00e9"])
def test_patterns_outside_the_subset_are_refused(pattern: str) -> None:
    with pytest.raises(ValueError):
        bre_to_python(pattern)


def test_bootstrap_and_the_rendered_sh_agree(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/comments").write_text("# a\n#b\n")
    (root / "etc/config").write_text("auto lo\n")
    (root / "etc/dir").mkdir()
    assert_read_alike(root, [("grep /etc/comments ^[^#]", False), ("grep /etc/config ^[^#]", True),
                           ("! grep /etc/comments ^[^#]", True), ("grep /etc/none x", False),
                           ("grep /etc/dir x", False), ("size /etc/config 8", True),
                           ("size /etc/config 7", False), ("! size /etc/none 0", True),
                           ("size /etc/dir 0", True), ("size /etc/none 0", False)])


IFUPDOWN = """#!/bin/sh
set -e
if [ ! -d /etc/network ]; then
  mkdir -p /etc/network
fi
if [ -f /etc/network/interfaces ] && ! grep -q '^[^#]' /etc/network/interfaces
then
  f=/etc/network/interfaces
  if [ `md5sum < $f | cut -f1 -d ' '` = "4ed352919f69a77ad302ad1593204405" ]; then
    if [ `wc -c < /etc/network/interfaces` -eq 2466 ]; then
      echo -n "Removing old dummy /etc/network/interfaces: "
      rm /etc/network/interfaces
      echo "done."
    fi
  fi
fi
"""


def test_a_removal_behind_grep_md5_and_size() -> None:
    actions = [a.stanza() for a in translate(IFUPDOWN, "preinst", package="demo").actions]
    assert actions[1] == {
        "Action": "remove-path", "Script": "preinst", "On": "install upgrade abort-upgrade",
        "Only-If": "-f /etc/network/interfaces, ! grep /etc/network/interfaces ^[^#], "
                   "md5 /etc/network/interfaces 4ed352919f69a77ad302ad1593204405, "
                   "size /etc/network/interfaces 2466",
        "Path": "/etc/network/interfaces", "Recursive": "no"}


@pytest.mark.parametrize(("cond", "only_if"), [
    ("grep -qs 'x' /etc/a", "grep /etc/a x"),
    ("grep -q -e 'x y' /etc/a", None),  # a blank: refused
    ("grep -qF 'a.b' /etc/a", "grep /etc/a a\\.b"),
    ("fgrep -q '[x]' /etc/a", "grep /etc/a \\[x\\]"),
    ("grep 'x' /etc/a >/dev/null 2>&1", "grep /etc/a x"),
    ("! grep -q x /etc/a", "! grep /etc/a x"),
    ("[ $(wc -c < /etc/a) -ne 3 ]", None),  # (fails where /etc/a is missing, as -eq)
    ("grep -q '^old$' /etc/a", "grep /etc/a ^old$"),
    ('grep -q "^$(hostname)" /etc/a', None),  # a pattern the engine does not know
    ("grep -q /etc/b -e x", "grep /etc/b x"),  # (after -e, the other operand is a file)
    ("[ 3 -eq \"$(wc -c < /etc/a)\" ]", "size /etc/a 3"),
])
def test_the_forms_read(cond: str, only_if: str | None) -> None:
    text = f"#!/bin/sh\nset -e\nif {cond}; then\n  rm -f /etc/b\nfi\n"
    if only_if is None:
        with pytest.raises(Untranslatable):
            translate(text, "postinst", package="demo")
        return
    assert [a.stanza().get("Only-If") for a in translate(text, "postinst",
                                                        package="demo").actions] == [only_if]


@pytest.mark.parametrize("cond", [
    "grep -qE 'a+' /etc/a",  # extended expressions
    "grep -qi x /etc/a",
    "grep -q x /etc/a /etc/b",
    "grep -q x etc/a",
    "[ $(wc -c < /etc/a) -gt 3 ]",
    "[ $(wc -l < /etc/a) -eq 3 ]",
])
def test_other_forms_stay_reads_of_the_system(cond: str) -> None:
    text = f"#!/bin/sh\nset -e\nif {cond}; then\n  rm -f /etc/b\nfi\n"
    with pytest.raises(Untranslatable):
        translate(text, "postinst", package="demo")
