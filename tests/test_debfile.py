"""The .deb reader and deterministic writer, against dpkg-deb and hand-made hostile input.

Real tools only: packages are built by `dpkg-deb --build` and what we write is read back
by `dpkg-deb`. Hostile packages are assembled here by hand (tarfile + a tiny ar writer
following ar(5)), so that each check of the reader is exercised on its own.
"""

from __future__ import annotations

import hashlib
import io
import lzma
import os
import random
import shutil
import stat
import subprocess
import tarfile
import zlib
from pathlib import Path

import pytest
import zstandard

from archive.debfile import (
    ControlMember,
    DebFile,
    clamp_mtime,
    data_listing,
    deb_bytes,
    read_deb,
    read_deb_bytes,
    write_deb,
)
from base.errors import FormatError

pytestmark = pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb")

MTIME = 1_700_000_000
MiB = 1024 * 1024
DPKG_COMPRESSIONS = ["xz", "gzip", "zstd", "none"]
EXT = {"xz": ".xz", "gzip": ".gz", "zstd": ".zst", "none": ""}
OUR_COMPRESSIONS = ["xz", "gz", "zst", "none"]

CONTROL = """\
Package: foo
Version: 1.2-3
Architecture: all
Maintainer: Test <test@example.org>
Depends: libc6 (>= 2.36), perl-base
Description: a test package
 with a long description line.
"""
POSTINST = "#!/bin/sh\nset -e\nif [ \"$1\" = configure ]; then\n    ldconfig\nfi\n"
PRERM = "#!/bin/sh\nset -e\nexit 0\n"
TRIGGERS = "interest-noawait /usr/share/foo\n"


# ---------------------------------------------------------------------------------
# helpers


def run(*args: str | Path, cwd: Path | None = None) -> str:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "SOURCE_DATE_EPOCH": str(MTIME)})
    assert done.returncode == 0, f"{args}: {done.stderr}"
    return done.stdout


def ar_pack(members: list[tuple[str, bytes]], *, magic: bytes = b"!<arch>\n") -> bytes:
    """An ar(5) archive: global header, 60-byte member headers, even padding."""
    out = bytearray(magic)
    for name, body in members:
        out += f"{name:<16}{0:<12}{0:<6}{0:<6}{'100644':<8}{len(body):<10}`\n".encode()
        out += body
        if len(body) % 2:
            out += b"\n"
    return bytes(out)


def ar_parse(blob: bytes) -> list[tuple[bytes, bytes]]:
    """(60-byte header, body) of each member, the test's own reading of ar(5)."""
    assert blob[:8] == b"!<arch>\n"
    pos, members = 8, []
    while pos < len(blob):
        header = blob[pos:pos + 60]
        size = int(header[48:58])
        members.append((header, blob[pos + 60:pos + 60 + size]))
        pos += 60 + size + size % 2
    assert pos == len(blob)
    return members


def tar_entry(name: str, data: bytes = b"", *, kind: bytes = tarfile.REGTYPE,
              mode: int = 0o644, linkname: str = "") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.linkname = linkname
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    return info, data


def make_tar(entries: list[tuple[tarfile.TarInfo, bytes]],
             fmt: int = tarfile.GNU_FORMAT) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=fmt) as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if info.type == tarfile.REGTYPE else None)
    return out.getvalue()


def good_entries() -> list[tuple[tarfile.TarInfo, bytes]]:
    return [tar_entry(".", kind=tarfile.DIRTYPE, mode=0o755),
            tar_entry("./control", CONTROL.encode())]


def hand_deb(control_tar: bytes, *, control_name: str = "control.tar",
             version: bytes = b"2.0\n", data_name: str = "data.tar",
             data: bytes | None = None) -> bytes:
    if data is None:
        data = make_tar([tar_entry(".", kind=tarfile.DIRTYPE, mode=0o755)])
    return ar_pack([("debian-binary", version), (control_name, control_tar),
                    (data_name, data)])


