"""Rendering actions as POSIX sh maintainer scripts: golden files, lint, behaviour.

Behaviour tests run the rendered scripts with dash against a fake root
(DPKG_ROOT=a temporary directory holding small passwd/group/shadow/gshadow files).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from recipes.actions import VOCABULARY, Action, make_action
from rewrite.render import render_script, sh_quote
from tests.fixtures.golden import assert_golden

GOLDEN = Path(__file__).parent / "golden" / "render"
DASH = shutil.which("dash") or "dash"

pytestmark = pytest.mark.skipif(
    not (shutil.which(DASH) and shutil.which("checkbashisms")),
    reason="needs dash and checkbashisms (devscripts)",
)

PASSWD = """\
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
sys1:x:100:101::/nonexistent:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
"""
SHADOW = """\
root:*:19000:0:99999:7:::
daemon:*:19000:0:99999:7:::
sys1:!:19000::::::
nobody:*:19000:0:99999:7:::
"""
GROUP = """\
root:x:0:
daemon:x:1:
adm:x:4:
users:x:100:
sys1:x:101:
nogroup:x:65534:"""  # no final newline, on purpose
GSHADOW = """\
root:*::
daemon:*::
adm:*::
users:*::
sys1:!::
nogroup:*::
"""

# One sample per action (golden file name -> script, On, fields); some have variants.
SAMPLES: dict[str, tuple[str, str, tuple[str, ...], dict[str, str]]] = {
    "system-group": ("system-group", "postinst", ("configure",), {"name": "foo"}),
    "system-user": (
        "system-user", "postinst", ("configure",),
        {"name": "foo", "home": "/var/lib/foo", "gecos": "Foo daemon", "create_home": "yes"},
    ),
    "system-user-group": (
        "system-user", "postinst", ("configure",), {"name": "foo", "group": "nogroup"},
    ),
    "user-in-group": (
        "user-in-group", "postinst", ("configure",), {"user": "foo", "group": "adm"},
    ),
    "remove-user": ("remove-user", "postrm", ("purge",), {"name": "foo"}),
    "remove-group": ("remove-group", "postrm", ("purge",), {"name": "foo"}),
    "shadow-passwords": ("shadow-passwords", "postinst", ("configure",), {}),
    "system-group-gid": ("system-group", "postinst", ("configure",),
                         {"name": "shadow", "gid": "42"}),
    "alternative-install": (
        "alternative-install", "postinst", ("configure",),
        {"name": "editor", "link": "/usr/bin/editor", "path": "/usr/bin/vim.basic",
         "priority": "30",
         "slaves": "\n/usr/share/man/man1/editor.1.gz editor.1.gz "
                   "/usr/share/man/man1/vim.1.gz\n.\n/usr/bin/ex ex /usr/bin/vim.basic"},
    ),
    "alternative-remove": (
        "alternative-remove", "prerm", ("remove", "deconfigure"),
        {"name": "editor", "path": "/usr/bin/vim.basic"},
    ),
    "alternative-remove-all": (
        "alternative-remove", "postrm", ("purge",), {"name": "editor", "path": "*"},
    ),
    "ldconfig": ("ldconfig", "postinst", ("configure",), {}),
    "rm-conffile": (
        "rm-conffile", "preinst", ("install", "upgrade", "abort-upgrade"),
        {"conffile": "/etc/foo/old.conf", "prior_version": "1.2-1~", "package": "foo"},
    ),
    "rm-conffile-package-only": (
        "rm-conffile", "postrm", ("purge",), {"conffile": "/etc/foo/old.conf", "package": "foo"},
    ),
    "mv-conffile": (
        "mv-conffile", "postinst", ("configure",),
        {"old": "/etc/foo/a.conf", "new": "/etc/foo/b.conf", "prior_version": "2.0-1~"},
    ),
    "symlink-to-dir": (
        "symlink-to-dir", "preinst", ("install", "upgrade"),
        {"pathname": "/usr/share/doc/foo", "old_target": "foo-common"},
    ),
    "dir-to-symlink": (
        "dir-to-symlink", "postrm", ("abort-upgrade",),
        {"pathname": "/usr/share/doc/foo", "new_target": "foo-common",
         "prior_version": "3.0-1~", "package": "foo"},
    ),
    "ca-bundle": ("ca-bundle", "postinst", ("triggered",), {}),
    "ca-bundle-trust-new": ("ca-bundle", "postinst", ("configure",), {"trust_new": "yes"}),
    "python-compile": (
        "python-compile", "postinst", ("configure",),
        {"package": "python3-foo", "dirs": "/usr/share/foo /usr/lib/foo"},
    ),
    "python-clean": ("python-clean", "prerm", ("remove", "upgrade"), {"package": "python3-foo"}),
    "python-compile-pypy3": (
        "python-compile", "postinst", ("configure",),
        {"package": "pypy3-foo", "dirs": "/usr/share/foo", "interpreter": "pypy3"},
    ),
    "python-clean-pypy3": ("python-clean", "prerm", ("remove",),
                           {"package": "pypy3-foo", "interpreter": "pypy3"}),
    "info-dir": ("info-dir", "postinst", ("configure",), {"file": "/usr/share/info/foo.info.gz"}),
    "info-dir-remove": (
        "info-dir", "prerm", ("remove",), {"file": "/usr/share/info/foo.info.gz", "remove": "yes"},
    ),
    "update-cache": ("update-cache", "postinst", ("configure",), {"kind": "mime"}),
    "update-shells": ("update-shells", "postinst", ("configure", "triggered"), {}),
    "pam-auth-update": ("pam-auth-update", "postinst", ("configure",), {"force": "yes"}),
    "pam-auth-update-remove": ("pam-auth-update", "prerm", ("remove",),
                               {"remove": "systemd"}),
    "nss-service": ("nss-service", "postinst", ("configure",),
                    {"databases": "passwd group", "service": "systemd"}),
    "system-identity": ("system-identity", "postinst", ("configure",),
                        {"kind": "snakeoil-certificate"}),
    "system-identity-machine-id": ("system-identity", "postinst", ("configure",),
                                   {"kind": "machine-id"}),
    "nss-service-remove": ("nss-service", "postrm", ("remove", "purge"),
                           {"databases": "hosts", "service": "mymachines", "remove": "yes"}),
    "update-cache-desktop": ("update-cache", "postinst", ("configure",), {"kind": "desktop"}),
    "update-cache-icons": ("update-cache", "postinst", ("configure",), {"kind": "icons"}),
    "update-cache-hwdb": ("update-cache", "postinst", ("configure",), {"kind": "hwdb"}),
    "update-cache-journal-catalog": ("update-cache", "postinst", ("configure",),
                                     {"kind": "journal-catalog"}),
    "update-cache-glib-schemas": (
        "update-cache", "postinst", ("configure",), {"kind": "glib-schemas"},
    ),
    "update-cache-fonts": ("update-cache", "postinst", ("configure",), {"kind": "fonts"}),
    "update-cache-man": ("update-cache", "postinst", ("configure",), {"kind": "man"}),
    "make-dir": (
        "make-dir", "postinst", ("configure",),
        {"path": "/var/lib/foo", "mode": "0750", "owner": "foo", "group": "adm"},
    ),
    "remove-path": ("remove-path", "postrm", ("purge",), {"path": "/var/cache/foo"}),
    "remove-path-recursive": (
        "remove-path", "postrm", ("purge",), {"path": "/var/lib/foo", "recursive": "yes"},
    ),
    "remove-path-glob": ("remove-path", "postrm", ("purge",), {"path": "/var/log/foo/*.log"}),
    "prune-links": ("prune-links", "postrm", ("remove", "purge"), {"path": "/etc/ssl/certs"}),
    "move-path": ("move-path", "postrm", ("remove",),
                  {"source": "/etc/apt/apt.conf.d/20foo", "path": "/etc/apt/apt.conf.d/20foo.off"}),
    "set-owner": (
        "set-owner", "postinst", ("configure",),
        {"path": "/var/log/foo", "group": "adm", "mode": "2750"},
    ),
    "set-owner-pattern": (
        "set-owner", "postinst", ("configure",),
        {"path": "/etc/bind/named.conf*", "group": "bind", "mode": "g+r"},
    ),
    "copy-path": ("copy-path", "preinst", ("install",),
                  {"source": "/var/lib/ucf/hashfile", "path": "/var/lib/ucf/hashfile.0"}),
    "set-capability": ("set-capability", "postinst", ("configure",),
                       {"path": "/bin/ping", "capabilities": "cap_net_raw+ep",
                        "setuid-fallback": "yes"}),
    "set-capability-remove": ("set-capability", "postinst", ("configure",),
                              {"path": "/bin/ip", "remove": "yes"}),
    "remove-found": ("remove-found", "postrm", ("purge",),
                     {"path": "/etc/ssl/certs", "max-depth": "1",
                      "link-name": "ssl-cert-snakeoil.pem"}),
    "remove-found-empty": ("remove-found", "postinst", ("configure",),
                           {"path": "/etc/redis", "max-depth": "1", "type": "d",
                            "name": "redis-server.*.d", "empty": "yes"}),
    "stat-override": (
        "stat-override", "postinst", ("configure",),
        {"path": "/usr/bin/foo-helper", "owner": "root", "group": "foo", "mode": "2755"},
    ),
    "stat-override-remove": (
        "stat-override", "postrm", ("purge",), {"path": "/usr/bin/foo-helper", "remove": "yes"},
    ),
    "divert": (
        "divert", "preinst", ("install", "upgrade"),
        {"path": "/usr/bin/foo", "divert-to": "/usr/bin/foo.real", "rename": "yes"},
    ),
    "divert-remove": (
        "divert", "postrm", ("remove",), {"path": "/bin/sh", "package": "dash", "remove": "yes"},
    ),
    "fail": (
        "fail", "preinst", ("install",),
        {"status": "1", "message": "/usr is a standalone filesystem, this requires using "
         "an initramfs.", "only-if": "mountpoint /usr, ! -d /run/initramfs/"},
    ),
    "random-secret": ("random-secret", "postinst", ("configure",),
                      {"path": "/etc/varnish/secret"}),
    "node-directory": ("node-directory", "postinst", ("configure",),
                       {"path": "/var/lib/varnish", "owner": "varnish", "group": "varnish"}),
    "record-test": (
        "record-test", "postrm", ("purge",),
        {"name": "t1", "only-if": "statoverride /etc/ssl/private root ssl-cert 710"},
    ),
    "symlink": (
        "symlink", "postinst", ("configure",),
        {"path": "/etc/foo/default.conf", "target": "../../usr/share/foo/default.conf"},
    ),
    "create-file": (
        "create-file", "postinst", ("configure",),
        {"path": "/etc/foo/config", "mode": "0640", "group": "adm",
         "content": "\n[DEFAULT]\n.\n# it's $HOME `x`\n\tkey = value\n...dots"},
    ),
    "create-file-empty": ("create-file", "preinst", ("install",), {"path": "/var/lib/foo/marker"}),
    "install-config": (
        "install-config", "postinst", ("configure",),
        {"source": "/usr/share/foo/foo.conf.dist", "path": "/etc/foo/foo.conf"},
    ),
    "trigger": ("trigger", "postinst", ("configure",), {"name": "/usr/share/foo"}),
    "trigger-await": ("trigger", "postinst", ("configure",), {"name": "foo-ready", "await": "yes"}),
    "tmpfiles": ("tmpfiles", "postinst", ("configure",), {"config": "foo.conf"}),
    "sysusers": ("sysusers", "postinst", ("configure",), {"config": "foo.conf"}),
}


def golden(name: str, text: str) -> None:
    """Compare with golden file `name`; UPDATE_GOLDEN=1 rewrites it."""
    assert_golden(GOLDEN / name, text)


def lint(tmp_path: Path, text: str) -> Path:
    """Write the script and check it with `dash -n` and `checkbashisms`."""
    path = tmp_path / "script"
    path.write_text(text)
    syntax = subprocess.run([DASH, "-n", str(path)], capture_output=True, text=True)
    assert syntax.returncode == 0 and not syntax.stderr, syntax.stderr
    bashisms = subprocess.run(["checkbashisms", str(path)], capture_output=True, text=True)
    assert bashisms.returncode == 0, bashisms.stdout + bashisms.stderr
    assert bashisms.stdout == bashisms.stderr == ""
    return path


def sample(name: str) -> Action:
    action, script, on, values = SAMPLES[name]
    return make_action(action, script, on, values)


def script_of(*actions: Action, script: str = "postinst") -> str:
    text = render_script(script, list(actions), package="foo")
    assert text is not None
    return text


def act(name: str, values: dict[str, str] | None = None, *, script: str = "postinst",
        on: tuple[str, ...] = ("configure",)) -> Action:
    return make_action(name, script, on, values)


# --- golden files, lint, determinism -------------------------------------------------


def test_samples_cover_the_vocabulary() -> None:
    assert {action for action, *_ in SAMPLES.values()} == set(VOCABULARY)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_golden_script_per_action(name: str, tmp_path: Path) -> None:
    action = sample(name)
    text = script_of(action, script=action.script)
    golden(f"{name}.sh", text)
    lint(tmp_path, text)
    assert text == script_of(sample(name), script=action.script)  # deterministic


COMBINED = [
    ("system-user", ("configure",), {"name": "foo", "home": "/var/lib/foo"}),
    ("rm-conffile", ("configure", "abort-upgrade"), {"conffile": "/etc/foo/x", "package": "foo"}),
    ("user-in-group", ("configure",), {"user": "foo", "group": "adm"}),
    ("make-dir", ("configure",), {"path": "/var/log/foo", "owner": "foo", "group": "adm"}),
    ("ldconfig", ("configure",), {}),
    ("trigger", ("triggered",), {"name": "foo-cache"}),
    ("tmpfiles", (), {"config": "foo.conf"}),
]


def test_golden_combined_script(tmp_path: Path) -> None:
    actions = [act(name, values, on=on) for name, on, values in COMBINED]
    text = script_of(*actions)
    golden("combined.sh", text)
    lint(tmp_path, text)
    assert text == script_of(*[act(name, values, on=on) for name, on, values in COMBINED])
    # the actions in their order (as bootstrap applies them), consecutive ones of the
    # same arguments in one case; only the helpers needed, each once
    first = text.index('    configure)\n')
    assert first < text.index("    configure|abort-upgrade)\n") < text.index("    triggered)\n")
    assert text.index("    triggered)\n") < text.index("systemd-tmpfiles")
    assert text.index("rm_conffile") < text.index("cannot add %s to the missing group")
    assert text.count("case \"$1\" in") == 4
    assert text.count("_ue_chown() {") == text.count("_ue_add_group() {") == 1
    assert text.startswith("#!/bin/sh\n# Rendered by unessential from the actions control file")
    assert "\nset -e\n" in text and text.endswith("\nexit 0\n")


def test_helpers_only_when_needed() -> None:
    text = script_of(act("ldconfig"))
    assert "_ue_" not in text
    text = script_of(act("make-dir", {"path": "/var/lib/foo"}))
    assert "_ue_chown" not in text
    text = script_of(act("remove-group", {"name": "foo"}, script="postrm", on=("purge",)),
                     script="postrm")
    assert "_ue_edit() {" in text and "_ue_free_id" not in text and "_ue_has" not in text


def test_no_actions_no_script() -> None:
    assert render_script("postinst", [], package="foo") is None


def test_refuses_inconsistent_input() -> None:
    with pytest.raises(ValueError, match="preinst"):
        render_script("postinst", [act("ldconfig", script="preinst")], package="foo")
    with pytest.raises(ValueError, match="package"):
        render_script("postinst", [act("ldconfig")], package="foo\nrm -rf /")
    with pytest.raises(ValueError, match="newline"):
        script_of(act("make-dir", {"path": "/var/lib/a\nb"}))
    with pytest.raises(ValueError, match="absolute"):
        script_of(act("make-dir", {"path": "var/lib/a"}))
    with pytest.raises(ValueError, match="name"):
        script_of(act("system-group", {"name": "a:b"}))
    with pytest.raises(ValueError, match="Gecos"):
        script_of(act("system-user", {"name": "a", "gecos": "x:y"}))
    with pytest.raises(ValueError, match="priority"):
        script_of(act("alternative-install",
                      {"name": "a", "link": "/a", "path": "/b", "priority": "1; rm"}))
    with pytest.raises(ValueError, match="slave"):
        script_of(act("alternative-install",
                      {"name": "a", "link": "/a", "path": "/b", "priority": "1",
                       "slaves": "/c c"}))


@pytest.mark.parametrize(("value", "quoted"), [
    ("/usr/bin/foo", "'/usr/bin/foo'"),
    ("", "''"),
    ("it's", "'it'\\''s'"),
    ("a b $x `y`", "'a b $x `y`'"),
    ("/var/log/foo/*.log", "/var/log/foo/*.log"),
    ("/usr/lib/python3/dist-packages/foo-?.?+@x", "/usr/lib/python3/dist-packages/foo-?.?+@x"),
    ("/var/log/my logs/*.log", "'/var/log/my logs/*.log'"),
    ("/var/log/$x*", "'/var/log/$x*'"),
    ("/var/log/[ab]", "'/var/log/[ab]'"),
])
def test_sh_filter(value: str, quoted: str) -> None:
    assert sh_quote(value) == quoted


@pytest.mark.parametrize("value", ["a\nb", "a\0b"])
def test_sh_filter_refuses_newline_and_nul(value: str) -> None:
    with pytest.raises(ValueError):
        sh_quote(value)


# --- behaviour against a fake root -------------------------------------------------


@pytest.fixture
def root(tmp_path: Path) -> Path:
    base = tmp_path / "root"
    (base / "etc").mkdir(parents=True)
    for name, text in (("passwd", PASSWD), ("shadow", SHADOW), ("group", GROUP),
                       ("gshadow", GSHADOW)):
        (base / "etc" / name).write_text(text)
    (base / "etc" / "shadow").chmod(0o640)
    return base


def run(root: Path, *actions: Action, arg: str = "configure", script: str = "postinst",
        check: bool = True) -> subprocess.CompletedProcess[str]:
    text = render_script(script, list(actions), package="foo")
    assert text is not None
    path = root.parent / f"{script}.sh"
    path.write_text(text)
    work = root.parent / "cwd"
    work.mkdir(exist_ok=True)
    done = subprocess.run(
        [DASH, str(path), arg], cwd=work, capture_output=True, text=True, timeout=60,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DPKG_ROOT": str(root)},
    )
    if check:
        assert done.returncode == 0, done.stderr
    return done


def entries(root: Path, name: str) -> dict[str, list[str]]:
    text = (root / "etc" / name).read_text()
    assert text.endswith("\n")
    return {line.split(":")[0]: line.split(":") for line in text.splitlines()}


def ids(root: Path, name: str) -> list[int]:
    return [int(fields[2]) for fields in entries(root, name).values()]


def test_system_group_and_user(root: Path) -> None:
    actions = [
        act("system-group", {"name": "bar"}),
        act("system-user", {"name": "foo", "home": "/var/lib/foo", "gecos": "Foo daemon",
                            "shell": "/bin/sh", "create_home": "yes"}),
        act("system-user", {"name": "baz", "group": "nogroup"}),
    ]
    run(root, *actions)
    group, passwd = entries(root, "group"), entries(root, "passwd")
    assert group["bar"] == ["bar", "x", "102", ""]  # 100 and 101 are taken
    # the user's own group: an id free both as gid and uid, and the same uid
    assert group["foo"] == ["foo", "x", "103", ""]
    assert passwd["foo"] == ["foo", "x", "103", "103", "Foo daemon", "/var/lib/foo", "/bin/sh"]
    assert passwd["baz"] == ["baz", "x", "101", "65534", "", "/nonexistent",
                             "/usr/sbin/nologin"]
    for name in ("group", "passwd"):
        numbers = ids(root, name)
        assert len(numbers) == len(set(numbers))
    assert all(100 <= int(group[n][2]) <= 999 for n in ("bar", "foo"))
    assert entries(root, "shadow")["foo"] == ["foo", "!", "", "", "", "", "", "", ""]
    assert entries(root, "gshadow")["bar"] == ["bar", "!", "", ""]
    assert (root / "etc" / "shadow").stat().st_mode & 0o777 == 0o640  # mode kept
    home = root / "var" / "lib" / "foo"
    assert home.is_dir()
    if os.geteuid() == 0:
        assert (home.stat().st_uid, home.stat().st_gid) == (103, 103)
    assert (root / "etc" / "group").read_text().startswith(GROUP + "\n")  # lines kept

    before = {name: (root / "etc" / name).read_text()
              for name in ("passwd", "shadow", "group", "gshadow")}
    run(root, *actions)  # idempotent
    for name, text in before.items():
        assert (root / "etc" / name).read_text() == text
    assert not list((root / "etc").glob("*.ue-tmp"))


def test_system_user_without_shadow_files(root: Path) -> None:
    (root / "etc" / "shadow").unlink()
    (root / "etc" / "gshadow").unlink()
    run(root, act("system-user", {"name": "foo"}))
    assert entries(root, "passwd")["foo"][2:4] == ["102", "102"]
    assert not (root / "etc" / "shadow").exists()
    assert not (root / "etc" / "gshadow").exists()


def test_system_group_fails_when_no_id_is_free(root: Path) -> None:
    lines = "".join(f"g{n}:x:{n}:\n" for n in range(100, 1000))
    (root / "etc" / "group").write_text(lines)
    done = run(root, act("system-group", {"name": "bar"}), check=False)
    assert done.returncode != 0
    assert "no free system id" in done.stderr
    assert (root / "etc" / "group").read_text() == lines


def test_user_in_group_adds_a_member_once(root: Path) -> None:
    add = act("user-in-group", {"user": "sys1", "group": "adm"})
    run(root, add)
    run(root, add)
    run(root, act("user-in-group", {"user": "daemon", "group": "adm"}))
    assert entries(root, "group")["adm"] == ["adm", "x", "4", "sys1,daemon"]
    assert entries(root, "gshadow")["adm"] == ["adm", "*", "", "sys1,daemon"]
    assert entries(root, "group")["users"] == ["users", "x", "100", ""]


def test_user_in_missing_group_fails(root: Path) -> None:
    done = run(root, act("user-in-group", {"user": "sys1", "group": "nope"}), check=False)
    assert done.returncode != 0 and "nope" in done.stderr


def test_remove_user_and_group(root: Path) -> None:
    run(root, act("remove-user", {"name": "sys1"}, script="postrm", on=("purge",)),
        act("remove-group", {"name": "sys1"}, script="postrm", on=("purge",)),
        script="postrm", arg="purge")
    for name in ("passwd", "shadow", "group", "gshadow"):
        assert "sys1" not in entries(root, name)
    assert list(entries(root, "passwd")) == ["root", "daemon", "nobody"]
    assert list(entries(root, "group")) == ["root", "daemon", "adm", "users", "nogroup"]


@pytest.mark.skipif(shutil.which("userdel") is None or os.geteuid() != 0,
                    reason="compares with userdel -R (root)")
@pytest.mark.parametrize(("case", "removed"), [
    ("own", True),  # its own empty group: gone with it
    ("member", False),  # the group has a member
    ("primary", False),  # another user's primary group
    ("off", False),  # USERGROUPS_ENAB no
    ("other", False),  # its primary group has another name
])
def test_remove_user_as_userdel(root: Path, case: str, removed: bool) -> None:
    """bind9's postrm: `deluser bind` (userdel) removes the user's own group too."""
    gid = "4" if case == "other" else "120"
    passwd = PASSWD.rstrip("\n") + f"\nu1:x:120:{gid}::/nonexistent:/usr/sbin/nologin\n"
    if case == "primary":
        passwd += "u2:x:121:120::/nonexistent:/usr/sbin/nologin\n"
    group = GROUP.rstrip("\n") + "\n" + ("u1:x:120:daemon\n" if case == "member"
                                         else "u1:x:120:\n")
    defs = "USERGROUPS_ENAB " + ("no" if case == "off" else "yes") + "\n"
    trees = []
    for name in ("userdel", "ours"):
        base = root.parent / name
        shutil.copytree(root, base)
        (base / "etc" / "passwd").write_text(passwd)
        (base / "etc" / "shadow").write_text(SHADOW.rstrip("\n") + "\n" + "u1:!:19000::::::\n" + (
            "u2:!:19000::::::\n" if case == "primary" else ""))
        (base / "etc" / "group").write_text(group)
        (base / "etc" / "gshadow").write_text(GSHADOW.rstrip("\n") + "\n" + (
            "u1:!::daemon\n" if case == "member" else "u1:!::\n"))
        (base / "etc" / "login.defs").write_text(defs)
        if name == "userdel":
            subprocess.run(["userdel", "-R", str(base), "u1"], check=True,
                           capture_output=True, timeout=60)
        else:
            run(base, act("remove-user", {"name": "u1"}, script="postrm", on=("purge",)),
                script="postrm", arg="purge")
        trees.append({n: (base / "etc" / n).read_text()
                      for n in ("passwd", "shadow", "group", "gshadow")})
    assert trees[0] == trees[1]
    assert ("u1" in entries(root.parent / "ours", "group")) != removed


def test_actions_only_on_their_arguments(root: Path) -> None:
    user = act("system-user", {"name": "foo"})
    run(root, user, arg="abort-upgrade")
    assert "foo" not in entries(root, "passwd")
    run(root, user, arg="configure")
    assert "foo" in entries(root, "passwd")


def test_ca_bundle_in_sorted_order(root: Path) -> None:
    share = root / "usr" / "share" / "ca-certificates"
    (share / "mozilla").mkdir(parents=True)
    (share / "other").mkdir()
    local = root / "usr" / "local" / "share" / "ca-certificates"
    local.mkdir(parents=True)
    (share / "mozilla" / "B.crt").write_text("-----B-----\nb\n")
    (share / "mozilla" / "A.crt").write_text("-----A-----\na  \\n\n")
    (share / "mozilla" / "README").write_text("not a certificate\n")
    (share / "other" / "C.crt").write_text("-----C-----\nc")  # no final newline
    (local / "D.crt").write_text("-----D-----\nd\n")
    (root / "etc" / "ssl" / "certs").mkdir(parents=True)
    bundle = root / "etc" / "ssl" / "certs" / "ca-certificates.crt"
    bundle.write_text("stale\n")
    run(root, act("ca-bundle"))
    assert bundle.read_text() == (
        "-----A-----\na  \\n\n-----B-----\nb\n-----C-----\nc\n-----D-----\nd\n"
    )
    assert not list(bundle.parent.glob("*.ue-tmp"))


def test_ca_bundle_without_certificates(root: Path) -> None:
    run(root, act("ca-bundle"))
    assert (root / "etc" / "ssl" / "certs" / "ca-certificates.crt").read_text() == ""


def test_make_dir(root: Path) -> None:
    run(root, act("system-user", {"name": "foo"}),
        act("make-dir", {"path": "/var/lib/foo/data", "mode": "0750", "owner": "foo",
                         "group": "adm"}))
    made = root / "var" / "lib" / "foo" / "data"
    assert made.is_dir()
    assert made.stat().st_mode & 0o7777 == 0o750
    if os.geteuid() == 0:  # ids from the fake root's files, not the host's
        assert (made.stat().st_uid, made.stat().st_gid) == (102, 4)


def test_set_owner(root: Path) -> None:
    (root / "var" / "log").mkdir(parents=True)
    (root / "var" / "log" / "foo.log").write_text("")
    run(root, act("set-owner", {"path": "/var/log/foo.log", "group": "adm", "mode": "0640"}))
    log = root / "var" / "log" / "foo.log"
    assert log.stat().st_mode & 0o777 == 0o640
    if os.geteuid() == 0:
        assert log.stat().st_gid == 4


def test_quoting_is_safe(root: Path) -> None:
    name = "we're $HOME `touch pwned` $(touch pwned2) \\ \"q\" ; a*b"
    run(root, act("make-dir", {"path": f"/{name}"}))
    assert sorted(p.name for p in root.iterdir()) == sorted(["etc", name])
    assert sorted(p.name for p in (root / "etc").iterdir()) == [
        "group", "gshadow", "passwd", "shadow"]
    assert list((root.parent / "cwd").iterdir()) == []
    assert sorted(p.name for p in root.parent.iterdir()) == ["cwd", "postinst.sh", "root"]


def test_remove_path(root: Path) -> None:
    var = root / "var"
    (var / "empty").mkdir(parents=True)
    (var / "full").mkdir()
    (var / "full" / "keep").write_text("")
    (var / "file").write_text("")
    (var / "tree" / "a" / "b").mkdir(parents=True)
    (var / "tree" / "a" / "b" / "c").write_text("")
    (var / "link").symlink_to("full")
    (var / "logs").mkdir()
    for name in ("a.log", "b.log", "c.txt"):
        (var / "logs" / name).write_text("")
    remove = [
        act("remove-path", {"path": f"/var/{name}"}, script="postrm", on=("purge",))
        for name in ("empty", "full", "file", "link", "missing", "logs/*.log")
    ]
    remove.append(act("remove-path", {"path": "/var/tree", "recursive": "yes"},
                      script="postrm", on=("purge",)))
    run(root, *remove, script="postrm", arg="purge")
    assert sorted(p.name for p in var.iterdir()) == ["full", "logs"]
    assert (var / "full" / "keep").exists()
    assert sorted(p.name for p in (var / "logs").iterdir()) == ["c.txt"]


def test_symlink(root: Path) -> None:
    etc = root / "etc" / "foo"
    etc.mkdir()
    (etc / "real").write_text("mine")
    (etc / "dangling").symlink_to("nowhere")
    run(root, *[act("symlink", {"path": f"/etc/foo/{name}", "target": "../target"})
                for name in ("new", "real", "dangling")])
    assert os.readlink(etc / "new") == "../target"
    assert (etc / "real").read_text() == "mine" and not (etc / "real").is_symlink()
    assert os.readlink(etc / "dangling") == "nowhere"


def test_install_config(root: Path) -> None:
    share = root / "usr" / "share" / "foo"
    share.mkdir(parents=True)
    (share / "foo.conf").write_text("default\n")
    (share / "foo.conf").chmod(0o600)
    (root / "etc" / "kept.conf").write_text("local\n")
    run(root,
        act("install-config", {"source": "/usr/share/foo/foo.conf", "path": "/etc/foo/foo.conf"}),
        act("install-config", {"source": "/usr/share/foo/foo.conf", "path": "/etc/kept.conf"}))
    assert (root / "etc" / "foo" / "foo.conf").read_text() == "default\n"
    assert (root / "etc" / "foo" / "foo.conf").stat().st_mode & 0o777 == 0o600
    assert (root / "etc" / "kept.conf").read_text() == "local\n"


def test_optional_tools_are_guarded(root: Path, tmp_path: Path) -> None:
    """With a PATH lacking the optional tools, their actions do nothing and succeed."""
    names = ["ldconfig", "python-compile", "python-clean", "info-dir", "update-cache",
             "update-cache-desktop", "update-cache-icons", "update-cache-glib-schemas",
             "update-cache-fonts", "update-cache-man", "update-cache-hwdb", "tmpfiles",
             "sysusers"]
    actions = [sample(name) for name in names]
    actions = [type(a).model_validate({**a.stanza(), "Script": "postinst", "On": "configure"})
               for a in actions]
    text = script_of(*actions)
    path = lint(tmp_path, text)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    done = subprocess.run([DASH, str(path), "configure"], capture_output=True, text=True,
                          env={"PATH": str(bin_dir), "DPKG_ROOT": str(root)}, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


def test_create_file(root: Path) -> None:
    """Created with its lines, mode and parents; never overwritten; the same as the
    bootstrap's native apply of the same actions."""
    from bootstrap.apply import Applier

    (root / "etc" / "kept").write_text("local\n")
    (root / "etc" / "dangling").symlink_to("nowhere")
    actions = [
        act("create-file", {"path": "/var/lib/foo/marker"}),
        act("create-file", {"path": "/etc/foo/config", "mode": "0600",
                            "content": "\n[DEFAULT]\n.\n# it's $HOME `x`\n\tkey = value\n..x"}),
        act("create-file", {"path": "/etc/kept", "content": "new"}),
        act("create-file", {"path": "/etc/dangling", "content": "new"}),
        act("create-file", {"path": "/etc/foo", "content": "a directory is there"}),
    ]
    native = root.parent / "native"
    shutil.copytree(root, native, symlinks=True)
    run(root, *actions)
    applier = Applier(native)
    assert [applier.run("foo", a).status for a in actions] == \
        ["applied", "applied", "not-needed", "not-needed", "not-needed"]
    for base in (root, native):
        marker = base / "var" / "lib" / "foo" / "marker"
        assert marker.read_bytes() == b"" and marker.stat().st_mode & 0o777 == 0o644
        config = base / "etc" / "foo" / "config"
        assert config.read_text() == "[DEFAULT]\n\n# it's $HOME `x`\n\tkey = value\n.x\n"
        assert config.stat().st_mode & 0o7777 == 0o600
        assert (base / "etc" / "kept").read_text() == "local\n"
        assert os.readlink(base / "etc" / "dangling") == "nowhere"
        assert not (base / "etc" / "nowhere").exists()
    run(root, *actions)  # idempotent
    assert (root / "etc" / "foo" / "config").read_text().startswith("[DEFAULT]\n")


