"""Safe unpack of data.tar into an image root (bootstrap/unpack.py)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tarfile
from pathlib import Path

import pytest

from base.errors import FormatError
from bootstrap.unpack import UnpackedFile, UnpackLimits, UnsafeArchive, unpack_deb
from tests.fixtures.handdeb import (
    CONTROL,
    MTIME,
    Entry,
    directory,
    entry,
    hand_deb,
)

IS_ROOT = os.geteuid() == 0

# ---------------------------------------------------------------------------------
# helpers


def snapshot(top: Path) -> dict[str, tuple]:
    """Every entry under `top`: type, mode, size, mtime, link target, content."""
    seen: dict[str, tuple] = {}
    for here, dirs, files in os.walk(top):
        for name in sorted(dirs + files):
            full = Path(here, name)
            info = full.lstat()
            rel = str(full.relative_to(top))
            target = os.readlink(full) if stat.S_ISLNK(info.st_mode) else None
            body = full.read_bytes() if stat.S_ISREG(info.st_mode) else None
            seen[rel] = (stat.S_IFMT(info.st_mode), stat.S_IMODE(info.st_mode),
                         info.st_size if body is not None else 0, info.st_mtime_ns,
                         target, body, info.st_uid, info.st_gid)
    top_info = top.lstat()
    seen["."] = (stat.S_IMODE(top_info.st_mode), top_info.st_mtime_ns)
    return seen


def without_dir_mtimes(tree: dict[str, tuple]) -> dict[str, tuple]:
    return {k: v[:3] + v[4:] if v[0] == stat.S_IFDIR else v
            for k, v in tree.items() if k != "."}


@pytest.fixture()
def place(tmp_path: Path) -> dict[str, Path]:
    """A root with content of "another package", and a sentinel directory outside it."""
    root = tmp_path / "root"
    (root / "usr" / "share").mkdir(parents=True)
    (root / "usr" / "share" / "other").write_text("from another package\n")
    outside = tmp_path / "outside-dir"
    outside.mkdir()
    (outside / "keep").write_text("sentinel\n")
    return {"root": root, "outside": outside, "tmp": tmp_path}


def refused(deb: Path, place: dict[str, Path], **kwargs: object) -> str:
    """Unpack must fail with UnsafeArchive and leave root and outside as they were."""
    root, outside = place["root"], place["outside"]
    before_root, before_outside = snapshot(root), snapshot(outside)
    outside_listing = sorted(os.listdir(place["tmp"]))
    with pytest.raises(UnsafeArchive) as caught:
        unpack_deb(deb, root, **kwargs)  # type: ignore[arg-type]
    message = str(caught.value)
    assert message.startswith(f"{deb}: "), message
    assert "\n" not in message
    assert isinstance(caught.value, FormatError)
    after_root = snapshot(root)
    # no leftovers, the other package intact (directory mtimes change with any entry)
    assert without_dir_mtimes(after_root) == without_dir_mtimes(before_root)
    assert snapshot(outside) == before_outside
    assert sorted(os.listdir(place["tmp"])) == outside_listing
    assert not Path("/tmp/outside-dir/pwned").exists()
    return message


# ---------------------------------------------------------------------------------
# a real package built by dpkg-deb


@pytest.fixture(scope="module")
def real_deb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("real")
    src = base / "src"
    (src / "DEBIAN").mkdir(parents=True)
    (src / "DEBIAN" / "control").write_text(CONTROL)
    deep = src / "usr" / "share" / "sample" / "a" / "b" / "c" / "d"
    deep.mkdir(parents=True)
    (deep / "deep.txt").write_text("deep\n")
    (src / "usr" / "bin").mkdir(parents=True)
    tool = src / "usr" / "bin" / "tool"
    tool.write_text("#!/nothing\n")
    tool.chmod(0o755)
    suid = src / "usr" / "bin" / "suid-tool"
    suid.write_bytes(b"\x7fELF not really\n")
    suid.chmod(0o4755)
    private = src / "usr" / "share" / "sample" / "private"
    private.write_text("secret\n")
    private.chmod(0o600)
    os.link(tool, src / "usr" / "bin" / "tool-hardlink")
    (src / "usr" / "bin" / "tool-link").symlink_to("tool")
    (src / "usr" / "bin" / "editor").symlink_to("/etc/alternatives/editor")
    (src / "etc" / "sample").mkdir(parents=True)
    (src / "etc" / "sample" / "conf").write_text("x = 1\n")
    (src / "etc" / "sample").chmod(0o750)
    out = base / "sample_1.0_all.deb"
    done = subprocess.run(
        ["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", str(src), str(out)],
        capture_output=True, text=True,
        env={**os.environ, "SOURCE_DATE_EPOCH": str(MTIME)})
    assert done.returncode == 0, done.stderr
    return out


def by_path(files: list[UnpackedFile]) -> dict[str, UnpackedFile]:
    return {f.path: f for f in files}


def test_real_package(real_deb: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    files = by_path(unpack_deb(real_deb, root, mtime=MTIME))
    bin_ = root / "usr" / "bin"
    assert (bin_ / "tool").read_text() == "#!/nothing\n"
    assert stat.S_IMODE((bin_ / "tool").stat().st_mode) == 0o755
    assert os.readlink(bin_ / "tool-link") == "tool"
    assert os.readlink(bin_ / "editor") == "/etc/alternatives/editor"  # not followed
    assert not Path("/etc/alternatives/editor-from-test").exists()
    assert (bin_ / "tool").stat().st_ino == (bin_ / "tool-hardlink").stat().st_ino
    assert stat.S_IMODE((root / "usr/share/sample/private").stat().st_mode) == 0o600
    assert stat.S_IMODE((root / "etc" / "sample").stat().st_mode) == 0o750
    deep = root / "usr/share/sample/a/b/c/d/deep.txt"
    assert deep.read_text() == "deep\n"
    suid_mode = stat.S_IMODE((bin_ / "suid-tool").stat().st_mode)
    if IS_ROOT:
        assert suid_mode == 0o4755
        assert (bin_ / "tool").stat().st_uid == 0
    assert (bin_ / "tool").stat().st_mtime == MTIME
    assert (root / "usr").stat().st_mtime == MTIME  # set after its entries were added
    assert files["/usr/bin/tool"] == UnpackedFile("/usr/bin/tool", "f", 11, 0o755, 0, 0,
                                                  None)
    assert files["/usr/bin/editor"].kind == "l"
    assert files["/usr/bin/editor"].target == "/etc/alternatives/editor"
    hard = [f for f in files.values() if f.kind == "h"]
    assert len(hard) == 1 and hard[0].target in ("/usr/bin/tool", "/usr/bin/tool-hardlink")
    assert files["/."].kind == "d"
    assert not list(root.rglob(".unpack-*"))


def test_owners_false_drops_setuid(real_deb: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    files = by_path(unpack_deb(real_deb, root, owners=False, mtime=MTIME))
    assert stat.S_IMODE((root / "usr/bin/suid-tool").stat().st_mode) == 0o755
    assert files["/usr/bin/suid-tool"].mode == 0o755


def test_reproducible(real_deb: Path, tmp_path: Path) -> None:
    trees = []
    for name in ("one", "two"):
        root = tmp_path / name
        unpack_deb(real_deb, root, mtime=MTIME - 5)
        trees.append(snapshot(root))
    assert trees[0] == trees[1]
    assert all(v[3] == (MTIME - 5) * 10**9 for k, v in trees[0].items() if k != ".")


def test_shared_directories_merge_and_identical_files(real_deb: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    unpack_deb(real_deb, root, mtime=MTIME)
    # the same package again: directories merge, identical files/symlinks are accepted
    unpack_deb(real_deb, root, mtime=MTIME)
    assert (root / "usr/bin/tool").read_text() == "#!/nothing\n"


def test_conflicting_file_refused(real_deb: Path, place: dict[str, Path]) -> None:
    root = place["root"]
    (root / "usr" / "bin").mkdir()
    (root / "usr" / "bin" / "tool").write_text("another package's tool\n")
    message = refused(real_deb, place)
    assert "would overwrite /usr/bin/tool from another package" in message
    assert (root / "usr" / "bin" / "tool").read_text() == "another package's tool\n"


# ---------------------------------------------------------------------------------
# malicious packages


def benign() -> list[Entry]:
    """Members written before the bad one: they must be cleaned up."""
    return [directory("./"), directory("./usr/"), directory("./usr/share/"),
            directory("./usr/share/new/"), entry("./usr/share/new/file", b"new\n"),
            entry("./usr/lib/implicit/file", b"parent dirs made on the way\n")]


def test_absolute_path(place: dict[str, Path]) -> None:
    deb = hand_deb(place["tmp"] / "abs.deb",
                   [*benign(), entry(str(place["outside"] / "pwned"), b"x")])
    assert "is an absolute path" in refused(deb, place)


def test_dotdot_escape(place: dict[str, Path]) -> None:
    deb = hand_deb(place["tmp"] / "dotdot.deb",
                   [*benign(), entry("./usr/../../outside-dir/pwned", b"x")])
    message = refused(deb, place)
    assert "'..'" in message and "outside-dir/pwned" in message


def test_symlink_escape(place: dict[str, Path]) -> None:
    deb = hand_deb(place["tmp"] / "symlink.deb",
                   [*benign(), entry("./evil", kind=tarfile.SYMTYPE,
                                     linkname=str(place["outside"])),
                    entry("./evil/pwned", b"x")])
    message = refused(deb, place)
    assert "'./evil/pwned': parent /evil is a symlink" in message


def test_symlink_escape_tmp(place: dict[str, Path]) -> None:
    deb = hand_deb(place["tmp"] / "symlink-tmp.deb",
                   [*benign(), entry("./evil", kind=tarfile.SYMTYPE,
                                     linkname="/tmp/outside-dir"),
                    entry("./evil/pwned", b"x")])
    assert "parent /evil is a symlink" in refused(deb, place)


def test_symlink_to_parent_escape(place: dict[str, Path]) -> None:
    deb = hand_deb(place["tmp"] / "parent.deb",
                   [*benign(), entry("./a", kind=tarfile.SYMTYPE, linkname=".."),
                    entry("./a/pwned", b"x")])
    assert "parent /a is a symlink" in refused(deb, place)


def test_symlink_already_in_root_not_followed(place: dict[str, Path]) -> None:
    (place["root"] / "etc").symlink_to(place["outside"])
    deb = hand_deb(place["tmp"] / "planted.deb", [*benign(), entry("./etc/pwned", b"x")])
    assert "parent /etc is a symlink" in refused(deb, place)


@pytest.mark.parametrize("target", ["/etc/passwd", "../../x", "./usr/share/other"])
def test_hardlink_escape(place: dict[str, Path], target: str) -> None:
    deb = hand_deb(place["tmp"] / "hard.deb",
                   [*benign(), entry("./usr/share/new/pwned", kind=tarfile.LNKTYPE,
                                     linkname=target)])
    message = refused(deb, place)
    assert "hard link" in message or "absolute" in message or "'..'" in message


def test_char_device_refused(place: dict[str, Path]) -> None:
    deb = hand_deb(place["tmp"] / "dev.deb",
                   [*benign(), entry("./dev-null", kind=tarfile.CHRTYPE, mode=0o666)])
    assert "character device refused" in refused(deb, place)


def test_fifo_refused(place: dict[str, Path]) -> None:
    deb = hand_deb(place["tmp"] / "fifo.deb",
                   [*benign(), entry("./fifo", kind=tarfile.FIFOTYPE)])
    assert "FIFO refused" in refused(deb, place)


@pytest.mark.skipif(not IS_ROOT, reason="mknod needs root")
def test_char_device_allowed(place: dict[str, Path]) -> None:
    deb = hand_deb(place["tmp"] / "dev.deb",
                   [directory("./"), entry("./dev-null", kind=tarfile.CHRTYPE, mode=0o666)])
    try:
        unpack_deb(deb, place["root"], limits=UnpackLimits(allow_devices=True))
    except PermissionError:
        pytest.skip("no CAP_MKNOD here")
    made = (place["root"] / "dev-null").lstat()
    assert stat.S_ISCHR(made.st_mode) and made.st_rdev == os.makedev(1, 3)


def test_size_bomb(place: dict[str, Path]) -> None:
    deb = hand_deb(place["tmp"] / "bomb.deb",
                   [*benign(), entry("./usr/share/new/zeros", size=100 * 1024 * 1024)])
    assert deb.stat().st_size < 1024 * 1024
    message = refused(deb, place, limits=UnpackLimits(max_file=1024 * 1024))
    assert "exceeds the limit of 1048576 bytes" in message


def test_total_size_bomb(place: dict[str, Path]) -> None:
    entries = [*benign()] + [entry(f"./usr/share/new/z{i}", size=600 * 1024)
                             for i in range(3)]
    deb = hand_deb(place["tmp"] / "total.deb", entries)
    message = refused(deb, place, limits=UnpackLimits(max_total=1024 * 1024))
    assert "files total more than 1048576 bytes" in message


def test_too_many_members(place: dict[str, Path]) -> None:
    entries = [*benign()] + [entry(f"./usr/share/new/f{i}", b"x") for i in range(10)]
    deb = hand_deb(place["tmp"] / "many.deb", entries)
    assert "more than 8 members" in refused(deb, place, limits=UnpackLimits(max_members=8))


def test_directory_over_file_refused(place: dict[str, Path]) -> None:
    deb = hand_deb(place["tmp"] / "dirfile.deb",
                   [*benign(), directory("./usr/share/other/")])
    assert "would replace file /usr/share/other with a directory" in refused(deb, place)


def test_xattrs_best_effort(place: dict[str, Path]) -> None:
    info, data = entry("./tagged", b"x")
    info.pax_headers = {"SCHILY.xattr.user.unessential": "yes"}
    deb = hand_deb(place["tmp"] / "xattr.deb", [directory("./"), (info, data)],
                   fmt=tarfile.PAX_FORMAT)
    unpack_deb(deb, place["root"])
    tagged = place["root"] / "tagged"
    assert tagged.read_bytes() == b"x"
    try:
        value = os.getxattr(tagged, "user.unessential")
    except OSError:
        return  # the filesystem does not keep user xattrs: best effort
    assert value == b"yes"


def test_outside_untouched_after_all(place: dict[str, Path]) -> None:
    # Sanity check of the fixture itself: the sentinel survives and is the only file.
    assert sorted(os.listdir(place["outside"])) == ["keep"]
    shutil.rmtree(place["root"])
