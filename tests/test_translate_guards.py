"""Tests of the system the engine cannot decide, translated only where that is sound:
early exits whose continuation does nothing where they are taken, conditions that read
the system (grep, getent | grep), values known inside a block, paths that a test found
missing and that only a parent directory was made since."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from rewrite.translate import Idiom, Untranslatable, translate


def actions(text: str, script: str = "postinst") -> list[dict[str, str]]:
    return [a.stanza() for a in translate(text, script, package="demo").actions]


def refusal(text: str, script: str = "postinst") -> Untranslatable:
    with pytest.raises(Untranslatable) as caught:
        translate(text, script, package="demo")
    return caught.value


HOSTS = """#!/bin/sh -e
create_hosts_file() {
  if [ -e /etc/hosts ]; then return 0; fi
  cat > /etc/hosts <<-EOF
	127.0.0.1	localhost
	EOF
}
case "$1" in
    configure)
    if [ -z "$2" ]; then
        create_hosts_file
    fi
    ;;
esac
"""


def test_an_early_return_where_the_file_exists_then_a_write_is_a_create_file() -> None:
    result = translate(HOSTS, "postinst", package="demo")
    (action,) = result.actions
    assert action.stanza()["Action"] == "create-file"
    assert action.stanza()["Path"] == "/etc/hosts"
    assert action.content == ("127.0.0.1\tlocalhost",)
    assert any("early exit" in d.reason and "/etc/hosts exists" in d.reason
               for d in result.dropped)


def test_a_mode_set_right_after_the_write_is_the_created_files_mode() -> None:
    text = ("#!/bin/sh -e\nf() {\n  [ -e /etc/modules ] && return 0\n"
            "  echo '# modules' > /etc/modules\n  chmod 644 /etc/modules\n}\n"
            'case "$1" in configure) f ;; esac\n')
    (action,) = actions(text)
    assert (action["Action"], action["Path"], action["Mode"]) == \
        ("create-file", "/etc/modules", "644")


@pytest.mark.parametrize(("after", "taken"), [
    ("rm -f /etc/other", ("remove-path", "/etc/other")),
    ("mkdir -m 700 /etc", ("make-dir", "/etc")),
])
def test_an_early_exit_followed_by_another_change_makes_it_conditional(
        after: str, taken: tuple[str, str]) -> None:
    """What follows runs only where the test failed: its actions carry the test."""
    text = ("#!/bin/sh -e\nf() {\n  [ -e /etc/modules ] && return 0\n"
            f"  {after}\n}}\n" 'case "$1" in configure) f ;; esac\n')
    (action,) = actions(text)
    assert (action["Action"], action["Path"]) == taken
    assert action["Only-If"] == "! -e /etc/modules"


@pytest.mark.parametrize("text", [
    # what follows changes the tested path: the test would not see what the exit saw
    "#!/bin/sh -e\nf() {\n  [ -e /etc/modules ] && return 0\n  chmod 600 /etc/modules\n"
    "  rm -f /etc/other\n}\nf\n",
    # the exit's test is not one of a path
    "#!/bin/sh -e\nf() {\n  command -v foo >/dev/null || return 0\n  rm -f /etc/other\n}\nf\n",
])
def test_an_early_exit_followed_by_a_change_it_cannot_condition_is_refused(text: str) -> None:
    assert refusal(text).idiom == Idiom("exit inside an if that tests the system")


def test_an_early_exit_before_a_dropped_command_only_is_dropped() -> None:
    text = ("#!/bin/sh\nset -e\nreload() {\n  [ -S /run/dbus/system_bus_socket ] || return 0\n"
            "  dbus-send --system / org.freedesktop.DBus.ReloadConfig > /dev/null || true\n}\n"
            'if [ "$1" = triggered ]; then reload; exit 0; fi\nmkdir -p /var/lib/demo\n')
    result = translate(text, "postinst", package="demo")
    assert [(a.stanza()["Action"], a.on) for a in result.actions] == [
        ("make-dir", tuple(p for p in result.actions[0].on))]
    assert "triggered" not in result.actions[0].on
    assert any("D-Bus" in d.reason for d in result.dropped)


def test_an_exit_at_the_top_of_the_script_before_debconf_calls_only() -> None:
    text = ("#!/bin/sh\nset -e\nif [ ! -e /usr/share/debconf/confmodule ]; then\n\texit\nfi\n"
            ". /usr/share/debconf/confmodule\ndb_input medium demo/q || true\ndb_go || true\n")
    assert actions(text, "config") == []


@pytest.mark.parametrize("text", [
    # a failing exit behind a test of the system
    "#!/bin/sh\n[ -e /etc/demo ] || exit\nmkdir /var/lib/demo\n",
    "#!/bin/sh\nif [ -e /etc/demo ]; then exit 1; fi\n",
    # an exit inside a block: it ends more than the block's list
    '#!/bin/sh\nif [ "$1" = configure ]; then\n  [ -e /etc/demo ] && exit 0\nfi\n'
    "mkdir /var/lib/demo\n",
    # a return inside a block of a function
    "#!/bin/sh\nf() {\n  if true; then\n    [ -e /etc/demo ] && return 0\n  fi\n"
    "  rm -rf /var/lib/demo\n}\nf\n",
])
def test_exits_the_continuation_cannot_account_for_are_refused(text: str) -> None:
    refusal(text)


def test_conditions_that_read_the_system_guard_only_additions() -> None:
    text = ("#!/bin/sh\nset -e\ncase \"$1\" in\nconfigure)\n"
            "  if ! getent group shadow | grep -q '^shadow:[^:]*:42'\n  then\n"
            "    groupadd -g 42 shadow || (\n      cat <<EOF\nGroup ID 42 is taken.\nEOF\n"
            "      exit 1\n    )\n  fi\n  ;;\nesac\n")
    (group,) = actions(text)  # the fixed id kept (not dropped)
    assert (group["Action"], group["Name"], group["Gid"]) == ("system-group", "shadow", "42")
    (group,) = actions(text.replace("-g 42 ", ""))
    assert (group["Action"], group["Name"], group.get("Gid", "")) == (
        "system-group", "shadow", "")
    fixed_user = "#!/bin/sh\nuseradd -r -u 42 demo\n"
    assert refusal(fixed_user).idiom == Idiom("account with a fixed id")
    removal = "#!/bin/sh\nif grep -qE '^(old)' /etc/demo.conf; then rm -f /etc/demo.conf; fi\n"
    assert refusal(removal).idiom == Idiom("change behind a test that reads the system")
    carried = removal.replace("-qE '^(old)'", "-q '^old'")  # (a test the action carries)
    assert [a.get("Only-If") for a in actions(carried)] == ["grep /etc/demo.conf ^old"]
    adding = "#!/bin/sh\nif ! grep -qs demo /etc/demo.conf; then mkdir -p /etc/demo; fi\n"
    assert [a["Action"] for a in actions(adding)] == ["make-dir"]


def test_a_value_assigned_behind_a_test_is_known_in_its_block_only() -> None:
    text = ('#!/bin/sh\nif [ "$1" = configure ]; then\n  if [ -f /etc/apparmor.d/demo ]; then\n'
            '    LOCAL=/etc/apparmor.d/local/demo\n    test -e "$LOCAL" || {\n'
            '      mkdir -p `dirname "$LOCAL"`\n      install --mode 644 /dev/null "$LOCAL"\n'
            "    }\n  fi\nfi\n")
    assert [(a["Action"], a["Path"], a.get("Mode")) for a in actions(text)] == [
        ("make-dir", "/etc/apparmor.d/local", None),
        ("create-file", "/etc/apparmor.d/local/demo", "644")]
    after = text + 'rm -f "$LOCAL"\n'
    assert refusal(after).idiom == Idiom("computed arguments to", "rm")


def test_making_a_parent_directory_keeps_what_a_test_found_missing() -> None:
    text = ('#!/bin/sh\nset -e\nif [ ! -e /etc/demo.conf ]; then\n  mkdir -p /etc\n'
            "  cp /usr/share/demo/demo.conf /etc/demo.conf\nfi\n")
    assert [a["Action"] for a in actions(text)] == ["make-dir", "install-config"]
    other = text.replace("mkdir -p /etc", "mkdir -p /etc/demo.conf")
    assert refusal(other).idiom == Idiom("cp over a file that may exist")


@pytest.mark.parametrize(("word", "value"), [
    ("$(dirname /etc/a/b)", "/etc/a"), ('`dirname "/etc/a/b/"`', "/etc/a"),
    ("$(basename /usr/lib/demo.so .so)/x", "demo/x"), ("$(dirname /etc)", "/"),
])
def test_dirname_and_basename_of_a_constant_are_computed(word: str, value: str) -> None:
    text = f"#!/bin/sh\nD={word}\nmkdir -p /srv/\"$D\"\n"
    (action,) = actions(text)
    assert action["Path"] == "/srv/" + value


def test_an_exit_behind_an_init_system_test_is_dropped_with_its_branch() -> None:
    """systemd's prerm refuses removal while systemd runs: no init system runs in a
    container, the branch never runs there."""
    text = ('#!/bin/sh\nset -e\nif [ "$1" = "remove" ] && [ -d /run/systemd/system ]; then\n'
            '    echo "systemd is the active init system" >&2\n    exit 1\nfi\n'
            'rm -f /var/lib/demo/state\n')
    result = translate(text, "prerm", package="demo")
    assert [a.stanza()["Action"] for a in result.actions] == ["remove-path"]
    assert "remove" in result.actions[0].on and result.fails == {}
    assert any("init" in d.reason for d in result.dropped)


def test_a_loop_of_conffile_helpers_over_computed_names_acts_only_on_old_upgrades() -> None:
    """bash-completion: `for f in $(find ...); do dpkg-maintscript-helper rm_conffile $f
    1:1.3-1 -- "$@"; done` does something only where an upgrade from 1:1.3-1 or older
    left conffiles behind."""
    text = ('#!/bin/sh\nset -e\ncase "$1" in\n  purge)\n    rm -f /etc/demo\n'
            '    for f in $(find /etc/demo.d/ -type f -name "*.dpkg-*"); do\n'
            '      dpkg-maintscript-helper rm_conffile ${f%.dpkg-*} 1:1.3-1 -- "$@"\n'
            "    done\n  ;;\nesac\n")
    result = translate(text, "postrm", package="demo")
    assert [(a.stanza()["Action"], a.stanza()["Path"]) for a in result.actions] == [
        ("remove-path", "/etc/demo")]
    assert any("version 1:1.3-1 or older" in d.reason for d in result.dropped)
    other = text.replace("dpkg-maintscript-helper rm_conffile ${f%.dpkg-*} 1:1.3-1 -- \"$@\"",
                         'rm -f "$f"')
    assert refusal(other, "postrm").idiom == Idiom("loop over computed values")


def test_mv_behind_a_test_of_its_source_is_a_move_path() -> None:
    text = ("#!/bin/sh\nset -e\nhook=/etc/apt/apt.conf.d/20demo\n"
            "test -f $hook.disabled && mv $hook.disabled $hook\nexit 0\n")
    (move,) = actions(text, "preinst")
    assert (move["Action"], move["Source"], move["Path"]) == (
        "move-path", "/etc/apt/apt.conf.d/20demo.disabled", "/etc/apt/apt.conf.d/20demo")
    bare = "#!/bin/sh\nset -e\nmv /etc/demo /etc/demo.old\n"  # fails where /etc/demo is missing
    assert refusal(bare).idiom == Idiom("mv of a path no test found present")


# -- Only-If against dash: the original and the rendered script, on the same trees ----------
ONLY_IF_ORIGINAL = """#!/bin/sh
set -e
f() {
  if [ ! -d "$DPKG_ROOT/srv/$1" ]; then
    mkdir -p "$DPKG_ROOT/srv/$1"
  fi
  if [ -f "$DPKG_ROOT/etc/staff-flag" ]; then
    chmod 2775 "$DPKG_ROOT/srv/$1" 2>/dev/null || true
  fi
}
keep() {
  [ -e "$DPKG_ROOT/etc/keep-$1" ] && return 0
  rm -f "$DPKG_ROOT/srv/$1.old"
}
if [ "$1" = configure ]; then
  f a
  f b
  keep a
  keep b