@pytest.mark.parametrize(("content", "message"), [
    ("a\n\nb", "empty or blank line"),
    ("a\nb\n", "empty or blank line"),
    ("\na\x1bb", "control character"),
])
def test_create_file_refuses_malformed_content(content: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        act("create-file", {"path": "/etc/x", "content": content})


def test_create_file_content_round_trips() -> None:
    from recipes.actions import CreateFile, read_actions_file, render_actions_file

    lines = ("first", "", " ", ".", "..x", "\tindented", "trailing  ")
    made = CreateFile(script="postinst", on=("configure",), path="/etc/x", content=lines)
    text = render_actions_file([made])
    assert text == ("Action: create-file\nScript: postinst\nOn: configure\nPath: /etc/x\n"
                    "Content:\n first\n .\n . \n ..\n ...x\n \tindented\n trailing  \n")
    assert read_actions_file(text) == [made]
    assert made.file_text() == "first\n\n \n.\n..x\n\tindented\ntrailing  \n"
    single = act("create-file", {"path": "/etc/x", "content": "byte-compile = standard"})
    assert isinstance(single, CreateFile) and single.content == ("byte-compile = standard",)


def test_stat_override_like_dpkg_statoverride(root: Path) -> None:
    """The rendered script runs the real dpkg-statoverride (--root); bootstrap writes the
    same database entry natively and sets the same mode; an existing override is kept;
    Remove drops it."""
    from bootstrap.apply import Applier

    if shutil.which("dpkg-statoverride") is None:
        pytest.skip("needs dpkg-statoverride")
    (root / "var" / "lib" / "dpkg").mkdir(parents=True, exist_ok=True)
    (root / "usr" / "bin").mkdir(parents=True, exist_ok=True)
    for name in ("helper", "kept"):
        (root / "usr" / "bin" / name).write_text("#!/bin/sh\n")
        (root / "usr" / "bin" / name).chmod(0o755)
    (root / "var" / "lib" / "dpkg" / "statoverride").write_text("root root 700 /usr/bin/kept\n")
    native = root.parent / "native"
    shutil.copytree(root, native, symlinks=True)
    add = [act("stat-override", {"path": p, "owner": "root", "group": "root", "mode": "4750"})
           for p in ("/usr/bin/helper", "/usr/bin/kept")]
    run(root, *add)
    applier = Applier(native)
    assert [applier.run("foo", a).status for a in add] == ["applied", "not-needed"]
    for base in (root, native):
        table = sorted((base / "var/lib/dpkg/statoverride").read_text().splitlines())
        assert table == ["root root 4750 /usr/bin/helper", "root root 700 /usr/bin/kept"]
        assert (base / "usr/bin/helper").stat().st_mode & 0o7777 == 0o4750
    remove = act("stat-override", {"path": "/usr/bin/helper", "remove": "yes"},
                 script="postrm", on=("purge",))
    run(root, remove, script="postrm", arg="purge")
    assert applier.run("foo", remove).status == "applied"
    for base in (root, native):
        assert (base / "var/lib/dpkg/statoverride").read_text() == "root root 700 /usr/bin/kept\n"


def test_removing_every_choice_of_an_unknown_alternative_succeeds(root: Path) -> None:
    """`update-alternatives --remove-all NAME || true` (libnewt0.52's preinst): the name
    has no alternatives on a fresh system; update-alternatives itself fails there."""
    (root / "var/lib/dpkg/alternatives").mkdir(parents=True)
    (root / "etc/alternatives").mkdir(parents=True)
    action = act("alternative-remove", {"Name": "newt-palette", "Path": "*"},
                 script="preinst", on=("install",))
    done = run(root, action, arg="install", script="preinst")
    assert done.returncode == 0


def test_move_path_rendered_and_native_agree(tmp_path: Path) -> None:
    """move-path: a file renamed, an absent source left alone (no failure), a file moved
    into a directory, a symlink moved as a link (not followed); the rendered sh (dash)
    and bootstrap's native apply leave the same tree."""
    from bootstrap.apply import Applier

    shell = tmp_path / "sh" / "root"
    etc = shell / "etc"
    (etc / "hooks").mkdir(parents=True)
    (etc / "20hook").write_text("hook\n")
    (etc / "old.conf").write_text("conf\n")
    (etc / "link").symlink_to("/nowhere")
    native = tmp_path / "native"
    shutil.copytree(shell, native, symlinks=True)
    moves = [act("move-path", {"source": source, "path": path}, script="postrm",
                 on=("remove",))
             for source, path in (("/etc/20hook", "/etc/20hook.disabled"),
                                  ("/etc/missing", "/etc/missing.disabled"),
                                  ("/etc/old.conf", "/etc/hooks"),
                                  ("/etc/link", "/etc/link.off"))]
    run(shell, *moves, script="postrm", arg="remove")
    applier = Applier(native)
    assert [applier.run("demo", m).status for m in moves] == [
        "applied", "not-needed", "applied", "applied"]
    for root in (shell, native):
        tree = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
        assert tree == ["etc", "etc/20hook.disabled", "etc/hooks", "etc/hooks/old.conf",
                        "etc/link.off"], root
        assert os.readlink(root / "etc/link.off") == "/nowhere"
        assert (root / "etc/20hook.disabled").read_text() == "hook\n"
