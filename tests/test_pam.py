"""The native pam-auth-update (bootstrap/pam.py, the `pam-auth-update` action) against
libpam-runtime's own tool, run on the same trees: /etc/pam.d/common-* and /var/lib/pam
byte for byte, on a fresh system (--force), then as module packages come and go."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from bootstrap.apply import Applier
from bootstrap.pam import TYPES, parse_profile
from recipes.actions import PamAuthUpdate

TOOL = "/usr/sbin/pam-auth-update"
pytestmark = pytest.mark.skipif(
    not (os.path.exists(TOOL) and os.path.isdir("/usr/share/pam") and shutil.which("perl")),
    reason="needs libpam-runtime's pam-auth-update")

UNIX = """Name: Unix authentication
Default: yes
Priority: 256
Auth-Type: Primary
Auth:
\t[success=end default=ignore]\tpam_unix.so nullok
Auth-Initial:
\t[success=end default=ignore]\tpam_unix.so nullok
Account-Type: Primary
Account:
\t[success=end new_authtok_reqd=done default=ignore]\tpam_unix.so
Account-Initial:
\t[success=end new_authtok_reqd=done default=ignore]\tpam_unix.so
Session-Type: Additional
Session:
\trequired\tpam_unix.so
Session-Initial:
\trequired\tpam_unix.so
Password-Type: Primary
Password:
\t[success=end default=ignore]\tpam_unix.so obscure use_authtok try_first_pass yescrypt
Password-Initial:
\t[success=end default=ignore]\tpam_unix.so obscure yescrypt
"""
SYSTEMD = """Name: Register user sessions in the systemd control group hierarchy
Default: yes
Priority: 0
Session-Interactive-Only: yes
Session-Type: Additional
Session:
\toptional\t\t\tpam_systemd.so
"""
EXTRA = """Name: A second primary module, tried first
Default: yes
Priority: 512
Auth-Type: Primary
Auth:
\t[success=end default=ignore]\tpam_demo.so try_first_pass
Auth-Initial:
\t[success=end default=ignore]\tpam_demo.so
Account-Type: Additional
Account:
\trequired\tpam_demo.so
"""
OFF = """Name: Not by default
Default: no
Priority: 128
Session-Type: Additional
Session:
\toptional\tpam_off.so
"""


def _tree(root: Path, profiles: dict[str, str]) -> None:
    configs = root / "usr/share/pam-configs"
    configs.mkdir(parents=True, exist_ok=True)
    for old in configs.iterdir():
        old.unlink()
    for name, text in profiles.items():
        (configs / name).write_text(text)
    templates = root / "usr/share/pam"
    if not templates.exists():
        shutil.copytree("/usr/share/pam", templates)  # the tool reads the host's
    (root / "etc/pam.d").mkdir(parents=True, exist_ok=True)
    (root / "var/lib/pam").mkdir(parents=True, exist_ok=True)  # (libpam-runtime ships it)


def _tool(root: Path, tmp: Path, *args: str) -> None:
    """Run the real tool on `root`, with a debconf database of its own."""
    conf = tmp / "debconf.conf"
    if not conf.exists():
        conf.write_text(f"Config: configdb\nTemplates: templatedb\n\nName: configdb\n"
                        f"Driver: File\nFilename: {tmp}/config.dat\n\nName: templatedb\n"
                        f"Driver: File\nMode: 644\nFilename: {tmp}/templates.dat\n")
    done = subprocess.run([TOOL, "--root", str(root), "--package", *args],
                          capture_output=True, text=True, timeout=120, check=False,
                          env={"PATH": os.environ["PATH"], "DEBIAN_FRONTEND": "noninteractive",
                               "DEBCONF_SYSTEMRC": str(conf)})
    assert done.returncode == 0, done.stderr


def _native(root: Path, *, force: bool = False, remove: tuple[str, ...] = ()) -> str:
    outcome = Applier(root).run("demo", PamAuthUpdate(script="postinst", on=("configure",),
                                                      force=force, remove=remove))
    return outcome.status


def _written(root: Path) -> dict[str, str]:
    found = {}
    for directory in ("etc/pam.d", "var/lib/pam"):
        base = root / directory
        if base.is_dir():
            found.update({f"{directory}/{p.name}": p.read_text() for p in base.iterdir()})
    return found


def test_native_pam_auth_update_writes_what_the_tool_writes(tmp_path: Path) -> None:
    real, native = tmp_path / "real", tmp_path / "native"
    steps: list[tuple[dict[str, str], tuple[str, ...]]] = [
        ({"unix": UNIX}, ("--force",)),  # libpam-runtime's first configure
        ({"unix": UNIX, "systemd": SYSTEMD}, ()),  # libpam-systemd comes
        ({"unix": UNIX, "systemd": SYSTEMD, "demo": EXTRA, "off": OFF}, ()),
        ({"unix": UNIX, "systemd": SYSTEMD, "demo": EXTRA, "off": OFF},
         ("--remove", "systemd")),  # libpam-systemd's prerm
    ]
    for index, (profiles, args) in enumerate(steps):
        for root in (real, native):
            _tree(root, profiles)
        _tool(real, tmp_path, *args)
        status = _native(native, force="--force" in args,
                         remove=tuple(args[1:]) if args[:1] == ("--remove",) else ())
        assert status == "applied"
        assert _written(native) == _written(real), f"step {index}"
    assert "pam_demo.so" in (native / "etc/pam.d/common-auth").read_text()
    assert "pam_off.so" not in (native / "etc/pam.d/common-session").read_text()


def test_without_state_only_force_writes(tmp_path: Path) -> None:
    real, native = tmp_path / "real", tmp_path / "native"
    for root in (real, native):
        _tree(root, {"unix": UNIX, "systemd": SYSTEMD})
    _tool(real, tmp_path)
    assert _native(native) == "not-needed"
    assert _written(native) == _written(real) == {}


def test_profiles_parse_as_the_tool_reads_them() -> None:
    profile = parse_profile("unix", UNIX)
    assert profile.priority == 256 and profile.fields["Default"] == "yes"
    assert profile.fields["Auth"] == "[success=end default=ignore]\tpam_unix.so nullok"
    assert profile.fields["Session-noninteractive"] == profile.fields["Session"]
    assert "Session-noninteractive" not in parse_profile("systemd", SYSTEMD).fields
    assert parse_profile("t", "Auth-Type: Primary\nAuth:\n\tpam_tally.so\n").disabled
    assert set(TYPES) == {"auth", "account", "password", "session", "session-noninteractive"}
