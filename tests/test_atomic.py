"""The one durable atomic writer (base.atomic)."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from base import atomic
from base.atomic import (
    AtomicFile,
    fsync_directory,
    open_atomic,
    rename_durably,
    write_bytes,
    write_text,
)


@pytest.fixture
def umask_077() -> Iterator[None]:
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What os.fsync was called on, in order: "file" or "dir"."""
    calls: list[str] = []
    real = os.fsync

    def recording(fd: int) -> None:
        calls.append("dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        real(fd)

    monkeypatch.setattr(atomic.os, "fsync", recording)
    return calls


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_write_bytes_replaces_the_target(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_bytes(b"old")
    write_bytes(target, b"new")
    assert target.read_bytes() == b"new"
    assert names(tmp_path) == ["file"]


def test_write_text_encodes_without_newline_translation(tmp_path: Path) -> None:
    write_text(tmp_path / "t", "é\r\nx\n")
    assert (tmp_path / "t").read_bytes() == "é\r\nx\n".encode()
    write_text(tmp_path / "l", "é", encoding="latin-1")
    assert (tmp_path / "l").read_bytes() == b"\xe9"


@pytest.mark.usefixtures("umask_077")
def test_mode_is_set_exactly_whatever_the_umask(tmp_path: Path) -> None:
    write_bytes(tmp_path / "public", b"x")
    write_bytes(tmp_path / "private", b"x", mode=0o600)
    write_bytes(tmp_path / "script", b"x", mode=0o755)
    modes = {name: stat.S_IMODE((tmp_path / name).stat().st_mode)
             for name in ("public", "private", "script")}
    assert modes == {"public": 0o644, "private": 0o600, "script": 0o755}


@pytest.mark.usefixtures("umask_077")
def test_umask_mode_is_filtered_as_open_would(tmp_path: Path) -> None:
    write_bytes(tmp_path / "out", b"x", mode=0o644, umask=True)
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o600


def test_a_replaced_target_keeps_no_old_mode(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_bytes(b"old")
    target.chmod(0o600)
    write_bytes(target, b"new")
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_the_temporary_file_is_beside_the_target_until_the_rename(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_bytes(b"old")
    with open_atomic(target) as out:
        out.write(b"new")
        during = names(tmp_path)
        assert target.read_bytes() == b"old"  # readers see the old file meanwhile
    assert len(during) == 2 and during[0].startswith(".file.") and during[0].endswith(".tmp")
    assert names(tmp_path) == ["file"] and target.read_bytes() == b"new"


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_a_failing_block_removes_the_temporary_and_keeps_the_target(
        tmp_path: Path, error: type[BaseException]) -> None:
    target = tmp_path / "file"
    target.write_bytes(b"old")
    target.chmod(0o640)
    with pytest.raises(error), open_atomic(target) as out:
        out.write(b"half")
        raise error()
    assert names(tmp_path) == ["file"]
    assert target.read_bytes() == b"old"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_a_failing_block_leaves_no_new_target(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), open_atomic(tmp_path / "new") as out:
        out.write(b"half")
        raise RuntimeError
    assert names(tmp_path) == []


@pytest.mark.parametrize("step", ["fsync", "fchmod", "replace"])
def test_a_failing_commit_removes_the_temporary_and_keeps_the_target(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str) -> None:
    target = tmp_path / "file"
    target.write_bytes(b"old")

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, step, refuse)
    with pytest.raises(OSError) as caught:
        write_bytes(target, b"new")
    assert caught.value.errno == errno.ENOSPC
    assert names(tmp_path) == ["file"]
    assert target.read_bytes() == b"old"


def test_file_then_directory_are_fsynced(tmp_path: Path, fsyncs: list[str]) -> None:
    write_bytes(tmp_path / "file", b"x")
    assert fsyncs == ["file", "dir"]


def test_rename_durably_fsyncs_the_file_and_the_directory(tmp_path: Path,
                                                           fsyncs: list[str]) -> None:
    source = tmp_path / "download.part"
    source.write_bytes(b"done")
    (tmp_path / "store").mkdir()
    target = tmp_path / "store" / "object"
    rename_durably(source, target, mode=0o640)
    assert fsyncs == ["file", "dir"]
    assert target.read_bytes() == b"done" and not source.exists()
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_rename_durably_of_a_missing_file_changes_nothing(tmp_path: Path) -> None:
    target = tmp_path / "object"
    target.write_bytes(b"old")
    with pytest.raises(FileNotFoundError):
        rename_durably(tmp_path / "missing", target)
    assert target.read_bytes() == b"old"


def test_fsync_directory_is_best_effort(tmp_path: Path, fsyncs: list[str]) -> None:
    fsync_directory(tmp_path)
    fsync_directory(tmp_path / "missing")  # nothing raised
    (tmp_path / "file").write_bytes(b"")
    fsync_directory(tmp_path / "file")  # not a directory: nothing raised
    assert fsyncs == ["dir"]


def test_no_replace_creates_a_new_name(tmp_path: Path) -> None:
    write_bytes(tmp_path / "pool.deb", b"deb", replace=False)
    assert (tmp_path / "pool.deb").read_bytes() == b"deb"
    assert names(tmp_path) == ["pool.deb"]


def test_no_replace_refuses_an_existing_name(tmp_path: Path) -> None:
    target = tmp_path / "pool.deb"
    target.write_bytes(b"first")
    with pytest.raises(FileExistsError):
        write_bytes(target, b"second", replace=False)
    assert target.read_bytes() == b"first"
    assert names(tmp_path) == ["pool.deb"]
    (tmp_path / "link").symlink_to("nowhere")  # a dangling symlink is a name too
    with pytest.raises(FileExistsError):
        write_bytes(tmp_path / "link", b"x", replace=False)


@pytest.mark.parametrize("exists", [False, True])
def test_no_replace_without_hard_links(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       exists: bool) -> None:
    def no_links(*args: object) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(atomic.os, "link", no_links)
    target = tmp_path / "pool.deb"
    if exists:
        target.write_bytes(b"first")
        with pytest.raises(FileExistsError):
            write_bytes(target, b"second", replace=False)
        assert target.read_bytes() == b"first"
    else:
        write_bytes(target, b"second", replace=False)
        assert target.read_bytes() == b"second"
    assert names(tmp_path) == ["pool.deb"]


def test_atomic_file_reads_back_and_commits_together(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.write_bytes(b"copied " * 1000)
    first = AtomicFile(tmp_path / "a", mode=0o600)
    second = AtomicFile(tmp_path / "b")
    first.copy_from(source)
    second.write(b"written")
    first.flush()
    assert first.path.read_bytes() == source.read_bytes()  # complete before the rename
    assert not (tmp_path / "a").exists()
    first.commit()
    second.commit()
    assert (tmp_path / "a").read_bytes() == source.read_bytes()
    assert (tmp_path / "b").read_bytes() == b"written"
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == 0o600
    with pytest.raises(ValueError, match="already committed"):
        first.commit()


def test_a_discarded_file_is_gone_and_cannot_be_committed(tmp_path: Path) -> None:
    new = AtomicFile(tmp_path / "a")
    new.write(b"x")
    new.discard()
    new.discard()  # idempotent
    assert names(tmp_path) == []
    with pytest.raises(ValueError):
        new.commit()


def test_a_long_name_still_fits(tmp_path: Path) -> None:
    target = tmp_path / ("n" * 255)
    write_bytes(target, b"x")
    assert target.read_bytes() == b"x"


def test_a_missing_directory_is_an_error_and_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        write_bytes(tmp_path / "missing" / "file", b"x")
    assert names(tmp_path) == []


def test_a_directory_in_the_way_is_an_error_and_leaves_no_temporary(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    with pytest.raises(IsADirectoryError):
        write_bytes(tmp_path / "dir", b"x")
    assert names(tmp_path) == ["dir"]
