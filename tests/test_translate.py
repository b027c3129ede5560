"""Maintainer scripts in the shapes the engine recognises → actions (golden files)."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest

from base.deb822 import iter_stanzas
from recipes.actions import RecordTest
from rewrite.translate import Untranslatable, translate
from rewrite.translate.conditions import compare_versions
from rewrite.translate.context import SCRIPT_PHASES
from tests.fixtures.golden import assert_golden_json

SCRIPTS = Path(__file__).parent / "golden" / "scripts"
SHAPES = sorted(p.name for p in SCRIPTS.iterdir()
                if p.suffix in (".preinst", ".postinst", ".prerm", ".postrm")
                and not p.name.startswith("unknown"))


def answers() -> dict[str, str]:
    text = (SCRIPTS / "templates").read_text()
    return {s["Template"]: s.get("Default", "") for s in iter_stanzas(text)}


def report(name: str) -> dict:
    script = name.rsplit(".", 1)[1]
    result = translate((SCRIPTS / name).read_text(), script, package="demo", answers=answers())
    return {
        "actions": [{**a.stanza(), "Origin": a.origin} for a in result.actions],
        "dropped": [{"what": d.what.splitlines()[0], "reason": d.reason, "origin": d.origin}
                    for d in result.dropped],
    }


@pytest.mark.parametrize("name", SHAPES)
def test_shape_golden(name: str) -> None:
    assert_golden_json(SCRIPTS / f"{name}.json", report(name))


def test_systemd_and_init_hooks_are_dropped_with_a_reason() -> None:
    result = report("systemd.postinst")
    assert result["actions"] == []
    assert result["dropped"] and all("init" in d["reason"] for d in result["dropped"])


def test_users_shape() -> None:
    actions = report("users.postinst")["actions"]
    names = [(a["Action"], a.get("Name") or a.get("User") or a.get("Path")) for a in actions]
    assert names == [
        ("system-group", "_demo"), ("system-user", "_demo"), ("system-group", "demo-readers"),
        ("user-in-group", "_demo"), ("system-group", "legacy"), ("system-user", "legacy"),
        ("stat-override", "/var/lib/demo"),
    ]
    assert all(a["On"] == "configure" for a in actions)
    user = actions[1]
    assert (user["Home"], user["Group"], user["Gecos"], user["Create-Home"]) == \
        ("/var/lib/demo", "_demo", "Demo daemon", "yes")


def test_debconf_answers_decide_branches() -> None:
    actions = report("debconf.postinst")["actions"]
    assert [a["Action"] for a in actions] == ["make-dir"]  # legacy-links defaults to false
    flipped = {**answers(), "demo/legacy-links": "true"}
    result = translate((SCRIPTS / "debconf.postinst").read_text(), "postinst", package="demo",
                       answers=flipped)
    assert [a.name for a in result.actions] == ["make-dir", "symlink"]


def test_debconf_question_without_answer_is_flagged() -> None:
    with pytest.raises(Untranslatable, match="demo/create-cache has no answer"):
        translate((SCRIPTS / "debconf.postinst").read_text(), "postinst", package="demo")


def test_loop_is_unrolled_and_upgrade_only_blocks_are_explained() -> None:
    result = report("loop.postrm")
    assert [a["Path"] for a in result["actions"]] == ["/etc/demo/a.conf", "/etc/demo/b.conf"]
    assert any("upgrade" in d["reason"] for d in result["dropped"])


def test_touch_creates_missing_files() -> None:
    actions = report("touch.preinst")["actions"]
    assert [(a["Action"], a["Path"], a["On"]) for a in actions] == [
        ("make-dir", "/var/lib/demo", "install"),
        ("create-file", "/var/lib/demo/installed", "install"),
        ("create-file", "/var/lib/demo/stamp", "install"),
        ("create-file", "/var/lib/demo/upgraded", "upgrade abort-upgrade"),
    ]
    assert all("Content" not in a and "Mode" not in a for a in actions)  # empty files


def test_unknown_line_names_script_and_line() -> None:
    with pytest.raises(Untranslatable) as info:
        translate((SCRIPTS / "unknown.postinst").read_text(), "postinst", package="demo")
    assert info.value.line == 5
    assert "sed" in str(info.value) and "line 5" in str(info.value)


def test_recipe_mapping_covers_an_unknown_line() -> None:
    from recipes.actions import make_action

    def lookup(script: str, line: str) -> tuple[list, str] | None:
        if line.startswith("sed -i"):
            return [make_action("remove-path", script, ["configure"], {"path": "/etc/x"})], ""
        return None

    result = translate((SCRIPTS / "unknown.postinst").read_text(), "postinst", package="demo",
                       lookup=lookup)
    assert [a.name for a in result.actions] == ["ldconfig", "remove-path"]
    assert result.actions[1].origin == "postinst:5"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("#!/usr/bin/perl\nprint 1;\n", "not a shell script"),
        ("#!/bin/sh\n[ \"$1\" = configure ] && foo() { :; }\n", "defined inside a && or"),
        ("#!/bin/sh\nfoo() { :; }\nfoo() { :; }\n", "defined a second time"),
        ("#!/bin/sh\nfoo() { foo; }\nfoo\n", "recursive call"),
        ("#!/bin/sh\nfoo\nfoo() { :; }\n", "not in the vocabulary"),
        ("#!/bin/sh\nreturn 0\n", "return outside a function"),
        ("#!/bin/sh\nf() { return $X; }\nf\n", "return whose status"),
        ("#!/bin/sh\nf() { mkdir -p \"$1\"; }\nf \"$(pwd)\"\n", "computed arguments"),
        ("#!/bin/sh\nf() { mkdir -p \"${1:-/x}\"; }\nf\n", "shell variable"),
        ("#!/bin/sh\nset -e\nf() { [ -d /x ]; }\nf\n", "set -e"),
        ("#!/bin/sh\nwhile true; do :; done\n", "while/until loop"),
        ("#!/bin/sh\necho x > /etc/motd\n", "redirected to a file"),
        ("#!/bin/sh\nrm -rf /etc\n", "refuses to remove"),
        ("#!/bin/sh\nDIR=\"$1$2\"\nrm -rf $DIR\n", "shell variable"),
        ("#!/bin/sh\nif [ \"$1\" = configure ; then\n", "syntax"),
        ("#!/bin/sh\ndpkg -L x | sed s/a/b/\n", "pipeline"),
        ("#!/bin/sh\ntouch -r /etc/a /var/lib/b\n", "touch option -r"),
        ("#!/bin/sh\ntouch --date=now /var/lib/b\n", "touch option --date"),
        ("#!/bin/sh\ntouch /var/lib/demo/*.stamp\n", "touch of a pattern"),
        ("#!/bin/sh\ntouch stamp\n", "touch of a relative path"),
        ("#!/bin/sh\nSTAMP=\"$2$1\"\ntouch $STAMP\n", "shell variable"),
        ("#!/bin/sh\ntouch\n", "touch without a path"),
    ],
)
def test_refuses_to_guess(text: str, needle: str) -> None:
    with pytest.raises(Untranslatable, match=needle):
        translate(text, "postinst", package="demo")


# -- shell functions: their body walked at each call ------------------------------------
def _summary(text: str, script: str = "postinst") -> list[tuple[str, str, tuple[str, ...]]]:
    result = translate(text, script, package="demo")
    return [(a.name, str(a.get("Path") or a.get("Name") or ""), a.on) for a in result.actions]


def test_function_body_is_translated_at_each_call_with_its_arguments() -> None:
    text = ('#!/bin/sh\nset -e\nmk() {\n    mkdir -p "$1"\n    chmod "${2:-0755}" "$1" || true\n'
            '}\nsetup() {\n    if [ "$1" = configure ]; then\n        mk /var/lib/demo\n'
            '        mk /var/cache/demo\n    fi\n}\nsetup "$1"\n')
    with pytest.raises(Untranslatable, match="shell variable"):  # ${2:-0755}: not bound
        translate(text, "postinst", package="demo")
    text = text.replace('    chmod "${2:-0755}" "$1" || true\n', "")
    assert _summary(text) == [("make-dir", "/var/lib/demo", ("configure",)),
                              ("make-dir", "/var/cache/demo", ("configure",))]


def test_function_given_the_scripts_arguments_and_return() -> None:
    text = ('#!/bin/sh\nset -e\ncleanup() {\n    [ "$1" = purge ] || return 0\n'
            '    rm -rf /var/lib/demo\n}\nnever() {\n    rm -rf /\n}\ncleanup "$@"\n'
            'rm -f /var/log/demo.log\n')
    assert _summary(text, "postrm") == [
        ("remove-path", "/var/lib/demo", ("purge",)),
        ("remove-path", "/var/log/demo.log", SCRIPT_PHASES["postrm"])]


def test_exit_inside_a_function_ends_the_script() -> None:
    text = ('#!/bin/sh\nstop() {\n    echo "$1"\n    exit 0\n}\n'
            '[ "$1" = purge ] || stop "nothing to do"\nrm -rf /var/lib/demo\n')
    assert _summary(text, "postrm") == [("remove-path", "/var/lib/demo", ("purge",))]


def test_a_failing_return_under_set_e_fails_the_script() -> None:
    text = '#!/bin/sh\nset -e\ncheck() {\n    return 1\n}\n[ "$1" != remove ] || check\n'
    result = translate(text, "prerm", package="demo")
    assert set(result.fails) == {"remove"} and result.fails["remove"][0] == 1


# -- values: constants and the script's arguments held in variables ---------------------
def test_constant_variables_resolve_paths_and_conditions() -> None:
    text = ('#!/bin/sh\nset -e\naction="$1"\noldversion=$2\nSTATE=/var/lib/demo\n'
            'case "$action" in\n  configure)\n    mkdir -p "$STATE/cache"\n'
            '    if [ "$oldversion" = "1.0-1" ]; then rm -rf "$STATE/old"; fi\n    ;;\nesac\n'
            'if [ -z "$DEBCONF_RECONFIGURE" ] && [ "$STATE" != /tmp ]; then\n'
            '  ln -sf "$DPKG_MAINTSCRIPT_PACKAGE" /var/lib/demo/owner\nfi\n')
    result = translate(text, "postinst", package="demo")
    summary = [(a.name, a.get("Path"), a.on) for a in result.actions]
    assert summary[0] == ("make-dir", "/var/lib/demo/cache", ("configure",))
    assert any("upgrade from version 1.0-1" in d.reason for d in result.dropped)
    assert summary[1] == ("symlink", "/var/lib/demo/owner", SCRIPT_PHASES["postinst"])
    assert result.actions[1].get("Target") == "demo"  # $DPKG_MAINTSCRIPT_PACKAGE


def test_variables_in_branches_or_computed_are_unknown() -> None:
    for text in ('#!/bin/sh\nD=/a\n[ -d /x ] && D=/b\nrm -rf "$D"\n',
                 '#!/bin/sh\nif [ -e /x ]; then D=/a; fi\nrm -rf "$D"\n',
                 '#!/bin/sh\nD=$(pwd)\nrm -rf "$D"\n',
                 '#!/bin/sh\nfor D in /a /b; do :; done\nrm -rf "$D"\n',
                 '#!/bin/sh\nD=/a\n( D=/b )\nrm -rf "$D"\n',
                 '#!/bin/sh\nD=/a\nf() { local D=/b; }\nf\nrm -rf "$D"\n'):
        # a local ends with its function, a subshell's assignment with the subshell:
        # the outer value is back
        if "local" in text or "( D=/b )" in text:
            assert [a.get("Path") for a in translate(text, "postrm", package="d").actions] \
                == ["/a"]
            continue
        with pytest.raises(Untranslatable):
            translate(text, "postrm", package="d")


def test_a_variable_known_for_some_arguments_only() -> None:
    text = ('#!/bin/sh\nif [ "$1" = purge ]; then D=/var/lib/a; fi\n'
            'if [ "$1" = purge ]; then rm -rf "$D"; fi\nrm -rf "$D"\n')
    with pytest.raises(Untranslatable, match="line 4"):  # remove etc.: $D is not set there
        translate(text, "postrm", package="d")


def test_pypy3compile_as_dh_pypy_writes_it() -> None:
    text = ('#!/bin/sh\nset -e\nif [ "$1" = configure ]; then\n'
            '  if which pypy3compile >/dev/null 2>&1; then\n'
            '    pypy3compile -p demo /usr/share/demo -V 3.7- || true\n  fi\nfi\n')
    (action,) = translate(text, "postinst", package="demo").actions
    assert (action.name, action.get("Interpreter"), action.get("Package"),
            action.get("Dirs")) == ("python-compile", "pypy3", "demo", "/usr/share/demo")
    text = ('#!/bin/sh\nset -e\nif which pypy3clean >/dev/null 2>&1; then\n'
            '  pypy3clean -p demo\nfi\n')
    (action,) = translate(text, "prerm", package="demo").actions
    assert (action.name, action.get("Interpreter")) == ("python-clean", "pypy3")


# -- cp of a default file to a path a test found missing ---------------------------------
@pytest.mark.parametrize("text", [
    '#!/bin/sh\nif [ ! -f /etc/demo.conf ]; then\n'
    '  cp -p /usr/share/demo/demo.conf /etc/demo.conf\nfi\n',
    '#!/bin/sh\n[ -e /etc/demo.conf ] || cp /usr/share/demo/demo.conf /etc/demo.conf\n',
    '#!/bin/sh\ninstall_from_default() {\n  if [ ! -f "$DPKG_ROOT$2" ]; then\n'
    '    echo "installing $2"\n    cp -p "$DPKG_ROOT/usr/share/demo/$1" "$DPKG_ROOT$2"\n  fi\n}\n'
    'install_from_default demo.conf /etc/demo.conf\n',
])
def test_cp_to_a_missing_file_installs_a_default(text: str) -> None:
    (action,) = translate(text, "postinst", package="demo").actions
    assert (action.name, action.get("Source"), action.get("Path")) == \
        ("install-config", "/usr/share/demo/demo.conf", "/etc/demo.conf")


@pytest.mark.parametrize(("text", "needle"), [
    ("#!/bin/sh\ncp /usr/share/demo/a /etc/demo.conf\n", "may exist"),
    ('#!/bin/sh\nif [ ! -f /etc/demo.conf ]; then\n  touch /etc/demo.conf\n'
     '  cp /usr/share/demo/a /etc/demo.conf\nfi\n', "may exist"),
    ('#!/bin/sh\nif [ ! -f /etc/demo.conf ]; then\n  cp /usr/share/demo/a /etc/demo.conf\n'
     '  cp /usr/share/demo/b /etc/demo.conf\nfi\n', "may exist"),
    ('#!/bin/sh\nif [ -f /etc/demo.conf ]; then\n  cp /usr/share/demo/a /etc/demo.conf\nfi\n',
     "may exist"),
    ('#!/bin/sh\n[ ! -e /etc/other ] && cp /usr/share/demo/a /etc/demo.conf\n', "may exist"),
    ('#!/bin/sh\n[ -e /etc/demo.conf ] || cp -r /usr/share/demo /etc/demo.conf\n', "option -r"),
])
def test_cp_that_may_overwrite_is_refused(text: str, needle: str) -> None:
    with pytest.raises(Untranslatable, match=needle):
        translate(text, "postinst", package="demo")


# -- a file written line by line where a test found it missing ---------------------------
def test_echo_lines_to_a_missing_file_create_it() -> None:
    text = ('#!/bin/sh\nset -e\nif [ "$1" = configure ]; then\n'
            '  if [ ! -f /etc/demo/interfaces ]; then\n'
            '    echo "Creating /etc/demo/interfaces."\n'
            '    echo "# interfaces(5) file" > "$DPKG_ROOT/etc/demo/interfaces"\n'
            '    echo >> /etc/demo/interfaces\n'
            '    echo "source /etc/demo/interfaces.d/*" >> /etc/demo/interfaces\n  fi\nfi\n'
            '[ -e /etc/demo/other ] || cat > /etc/demo/other <<EOF\nkey = value\n\nend\nEOF\n')
    first, second = translate(text, "postinst", package="demo").actions
    assert (first.name, first.get("Path"), first.on) == \
        ("create-file", "/etc/demo/interfaces", ("configure",))
    assert first.content == ("# interfaces(5) file", "", "source /etc/demo/interfaces.d/*")
    assert (second.get("Path"), second.content) == ("/etc/demo/other", ("key = value", "", "end"))


@pytest.mark.parametrize("text", [
    "#!/bin/sh\necho hello > /etc/demo.conf\n",  # may exist: it would be overwritten
    "#!/bin/sh\n[ -e /etc/d ] || echo a > /etc/d\nrm -f /var/x\necho b >> /etc/d\n",
    "#!/bin/sh\n[ -e /etc/d ] || echo -n a > /etc/d\n",
    "#!/bin/sh\n[ -e /etc/d ] || echo 'a\\tb' > /etc/d\n",
    "#!/bin/sh\n[ -e /etc/d ] || echo $HOME > /etc/d\n",
    "#!/bin/sh\n[ -e /etc/d ] || echo /etc/* > /etc/d\n",
    "#!/bin/sh\n[ -e /etc/d ] || cat > /etc/d <<EOF\n$HOME\nEOF\n",
    "#!/bin/sh\necho more >> /etc/d\n",
])
def test_writes_that_may_differ_are_refused(text: str) -> None:
    with pytest.raises(Untranslatable, match="redirected to a file"):
        translate(text, "postinst", package="demo")


@pytest.mark.parametrize(("text", "expected"), [
    ('#!/bin/sh\nif [ ! -f /etc/demo/log ]; then\n  : > "$DPKG_ROOT/etc/demo/log"\nfi\n',
     [("create-file", "/etc/demo/log", "", "", "")]),
    ("#!/bin/sh\nchgrp _ssh /usr/bin/ssh-agent\n",
     [("set-owner", "/usr/bin/ssh-agent", "", "_ssh", "")]),
    ("#!/bin/sh\ninstall -d -o man -g man -m 0755 /var/cache/man\n",
     [("make-dir", "/var/cache/man", "man", "man", "0755")]),
    ('#!/bin/sh\nif [ "$(uname -s)" = Linux ]; then mkdir -p /var/lib/l; fi\n',
     [("make-dir", "/var/lib/l", "", "", "")]),
    ('#!/bin/sh\nif [ "${DPKG_MAINTSCRIPT_PACKAGE_REFCOUNT:-1}" = 1 ]; then\n'
     '  mkdir -p /var/lib/one\nfi\n', [("make-dir", "/var/lib/one", "", "", "")]),
    ("#!/bin/sh\nupdate-initramfs -u\nupdate-grub || true\n", []),
    ('#!/bin/sh\nset -e\nwhich restorecon >/dev/null 2>&1 && restorecon /etc/timezone\n'
     'exit 0\n', []),  # (tzdata: SELinux labels, which images do not carry)
])
def test_small_vocabulary(text: str, expected: list[tuple[str, ...]]) -> None:
    actions = translate(text, "postinst", package="demo").actions
    assert [(a.name, a.get("Path"), a.get("Owner") or "", a.get("Group") or "",
             a.get("Mode") or "") for a in actions] == expected


def test_compare_versions_with_a_double_dash() -> None:
    text = ('#!/bin/sh\nif [ "$1" = configure ] && dpkg --compare-versions -- "$2" lt-nl 1.1; '
            'then\n  rm -f /etc/demo.old\nfi\n')
    result = translate(text, "postinst", package="demo")
    assert result.actions == [] and "upgrade" in result.dropped[0].reason


@pytest.mark.parametrize(("script", "relation", "taken"), [
    # dpkg takes an empty version ($2 on a fresh install, a removal) as the earliest:
    # `lt` holds there (systemd: "on new installs and upgrades" from before a version)
    ("postinst", "lt", ("configure",)), ("postinst", "le", ("configure",)),
    ("postinst", "<<", ("configure",)), ("postinst", "ne", ("configure",)),
    ("postinst", "gt-nl", ("configure",)), ("postrm", "lt", ("remove", "purge")),
    ("preinst", "lt", ("install",)),
    # ... and the others do not: only an upgrade, dropped
    ("postinst", "lt-nl", ()), ("postinst", "ge", ()), ("postinst", "gt", ()),
    ("postinst", "eq", ()), ("postinst", ">>", ()), ("prerm", "lt-nl", ()),
])
def test_compare_versions_on_an_empty_version_as_dpkg_does(
        script: str, relation: str, taken: tuple[str, ...]) -> None:
    text = (f'#!/bin/sh\nif dpkg --compare-versions "$2" {shlex.quote(relation)} 1.1; then\n'
            '  mkdir -p /var/lib/demo\nfi\n')
    result = translate(text, script, package="demo")
    assert tuple(p for a in result.actions for p in a.on
                 if p in ("configure", "remove", "purge", "install")) == taken
    holds = subprocess.run(["dpkg", "--compare-versions", "", relation, "1.1"],
                           check=False).returncode == 0
    assert holds == bool(taken)  # what dpkg itself says of the empty version


@pytest.mark.parametrize("left", ["", "1.0", "1:3.2.7-5", "2.0~rc1", "2.0"])
@pytest.mark.parametrize("relation", ["lt", "le", "eq", "ne", "ge", "gt", "lt-nl", "le-nl",
                                      "ge-nl", "gt-nl", "<<", "<=", "=", ">=", ">>"])
def test_compare_versions_of_known_values_as_dpkg_does(left: str, relation: str) -> None:
    """procps' postrm calls `restoreoldconffile` with no argument, whose body tests
    `dpkg --compare-versions "$1" ge 1:3.2.7-5`: both values are known, so the test is
    decided as dpkg decides it, the empty version included."""
    for right in ("", "1:3.2.7-5", "2.0"):
        holds = subprocess.run(["dpkg", "--compare-versions", left, relation, right],
                               check=False).returncode == 0
        assert compare_versions(left, relation, right) == holds, (left, relation, right)


def test_a_function_comparing_its_own_empty_argument_is_decided() -> None:
    """procps' postrm: the function's `$1` is empty (called with no argument), the
    comparison is false, `|| return` returns its failure, which under set -e ends
    abort-upgrade with 1, as the script does; `[ ! -e /etc/init.d/x ] && return` is an
    init hook whose return never runs, like an if's branch on an init test."""
    text = ('#!/bin/sh\nset -e\nrestore()\n{\n  f=/etc/init.d/demo\n'
            '  [ ! -e "$f" ] && return\n  dpkg --compare-versions "$1" ge 1:1.0-5 || return\n'
            '  mv "$f" "$f.sh"\n}\ncase "$1" in\n  abort-upgrade)\n    restore\n  ;;\nesac\n'
            'exit 0\n')
    result = translate(text, "postrm", package="demo")
    assert result.actions == []
    assert result.fails["abort-upgrade"][0] == 1
    with pytest.raises(Untranslatable, match="exit"):  # behind an upgrade test it is refused
        translate('#!/bin/sh\nf() {\n  dpkg --compare-versions "$2" lt-nl 1 && return\n'
                  '  rm -f /var/lib/demo/x\n}\nf "$@"\nexit 0\n', "postrm", package="demo")


