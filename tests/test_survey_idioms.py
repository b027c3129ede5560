"""The idiom of each refusal of the translator: the construct and the command it names,
free of the line's own values, so that a survey can group refusals across packages."""

from __future__ import annotations

import pytest

from rewrite.translate import Idiom, Untranslatable, translate

CASES = [
    ("savelog /var/log/foo.log", "command savelog"),
    ("touch -d yesterday /var/lib/foo/stamp", "unknown form of touch"),
    ("touch stamp", "unknown form of touch"),
    ("/usr/sbin/frob --all", "command /usr/sbin/frob"),
    (". /usr/share/foo/lib.sh", "sources /usr/share/foo/lib.sh"),
    ('if [ "$1" = configure ]; then f() { true; }; fi', "function definition inside a block"),
    ("while read x; do true; done", "while/until loop"),
    ("for f in /etc/*.conf; do rm -f $f; done", "loop over computed values"),
    ("X=$(cat /etc/foo)", "variable assignment from a command substitution"),
    ("echo hello > /etc/foo", "output redirected to a file by echo"),
    ("find /var -name x | xargs rm", "pipeline find | xargs"),
    ("chown $USER /var/lib/foo", "computed arguments to chown"),
    ("if setcap x /bin/ping; then true; fi", "condition: command setcap"),
    ('X="$1$2"; if [ "$X" = y ]; then mkdir -p /var/lib/x; fi',
     "condition: comparison of values other than $1, $2 or $RET"),
    ('F="$1$2"; if [ -f "$F" ]; then mkdir -p /var/lib/x; fi',
     "condition: test -f of a computed path"),
    ("X=\"$1$2\"; if [ \"$X\" -gt 0 ]; then mkdir -p /var/lib/x; fi", "condition: test -gt"),
    ("X=\"$1$2\"; case $X in a) true;; esac", "case on something other than $1"),
    ("db_get foo/bar", "debconf question without an answer"),
    ("exit $RC", "exit with a computed status"),
]


@pytest.mark.parametrize(("line", "idiom"), CASES)
def test_idiom_of_each_refusal(line: str, idiom: str) -> None:
    with pytest.raises(Untranslatable) as caught:
        translate(f"#!/bin/sh\nset -e\n{line}\n", "postinst", package="demo")
    assert str(caught.value.idiom) == idiom
    assert caught.value.line == 3


def test_interpreter_idiom_names_the_program() -> None:
    with pytest.raises(Untranslatable) as caught:
        translate("#!/usr/bin/perl -w\nprint 1;\n", "postinst", package="demo")
    assert caught.value.idiom == Idiom("interpreter", "perl")


def test_reason_is_the_idiom_when_none_is_named() -> None:
    exc = Untranslatable(4, "x", "some reason")
    assert exc.idiom == Idiom("some reason") and str(exc.idiom) == "some reason"
    assert str(Untranslatable(4, "x", "why", Idiom("command", "sed")).idiom) == "command sed"


def test_a_call_of_a_function_of_the_script_is_its_own_idiom() -> None:
    script = "#!/bin/sh\nset -e\nif true; then\n  setup() {\n    touch /x\n  }\nfi\nsetup\n"
    with pytest.raises(Untranslatable) as caught:
        translate(script, "postinst", package="demo",
                  lookup=lambda name, line: ([], "skip") if line.startswith("if") else None)
    assert (caught.value.line, str(caught.value.idiom)) == \
        (8, "call of a function the script defines")
    assert caught.value.reason == "command 'setup' is not in the vocabulary"  # as before
