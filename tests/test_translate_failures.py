"""A failing exit behind tests of the system: a fail action that carries them (usrmerge's
preinst refuses a standalone /usr without an initramfs), the predicate functions those
tests come from, and `Only-If: mountpoint PATH`."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bootstrap.apply import ActionFailed, Applier
from recipes.actions import Fail
from rewrite.render import render_script
from rewrite.translate import Untranslatable, translate
from tests.fixtures.onlyif import assert_read_alike

# (usrmerge's preinst, its paths under $DPKG_ROOT)
PREINST = """#!/bin/sh -e

is_mountpoint() {
  if mountpoint -q "$1"; then
    return 0
  fi
  return 1 # not a mount point
}

standalone_usr() {
  if is_mountpoint "$DPKG_ROOT/usr"; then
    return 0
  fi
  return 1
}

booted_with_initramfs() {
  if [ -d "$DPKG_ROOT/run/initramfs/" ]; then
    return 1
  fi
  return 0
}

has_initramfs() {
  standalone_usr || return 0
  booted_with_initramfs || return 0
  echo "/usr is a standalone filesystem, this requires using an initramfs."
  exit 1
}

case "$1" in
    install)
    if [ -z "$2" ]; then
\thas_initramfs
    fi
    ;;
esac
mkdir -p "$DPKG_ROOT/var/lib/demo"
"""


def test_a_failure_behind_tests_of_the_system_is_a_fail_action() -> None:
    actions = translate(PREINST, "preinst", package="demo").actions
    fail, made = actions
    assert isinstance(fail, Fail) and fail.on == ("install",) and fail.status == 1
    assert set(fail.only_if) == {"mountpoint /usr", "! -d /run/initramfs/"}
    assert made.name == "make-dir"  # (after it: not taken where it fails)


@pytest.fixture
def mounted(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs mounted at tmp_path/usr (root only)."""
    (tmp_path / "usr").mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "none",
                                            str(tmp_path / "usr")]).returncode:
        pytest.skip("mounting a tmpfs needs root")
    try:
        yield tmp_path
    finally:
        subprocess.run(["umount", str(tmp_path / "usr")], check=True)


def test_mountpoint_is_read_alike(mounted: Path) -> None:
    (mounted / "srv").mkdir()
    (mounted / "link").symlink_to("usr")
    assert_read_alike(mounted, [
        ("mountpoint /usr", True), ("! mountpoint /usr", False),
        ("mountpoint /srv", False), ("mountpoint /missing", False),
        ("mountpoint /link", False),  # (a link is no mount point)
    ])


@pytest.mark.parametrize(("mount", "initramfs"), [(True, False), (True, True), (False, False)])
def test_a_fail_action_behaves_like_the_original(tmp_path: Path, mount: bool,
                                                  initramfs: bool) -> None:
    """The original and the rendered preinst run by dash, and the actions applied by
    bootstrap: they fail in the same cases, and change the same otherwise."""
    result = translate(PREINST, "preinst", package="demo")
    rendered = render_script("preinst", result.actions, package="demo")
    assert rendered is not None
    outcomes = []
    for name, text in (("original", PREINST), ("rendered", rendered), ("native", "")):
        root = tmp_path / name
        (root / "usr").mkdir(parents=True)
        if initramfs:
            (root / "run/initramfs").mkdir(parents=True)
        if mount and (os.geteuid() != 0 or subprocess.run(
                ["mount", "-t", "tmpfs", "none", str(root / "usr")]).returncode):
            pytest.skip("mounting a tmpfs needs root")
        try:
            if text:
                script = tmp_path / f"{name}.sh"
                script.write_text(text)
                done = subprocess.run(["dash", str(script), "install"], capture_output=True,
                                      text=True, timeout=60,
                                      env={"PATH": os.environ["PATH"],
                                           "DPKG_ROOT": str(root)})
                failed = done.returncode != 0
            else:
                applier = Applier(root)
                try:
                    for action in result.actions:
                        if "install" in action.on:
                            applier.run("demo", action)
                    failed = False
                except ActionFailed as exc:
                    assert "preinst action fail" in str(exc) and "(exit 1)" in str(exc)
                    failed = True
            outcomes.append((failed, (root / "var/lib/demo").is_dir()))
        finally:
            if mount:
                subprocess.run(["umount", str(root / "usr")], check=True)
    assert outcomes[0] == outcomes[1] == outcomes[2], rendered
    assert outcomes[0] == ((True, False) if mount and not initramfs else (False, True))


def test_a_failure_on_every_fresh_install_is_refused() -> None:
    """Behind no test the engine can carry, a failure on install: never installable."""
    text = '#!/bin/sh\nif [ -z "$2" ]; then\n  echo no >&2\n  exit 1\nfi\n'
    with pytest.raises(Untranslatable):
        translate(text, "preinst", package="demo")


@pytest.mark.parametrize("text", [
    # a successful exit behind a test of the system: the rest is skipped where taken
    '#!/bin/sh\nif pidof demo >/dev/null; then\n  exit 0\nfi\nrm -f /var/lib/x\n',
    # the else of guards the engine cannot carry, whose failure would make it no fallback
    # to drop (usrmerge's postinst: the conversion behind a grep of a flag file)
    '#!/bin/sh\nconvert() {\n  mkdir -p /x\n}\n'
    'if [ -e /etc/skip ] && grep -q "not supported" /etc/skip; then\n'
    '  echo W >&2\nelse\n  convert || { echo E >&2; exit 1; }\nfi\n',
    # a failure behind a test the engine cannot carry (a command's output)
    '#!/bin/sh\nif [ "$(uname -r)" = 2.6 ]; then\n  exit 1\nfi\nmkdir -p /var/lib/x\n',
])
def test_other_exits_behind_tests_of_the_system_stay_refused(text: str) -> None:
    with pytest.raises(Untranslatable):
        translate(text, "postinst", package="demo")