# -- owner and mode changes behind a test of the system ----------------------------------
def test_owner_change_behind_a_test_of_another_path_carries_the_test() -> None:
    """base-files: `if [ -f /etc/staff-group-for-usr-local ]; then chown root:staff ...`:
    the change is made only where the flag file exists (Only-If), not in every case (the
    widest reading); behind a test that is not one of a path it stays refused."""
    text = ('#!/bin/sh\nif [ -f /etc/staff-flag ]; then\n'
            '  chown root:staff /usr/local/share\nfi\n')
    (owner,) = translate(text, "postinst", package="demo").actions
    assert (owner.name, owner.only_if) == ("set-owner", ("-f /etc/staff-flag",))
    (mode,) = translate("#!/bin/sh\n[ -x /usr/bin/x ] && chmod 0700 /var/lib/y\nexit 0\n",
                        "postinst", package="demo").actions
    assert mode.only_if == ("-x /usr/bin/x",)
    with pytest.raises(Untranslatable, match="owner or mode change behind a test"):
        translate("#!/bin/sh\ncommand -v x >/dev/null && chmod 0700 /var/lib/y\nexit 0\n",
                  "postinst", package="demo")
    # the touch turns the test: what it read is recorded before it (record-test), and the
    # change behind it carries that record
    record, touch, chmod = translate("#!/bin/sh\nif [ ! -f /etc/flag ]; then\n"
                                     "  touch /etc/flag\n  chmod 0700 /var/lib/y\nfi\n",
                                     "postinst", package="demo").actions
    assert isinstance(record, RecordTest) and record.only_if == ("! -f /etc/flag",)
    assert touch.name == "create-file" and chmod.only_if == (f"flag {record.flag}",)


