"""A function of the script called as an if's condition (its status per script argument),
and loops over the activated triggers of `postinst triggered` (systemd's postinst)."""

from __future__ import annotations

import pytest

from rewrite.translate import Untranslatable, translate

# slapd's postrm (bookworm), cut down to its shape
SLAPD = """#!/bin/sh
set -e
. /usr/share/debconf/confmodule
remove_database_on_purge() {
  db_get slapd/purge_database || RET=false
  if [ "$RET" = "true" ]; then
    return 0
  else
    return 1
  fi
}
if [ "$1" = "purge" ]; then
  if remove_database_on_purge; then
    rm -rf /var/lib/ldap
  fi
  rm -rf /etc/ldap/slapd.d
fi
exit 0
"""


@pytest.mark.parametrize(("answer", "removed"), [
    ("true", ["/var/lib/ldap", "/etc/ldap/slapd.d"]), ("false", ["/etc/ldap/slapd.d"])])
def test_a_function_deciding_on_a_debconf_answer_is_a_known_condition(
        answer: str, removed: list[str]) -> None:
    result = translate(SLAPD, "postrm", package="slapd",
                       answers={"slapd/purge_database": answer})
    assert [a.get("Path") for a in result.actions] == removed
    assert all(a.on == ("purge",) for a in result.actions)


def test_a_function_wrapping_an_init_hook_returns_what_it_does_without_one() -> None:
    """systemd's `_systemctl`: systemctl only where systemd runs; `! _systemctl -q
    is-active X` is then false (the if of the function does not run: status 0)."""
    text = ('#!/bin/sh\nset -e\n_systemctl() {\n  if [ -d /run/systemd/system ]; then\n'
            '    systemctl "$@"\n  fi\n}\nif ! _systemctl -q is-active binfmt.service; then\n'
            '  mkdir -p /var/lib/demo\nfi\nif _systemctl -q is-active x; then\n'
            '  mkdir -p /var/lib/other\nfi\n')
    result = translate(text, "postinst", package="demo")
    assert [a.get("Path") for a in result.actions] == ["/var/lib/other"]


def test_a_function_whose_status_the_system_decides_takes_each_branch_guarded() -> None:
    """A function ending in a test of a path: either branch may run (the widest reading);
    an exit in the function, called as a condition, is refused."""
    text = ('#!/bin/sh\nhas_conf() {\n  mkdir -p /var/lib/demo\n  [ -e /etc/demo.conf ]\n}\n'
            'if has_conf; then\n  mkdir -p /var/lib/demo/a\nelse\n'
            '  mkdir -p /var/lib/demo/b\nfi\nexit 0\n')
    result = translate(text, "postinst", package="demo")
    assert [a.get("Path") for a in result.actions] == [
        "/var/lib/demo", "/var/lib/demo/a", "/var/lib/demo/b"]
    with pytest.raises(Untranslatable, match="exits the script"):
        translate('#!/bin/sh\nf() {\n  exit 0\n}\nif f; then\n  mkdir -p /var/lib/x\nfi\n',
                  "postinst", package="demo")


# systemd's postinst (bookworm), its trigger part
SYSTEMD = """#!/bin/sh
set -e
_update_catalog() {
    journalctl ${DPKG_ROOT:+--root="$DPKG_ROOT"} --update-catalog || true
}
if [ "$1" = "triggered" ]; then
    shift
    for trigger in $@; do
        case $trigger in
            /usr/lib/systemd/catalog)
                _update_catalog
                ;;
            /usr/lib/binfmt.d)
                systemctl try-restart systemd-binfmt.service || true
                ;;
        esac
    done
    exit 0
fi
_update_catalog
"""


def test_a_loop_over_the_activated_triggers_takes_each_case() -> None:
    result = translate(SYSTEMD, "postinst", package="systemd")
    catalog = [a for a in result.actions if a.name == "update-cache"]
    assert [(a.get("Kind"), a.on) for a in catalog] == [
        ("journal-catalog", ("triggered",)),
        ("journal-catalog", tuple(p for p in catalog[1].on if p != "triggered"))]
    assert "triggered" not in catalog[1].on
    direct = SYSTEMD.replace("    shift\n    for trigger in $@; do", "    for trigger in $2; do")
    assert [a.get("Kind") for a in translate(direct, "postinst", package="systemd").actions
            if "triggered" in a.on] == ["journal-catalog"]