fi
exit 0
"""


def _tree(root: Path) -> list[tuple[str, str]]:
    return sorted((str(p.relative_to(root)), oct(p.lstat().st_mode)) for p in root.rglob("*"))


@pytest.mark.skipif(shutil.which("dash") is None, reason="needs dash")
@pytest.mark.parametrize("present", [(), ("etc/staff-flag",), ("etc/keep-a",),
                                     ("etc/staff-flag", "etc/keep-b", "srv/a")])
def test_only_if_behaves_like_the_original_tests(tmp_path: Path,
                                                  present: tuple[str, ...]) -> None:
    from rewrite.render import render_script

    result = translate(ONLY_IF_ORIGINAL, "postinst", package="demo")
    assert {a.only_if for a in result.actions} >= {("-f /etc/staff-flag",),
                                                   ("! -e /etc/keep-a",)}
    rendered = render_script("postinst", result.actions, package="demo")
    assert rendered is not None
    trees = []
    for name, text in (("original", ONLY_IF_ORIGINAL), ("rendered", rendered)):
        root = tmp_path / name / "root"
        for entry in ("etc", "srv"):
            (root / entry).mkdir(parents=True)
        for entry in present:
            (root / entry).mkdir(parents=True) if entry.startswith("srv/") \
                else (root / entry).write_text("")
        for old in ("a.old", "b.old"):
            (root / "srv" / old).write_text("")
        script = tmp_path / name / "script"
        script.write_text(text)
        done = subprocess.run(["dash", str(script), "configure"], capture_output=True,
                              text=True, env={"PATH": os.environ["PATH"],
                                              "DPKG_ROOT": str(root)}, timeout=60)
        assert done.returncode == 0, (name, done.stderr)
        trees.append(_tree(root))
    assert trees[0] == trees[1], rendered
    from bootstrap.apply import Applier

    native = tmp_path / "native"  # bootstrap applies the actions, nothing executed
    for entry in ("etc", "srv"):
        (native / entry).mkdir(parents=True)
    for entry in present:
        (native / entry).mkdir(parents=True) if entry.startswith("srv/") \
            else (native / entry).write_text("")
    for old in ("a.old", "b.old"):
        (native / "srv" / old).write_text("")
    applier = Applier(native)
    for action in result.actions:
        if "configure" in action.on:
            applier.run("demo", action)
    assert _tree(native) == trees[0]


# -- a case on a file's md5 (netbase's postrm): Only-If md5, against dash and native -------
SHIPPED = "127.0.0.1\tlocalhost\n"
DIGEST_ORIGINAL = f"""#!/bin/sh
set -e
delete_if_md5_matches() {{
  local md5
  if [ -e "$DPKG_ROOT/etc/hosts" ]; then
  md5="$(md5sum "$DPKG_ROOT/etc/hosts" | sed -e 's/ .*//')"
  case "$md5" in
    {__import__("hashlib").md5(SHIPPED.encode()).hexdigest()}) rm "$DPKG_ROOT/etc/hosts" ;;
    *) mkdir -p "$DPKG_ROOT/etc/kept" ;;
  esac
  fi
}}
case "$1" in
    purge) delete_if_md5_matches ;;