@pytest.mark.parametrize("text", [
    '#!/bin/sh\nif [ "$2" = "" ] && [ ! -f /var/log/faillog ]; then\n'
    '  touch /var/log/faillog\n  chown 0:0 /var/log/faillog\n  chmod 644 /var/log/faillog\nfi\n',
    '#!/bin/sh\nif ! dpkg-statoverride --list /usr/bin/agent >/dev/null; then\n'
    '  chgrp _ssh /usr/bin/agent\n  chmod 2755 /usr/bin/agent\nfi\n',
    "#!/bin/sh\n[ -e /var/log/demo.log ] && chmod 0640 /var/log/demo.log\nexit 0\n",
])
def test_owner_change_of_the_tested_path_is_translated(text: str) -> None:
    actions = translate(text, "postinst", package="demo").actions
    assert [a for a in actions if a.name == "set-owner"]


def test_case_on_a_known_value() -> None:
    text = ('#!/bin/sh\nkind=server\ncase "$kind" in\n  client|desk*) mkdir -p /var/lib/c ;;\n'
            '  serv[a-z]r) mkdir -p /var/lib/s ;;\n  *) mkdir -p /var/lib/other ;;\nesac\n')
    assert [a.get("Path") for a in translate(text, "postinst", package="d").actions] == \
        ["/var/lib/s"]
    with pytest.raises(Untranslatable, match="partly quoted"):
        translate('#!/bin/sh\nk=ab\ncase "$k" in\n  "a"*) mkdir -p /x ;;\nesac\n', "postinst",
                  package="d")


