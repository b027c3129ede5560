"""Bootstrap's sysusers and tmpfiles actions against the real systemd-sysusers and
systemd-tmpfiles (`--root`), on the same image trees: the account entries they make
(ids counted down from 999, `!*` passwords), the directories, links and files."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from bootstrap.apply import Applier
from recipes.actions import make_action

SYSUSERS = shutil.which("systemd-sysusers")
TMPFILES = shutil.which("systemd-tmpfiles")

BASIC = """g adm 4 -
g shadow 42 -
g users 100 -
u daemon 1 - /usr/sbin /usr/sbin/nologin
u sync 4:65534 - /bin /bin/sync
u _apt 42:65534 - /nonexistent /usr/sbin/nologin
u www-data 33 - /var/www /usr/sbin/nologin
"""
OWN = """g systemd-journal - -
u systemd-network - "systemd Network Management"
m systemd-network adm
"""

TMP = """# as systemd's own
L+ /etc/mtab   -    -    -    -  ../proc/self/mounts
d- /root :0700 root :root -
d- /root/.ssh :0700 root :root -
f^ /root/.ssh/authorized_keys :0600 root :root - ssh.authorized_keys.root
d /var/lib/systemd 0755 root root -
d /var/lib/systemd/coredump 0755 root root 3d
d /var/lib/private 0700 root root -
d /var/cache/demo 2750 root adm -
f /var/lib/demo/motd 0640 root adm - "hello there"
f+! /run/nologin 0644 - - - "booting"
D! /tmp/.X11-unix 1777 root root 10d
z /var/lib/private 0711 - - -
L /var/lib/demo/link - - - - ../motd
"""


def _tree(root: Path) -> None:
    (root / "etc").mkdir(parents=True)
    (root / "root").mkdir(mode=0o755)
    (root / "etc/passwd").write_text("root:x:0:0:root:/root:/usr/sbin/nologin\n"
                                     "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n")
    (root / "etc/group").write_text("root:x:0:\nnogroup:x:65534:\n")
    (root / "etc/shadow").write_text("root:*:0:0:99999:7:::\nnobody:*:0:0:99999:7:::\n")
    (root / "etc/gshadow").write_text("root:*::\nnogroup:*::\n")
    for kind, files in (("sysusers.d", {"basic.conf": BASIC, "own.conf": OWN}),
                        ("tmpfiles.d", {"demo.conf": TMP})):
        (root / "usr/lib" / kind).mkdir(parents=True)
        for name, text in files.items():
            (root / "usr/lib" / kind / name).write_text(text)


def _accounts(root: Path, name: str) -> list[list[str]]:
    rows = [line.split(":") for line in (root / "etc" / name).read_text().splitlines()]
    return [row[:2] + row[3:] if name == "shadow" else row for row in rows]  # (no date)


@pytest.mark.skipif(SYSUSERS is None, reason="systemd-sysusers not installed")
def test_sysusers_as_systemd_sysusers(tmp_path: Path) -> None:
    real, ours = tmp_path / "real", tmp_path / "ours"
    for root in (real, ours):
        _tree(root)
    subprocess.run([str(SYSUSERS), f"--root={real}", "basic.conf", "own.conf"], check=True,
                   capture_output=True)
    applier = Applier(ours)
    applier.run("demo", make_action("sysusers", "postinst", ("configure",),
                                    {"Config": "basic.conf own.conf"}))
    applier.finish()
    for name in ("passwd", "group", "shadow", "gshadow"):
        assert _accounts(ours, name) == _accounts(real, name), name
    assert ["systemd-network", "x", "998", "998", "systemd Network Management", "/",
            "/usr/sbin/nologin"] in _accounts(ours, "passwd")


def _snapshot(root: Path) -> dict[str, tuple[str, int, int, int, str]]:
    out = {}
    for path in sorted(root.rglob("*")):
        rel = "/" + str(path.relative_to(root))
        if rel.startswith(("/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow",
                           "/usr/lib", "/etc/.pwd.lock")):
            continue
        st = path.lstat()
        kind = "link" if stat.S_ISLNK(st.st_mode) else "dir" if path.is_dir() else "file"
        content = os.readlink(path) if kind == "link" else \
            path.read_text() if kind == "file" else ""
        out[rel] = (kind, stat.S_IMODE(st.st_mode) if kind != "link" else 0, st.st_uid,
                    st.st_gid, content)
    return out


@pytest.mark.skipif(TMPFILES is None, reason="systemd-tmpfiles not installed")
def test_tmpfiles_as_systemd_tmpfiles(tmp_path: Path) -> None:
    """What systemd-tmpfiles --create makes outside /run and /tmp (which a container's
    runtime mounts afresh: left out), bootstrap makes too."""
    real, ours = tmp_path / "real", tmp_path / "ours"
    for root in (real, ours):
        _tree(root)
        with (root / "etc/group").open("a") as group:
            group.write("adm:x:4:\n")
    subprocess.run([str(TMPFILES), f"--root={real}", "--create", "demo.conf"],
                   check=False, capture_output=True)
    for runtime in ("run", "tmp"):
        shutil.rmtree(real / runtime, ignore_errors=True)
    applier = Applier(ours)
    outcome = applier.run("demo", make_action("tmpfiles", "postinst", ("configure",),
                                              {"Config": "demo.conf"}))
    applier.finish()
    assert outcome.status == "applied"
    theirs, mine = _snapshot(real), _snapshot(ours)
    assert mine == theirs
    assert mine["/etc/mtab"][4] == "../proc/self/mounts"
    assert (mine["/var/cache/demo"][1], mine["/var/lib/private"][1]) == (0o2750, 0o711)
    (ours / "usr/lib/tmpfiles.d/host.conf").write_text("d /srv/%H 0755 - - -\n")
    assert applier.run("demo", make_action("tmpfiles", "postinst", ("configure",),
                                           {"Config": "host.conf"})).status == "not-needed"
