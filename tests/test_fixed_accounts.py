"""passwd's postinst: `groupadd -g 42 shadow` (system-group with a fixed Gid) and
`shadowconfig on` (shadow-passwords), translated, rendered as sh and applied natively;
the native conversion checked against the real pwconv and grpconv."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from bootstrap.apply import ActionFailed, Applier
from recipes.actions import Action, make_action
from rewrite.render import render_script
from rewrite.translate import translate

# bookworm's passwd postinst (1:4.13+dfsg1-1), as shipped
PASSWD_POSTINST = """#!/bin/sh

set -e

case "$1" in
configure)
	if ! getent group shadow | grep -q '^shadow:[^:]*:42'
	then
		groupadd -g 42 shadow || (
			cat <<EOF
Group ID 42 has been allocated for the shadow group.  You have either
used 42 yourself or created a shadow group with a different ID.
Please correct this problem and reconfigure with ``dpkg --configure passwd''.
EOF
			exit 1
		)
	fi
    ;;
esac

# Run shadowconfig only on new installs
[ -z "$2" ] && shadowconfig on

# Automatically added by dh_installdeb/13.11.4
dpkg-maintscript-helper rm_conffile /etc/cron.daily/passwd 1:4.7-2\\~ -- "$@"
# End automatically added section


exit 0
"""

PASSWD = "root:x:0:0:root:/root:/bin/sh\ndaemon:*:1:1::/:/usr/sbin/nologin\n" \
    "foo:$6$abc:1000:1000::/home/foo:/bin/sh\n"
GROUP = "root:x:0:\ndaemon:*:1:\nfoo:!:1000:root\n"
SHADOW = "root:*:19000:0:99999:7:::\nghost:*:1::::::\n"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    base = tmp_path / "root"
    (base / "etc").mkdir(parents=True)
    (base / "etc/passwd").write_text(PASSWD)
    (base / "etc/group").write_text(GROUP)
    (base / "etc/shadow").write_text(SHADOW)
    (base / "etc/shadow").chmod(0o640)
    (base / "etc/gshadow").write_text("root:*::\ndaemon:*::\n")
    return base


def _group(gid: str) -> Action:
    return make_action("system-group", "postinst", ("configure",),
                       {"Name": "shadow", "Gid": gid})


def _sh(root: Path, *actions: Action) -> subprocess.CompletedProcess[str]:
    text = render_script("postinst", list(actions), package="passwd")
    assert text is not None
    script = root.parent / "postinst.sh"
    script.write_text(text)
    return subprocess.run(["dash", str(script), "configure"], capture_output=True, text=True,
                          cwd=root.parent, check=False, timeout=60,
                          env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                               "DPKG_ROOT": str(root)})


def _native(root: Path, *actions: Action) -> None:
    applier = Applier(root)
    for action in actions:
        applier.run("passwd", action)
    applier.finish()


def test_passwd_postinst_is_translated() -> None:
    result = translate(PASSWD_POSTINST, "postinst", package="passwd")
    group, shadow, _conffile = result.actions
    assert (group.name, group.get("Name"), group.get("Gid"), group.on) == (
        "system-group", "shadow", "42", ("configure",))
    assert shadow.name == "shadow-passwords" and "configure" in shadow.on
    assert "shadowconfig on" in (render_script("postinst", [shadow], package="passwd") or "")


def test_a_fixed_gid_rendered_and_native_alike(root: Path) -> None:
    native = root.parent / "native"
    shutil.copytree(root, native)
    assert _sh(root, _group("42")).returncode == 0
    _native(native, _group("42"))
    for base in (root, native):
        assert "shadow:x:42:\n" in (base / "etc/group").read_text()
        assert (base / "etc/gshadow").read_text().count("shadow:!::") == 1
    assert _sh(root, _group("42")).returncode == 0  # it has the id: nothing to do
    _native(native, _group("42"))
    for base in (root, native):
        assert (base / "etc/group").read_text().count("shadow:") == 1


@pytest.mark.parametrize(("group", "message"), [
    ("root:x:0:\nshadow:x:107:\n", "has the id 107, not 42"),
    ("root:x:0:\nutmp:x:42:\n", "is the group 'utmp'"),
])
def test_a_fixed_gid_that_cannot_be_had_fails_both_ways(root: Path, group: str,
                                                        message: str) -> None:
    """groupadd -g 42 fails where shadow has another id or 42 is another group's (the
    postinst then exits 1): the rendered sh and bootstrap fail too, nothing written."""
    (root / "etc/group").write_text(group)
    done = _sh(root, _group("42"))
    assert done.returncode != 0 and message.replace("'", "") in done.stderr.replace("'", "")
    assert (root / "etc/group").read_text() == group
    with pytest.raises(ActionFailed, match=message):
        Applier(root).run("passwd", _group("42"))
    assert (root / "etc/group").read_text() == group


def test_bad_fixed_ids_are_refused() -> None:
    for bad in ("0", "65534", "x1", "-3"):
        with pytest.raises(ValueError, match="Gid"):
            _group(bad)


@pytest.mark.skipif(shutil.which("pwconv") is None, reason="pwconv (passwd) not installed")
def test_shadow_passwords_converts_as_pwconv_and_grpconv(root: Path) -> None:
    """Native shadow-passwords against the real pwconv -R and grpconv -R on the same
    files: the same entries and passwords (new entries here carry no last-change date),
    the shadow files root:shadow 0640."""
    with (root / "etc/group").open("a") as group:
        group.write("shadow:x:42:\n")
    real = root.parent / "real"
    shutil.copytree(root, real)
    subprocess.run(["pwconv", "-R", str(real)], check=True)
    subprocess.run(["grpconv", "-R", str(real)], check=True)
    _native(root, make_action("shadow-passwords", "postinst", ("configure",), {}))
    for name in ("passwd", "group"):
        assert (root / "etc" / name).read_text() == (real / "etc" / name).read_text()
    for name in ("shadow", "gshadow"):
        ours = [line.split(":")[:2] for line in (root / "etc" / name).read_text().splitlines()]
        theirs = [line.split(":")[:2] for line in
                  (real / "etc" / name).read_text().splitlines()]
        assert sorted(ours) == sorted(theirs), name
        status = (root / "etc" / name).stat()
        assert (status.st_uid, status.st_gid, status.st_mode & 0o777) == (0, 42, 0o640)
    assert (root / "etc/gshadow").read_text().splitlines()[-2] == "foo:!::root"


def test_shadow_passwords_without_the_shadow_group_gets_debians(root: Path) -> None:
    """shadowconfig's `chown root:shadow` needs the group: on Debian base-passwd has it,
    statically allocated (gid 42), and bootstrap creates it with that id where the
    image lacks it."""
    _native(root, make_action("shadow-passwords", "postinst", ("configure",), {}))
    assert "shadow:x:42:" in (root / "etc/group").read_text().splitlines()
    status = (root / "etc/shadow").stat()
    assert (status.st_gid, status.st_mode & 0o777) == (42, 0o640)


def test_shadow_passwords_refuses_a_gid_42_of_another_group(root: Path) -> None:
    (root / "etc/group").write_text(GROUP + "other:x:42:\n")
    with pytest.raises(ActionFailed, match="shadow"):
        _native(root, make_action("shadow-passwords", "postinst", ("configure",), {}))


def test_sysusers_of_several_files_by_name(root: Path) -> None:
    """systemd's postinst: `systemd-sysusers basic.conf systemd-journal.conf`: each name
    is one argument of the rendered tool, and bootstrap finds each in sysusers.d (the
    first of /etc, /run, /usr/local/lib, /usr/lib), as systemd-sysusers does."""
    (root / "usr/lib/sysusers.d").mkdir(parents=True)
    (root / "usr/lib/sysusers.d/basic.conf").write_text("g shadow 42 -\n")
    (root / "usr/lib/sysusers.d/journal.conf").write_text("g systemd-journal - -\n")
    (root / "etc/sysusers.d").mkdir()
    (root / "etc/sysusers.d/journal.conf").write_text("g systemd-journal 190 -\n")
    action = make_action("sysusers", "postinst", ("configure",),
                         {"Config": "basic.conf journal.conf"})
    text = render_script("postinst", [action], package="systemd") or ""
    assert "systemd-sysusers ${DPKG_ROOT:+--root=\"$DPKG_ROOT\"} 'basic.conf' " \
        "'journal.conf'" in text
    _native(root, action)
    group = (root / "etc/group").read_text()
    assert "shadow:x:42:\n" in group and "systemd-journal:x:190:\n" in group
    with pytest.raises(ActionFailed, match="no sysusers.d file 'missing.conf'"):
        _native(root, make_action("sysusers", "postinst", ("configure",),
                                  {"Config": "missing.conf"}))