def test_bash_brace_expansion_is_expanded_in_bash_scripts_only() -> None:
    """mariadb-server's postrm (#!/bin/bash): `rm -f /var/log/mysql.{log,err}{,.0}`."""
    body = 'set -e\nif [ "$1" = purge ]; then\n  rm -f /var/log/demo.{log,err}{,.0}\nfi\n'
    paths = [a.get("Path") for a in translate("#!/bin/bash\n" + body, "postrm",
                                               package="demo").actions]
    assert paths == ["/var/log/demo.log", "/var/log/demo.log.0", "/var/log/demo.err",
                     "/var/log/demo.err.0"]
    paths = [a.get("Path") for a in translate("#!/bin/sh\n" + body, "postrm",
                                               package="demo").actions]
    assert paths == ["/var/log/demo.{log,err}{,.0}"]  # sh: a literal name
    with pytest.raises(Untranslatable, match="brace sequence"):
        translate("#!/bin/bash\nrm -f /var/log/demo.{1..3}\n", "postrm", package="demo")
    with pytest.raises(Untranslatable, match="partly quoted"):
        translate('#!/bin/bash\nrm -f "/var/log/d"{a,b}\n', "postrm", package="demo")
    # ${NAME} is not a brace expansion
    result = translate('#!/bin/bash\nD=/var/log\nrm -f ${D}/x\n', "postrm", package="demo")
    assert [a.get("Path") for a in result.actions] == ["/var/log/x"]


