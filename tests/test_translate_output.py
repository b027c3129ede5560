"""Command substitutions whose output the engine computes (rewrite.translate.output):
only text printed by echo, the script's own printing functions, loops over known words;
anything else is left as written (and refused where it matters), as before."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from rewrite.shell import AndOr, Command, parse
from rewrite.translate import Untranslatable, translate
from rewrite.translate.context import SCRIPT_PHASES, Ctx, word_value

# bookworm's xz-utils postinst, as shipped
XZ_UTILS = """#!/bin/sh
set -e

slave () {
	dir=$1 filename=$2 target=$3
	echo "--slave $dir/$filename $filename $dir/$target"
}

update-alternatives --install /usr/bin/lzma lzma /usr/bin/xz 20 $(
	slave /usr/share/man/man1 lzma.1.gz xz.1.gz
	slave /usr/bin unlzma unxz
	slave /usr/share/man/man1 unlzma.1.gz unxz.1.gz
	for util in cat more less diff cmp grep egrep fgrep
	do
		slave /usr/bin lz$util xz$util
		slave /usr/share/man/man1 lz$util.1.gz xz$util.1.gz
	done
)
"""


def test_xz_utils_slaves_are_the_words_the_shell_passes(tmp_path: Path) -> None:
    """The --slave arguments a function prints in a loop: the same words sh passes to
    update-alternatives (checked by running the script with a recording stand-in)."""
    (alternative,) = translate(XZ_UTILS, "postinst", package="xz-utils").actions
    assert (alternative.name, alternative.get("Link"), alternative.get("Priority")) == (
        "alternative-install", "/usr/bin/lzma", "20")
    ours = [("--slave", s.link, s.name, s.path) for s in alternative.slaves]  # type: ignore[attr-defined]
    stand_in = tmp_path / "update-alternatives"
    stand_in.write_text('#!/bin/sh\nfor a in "$@"; do echo "$a"; done\n')
    stand_in.chmod(0o755)
    script = tmp_path / "postinst"
    script.write_text(XZ_UTILS)
    printed = subprocess.run(["sh", str(script), "configure"], check=True, text=True,
                             capture_output=True,
                             env={"PATH": f"{tmp_path}:/usr/bin:/bin"}).stdout.split("\n")
    words = printed[printed.index("20") + 1:-1]
    assert [tuple(words[i:i + 4]) for i in range(0, len(words), 4)] == ours
    assert len(ours) == 19


def _ctx(text: str) -> Ctx:
    ctx = Ctx(script="postinst", package="demo", phases=SCRIPT_PHASES["postinst"],
              answers={}, lines=text.split("\n"), lookup=None)
    return ctx


@pytest.mark.parametrize(("word", "value"), [
    ('"$(echo /var/lib/demo)"', "/var/lib/demo"),
    ("$(for d in a b; do echo /srv/$d; done)", "/srv/a\n/srv/b"),
    ('x$(echo -n "a  b")y', "xa  by"),
    ("$(true; echo one)", "one"),
    # left as written: text in single quotes, another command, echo's options,
    # a backslash, a glob, the script's arguments (an arithmetic expansion is computed)
    ("'$(echo x)'", "$(echo x)"),
    ("$(cat /etc/demo)", "$(cat /etc/demo)"),
    ("$(echo -e a)", "$(echo -e a)"),
    ('$(echo "a\\\\tb")', '$(echo "a\\\\tb")'),
    ("$(echo /etc/*.conf)", "$(echo /etc/*.conf)"),
    ('$(echo "$1")', '$(echo "$1")'),
    ("$(echo x > /tmp/y)", "$(echo x > /tmp/y)"),
    ("$((1 + 2))", "3"),
])
def test_which_substitutions_are_computed(word: str, value: str) -> None:
    (node,) = parse(f"demo {word}\n")
    assert isinstance(node, AndOr)
    cmd = node.first.commands[0]
    assert isinstance(cmd, Command)
    assert word_value(cmd.words[1], _ctx(f"demo {word}")) == value


def test_a_printing_function_gives_an_assignment_its_value() -> None:
    """`d=$(dir_of demo)`: the function only prints, so `$d` is known where it is used."""
    text = ('#!/bin/sh\nset -e\ndir_of() {\n  echo "/var/lib/$1"\n}\nd=$(dir_of demo)\n'
            'mkdir -p "$d"\n')
    (made,) = translate(text, "postinst", package="demo").actions
    assert (made.name, made.get("Path")) == ("make-dir", "/var/lib/demo")


def test_a_function_that_does_more_than_print_is_not_run() -> None:
    """A function that changes the system (or reads it) is not computed: its output is
    unknown, and the command using it is refused as before."""
    text = ('#!/bin/sh\nset -e\nslaves() {\n  rm -f /tmp/x\n  echo "--slave /a a /b"\n}\n'
            'update-alternatives --install /usr/bin/x x /usr/bin/y 10 $(slaves)\n')
    with pytest.raises(Untranslatable, match="computed arguments|command substitution"):
        translate(text, "postinst", package="demo")
    recursive = ('#!/bin/sh\nf() {\n  echo "$(f)"\n}\n'
                 'update-alternatives --install /usr/bin/x x /usr/bin/y 10 $(f)\n')
    with pytest.raises(Untranslatable):
        translate(recursive, "postinst", package="demo")


@pytest.mark.parametrize("op", ["#", "##", "%", "%%"])
@pytest.mark.parametrize("pattern", ["*-", "?:", "*.*", "post*", "[0-9]*", "x", ".*-*", "*"])
def test_pattern_removal_on_a_known_value_as_sh_does(op: str, pattern: str) -> None:
    """postgresql-15's `VERSION=${DPKG_MAINTSCRIPT_PACKAGE##*-}`, vim's `${1#?:}`: the
    removal of a prefix or suffix matching a shell pattern, checked against sh."""
    for value in ("postgresql-15", "2:9.0.1378-2", "a.b.c-d-e", ""):
        text = f"demo ${{V{op}{pattern}}}\n"
        (node,) = parse(text)
        assert isinstance(node, AndOr)
        cmd = node.first.commands[0]
        assert isinstance(cmd, Command)
        ctx = _ctx(text)
        ctx.subst["V"] = value
        expected = subprocess.run(["sh", "-c", f'V="$1"; printf %s "${{V{op}{pattern}}}"',
                                   "sh", value], check=True, capture_output=True,
                                  text=True).stdout
        assert word_value(cmd.words[1], ctx) == expected, (value, op, pattern)


def test_the_scripts_temporary_file_is_dropped_with_its_removal() -> None:
    """base-passwd's postinst: `tmp=$(mktemp)`, used only on upgrades (dropped), then
    `rm -f "$tmp"`: neither leaves anything in the image."""
    text = ('#!/bin/sh\nset -e\ntmp=$(mktemp)\nif [ -n "$2" ] && ! update-passwd --dry-run '
            '> "$tmp"; then\n  cat "$tmp"\nfi\nrm -f "$tmp"\nmkdir -p /var/lib/demo\n')
    result = translate(text, "postinst", package="demo")
    assert [a.name for a in result.actions] == ["make-dir"]
    assert [d.what for d in result.dropped if "temporary" in d.reason] == [
        "tmp=$(mktemp)", 'rm -f "$tmp"']
    reassigned = translate(text + 'tmp=/etc/demo.conf\nrm -f "$tmp"\n', "postinst",
                           package="demo")  # a real removal once the name is reassigned
    assert [(a.name, a.get("Path")) for a in reassigned.actions][-1] == (
        "remove-path", "/etc/demo.conf")
    with pytest.raises(Untranslatable):
        translate(text + 'cp "$tmp" /etc/demo.conf\n', "postinst", package="demo")
    with pytest.raises(Untranslatable, match="command substitution"):  # -u: a name only
        translate("#!/bin/sh\ntmp=$(mktemp -u)\nrm -f \"$tmp\"\n", "postinst", package="demo")


@pytest.mark.parametrize("word", ["$(seq 3)", "$(seq 6 -1 0)", "$(seq 2 2 9)", "x$((6+1))",
                                  "$(( (7 - 9) / 2 ))", "$((-7 % 3))", "$((2*3+4))"])
def test_seq_and_arithmetic_as_sh_computes_them(word: str) -> None:
    """ucf's preinst: `for i in $(seq 6 -1 0)` ... `hashfile.$(($i+1))`."""
    (node,) = parse(f"demo {word}\n")
    assert isinstance(node, AndOr)
    cmd = node.first.commands[0]
    assert isinstance(cmd, Command)
    expected = subprocess.run(["sh", "-c", f"printf %s \"{word}\""], check=True,
                              capture_output=True, text=True).stdout
    assert word_value(cmd.words[1], _ctx(f"demo {word}")) == expected


def test_arithmetic_of_unknown_values_is_left_as_written() -> None:
    (node,) = parse("demo $(($1 + 1)) $((x / 0))\n")
    assert isinstance(node, AndOr)
    cmd = node.first.commands[0]
    assert isinstance(cmd, Command)
    ctx = _ctx("demo")
    assert [word_value(w, ctx) for w in cmd.words[1:]] == ["$(($1 + 1))", "$((x / 0))"]
