"""What belongs to the system that runs an image, not to the build (varnish's postinst):
a directory named after the node (`uname -n`) and a random secret, made by the rendered
sh as by the original, left by bootstrap to the running system."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from bootstrap.apply import Applier
from recipes.actions import NodeDirectory, RandomSecret
from rewrite.render import render_script
from rewrite.translate import Untranslatable, translate

POSTINST = """#!/bin/sh
set -e
set -u
daemon_user="daemon"
daemon_dir=$DPKG_ROOT/var/lib/demo/$(uname -n)
secret_file=$DPKG_ROOT/etc/demo/secret

create_storagedir() {
    if ! [ -d "$daemon_dir" ]; then
        install -o $daemon_user -g $daemon_user -d $daemon_dir
    fi
}

create_secret() {
    if ! [ -f "${secret_file}" ]; then
        if [ -f /proc/sys/kernel/random/uuid ]; then
            install -m 0600 /proc/sys/kernel/random/uuid "${secret_file}"
        else
            install -m 0600 /dev/null "${secret_file}"
            dd if=/dev/urandom count=1 bs=128 2>/dev/null \\
                | tr -dc "A-Za-z0-9" > "${secret_file}"
        fi
    fi
}

case ${1:-} in
    configure)
        create_storagedir
        create_secret
        ;;
esac
"""
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\n")


def test_the_node_directory_and_the_secret_translate() -> None:
    result = translate(POSTINST, "postinst", package="demo")
    node, secret = result.actions
    assert isinstance(node, NodeDirectory) and node.path == "/var/lib/demo"
    assert (node.owner, node.group, node.only_if) == ("daemon", "daemon", ())
    assert isinstance(secret, RandomSecret) and secret.path == "/etc/demo/secret"
    # (/proc is the running kernel's, never an Only-If; Linux has this file: the else,
    # for a system without it, is never taken)
    assert (secret.mode, secret.only_if) == ("0600", ())


def test_a_secret_that_may_exist_is_refused() -> None:
    text = "#!/bin/sh\ninstall -m 0600 /proc/sys/kernel/random/uuid /etc/demo/secret\n"
    with pytest.raises(Untranslatable):
        translate(text, "postinst", package="demo")


def _tree(root: Path) -> list[tuple[str, str, int, int]]:
    return sorted((str(p.relative_to(root)), oct(p.lstat().st_mode), p.lstat().st_uid,
                   p.lstat().st_gid) for p in root.rglob("*"))


@pytest.mark.skipif(os.geteuid() != 0, reason="install -o: needs root")
def test_the_rendered_script_makes_what_the_original_does(tmp_path: Path) -> None:
    result = translate(POSTINST, "postinst", package="demo")
    rendered = render_script("postinst", result.actions, package="demo")
    assert rendered is not None
    trees, secrets = [], []
    for name, text in (("original", POSTINST), ("rendered", rendered)):
        root = tmp_path / name
        (root / "etc/demo").mkdir(parents=True)
        (root / "var/lib/demo").mkdir(parents=True)
        (root / "etc/passwd").write_text("root:x:0:0::/root:/bin/sh\n"
                                         "daemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n")
        (root / "etc/group").write_text("root:x:0:\ndaemon:x:1:\n")
        script = tmp_path / f"{name}.sh"
        script.write_text(text)
        for _ in range(2):  # (again: nothing more, the secret kept)
            done = subprocess.run(["dash", str(script), "configure"], capture_output=True,
                                  text=True, timeout=60,
                                  env={"PATH": os.environ["PATH"], "DPKG_ROOT": str(root)})
            assert done.returncode == 0, (name, done.stderr)
            secrets.append((root / "etc/demo/secret").read_text())
        trees.append(_tree(root))
    assert trees[0] == trees[1], rendered
    node = os.uname().nodename
    assert (f"var/lib/demo/{node}", "0o40755", 1, 1) in trees[0]
    assert all(UUID.fullmatch(s) for s in secrets)
    assert secrets[0] == secrets[1] and secrets[2] == secrets[3] != secrets[0]


def test_bootstrap_leaves_them_to_the_running_system(tmp_path: Path) -> None:
    result = translate(POSTINST, "postinst", package="demo")
    applier = Applier(tmp_path)
    outcomes = [applier.run("demo", action) for action in result.actions]
    assert [o.status for o in outcomes] == ["skipped", "skipped"]
    assert "system that runs the image" in outcomes[0].detail
    assert list(tmp_path.iterdir()) == []