def refused(blob: bytes, name: str = "evil_1.0_all.deb") -> str:
    with pytest.raises(FormatError) as caught:
        read_deb_bytes(blob, name)
    message = str(caught.value)
    assert message.startswith(f"{name}: "), message
    assert "\n" not in message
    return message


def tree(root: Path) -> dict[str, tuple[str, int, bytes]]:
    """Path → (type, permission bits, content or link target) of a directory tree."""
    found: dict[str, tuple[str, int, bytes]] = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        rel = path.relative_to(root).as_posix()
        if stat.S_ISLNK(st.st_mode):
            found[rel] = ("l", 0, os.readlink(path).encode())
        elif stat.S_ISDIR(st.st_mode):
            found[rel] = ("d", stat.S_IMODE(st.st_mode), b"")
        else:
            found[rel] = ("f", stat.S_IMODE(st.st_mode), path.read_bytes())
    return found


# ---------------------------------------------------------------------------------
# packages built by dpkg-deb


@pytest.fixture(scope="module")
def source_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pkg") / "foo"
    files = {
        "etc/foo.conf": b"setting = 1\n",
        "usr/bin/foo": b"#!/bin/sh\necho foo\n",
        "usr/share/doc/foo/README": b"read me\n" * 100,
    }
    for rel, body in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(body)
    (root / "usr/bin/foo").chmod(0o755)
    (root / "usr/bin/foo-link").symlink_to("foo")
    os.link(root / "usr/share/doc/foo/README", root / "usr/share/doc/foo/README.hard")
    debian = root / "DEBIAN"
    debian.mkdir()
    (debian / "control").write_text(CONTROL)
    (debian / "postinst").write_text(POSTINST)
    (debian / "prerm").write_text(PRERM)
    (debian / "postinst").chmod(0o755)
    (debian / "prerm").chmod(0o755)
    (debian / "conffiles").write_text("/etc/foo.conf\n")
    (debian / "triggers").write_text(TRIGGERS)
    md5 = "".join(f"{hashlib.md5(body).hexdigest()}  {rel}\n"
                  for rel, body in sorted(files.items()) if not rel.startswith("etc/"))
    (debian / "md5sums").write_text(md5)
    return root


@pytest.fixture(scope="module")
def built(source_tree: Path) -> dict[str, Path]:
    out = source_tree.parent / "built"
    out.mkdir()
    debs = {}
    for z in DPKG_COMPRESSIONS:
        debs[z] = out / f"foo_1.2-3_all.{z}.deb"
        run("dpkg-deb", "--root-owner-group", f"-Z{z}", "--build", source_tree, debs[z])
    return debs


@pytest.mark.parametrize("z", DPKG_COMPRESSIONS)
def test_reads_members_and_modes(built: dict[str, Path], source_tree: Path, z: str) -> None:
    deb = read_deb(built[z])
    assert deb.control_name == "control.tar" + EXT[z]
    assert deb.data_name == "data.tar" + EXT[z]
    assert sorted(deb.members) == ["conffiles", "control", "md5sums", "postinst", "prerm",
                                   "triggers"]
    for name, member in deb.members.items():
        assert member.name == name
        assert member.data == (source_tree / "DEBIAN" / name).read_bytes()
        assert member.mode == (0o755 if name in ("postinst", "prerm") else 0o644)
    assert deb.data == run_bytes("ar", "p", built[z], deb.data_name)
    assert deb.origin == str(built[z])
    assert read_deb_bytes(built[z].read_bytes(), "x.deb") == deb


def run_bytes(*args: str | Path) -> bytes:
    return subprocess.run([str(a) for a in args], capture_output=True, check=True).stdout


@pytest.mark.parametrize("z", DPKG_COMPRESSIONS)
def test_data_listing(built: dict[str, Path], z: str) -> None:
    listing = data_listing(read_deb(built[z]))
    assert listing[0] == (".", "d", 0)
    entries = {path: (kind, size) for path, kind, size in listing}
    assert entries["etc/foo.conf"] == ("f", 12)
    assert entries["usr/bin/foo"] == ("f", 19)
    assert entries["usr/bin/foo-link"] == ("l", 0)
    assert entries["usr/share/doc/foo"] == ("d", 0)
    docs = {entries["usr/share/doc/foo/README"], entries["usr/share/doc/foo/README.hard"]}
    assert docs == {("f", 800), ("h", 0)}
    assert len(listing) == len(entries) == 12