def test_trace_switches_and_runit_hooks() -> None:
    """mariadb's `${DEBIAN_SCRIPT_TRACE:+ echo "... $0 $*" 1>&2 }` expands to nothing;
    dh_runit's `NAME=ssh ENABLE=yes /lib/runit-helper/runit-helper prerm "$@"` is an init
    hook; other tools run with variables set for them are refused."""
    text = ('#!/bin/sh\nset -e\n${DEBIAN_SCRIPT_TRACE:+ echo "#42#DEBUG# RUNNING $0 $*" 1>&2 }\n'
            "NAME='ssh' ENABLE='yes' ONUPGRADE='restart' /lib/runit-helper/runit-helper "
            'prerm "$@"\nmkdir -p /var/lib/demo\n')
    result = translate(text, "prerm", package="demo")
    assert [a.stanza()["Action"] for a in result.actions] == ["make-dir"]
    assert any("init-system" in d.reason for d in result.dropped)
    with pytest.raises(Untranslatable, match="variables set for it"):
        translate("#!/bin/sh\nLANG=C mkdir -p /x\n", "postinst", package="demo")


@pytest.mark.parametrize(("line", "kind"), [
    ("systemd-machine-id-setup ${DPKG_ROOT:+--root=\"$DPKG_ROOT\"}", "machine-id"),
    ("dbus-uuidgen --ensure", "dbus-machine-id"),
    ("make-ssl-cert generate-default-snakeoil", "snakeoil-certificate"),
    ("rndc-confgen -a", "rndc-key"),
])
def test_a_systems_identity_is_an_action_bootstrap_leaves_to_the_system(
        tmp_path: Path, line: str, kind: str) -> None:
    """A machine ID, a snakeoil key, an rndc key: made by the rendered sh with the tool,
    never baked into an image by bootstrap."""
    from bootstrap.apply import Applier

    (action,) = translate(f"#!/bin/sh\nset -e\n{line}\n", "postinst", package="demo").actions
    assert action.stanza()["Action"] == "system-identity" and action.get("Kind") == kind
    outcome = Applier(tmp_path).run("demo", action)
    assert outcome.status == "skipped" and not any(tmp_path.iterdir())
    with pytest.raises(Untranslatable):
        translate("#!/bin/sh\nrndc-confgen -a -b 512\n", "postinst", package="demo")
