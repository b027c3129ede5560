"""Calls the engine follows: `shift` in a function, "$@" of a call, a command run as
another user (setpriv, runuser), a tool named by its absolute path, `[ STRING ]`."""

from __future__ import annotations

import pytest

from rewrite.translate import Idiom, Untranslatable, translate


def actions(text: str, script: str = "postinst") -> list[dict[str, str]]:
    return [a.stanza() for a in translate(text, script, package="demo").actions]


MANDB = """#!/bin/sh
set -e
run_mandb () {
    local message="$1"
    shift
    [ "$message" ] && echo "$message" >&2
    setpriv --reuid man --regid man --init-groups -- /usr/bin/mandb "$@" || true
}
if [ "$1" = triggered ]; then
    run_mandb "" -pq /usr/share/man
    exit 0
fi
"""


def test_shift_and_the_calls_parameters_reach_a_command_run_as_another_user() -> None:
    (cache,) = actions(MANDB)
    assert (cache["Action"], cache["Kind"], cache["Path"], cache["On"]) == (
        "update-cache", "man", "/usr/share/man", "triggered")
    runuser = MANDB.replace("setpriv --reuid man --regid man --init-groups --",
                            "runuser -u man --")
    assert actions(runuser) == actions(MANDB)


@pytest.mark.parametrize("text", [
    "#!/bin/sh\nshift\nmkdir /x\n",  # the script's own arguments
    "#!/bin/sh\nf() {\n  if [ -e /etc/x ]; then shift; fi\n  mkdir \"/v/$1\"\n}\nf a b\n",
    "#!/bin/sh\nf() {\n  shift 3\n}\nf a b\n",  # more than the call has: dash stops
])
def test_shifts_the_engine_cannot_follow_are_refused(text: str) -> None:
    with pytest.raises(Untranslatable) as caught:
        translate(text, "postinst", package="demo")
    assert caught.value.idiom == Idiom("command", "shift")


def test_a_single_string_test_is_true_when_not_empty() -> None:
    text = ('#!/bin/sh\nf() {\n  [ "$1" ] && mkdir -p /var/lib/with\n'
            '  [ "$2" ] || mkdir -p /var/lib/without\n}\nf yes ""\n')
    assert [a["Path"] for a in actions(text)] == ["/var/lib/with", "/var/lib/without"]


def test_a_tool_named_by_its_path_is_the_tool_and_an_unknown_one_keeps_its_path() -> None:
    assert actions("#!/bin/sh\n/sbin/ldconfig\n") == actions("#!/bin/sh\nldconfig\n")
    with pytest.raises(Untranslatable) as caught:
        translate("#!/bin/sh\n/usr/sbin/frob --all\n", "postinst", package="demo")
    assert caught.value.idiom == Idiom("command", "/usr/sbin/frob")


def test_unquoted_values_are_split_into_fields_as_the_shell_does() -> None:
    text = ("#!/bin/sh\nset -e\nlist='man mandb'\nfor x in $list; do\n"
            '  mkdir -p "/var/lib/$x"\ndone\nboth="/srv/a /srv/b"\nempty=\n'
            "mkdir -p $both $empty\nmkdir -p \"/srv/$list\"\n")
    assert [a["Path"] for a in actions(text)] == [
        "/var/lib/man", "/var/lib/mandb", "/srv/a", "/srv/b", "/srv/man mandb"]


def test_a_value_set_behind_a_test_makes_each_branch_possible() -> None:
    """man-db: build_db=1 only where index.db is missing; `if [ $build_db -eq 1 ]` may
    take either branch: both are translated, and only what adds or refreshes is taken."""
    text = ("#!/bin/sh\nset -e\nbuild_db=0\nif [ ! -f /var/cache/man/index.db ]; then\n"
            "  build_db=1\nfi\nif [ $build_db -eq 1 ]; then\n  mandb -cq\nelse\n"
            "  mkdir -p /var/cache/man\nfi\n")
    assert [a["Action"] for a in actions(text)] == ["update-cache", "make-dir"]
    removal = text.replace("mkdir -p /var/cache/man", "rm -f /var/cache/man/index.db")
    with pytest.raises(Untranslatable) as caught:
        translate(removal, "postinst", package="demo")
    assert caught.value.idiom == Idiom("change behind a test that reads the system")


CHROOTED = """#!/bin/sh
set -e
chrooted() {
  if [ "$(stat -c %d/%i /)" = "$(stat -Lc %d/%i /proc/1/root 2>/dev/null)" ];
  then
    return 1
  fi
  echo "A chroot environment has been detected."
  return 0
}
case "$1" in
    remove)
    if ! chrooted; then
      mkdir -p /var/lib/demo
    fi
    ;;
esac
"""


def test_a_function_that_only_reads_the_system_is_a_condition() -> None:
    """udev's `chrooted`: tests, read-only command substitutions, messages, returns."""
    (action,) = actions(CHROOTED, "prerm")
    assert (action["Action"], action["On"]) == ("make-dir", "remove")
    for writes in ('  touch /var/lib/flag\n', '  x=1\n', '  [ "$(rm -f /x)" ]\n',
                   "  exit 0\n"):
        text = CHROOTED.replace("  return 0\n}", f"{writes}  return 0\n}}")
        with pytest.raises(Untranslatable):
            translate(text, "prerm", package="demo")


def test_a_subshell_leaves_the_values_before_it() -> None:
    """Found by the differential fuzz test: what a subshell assigns stays in it, so the
    value before it still decides a later test (it was taken as set by the system)."""
    text = ('#!/bin/sh\nset -e\nD=/d/a\n(\nD=/d/b\n)\nif [ "$D" = /d/b ]; then\n'
            "mkdir -p /d/a\nfi\nmkdir -p \"$D\"\n")
    assert [a["Path"] for a in actions(text)] == ["/d/a"]