@pytest.fixture(scope="module")
def unpacked(built: dict[str, Path]) -> dict[str, tuple[str, dict, dict]]:
    """What dpkg-deb says about the original packages: --contents, -e tree, -x tree."""
    seen = {}
    for z, path in built.items():
        work = path.parent / f"unpacked-{z}"
        work.mkdir()
        run("dpkg-deb", "-e", path, work / "control")
        run("dpkg-deb", "-x", path, work / "data")
        seen[z] = (run("dpkg-deb", "--contents", path), tree(work / "control"),
                   tree(work / "data"))
    return seen


@pytest.mark.parametrize("compression", OUR_COMPRESSIONS)
@pytest.mark.parametrize("z", DPKG_COMPRESSIONS)
def test_round_trip_through_dpkg_deb(built: dict[str, Path], unpacked: dict,
                                     tmp_path: Path, z: str, compression: str) -> None:
    deb = read_deb(built[z])
    out = tmp_path / "foo_1.2-3_all.deb"
    write_deb(deb, out, mtime=MTIME, compression=compression)

    info = run("dpkg-deb", "--info", out)
    assert "new Debian package, version 2.0." in info
    assert " Package: foo\n" in info and " Depends: libc6 (>= 2.36), perl-base\n" in info
    assert run("dpkg-deb", "--field", out, "Package") == "foo\n"
    contents, control_tree, data_tree = unpacked[z]
    assert run("dpkg-deb", "--contents", out) == contents
    run("dpkg-deb", "-e", out, tmp_path / "control")
    run("dpkg-deb", "-x", out, tmp_path / "data")
    assert tree(tmp_path / "control") == control_tree
    assert tree(tmp_path / "data") == data_tree

    # ar: debian-binary, control.tar.<ext>, the data member byte for byte; fixed headers
    ext = {"xz": ".xz", "gz": ".gz", "zst": ".zst", "none": ""}[compression]
    members = ar_parse(out.read_bytes())
    names = [header[:16].decode().rstrip() for header, _ in members]
    assert names == ["debian-binary", "control.tar" + ext, deb.data_name]
    for header, _ in members:
        assert header[16:48].decode().split() == [str(MTIME), "0", "0", "100644"]
    assert members[0][1] == b"2.0\n"
    assert members[2][1] == deb.data

    # the rebuilt control archive: "./" first, sorted members, root-owned, one mtime
    control = members[1][1]
    if compression == "zst":  # tarfile has no zstd
        control = zstandard.ZstdDecompressor().stream_reader(control).read()
    with tarfile.open(fileobj=io.BytesIO(control), mode="r:*") as tar:
        infos = tar.getmembers()
    assert [i.name for i in infos] == [".", "./conffiles", "./control", "./md5sums",
                                       "./postinst", "./prerm", "./triggers"]
    assert infos[0].isdir() and infos[0].mode == 0o755
    for i in infos:
        assert (i.uid, i.gid, i.uname, i.gname, i.mtime) == (0, 0, "root", "root", MTIME)
        assert not i.pax_headers
    again = read_deb(out)
    assert (again.members, again.data_name, again.data) == (deb.members, deb.data_name,
                                                            deb.data)
    assert again.control_name == "control.tar" + ext


