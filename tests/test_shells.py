"""update-shells, native (bootstrap/shells.py) against debianutils' own tool: the same
trees give the same /etc/shells and /var/lib/shells.state (hypothesis over templates,
shells.d files, an existing /etc/shells with comments, duplicates and local changes, an
existing state, merged /usr or not)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bootstrap.apply import Applier
from recipes.actions import make_action

TOOL = shutil.which("update-shells") or ("/usr/sbin/update-shells"
                                          if os.path.exists("/usr/sbin/update-shells") else None)
needs_tool = pytest.mark.skipif(TOOL is None or shutil.which("dpkg-realpath") is None,
                                reason="needs debianutils' update-shells and dpkg-realpath")
SHELLS = ["/bin/sh", "/bin/dash", "/usr/bin/dash", "/bin/bash", "/usr/bin/zsh", "/bin/rbash",
          "/usr/local/bin/fish", "/opt/x/sh"]
LINE = st.one_of(st.sampled_from(SHELLS), st.sampled_from(["# comment", "", "/bin/sh # x"]))


def lines(draw: st.DrawFn, most: int = 5) -> str:
    return "".join(f"{line}\n" for line in draw(st.lists(LINE, max_size=most)))


@st.composite
def trees(draw: st.DrawFn) -> dict[str, object]:
    return {
        "template": "# /etc/shells: valid login shells\n" + lines(draw),
        "packaged": [lines(draw, 3) for _ in range(draw(st.integers(0, 3)))],
        "etc": None if draw(st.booleans()) else lines(draw, 7),
        "state": None if draw(st.booleans()) else lines(draw, 4),
        "merged": draw(st.booleans()),
    }


def make(root: Path, tree: dict[str, object]) -> None:
    (root / "usr/share/debianutils/shells.d").mkdir(parents=True)
    (root / "usr/bin").mkdir(parents=True, exist_ok=True)
    (root / "etc").mkdir()
    (root / "var/lib").mkdir(parents=True)
    if tree["merged"]:
        (root / "bin").symlink_to("usr/bin")
    else:
        (root / "bin").mkdir()
    (root / "usr/share/debianutils/shells").write_text(str(tree["template"]))
    for index, text in enumerate(tree["packaged"]):  # type: ignore[arg-type]
        (root / "usr/share/debianutils/shells.d" / f"p{index}").write_text(text)
    if tree["etc"] is not None:
        (root / "etc/shells").write_text(str(tree["etc"]))
    if tree["state"] is not None:
        (root / "var/lib/shells.state").write_text(str(tree["state"]))


def result(root: Path) -> tuple[str, str]:
    return ((root / "etc/shells").read_text(), (root / "var/lib/shells.state").read_text())


@needs_tool
@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(trees())
def test_native_update_shells_matches_the_tool(tree: dict[str, object]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        tool, native = Path(folder, "tool"), Path(folder, "native")
        make(tool, tree)
        make(native, tree)
        assert TOOL is not None
        subprocess.run([TOOL, "--root", str(tool)], check=True, capture_output=True,
                       env={"PATH": os.environ["PATH"]}, timeout=60)
        action = make_action("update-shells", "postinst", ("configure",))
        assert Applier(native).run("debianutils", action).status == "applied"
        assert result(native) == result(tool)


def test_a_fresh_image_gets_the_declared_shells(tmp_path: Path) -> None:
    tree = {"template": "# shells\n/bin/sh\n", "packaged": ["/bin/dash\n"], "etc": None,
            "state": None, "merged": True}
    make(tmp_path, tree)
    Applier(tmp_path).run("debianutils", make_action("update-shells", "postinst",
                                                     ("configure",)))
    assert result(tmp_path) == (
        "# shells\n/bin/sh\n/usr/bin/sh\n/bin/dash\n/usr/bin/dash\n",
        "/bin/sh\n/usr/bin/sh\n/bin/dash\n/usr/bin/dash\n")