esac
exit 0
"""


@pytest.mark.skipif(shutil.which("dash") is None, reason="needs dash")
@pytest.mark.parametrize("hosts", [SHIPPED, "127.0.0.1 mine\n", None])
def test_a_case_on_a_files_md5_behaves_like_the_original(tmp_path: Path,
                                                         hosts: str | None) -> None:
    from bootstrap.apply import Applier
    from rewrite.render import render_script

    result = translate(DIGEST_ORIGINAL, "postrm", package="demo")
    removal = next(a for a in result.actions if a.name == "remove-path")
    assert removal.only_if[-1].startswith("md5 /etc/hosts ")
    rendered = render_script("postrm", result.actions, package="demo")
    assert rendered is not None
    trees = []
    for name, text in (("original", DIGEST_ORIGINAL), ("rendered", rendered), ("native", "")):
        root = tmp_path / name / "root"
        (root / "etc").mkdir(parents=True)
        if hosts is not None:
            (root / "etc/hosts").write_text(hosts)
        if text:
            script = tmp_path / name / "script"
            script.write_text(text)
            done = subprocess.run(["dash", str(script), "purge"], capture_output=True,
                                  text=True, env={"PATH": os.environ["PATH"],
                                                  "DPKG_ROOT": str(root)}, timeout=60)
            assert done.returncode == 0, (name, done.stderr)
        else:
            applier = Applier(root)
            for action in result.actions:
                if "purge" in action.on:
                    applier.run("demo", action)
        trees.append(_tree(root))
    assert trees[0] == trees[1] == trees[2], rendered


def test_a_digest_case_with_other_patterns_is_refused() -> None:
    text = DIGEST_ORIGINAL.replace("    *) mkdir", "    abc*) mkdir")
    assert refusal(text, "postrm").idiom == Idiom("case on a file's md5 with other patterns")


def test_an_exit_behind_an_upgrade_test_is_dropped_with_it_when_nothing_follows() -> None:
    """adduser's preinst: `if dpkg --compare-versions "$OLD" lt 3.114; then return 0 ...
    else return 0; fi` in a function called on upgrade: the branches that run only on
    upgrades from old versions are dropped (images are installed fresh), their returns
    too, as nothing follows the if that they would have skipped."""
    text = ('#!/bin/sh\nset -e\nf() {\n  OLD="$1"\n'
            '  if dpkg --compare-versions "$OLD" lt-nl 3.114; then\n    return 0\n'
            '  elif dpkg --compare-versions "$OLD" lt-nl 3.125; then\n    rm -f /etc/old\n'
            '  else\n    return 0\n  fi\n  mv /etc/a /etc/b\n}\n'
            'mkdir -p /var/lib/demo\ncase $1 in\n  upgrade) f "${2:-}" ;;\nesac\n')
    result = translate(text, "preinst", package="demo")
    assert [a.stanza()["Action"] for a in result.actions] == ["make-dir"]
    assert any("upgrade from a version lt-nl 3.114" in d.reason for d in result.dropped)
    # what follows would run on the upgrades the exit skipped: refused
    for text in ('#!/bin/sh\nset -e\nif dpkg --compare-versions "$2" lt-nl 1.0; then\n'
                 '  exit 0\nfi\nrm -rf /var/lib/demo\n',
                 '#!/bin/sh\nset -e\ndpkg --compare-versions "$2" lt-nl 1.0 && exit 0\n'
                 'rm -rf /var/lib/demo\n'):
        assert "exit" in str(refusal(text).idiom)


@pytest.mark.parametrize(("text", "only_if"), [
    # dh_apparmor's purge: a test of $1 and of another path
    ('#!/bin/sh\nset -e\nif [ "$1" = purge ] && ! [ -e /etc/apparmor.d/usr.bin.x ]; then\n'
     '  rm -f /etc/apparmor.d/local/usr.bin.x || true\n'
     '  rm -f /var/cache/apparmor/*/usr.bin.x || true\n'
     '  rmdir /etc/apparmor.d/local 2>/dev/null || true\nfi\n',
     ("! -e /etc/apparmor.d/usr.bin.x",) * 3),
    # mariadb-server: data removed on purge only where its flag file is
    ('#!/bin/sh\nset -e\nif [ "$1" = purge ] && [ -f /var/lib/demo/flag ]; then\n'
     '  rm -rf /var/log/demo\nfi\n', ("-f /var/lib/demo/flag",)),
    # `-a` inside one test (coreutils: the removed path itself, tested)
    ('#!/bin/sh\nset -e\nif [ "$1" = purge -a -d /var/lib/flag ]; then\n'
     '  rm -rf /var/log/demo\nfi\n', ("-d /var/lib/flag",)),
    ('#!/bin/sh\nset -e\nif [ "$1" = purge -a -L /usr/bin/touch ]; then\n'
     '  rm /usr/bin/touch\nfi\n', ("-L /usr/bin/touch",)),
])
def test_a_removal_behind_a_test_of_another_path_carries_the_test(
        text: str, only_if: tuple[str, ...]) -> None:
    result = translate(text, "postrm", package="demo")
    assert tuple(t for a in result.actions for t in a.only_if) == only_if
    assert all(a.on == ("purge",) for a in result.actions)


def test_a_removal_behind_a_test_it_cannot_carry_is_refused() -> None:
    text = '#!/bin/sh\nset -e\nif which demo-tool >/dev/null; then\n  rm -rf /var/lib/x\nfi\n'
    assert refusal(text, "postrm").idiom == Idiom("removal behind a test of the system")


# -- the rm_conffile idiom (whiptail's preinst): Only-If dpkg-md5, against dash and native ---
CONFFILE_ORIGINAL = r"""#!/bin/sh
set -e
rm_conffile() {
    local PKGNAME="$1"
    local CONFFILE="$2"

    [ -e "$CONFFILE" ] || return 0

    local md5sum="$(md5sum $CONFFILE | sed -e 's/ .*//')"
    local old_md5sum="$(dpkg-query -W -f='${Conffiles}' $PKGNAME | \
            sed -n -e "\' $CONFFILE ' { s/ obsolete$//; s/.* //; p }")"
    if [ "$md5sum" != "$old_md5sum" ]; then
        echo "Obsolete conffile $CONFFILE has been modified by you."
        mv -f "$CONFFILE" "$CONFFILE".dpkg-bak
    else
        echo "Removing obsolete conffile $CONFFILE ..."
        rm -f "$CONFFILE"
    fi
}
case "$1" in
install|upgrade)
    if dpkg --compare-versions "$2" le "0.52.18-2"; then
        rm_conffile demo "$DPKG_ROOT/etc/demo.conf"
    fi
esac
exit 0
"""
SHIPPED_CONF = "option = 1\n"


@pytest.mark.skipif(shutil.which("dash") is None, reason="needs dash")
@pytest.mark.parametrize("conf", [SHIPPED_CONF, "option = 2\n", None])
@pytest.mark.parametrize("recorded", [True, False])
def test_the_rm_conffile_idiom_behaves_like_the_original(
        tmp_path: Path, conf: str | None, recorded: bool) -> None:
    """`md5sum F` against the md5 dpkg records for F (`dpkg-query -W -f='${Conffiles}'`):
    F moved aside where it differs, removed where it is as recorded; run by dash (the
    original and the rendered script, with dpkg's database where $DPKG_ADMINDIR says)
    and applied natively by bootstrap, on the same trees."""
    import hashlib

    from bootstrap.apply import Applier
    from rewrite.render import render_script

    result = translate(CONFFILE_ORIGINAL, "preinst", package="demo")
    assert {t for a in result.actions for t in a.only_if} == {
        "dpkg-md5 /etc/demo.conf demo", "! dpkg-md5 /etc/demo.conf demo", "-e /etc/demo.conf"}
    rendered = render_script("preinst", result.actions, package="demo")
    assert rendered is not None
    digest = hashlib.md5(SHIPPED_CONF.encode()).hexdigest()
    trees = []
    for name, text in (("original", CONFFILE_ORIGINAL), ("rendered", rendered),
                       ("native", "")):
        root = tmp_path / name / "root"
        (root / "etc").mkdir(parents=True)
        if conf is not None:
            (root / "etc/demo.conf").write_text(conf)
        admin = tmp_path / name / "admin"  # dpkg's database, outside the tree compared
        admin.mkdir()
        # (the original names the file under $DPKG_ROOT, as its sed matches it)
        listed = f"{root}/etc/demo.conf" if name == "original" else "/etc/demo.conf"
        (admin / "status").write_text(
            "Package: demo\nStatus: install ok installed\nVersion: 1.0\n"
            "Architecture: all\nMaintainer: x <x@example.org>\nDescription: d\n"
            + (f"Conffiles:\n {listed} {digest}\n" if recorded else ""))
        if text:
            script = tmp_path / name / "script"
            script.write_text(text)
            done = subprocess.run(["dash", str(script), "install"], capture_output=True,
                                  text=True, env={"PATH": os.environ["PATH"],
                                                  "DPKG_ROOT": str(root),
                                                  "DPKG_ADMINDIR": str(admin)}, timeout=60)
            assert done.returncode == 0, (name, done.stderr)
        else:
            applier = Applier(root)
            if recorded:
                applier.conffiles["demo"] = {"/etc/demo.conf": digest}
            for action in result.actions:
                if "install" in action.on:
                    applier.run("demo", action)
        trees.append(_tree(root))
    assert trees[0] == trees[1] == trees[2], rendered
    # (each case with the file does something: moved aside or removed)
    assert not (tmp_path / "original/root/etc/demo.conf").exists()
    moved = (tmp_path / "original/root/etc/demo.conf.dpkg-bak").exists()
    assert moved == (conf is not None and (conf != SHIPPED_CONF or not recorded))


def test_branches_a_change_would_merge_are_refused() -> None:
    """`if [ -e A ]; then rm A; else rm B; fi`: taken one after the other, the else
    branch's `Only-If: ! -e A` would hold once the first removed A: refused."""
    text = ('#!/bin/sh\nset -e\nif [ -e /etc/demo-a ]; then\n  rm -f /etc/demo-a\nelse\n'
            '  rm -f /etc/demo-b\nfi\n')
    assert refusal(text).idiom == Idiom("if whose branches a change may turn")


@pytest.mark.parametrize(("text", "taken"), [
    # an assignment from a substitution that only reads and cannot fail: the system's
    # value; a test of it is one of the system (only what adds is taken behind it)
    ('#!/bin/sh\nset -e\narch=$(dpkg --print-architecture)\nif [ "$arch" = amd64 ]; then\n'
     '  mkdir -p /var/lib/demo\nfi\n', ["make-dir"]),
    ('#!/bin/sh\nset -e\nwho=`dpkg-divert --listpackage /bin/sh`\n'
     'v="$(echo $who | sed -e s/a/b/)"\nmkdir -p /var/lib/demo\n', ["make-dir"]),
    ('#!/bin/sh\nset -e\nif [ "$(dpkg-query --show demo 2>/dev/null | wc -l)" = 1 ]; then\n'
     '  mkdir -p /var/lib/demo\nfi\n', ["make-dir"]),
    ('#!/bin/sh\nset -e\nif [ -n "$EX4DEBUG" ]; then\n  echo "now debugging $0 $@"\n'
     '  set -x\nfi\nmkdir -p /var/lib/demo\n', ["make-dir"]),
    # a name no line of the script assigns is unset where apt runs it
    ('#!/bin/sh\nset -e\nif [ -n "$DEMO_PURGE" ]; then\n  rm -rf /var/lib/demo\nfi\n', []),
    ('#!/bin/sh\nset -e\n[ -z "$DEMO_KEEP" ] || exit 0\nrm -rf /var/lib/demo\n',
     ["remove-path"]),
    ('#!/bin/sh\nset -e\nmkdir -p "${DEMO_DIR-/var/lib/demo}${DEMO_SUB+/sub}"\n', ["make-dir"]),
])
def test_values_read_from_the_system(text: str, taken: list[str]) -> None:
    """(and a name the script never assigns: unset, as where apt runs it)"""
    result = translate(text, "postinst", package="demo")
    assert [a.stanza()["Action"] for a in result.actions] == taken


@pytest.mark.parametrize("text", [
    '#!/bin/sh\nset -e\ntmp=$(mktemp /etc/demo.XXXXXX)\n',  # creates a file outside /tmp
    '#!/bin/sh\nset -e\nx=$(readlink /etc/demo)\n',  # fails (and ends the script) if no link
    '#!/bin/sh\nset -e\nx=$(dpkg-divert --add /bin/demo)\n',  # changes dpkg's database
    '#!/bin/sh\nset -e\narch=$(dpkg --print-architecture)\nif [ "$arch" = amd64 ]; then\n'
    '  rm -rf /var/lib/demo\nfi\n',  # a removal behind the system's value
    '#!/bin/sh\nset -e\nD="$1$2"\nif [ -n "$D" ]; then\n  rm -rf /var/lib/demo\nfi\n',
])
def test_values_read_from_the_system_refused(text: str) -> None:
    with pytest.raises(Untranslatable):
        translate(text, "postinst", package="demo")