@pytest.mark.parametrize("compression", OUR_COMPRESSIONS)
def test_writing_is_deterministic(built: dict[str, Path], tmp_path: Path,
                                  compression: str) -> None:
    first, second = read_deb(built["xz"]), read_deb(built["xz"])
    a = deb_bytes(first, mtime=MTIME, compression=compression)
    assert deb_bytes(first, mtime=MTIME, compression=compression) == a
    assert deb_bytes(second, mtime=MTIME, compression=compression) == a
    write_deb(first, tmp_path / "one.deb", mtime=MTIME, compression=compression)
    write_deb(second, tmp_path / "two.deb", mtime=MTIME, compression=compression)
    assert (tmp_path / "one.deb").read_bytes() == (tmp_path / "two.deb").read_bytes() == a
    assert deb_bytes(first, mtime=MTIME + 1, compression=compression) != a
    # members are sorted on output, whatever order they were given in
    shuffled = DebFile(members=dict(reversed(first.members.items())),
                       data_name=first.data_name, data=first.data,
                       control_name="control.tar.gz")
    assert deb_bytes(shuffled, mtime=MTIME, compression=compression) == a
    # reading what we wrote and writing it again changes nothing
    assert deb_bytes(read_deb_bytes(a, "a.deb"), mtime=MTIME, compression=compression) == a


def test_default_compression_is_xz(built: dict[str, Path]) -> None:
    deb = read_deb(built["none"])
    blob = deb_bytes(deb, mtime=0)
    assert [h[:16].strip() for h, _ in ar_parse(blob)][1] == b"control.tar.xz"
    assert blob == deb_bytes(deb, mtime=0, compression="xz")


def test_edited_control_round_trips(built: dict[str, Path], tmp_path: Path) -> None:
    deb = read_deb(built["zstd"])
    deb.members["control"] = ControlMember(
        "control", CONTROL.replace(", perl-base", "").encode(), 0o644)
    deb.members["postinst"] = ControlMember("postinst", b"#!/bin/sh\nexit 0\n", 0o755)
    del deb.members["prerm"]
    out = tmp_path / "edited.deb"
    write_deb(deb, out, mtime=MTIME)
    assert run("dpkg-deb", "--field", out, "Depends") == "libc6 (>= 2.36)\n"
    run("dpkg-deb", "-e", out, tmp_path / "control")
    assert sorted(p.name for p in (tmp_path / "control").iterdir()) == [
        "conffiles", "control", "md5sums", "postinst", "triggers"]
    assert stat.S_IMODE((tmp_path / "control/postinst").stat().st_mode) == 0o755


# ---------------------------------------------------------------------------------
# atomic writing


def test_write_leaves_only_the_target(built: dict[str, Path], tmp_path: Path) -> None:
    deb = read_deb(built["xz"])
    target = tmp_path / "foo.deb"
    target.write_bytes(b"old")
    write_deb(deb, target, mtime=MTIME)
    assert [p.name for p in tmp_path.iterdir()] == ["foo.deb"]
    assert target.read_bytes() == deb_bytes(deb, mtime=MTIME)


def test_failed_write_leaves_nothing(built: dict[str, Path], tmp_path: Path) -> None:
    deb = read_deb(built["xz"])
    broken = DebFile(members={k: v for k, v in deb.members.items() if k != "control"},
                     data_name=deb.data_name, data=deb.data, control_name=deb.control_name)
    with pytest.raises(ValueError, match="'control'"):
        write_deb(broken, tmp_path / "foo.deb", mtime=MTIME)
    with pytest.raises(ValueError, match="compression"):
        write_deb(deb, tmp_path / "foo.deb", mtime=MTIME, compression="bz2")
    with pytest.raises(ValueError, match="mtime"):
        write_deb(deb, tmp_path / "foo.deb", mtime=-1)
    (tmp_path / "dir.deb").mkdir()  # os.replace onto a directory fails after the write
    with pytest.raises(OSError):
        write_deb(deb, tmp_path / "dir.deb", mtime=MTIME)
    assert [p.name for p in tmp_path.iterdir()] == ["dir.deb"]
    assert list((tmp_path / "dir.deb").iterdir()) == []
    with pytest.raises(OSError):
        write_deb(deb, tmp_path / "missing" / "foo.deb", mtime=MTIME)


