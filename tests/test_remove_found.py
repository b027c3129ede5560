"""remove-found: the rendered sh (the real find) and bootstrap leave the same tree, on the
shapes maintainer scripts use (ssl-cert's -lname, redis' empty directories, ucf's
files); the engine's reading of find -delete, find | xargs rm -f and -exec rm."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from bootstrap.apply import ActionFailed, Applier
from recipes.actions import Action, make_action
from rewrite.render import render_script
from rewrite.translate import Untranslatable, translate

DASH = shutil.which("dash") or "/bin/dash"


def _tree(root: Path) -> None:
    certs = root / "etc/ssl/certs"
    certs.mkdir(parents=True)
    (certs / "ssl-cert-snakeoil.pem").write_text("cert\n")
    (certs / "1a2b3c4d.0").symlink_to("ssl-cert-snakeoil.pem")
    (certs / "5e6f7a8b.0").symlink_to("ca.pem")
    (certs / "sub").mkdir()
    (certs / "sub/9c9c9c9c.0").symlink_to("ssl-cert-snakeoil.pem")  # below -maxdepth 1
    redis = root / "etc/redis"
    for name in ("redis-server.pre-up.d", "redis-server.post-down.d", "other.d"):
        (redis / name).mkdir(parents=True)
    (redis / "redis-server.post-down.d/hook").write_text("x\n")
    cache = root / "var/lib/ucf/cache"
    (cache / "deep/er").mkdir(parents=True)
    (cache / "a:etc:x").write_text("1\n")
    (cache / "deep/er/b").write_text("2\n")
    (cache / "deep/link").symlink_to("../a:etc:x")
    empty = root / "var/lib/demo"
    (empty / "a/b/c").mkdir(parents=True)
    (empty / "a/keep").write_text("")


def _listing(root: Path) -> list[tuple[str, str]]:
    out = []
    for path in sorted(root.rglob("*")):
        kind = "link:" + os.readlink(path) if path.is_symlink() else \
            "dir" if path.is_dir() else "file"
        out.append((str(path.relative_to(root)), kind))
    return out


def _both(tmp_path: Path, action: Action) -> tuple[Path, Path]:
    shell, native = tmp_path / "shell", tmp_path / "native"
    for root in (shell, native):
        _tree(root)
    text = render_script(action.script, [action], package="demo")
    assert text is not None
    script = tmp_path / "script.sh"
    script.write_text(text)
    subprocess.run([DASH, str(script), action.on[0]], check=True, timeout=60,
                   env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                        "DPKG_ROOT": str(shell)})
    Applier(native).run("demo", action)
    assert _listing(shell) == _listing(native)
    return shell, native


@pytest.mark.parametrize(("fields", "gone", "kept"), [
    ({"Path": "/etc/ssl/certs", "Max-Depth": "1", "Link-Name": "ssl-cert-snakeoil.pem"},
     ["etc/ssl/certs/1a2b3c4d.0"], ["etc/ssl/certs/sub/9c9c9c9c.0", "etc/ssl/certs/5e6f7a8b.0"]),
    ({"Path": "/etc/redis", "Max-Depth": "1", "Type": "d", "Name": "redis-server.*.d",
      "Empty": "yes"},
     ["etc/redis/redis-server.pre-up.d"],
     ["etc/redis/redis-server.post-down.d", "etc/redis/other.d"]),
    ({"Path": "/var/lib/ucf/cache", "Type": "f"},
     ["var/lib/ucf/cache/a:etc:x", "var/lib/ucf/cache/deep/er/b"],
     ["var/lib/ucf/cache/deep/link", "var/lib/ucf/cache/deep/er"]),
    # post-order: a directory emptied by the removal of what it held is empty by then
    ({"Path": "/var/lib/demo", "Type": "d", "Empty": "yes"},
     ["var/lib/demo/a/b"], ["var/lib/demo/a/keep", "var/lib/demo/a"]),
    ({"Path": "/var/lib/nothing", "Type": "f"}, [], []),
])
def test_the_real_find_and_bootstrap_remove_the_same(
        tmp_path: Path, fields: dict[str, str], gone: list[str], kept: list[str]) -> None:
    action = make_action("remove-found", "postrm", ("purge",), fields)
    shell, _ = _both(tmp_path, action)
    for path in gone:
        assert not os.path.lexists(shell / path), path
    for path in kept:
        assert os.path.lexists(shell / path), path


def test_a_directory_that_is_not_empty_fails_both_ways(tmp_path: Path) -> None:
    action = make_action("remove-found", "postrm", ("purge",),
                         {"Path": "/etc/redis", "Max-Depth": "1", "Type": "d",
                          "Name": "redis-server.post-down.d"})
    text = render_script("postrm", [action], package="demo") or ""
    root = tmp_path / "root"
    _tree(root)
    (tmp_path / "s.sh").write_text(text)
    done = subprocess.run([DASH, str(tmp_path / "s.sh"), "purge"], capture_output=True,
                          env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                               "DPKG_ROOT": str(root)}, check=False)
    assert done.returncode != 0
    with pytest.raises(ActionFailed, match="not empty"):
        Applier(root).run("demo", action)


def test_a_whole_tree_is_not_a_found_removal() -> None:
    with pytest.raises(ValueError, match="at least one of"):
        make_action("remove-found", "postrm", ("purge",), {"Path": "/var/lib/x"})


@pytest.mark.parametrize(("line", "fields"), [
    ("find /etc/ssl/certs -maxdepth 1 -lname ssl-cert-snakeoil.pem -delete > /dev/null 2>&1"
     " || true", {"Max-Depth": "1", "Link-Name": "ssl-cert-snakeoil.pem"}),
    ("find /var/lib/ucf/cache -type f -print0 | xargs -0r /bin/rm -f", {"Type": "f"}),
    ("find /var/lib/x -type l -name '*.dict' -exec rm '{}' \\;",
     {"Type": "l", "Name": "*.dict"}),
])
def test_find_forms_are_read_as_remove_found(line: str, fields: dict[str, str]) -> None:
    text = f'#!/bin/sh\nset -e\nif [ "$1" = purge ]; then\n  {line}\nfi\n'
    (action,) = translate(text, "postrm", package="demo").actions
    stanza = action.stanza()
    assert stanza["Action"] == "remove-found" and stanza["On"] == "purge"
    assert {k: v for k, v in stanza.items() if k in fields} == fields


@pytest.mark.parametrize("line", [
    "find /var/lib/x -name a -o -name b -delete",  # an or
    "find /var/lib/x -newer /etc/y -delete",  # a test not modelled
    "find /var/lib/x -type f",  # finds, deletes nothing
    "find /var/lib/x -type d -print0 | xargs -0r rm -f",  # rm removes no directory
    "find /var/lib/x -type f -print0 | xargs -0r rm -rf",
])
def test_other_finds_are_refused(line: str) -> None:
    with pytest.raises(Untranslatable):
        translate(f"#!/bin/sh\nset -e\n{line}\n", "postrm", package="demo")


# -- copy-path ---------------------------------------------------------------------------

def _copy_tree(root: Path) -> None:
    state = root / "var/lib/ucf"
    (state / "into").mkdir(parents=True)
    (state / "hashfile").write_text("new\n")
    (state / "hashfile").chmod(0o640)
    (state / "hashfile.0").write_text("old\n")
    (state / "hashfile.0").chmod(0o600)


@pytest.mark.parametrize(("source", "path", "preserve"), [
    ("/var/lib/ucf/hashfile", "/var/lib/ucf/hashfile.0", "no"),  # over a file: its mode
    ("/var/lib/ucf/hashfile", "/var/lib/ucf/hashfile.0", "yes"),  # cp -p: the source's
    ("/var/lib/ucf/hashfile", "/var/lib/ucf/hashfile.9", "no"),  # new: less umask 022
    ("/var/lib/ucf/hashfile", "/var/lib/ucf/into", "no"),  # into a directory
    ("/var/lib/ucf/hashfile.5", "/var/lib/ucf/hashfile.6", "no"),  # absent: nothing
])
def test_copy_path_as_cp_does(tmp_path: Path, source: str, path: str, preserve: str) -> None:
    action = make_action("copy-path", "preinst", ("install",),
                         {"Source": source, "Path": path, "Preserve": preserve})
    shell, native = tmp_path / "shell", tmp_path / "native"
    for root in (shell, native):
        _copy_tree(root)
    text = render_script("preinst", [action], package="demo") or ""
    (tmp_path / "s.sh").write_text(text)
    subprocess.run([DASH, str(tmp_path / "s.sh"), "install"], check=True,
                   env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                        "DPKG_ROOT": str(shell)})
    Applier(native).run("demo", action)

    def state(root: Path) -> list[tuple[str, str, int]]:
        return [(str(p.relative_to(root)), p.read_text() if p.is_file() else "",
                 p.stat().st_mode & 0o7777) for p in sorted(root.rglob("*"))]
    assert state(shell) == state(native)


UCF_PREINST = """#!/bin/sh
set -e
statedir='/var/lib/ucf';
case "$1" in
  install)
      for i in $(seq 6 -1 0); do
          if [ -e "${statedir}/hashfile.${i}" ]; then
              cp -f "${statedir}/hashfile.${i}" \\
                  "${statedir}/hashfile.$(($i+1))"
          fi
      done
      if [ -e "$statedir/hashfile" ]; then
          cp -f "$statedir/hashfile"  "$statedir/hashfile.0"
      fi
    ;;
esac
exit 0
"""


def test_ucf_preinst_rotates_with_copies() -> None:
    actions = translate(UCF_PREINST, "preinst", package="ucf").actions
    assert [(a.get("Source"), a.get("Path")) for a in actions] == [
        *((f"/var/lib/ucf/hashfile.{i}", f"/var/lib/ucf/hashfile.{i + 1}")
          for i in range(6, -1, -1)),
        ("/var/lib/ucf/hashfile", "/var/lib/ucf/hashfile.0")]
    with pytest.raises(Untranslatable, match="cp"):  # no test of the source around it
        translate("#!/bin/sh\nset -e\ncp -f /var/lib/a /var/lib/b\n", "preinst",
                  package="ucf")