@pytest.mark.parametrize("change", [
    ("/usr/lib/binfmt.d)", "/usr/lib/*.d)"),  # a glob: which triggers it takes is unknown
    ("    shift\n", ""),  # no shift: "$@" starts with "triggered" itself, not a trigger loop
    ("                _update_catalog\n", "                exit 1\n"),  # an exit in the loop
])
def test_other_trigger_loops_are_refused(change: tuple[str, str]) -> None:
    with pytest.raises(Untranslatable):
        translate(SYSTEMD.replace(*change), "postinst", package="systemd")


# ucf's postinst (bookworm), its shape: inert ifs, exits whose continuation does nothing
UCF = """#!/bin/sh
set -e
case "$1" in
  configure)
    touch /var/lib/ucf/hashfile
    if test "${2+set}" != set; then
      :
    elif test -z "$2" || test "$2" = "<unknown>"; then
      :
    else
      :
    fi ;;
  abort-remove)
    if test "$2" != in-favour; then
      echo "$0: undocumented call to postinst $*" 1>&2
      exit 0
    fi
    :
    ;;
  abort-deconfigure)
    if test "$2" != in-favour || test "$5" != removing; then
      echo "$0: undocumented call" 1>&2
      exit 0
    fi
    :
    ;;
esac
exit 0
"""


def test_inert_ifs_and_exits_nothing_follows_are_translated() -> None:
    result = translate(UCF, "postinst", package="ucf")
    assert [(a.name, a.get("Path"), a.on) for a in result.actions] == [
        ("create-file", "/var/lib/ucf/hashfile", ("configure",))]
    assert any("branches do nothing" in d.reason for d in result.dropped)
    assert not result.fails


def test_an_exit_that_skips_something_is_refused() -> None:
    with pytest.raises(Untranslatable, match="exit"):
        translate(UCF.replace("esac\nexit 0\n", "esac\nmkdir -p /var/lib/ucf/x\nexit 0\n"),
                  "postinst", package="ucf")


def test_an_if_whose_test_runs_a_command_is_not_inert() -> None:
    text = UCF.replace('    if test "${2+set}" != set; then\n      :',
                       '    if test "$(cat /etc/x)" != set; then\n      :')
    try:
        result = translate(text, "postinst", package="ucf")
    except Untranslatable:
        return
    assert not any("branches do nothing" in d.reason for d in result.dropped)


def test_an_answer_assigned_after_db_get_is_known() -> None:
    """tzdata's postinst: `db_get tzdata/Areas && AREA="$RET"` then
    `db_get "tzdata/Zones/$AREA"`: the answers (the templates' defaults) decide both."""
    text = ('#!/bin/sh\nset -e\n. /usr/share/debconf/confmodule\nAREA=Etc\nZONE=UTC\n'
            'db_get tzdata/Areas && AREA="$RET"\ndb_get "tzdata/Zones/$AREA" && ZONE="$RET"\n'
            'mkdir -p "/var/lib/demo/$AREA/$ZONE"\n')
    answers = {"tzdata/Areas": "Europe", "tzdata/Zones/Europe": "Paris"}
    (made,) = translate(text, "postinst", package="tzdata", answers=answers).actions
    assert made.get("Path") == "/var/lib/demo/Europe/Paris"
    with pytest.raises(Untranslatable, match="no answer"):
        translate(text, "postinst", package="tzdata", answers={"tzdata/Areas": "Asia"})


def test_what_a_function_called_as_a_test_creates_is_known_to_every_branch() -> None:
    """A function that creates a path, called as the if's first test: each branch starts
    from what it did (the path is no longer missing there), as the shell runs it."""
    text = ('#!/bin/sh\nset -e\nprepare() {\n  mkdir -p /var/lib/demo\n'
            '  [ -e /etc/demo.conf ]\n}\nif [ ! -d /var/lib/demo ]; then\n  :\nfi\n'
            'if prepare; then\n  mkdir -p /var/lib/demo/a\nelse\n  mkdir -p /var/lib/demo/b\n'
            'fi\nexit 0\n')
    result = translate(text, "postinst", package="demo")
    assert [a.get("Path") for a in result.actions] == [
        "/var/lib/demo", "/var/lib/demo/a", "/var/lib/demo/b"]
