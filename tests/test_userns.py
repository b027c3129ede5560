"""The sandbox choice and the user namespace of builds without root (worker/build/userns)."""

from __future__ import annotations

import os
import pwd
import shutil
from pathlib import Path

import pytest

from base.errors import ConfigError
from worker.build.sandbox import sandbox_argv
from worker.build.userns import NEEDED, OUTSIDE, IdBlock, choose, subordinate_block


def me() -> tuple[str, int]:
    uid = os.geteuid()
    return pwd.getpwuid(uid).pw_name, uid


def test_the_first_large_enough_block_of_the_user_is_taken(tmp_path: Path) -> None:
    table = tmp_path / "subuid"
    table.write_text("other:100000:65536\n"
                     "alice:165536:1000\n"           # too small
                     "alice:200000:x\n"              # not a number
                     "# comment\n"
                     "alice:300000:65536:extra\n"    # not three fields
                     "1001:400000:131072\n"          # by uid
                     "alice:500000:65536\n")
    assert subordinate_block(table, "alice", 1001) == IdBlock(400000, 131072)
    assert subordinate_block(table, "alice", 1002) == IdBlock(500000, 65536)
    assert subordinate_block(table, "bob", 1003) is None
    assert subordinate_block(tmp_path / "missing", "alice", 1001) is None


def test_choose_unshare_maps_the_subordinate_block_and_the_worker(tmp_path: Path) -> None:
    if shutil.which("newuidmap") is None or shutil.which("newgidmap") is None:
        pytest.skip("uidmap is not installed (.ci/run installs it)")
    name, uid = me()
    (tmp_path / "subuid").write_text(f"{name}:100000:65536\n")
    (tmp_path / "subgid").write_text(f"{name}:200000:65536\n")
    for setting in ("unshare", "auto"):
        sandbox = choose(setting, subuid=tmp_path / "subuid", subgid=tmp_path / "subgid")
        assert sandbox.backend == "unshare" and sandbox.rootless
        assert sandbox.namespace is not None
        options = sandbox.namespace.unshare_options()
        assert options == ["--user", f"--map-user={OUTSIDE}", f"--map-group={OUTSIDE}",
                           f"--map-users=100000,0,{NEEDED}",
                           f"--map-groups=200000,0,{NEEDED}", "--setuid=0", "--setgid=0"]
    argv = sandbox_argv(tmp_path, ["id"], network=False, userns=options)
    assert argv[argv.index("unshare") + 1:][:len(options)] == options
    assert "bind" in argv  # the chroot has no device nodes of its own


def test_without_subordinate_ids_the_error_says_what_to_add(tmp_path: Path) -> None:
    name, _ = me()
    (tmp_path / "subuid").write_text("")
    (tmp_path / "subgid").write_text("")
    with pytest.raises(ConfigError) as caught:
        choose("unshare", subuid=tmp_path / "subuid", subgid=tmp_path / "subgid")
    line = str(caught.value)
    assert f"'{name}:" in line and "/etc/subuid" in line and "/etc/subgid" in line
    assert "\n" not in line
    if os.geteuid() == 0:  # root without subordinate ids: the root sandbox
        assert choose("auto", subuid=tmp_path / "subuid",
                      subgid=tmp_path / "subgid").backend == "root"
        assert choose("root").backend == "root"
    with pytest.raises(ConfigError, match="not one of"):
        choose("chroot")


def test_without_newuidmap_the_error_names_the_package(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch
                                                       ) -> None:
    name, _ = me()
    (tmp_path / "subuid").write_text(f"{name}:100000:65536\n")
    (tmp_path / "subgid").write_text(f"{name}:100000:65536\n")
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH without newuidmap
    with pytest.raises(ConfigError, match="apt-get install uidmap"):
        choose("unshare", subuid=tmp_path / "subuid", subgid=tmp_path / "subgid")