@pytest.mark.parametrize("bad", ["", ".", "..", "a/b", "./control"])
def test_writer_refuses_bad_member_names(built: dict[str, Path], bad: str) -> None:
    deb = read_deb(built["xz"])
    deb.members[bad] = ControlMember(bad, b"x", 0o644)
    with pytest.raises(ValueError, match="name"):
        deb_bytes(deb, mtime=MTIME)


def test_clamp_mtime() -> None:
    assert clamp_mtime(None, 1234) == 1234
    assert clamp_mtime(1000, 1234) == 1000
    assert clamp_mtime(2000, 1234) == 1234
    assert clamp_mtime(None, -5) == 0


# ---------------------------------------------------------------------------------
# hostile control archives


HOSTILE = {
    "absolute": ([tar_entry("/etc/passwd", b"root::0:0::/:/bin/sh\n")],
                 "member '/etc/passwd' has an absolute path"),
    "dotdot": ([tar_entry("../x", b"x")], "member '../x' escapes the control archive"),
    "dot-dotdot": ([tar_entry("./../x", b"x")], "member './../x' escapes the control archive"),
    "inner-dotdot": ([tar_entry("./a/../../x", b"x")],
                     "member './a/../../x' escapes the control archive"),
    "subdir-file": ([tar_entry("sub/dir/file", b"x")],
                    "member 'sub/dir/file' is not at the top level"),
    "subdir": ([tar_entry("./sub", kind=tarfile.DIRTYPE, mode=0o755)],
               "member './sub' is a directory"),
    "symlink": ([tar_entry("./postinst", kind=tarfile.SYMTYPE, linkname="/etc/shadow")],
                "member './postinst' is a symbolic link, not a regular file"),
    "hardlink": ([tar_entry("./config", kind=tarfile.LNKTYPE, linkname="./control")],
                 "member './config' is a hard link"),
    "chardev": ([tar_entry("./null", kind=tarfile.CHRTYPE)],
                "member './null' is a character device"),
    "blockdev": ([tar_entry("./sda", kind=tarfile.BLKTYPE)],
                 "member './sda' is a block device"),
    "fifo": ([tar_entry("./pipe", kind=tarfile.FIFOTYPE)], "member './pipe' is a FIFO"),
    "duplicate": ([tar_entry("control", b"Package: other\n")],
                  "member 'control' appears twice"),
    "dot-file": ([tar_entry(".", b"x")], "member '.' is not at the top level"),
    "newline": ([tar_entry("./a\nb/c", b"x")], "member './a\\x0ab/c' is not at the top"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_control_members(tmp_path: Path, case: str) -> None:
    entries, expected = HOSTILE[case]
    blob = hand_deb(make_tar(good_entries() + entries), control_name="control.tar")
    message = refused(blob)
    assert f"control.tar {expected}" in message, message
    path = tmp_path / "evil.deb"
    path.write_bytes(blob)
    with pytest.raises(FormatError, match=f"^{path}: control.tar member"):
        read_deb(path)


def test_hostile_name_in_pax_header() -> None:
    name = "../" + "a" * 150  # too long for ustar: tarfile stores it in a pax header
    tar = make_tar(good_entries() + [tar_entry(name, b"x")], fmt=tarfile.PAX_FORMAT)
    xz = lzma.compress(tar)
    message = refused(hand_deb(xz, control_name="control.tar.xz"))
    assert f"control.tar.xz member '{name}' escapes the control archive" in message


def test_missing_control_member() -> None:
    tar = make_tar([tar_entry(".", kind=tarfile.DIRTYPE), tar_entry("./postinst", b"x")])
    assert refused(hand_deb(tar)).endswith("control.tar has no 'control' member")
    empty = make_tar([])
    assert refused(hand_deb(empty)).endswith("control.tar has no 'control' member")


def test_accepts_plain_names_and_ignorable_members() -> None:
    tar = make_tar([tar_entry("control", CONTROL.encode()),
                    tar_entry("postinst", b"#!/bin/sh\n", mode=0o4755)])
    data = make_tar([tar_entry(".", kind=tarfile.DIRTYPE)])
    blob = ar_pack([("debian-binary/", b"2.0\n"), ("_extra", b"abc"),
                    ("control.tar/", tar), ("_more", b""), ("data.tar", data),
                    ("trailing", b"ignored")])
    deb = read_deb_bytes(blob, "ok.deb")
    assert deb.members["postinst"] == ControlMember("postinst", b"#!/bin/sh\n", 0o755)
    assert (deb.control_name, deb.data_name, deb.data) == ("control.tar", "data.tar", data)


# ---------------------------------------------------------------------------------
# size bombs (generated by streaming compressors: fast, little memory)


def _stream_tar(members: list[tuple[str, int]],
                compressor: lzma.LZMACompressor | zstandard.ZstdCompressionObj) -> bytes:
    """A tar of files of zeros, fed block by block to `compressor`."""
    out = []
    zeros = bytes(MiB)
    for name, size in members:
        info = tarfile.TarInfo(name)
        info.size = size
        out.append(compressor.compress(info.tobuf(tarfile.GNU_FORMAT)))
        left = size
        while left:
            out.append(compressor.compress(zeros[:min(left, MiB)]))
            left -= min(left, MiB)
        out.append(compressor.compress(bytes(-size % 512)))
    out.append(compressor.compress(bytes(1024)))
    out.append(compressor.flush())
    return b"".join(out)


def test_size_bomb_200_mib_in_control_tar_xz() -> None:
    bomb = _stream_tar([("./control", 200 * MiB)],
                       lzma.LZMACompressor(lzma.FORMAT_XZ, preset=0))
    assert len(bomb) < 64 * 1024
    message = refused(hand_deb(bomb, control_name="control.tar.xz"))
    assert message.endswith("control.tar.xz decompresses to more than 64 MiB "
                            "(refused as a decompression bomb)")


def test_control_tar_over_64_mib_in_members_under_16() -> None:
    members = [(f"./f{i}", 15 * MiB) for i in range(5)]
    bomb = _stream_tar(members, zstandard.ZstdCompressor(level=1).compressobj())
    message = refused(hand_deb(bomb, control_name="control.tar.zst"))
    assert "control.tar.zst decompresses to more than 64 MiB" in message


@pytest.mark.parametrize("ext", ["", ".gz"])
def test_member_over_16_mib(ext: str) -> None:
    tar = make_tar(good_entries() + [tar_entry("./templates", bytes(17 * MiB))])
    if ext == ".gz":
        compressor = zlib.compressobj(1, zlib.DEFLATED, 31)
        tar = compressor.compress(tar) + compressor.flush()
    message = refused(hand_deb(tar, control_name="control.tar" + ext))
    assert message.endswith(f"control.tar{ext} member './templates' is larger than 16 MiB")


# ---------------------------------------------------------------------------------
# broken containers and streams


def test_wrong_format_version() -> None:
    tar = make_tar(good_entries())
    assert refused(hand_deb(tar, version=b"3.0\n")).endswith(
        "unsupported package format version '3.0' (expected 2.0)")
    assert "format version" in refused(hand_deb(tar, version=b"2.0"))


@pytest.mark.parametrize(("members", "expected"), [
    ([], "empty ar archive (no debian-binary member)"),
    ([("control.tar", b"")], "first member is 'control.tar', not 'debian-binary'"),
    ([("debian-binary", b"2.0\n")], "no control.tar member"),
    ([("debian-binary", b"2.0\n"), ("_x", b"")], "no control.tar member"),
    ([("debian-binary", b"2.0\n"), ("data.tar", b"")],
     "unexpected member 'data.tar' where control.tar was expected"),
    ([("debian-binary", b"2.0\n"), ("control.tar.bz2", b"")],
     "unsupported compression of 'control.tar.bz2'"),
    ([("debian-binary", b"2.0\n"), ("control.tar", b"")], "no data.tar member"),
    ([("debian-binary", b"2.0\n"), ("control.tar", b""), ("data.tar.lz4", b"")],
     "unsupported compression of 'data.tar.lz4'"),
])
def test_broken_ar_structure(members: list[tuple[str, bytes]], expected: str) -> None:
    assert expected in refused(ar_pack(members))


def test_corrupt_ar_header() -> None:
    blob = bytearray(hand_deb(make_tar(good_entries())))
    blob[8 + 58] = ord("x")
    assert refused(bytes(blob)).endswith("corrupt ar member header at offset 8")
    blob = bytearray(hand_deb(make_tar(good_entries())))
    blob[8 + 48:8 + 58] = b"-1        "
    assert "corrupt size of ar member 'debian-binary'" in refused(bytes(blob))


@pytest.mark.parametrize("ext", [".gz", ".xz", ".zst"])
def test_truncated_compressed_control(ext: str) -> None:
    tar = make_tar(good_entries() + [tar_entry("./md5sums", os.urandom(20000))])
    packed = {".gz": _gzip, ".xz": lzma.compress,
              ".zst": zstandard.ZstdCompressor().compress}[ext](tar)
    for cut in (len(packed) // 2, len(packed) - 1, 10):
        message = refused(hand_deb(packed[:cut], control_name="control.tar" + ext))
        assert f"control.tar{ext}" in message
        assert "truncated" in message or "corrupt" in message, message


def _gzip(data: bytes) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
    return compressor.compress(data) + compressor.flush()


def test_garbage_after_a_tar_member() -> None:
    tar = bytearray(make_tar(good_entries() + [tar_entry("./postinst", b"x" * 600)]))
    end = 512 * 2 + 512 + 512 + 512 + 1024  # dir, control (1 block), header, data (2)
    tar[end:end + 512] = b"\x01" * 512  # a damaged header where the next would start
    assert "corrupt control.tar: damaged tar header at offset" in refused(hand_deb(bytes(tar)))


@pytest.mark.parametrize("z", DPKG_COMPRESSIONS)
def test_truncated_deb(built: dict[str, Path], tmp_path: Path, z: str) -> None:
    blob = built[z].read_bytes()
    data_size = len(read_deb_bytes(blob, "x").data)
    keep_pad = data_size % 2  # a missing final padding byte is tolerated, like dpkg
    for cut in range(0, len(blob) - keep_pad, max(1, len(blob) // 300)):
        message = refused(blob[:cut], "foo.deb")
        assert "truncated" in message or "no ar archive" in message or "no " in message
    path = tmp_path / "cut.deb"
    path.write_bytes(blob[:blob.index(b"data.tar") + 60 + data_size // 2])
    with pytest.raises(FormatError, match=f"^{path}: truncated member 'data.tar"):
        read_deb(path)


def test_random_bytes() -> None:
    rng = random.Random(20240601)
    for size in (0, 1, 7, 8, 60, 68, 512, 4096):
        refused(rng.randbytes(size))
        refused(b"!<arch>\n" + rng.randbytes(size))
        assert "control.tar.xz" in refused(hand_deb(rng.randbytes(size + 1),
                                                    control_name="control.tar.xz"))


@pytest.mark.parametrize("z", DPKG_COMPRESSIONS)
def test_flipped_bytes_give_format_errors_only(built: dict[str, Path], z: str) -> None:
    """Damage anywhere before the data member: a clean read or a FormatError, nothing else."""
    blob = built[z].read_bytes()
    control_end = blob.index(b"data.tar")
    rng = random.Random(z)
    for pos in range(0, control_end, max(1, control_end // 1500)):
        damaged = bytearray(blob)
        damaged[pos] ^= 1 << rng.randrange(8)
        try:
            read_deb_bytes(bytes(damaged), "flip.deb")
        except FormatError as exc:
            assert str(exc).startswith("flip.deb: ")


def test_corrupt_data_listing(built: dict[str, Path]) -> None:
    deb = read_deb(built["xz"])
    deb.data = deb.data[: len(deb.data) // 2]
    with pytest.raises(FormatError, match=f"^{built['xz']}: .*data.tar.xz"):
        data_listing(deb)
