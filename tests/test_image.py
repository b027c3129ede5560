"""Image writers: deterministic layers, OCI layout and docker archive, read by real tools.

What we write is read back by GNU tar, gzip, skopeo and umoci (run as root: umoci
unpacks owners, setuid bits and device nodes as they are in the layer).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import random
import shutil
import socket
import stat
import subprocess
import tarfile
from pathlib import Path

import pytest

from bootstrap.layer import (
    ImageError,
    write_gzip_layer,
    write_layer,
    write_rootfs_tar,
)
from bootstrap.model import ImageConfig
from bootstrap.oci import write_docker_archive, write_oci_archive, write_oci_dir

MTIME = 1_700_000_000
OLD = 1_000_000_000  # earlier than MTIME: kept as it is
LONG = "usr/share/" + "/".join(["a-rather-long-directory-name"] * 4) + "/file.txt"
CONFIG = ImageConfig(
    entrypoint=("/usr/bin/tool",), cmd=("--help",), user="1000:1000", workdir="/srv",
    labels={"org.opencontainers.image.title": "demo"}, created=MTIME, tag="v1",
    name="unessential/demo",
)

needs_skopeo = pytest.mark.skipif(shutil.which("skopeo") is None, reason="needs skopeo")
needs_umoci = pytest.mark.skipif(shutil.which("umoci") is None, reason="needs umoci")
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="umoci unpack of owners needs root")


# ---------------------------------------------------------------------------------
# helpers


def run(*args: str | Path) -> str:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True)
    assert done.returncode == 0, f"{args}: {done.stderr}"
    return done.stdout


def _steps(root: Path) -> list:
    """How to build the sample tree, one step per path, in an order that may be reversed."""

    def file(rel: str, body: bytes, mode: int = 0o644):
        def make() -> None:
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(body)
            os.chmod(path, mode)
        return make

    def device() -> None:
        (root / "dev").mkdir(exist_ok=True)
        try:
            os.mknod(root / "dev/null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
            os.chmod(root / "dev/null", 0o666)
        except PermissionError:  # no CAP_MKNOD here: the tree simply has no device
            pass

    def others() -> None:
        (root / "usr/bin").mkdir(parents=True, exist_ok=True)
        os.link(root / "usr/bin/tool", root / "usr/bin/tool-hard")
        os.symlink("usr/bin", root / "bin")
        (root / "var/tmp").mkdir(parents=True, exist_ok=True)
        os.chmod(root / "var/tmp", 0o1777)
        (root / "empty").mkdir()
        (root / "run").mkdir()
        os.mkfifo(root / "run/fifo", 0o600)
        os.chown(root / "home/user/notes", 1000, 1000)
        os.utime(root / "etc/old", (OLD, OLD))
        with contextlib.suppress(OSError):  # tmpfs before Linux 6.6 has no user xattrs
            os.setxattr(root / "etc/hostname", "user.origin", b"unessential")

    big = random.Random(7).randbytes(3 << 20)  # larger than any copy buffer
    return [
        file("etc/hostname", b"image\n"),
        file("etc/old", b"old\n"),
        file("usr/bin/tool", b"#!/bin/sh\necho tool\n", 0o755),
        file("usr/bin/su-ish", b"\x7fELF-ish\n", 0o4755),
        file("usr/lib/big.bin", big),
        file("home/user/notes", b"notes\n", 0o600),
        file(LONG, b"long\n"),
        file("usr/share/ünïcode.txt", "ünïcode\n".encode()),
        others,
        device,
    ]


def build_tree(root: Path, *, reverse: bool, disk_mtime: int) -> Path:
    """The sample tree; `reverse` changes creation order, `disk_mtime` the mtimes.

    (On ext4 readdir follows a name hash, not creation order: `tar -tf` order is checked
    separately against the sorted names.)
    """
    root.mkdir(parents=True)
    steps = _steps(root)
    files, rest = steps[:-2], steps[-2:]
    for step in [*(reversed(files) if reverse else files), *rest]:
        step()
    for path in root.rglob("*"):
        if path.name != "old" and not path.is_symlink():
            os.utime(path, (disk_mtime, disk_mtime))
    os.utime(root, (disk_mtime, disk_mtime))
    return root


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return build_tree(tmp_path / "tree", reverse=False, disk_mtime=MTIME + 5000)


@pytest.fixture
def twin(tmp_path: Path) -> Path:
    return build_tree(tmp_path / "twin", reverse=True, disk_mtime=MTIME + 99_000)


def layer_bytes(root: Path, mtime: int | None = MTIME) -> bytes:
    out = io.BytesIO()
    info = write_layer(root, out, mtime=mtime)
    data = out.getvalue()
    assert info.digest == f"sha256:{hashlib.sha256(data).hexdigest()}"
    assert info.size == len(data)
    return data


def has_xattr(root: Path) -> bool:
    return "user.origin" in os.listxattr(root / "etc/hostname")


def members_of(data: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name: m for m in tar}


def expected_names(root: Path) -> list[str]:
    names = []
    for path in root.rglob("*"):
        rel = path.relative_to(root).as_posix()
        names.append(rel + "/" if path.is_dir() and not path.is_symlink() else rel)
    return sorted(names, key=os.fsencode)


def unpack_outer(archive: Path, into: Path) -> Path:
    into.mkdir()
    run("tar", "-xf", archive, "-C", into)
    return into


def compare_trees(source: Path, unpacked: Path) -> None:
    """Same paths, types, modes, owners, contents, link targets and hard links."""
    names = expected_names(source)
    assert expected_names(unpacked) == names
    for name in names:
        a, b = os.lstat(source / name), os.lstat(unpacked / name)
        assert stat.S_IFMT(a.st_mode) == stat.S_IFMT(b.st_mode), name
        assert (a.st_uid, a.st_gid) == (b.st_uid, b.st_gid), name
        if stat.S_ISLNK(a.st_mode):
            assert os.readlink(source / name) == os.readlink(unpacked / name)
            continue
        assert stat.S_IMODE(a.st_mode) == stat.S_IMODE(b.st_mode), name
        if stat.S_ISREG(a.st_mode):
            assert (source / name).read_bytes() == (unpacked / name).read_bytes(), name
        if stat.S_ISCHR(a.st_mode):
            assert a.st_rdev == b.st_rdev
    assert os.path.samefile(unpacked / "usr/bin/tool", unpacked / "usr/bin/tool-hard")


# ---------------------------------------------------------------------------------
# layer


def test_layer_is_byte_identical_for_trees_built_differently(tree: Path, twin: Path):
    assert layer_bytes(tree) == layer_bytes(twin)
    assert layer_bytes(tree, MTIME) != layer_bytes(tree, MTIME - 1)


def test_layer_members_read_back_by_gnu_tar(tree: Path, tmp_path: Path):
    data = layer_bytes(tree)
    (tmp_path / "layer.tar").write_bytes(data)
    listed = run("tar", "-tf", tmp_path / "layer.tar").splitlines()
    assert listed == expected_names(tree)  # sorted, relative, directories with "/"
    assert not any(name.startswith(("./", "/")) for name in listed)

    members = members_of(data)
    assert members["bin"].issym() and members["bin"].linkname == "usr/bin"
    assert members["usr/bin/tool-hard"].islnk()
    assert members["usr/bin/tool-hard"].linkname == "usr/bin/tool"
    assert members["usr/bin/su-ish"].mode == 0o4755
    assert members["usr/bin/tool"].mode == 0o755
    assert members["var/tmp"].mode == 0o1777
    assert members["run/fifo"].isfifo()
    assert (members["home/user/notes"].uid, members["home/user/notes"].gid) == (1000, 1000)
    assert {m.uname for m in members.values()} == {""}
    assert members["etc/old"].mtime == OLD
    assert {m.mtime for name, m in members.items() if name != "etc/old"} == {MTIME}
    if has_xattr(tree):
        assert members["etc/hostname"].pax_headers == {
            "SCHILY.xattr.user.origin": "unessential"}
    assert members[LONG].size == 5
    if "dev/null" in members:
        assert members["dev/null"].ischr()
        assert (members["dev/null"].devmajor, members["dev/null"].devminor) == (1, 3)


def test_layer_without_clamp_keeps_disk_mtimes(tree: Path):
    members = members_of(layer_bytes(tree, None))
    assert members["etc/hostname"].mtime == MTIME + 5000


def test_layer_keeps_non_utf8_names_and_skips_sockets(tmp_path: Path):
    root = tmp_path / "root"
    root.mkdir()
    (root / os.fsdecode(b"caf\xe9.txt")).write_bytes(b"latin-1 name\n")
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(root / "sock"))
        members = members_of(layer_bytes(root))
    assert list(members) == [os.fsdecode(b"caf\xe9.txt")]


def test_gzip_layer_is_deterministic_gzip_of_the_layer(tree: Path, twin: Path):
    outputs = []
    for root in (tree, twin):
        out = io.BytesIO()
        info = write_gzip_layer(root, out, mtime=MTIME)
        outputs.append(out.getvalue())
    compressed = outputs[0]
    assert outputs[0] == outputs[1]
    plain = gzip.decompress(compressed)
    assert plain == layer_bytes(tree)
    assert info.diff_id == f"sha256:{hashlib.sha256(plain).hexdigest()}"
    assert info.digest == f"sha256:{hashlib.sha256(compressed).hexdigest()}"
    assert (info.size, info.uncompressed_size) == (len(compressed), len(plain))
    assert compressed[3] == 0  # flags: no file name, no comment
    assert compressed[4:8] == b"\0\0\0\0"  # header mtime 0


def test_rootfs_tar_written_atomically(tree: Path, tmp_path: Path):
    target = tmp_path / "out" / "rootfs.tar"
    target.parent.mkdir()
    info = write_rootfs_tar(tree, target, mtime=MTIME)
    assert target.read_bytes() == layer_bytes(tree)
    assert info.size == target.stat().st_size
    assert sorted(p.name for p in target.parent.iterdir()) == ["rootfs.tar"]


# ---------------------------------------------------------------------------------
# OCI


def test_oci_archive_is_reproducible(tree: Path, twin: Path, tmp_path: Path):
    first = write_oci_archive(tree, CONFIG, tmp_path / "a.tar", mtime=MTIME)
    second = write_oci_archive(twin, CONFIG, tmp_path / "b.tar", mtime=MTIME)
    assert first == second
    assert first.startswith("sha256:") and len(first) == 71
    assert (tmp_path / "a.tar").read_bytes() == (tmp_path / "b.tar").read_bytes()
    third = write_oci_archive(tree, CONFIG, tmp_path / "c.tar", mtime=MTIME - 1)
    assert third != first


def test_oci_archive_layout(tree: Path, tmp_path: Path):
    digest = write_oci_archive(tree, CONFIG, tmp_path / "img.tar", mtime=MTIME)
    with tarfile.open(tmp_path / "img.tar") as tar:
        members = tar.getmembers()
        names = [m.name for m in members]
        assert names == sorted(names)
        assert {(m.uid, m.gid, m.mtime) for m in members} == {(0, 0, MTIME)}
        read = {m.name: tar.extractfile(m).read() for m in members if m.isfile()}
    assert json.loads(read["oci-layout"]) == {"imageLayoutVersion": "1.0.0"}
    for name, body in read.items():  # every blob is named by its digest
        if name.startswith("blobs/sha256/"):
            assert hashlib.sha256(body).hexdigest() == name.rsplit("/", 1)[1]
    index = json.loads(read["index.json"])
    assert read["index.json"] == json.dumps(index, sort_keys=True,
                                            separators=(",", ":")).encode()
    [entry] = index["manifests"]
    assert entry["digest"] == digest
    assert entry["annotations"] == {"org.opencontainers.image.ref.name": "v1"}
    manifest = json.loads(read[f"blobs/sha256/{digest[7:]}"])
    assert manifest["schemaVersion"] == 2
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    [layer] = manifest["layers"]
    assert layer["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip"
    config = json.loads(read[f"blobs/sha256/{manifest['config']['digest'][7:]}"])
    diff = hashlib.sha256(gzip.decompress(read[f"blobs/sha256/{layer['digest'][7:]}"]))
    assert config["rootfs"] == {"type": "layers", "diff_ids": [f"sha256:{diff.hexdigest()}"]}
    assert config["created"] == "2023-11-14T22:13:20Z"
    assert len(config["history"]) == 1


@needs_skopeo
def test_skopeo_reads_the_oci_archive(tree: Path, tmp_path: Path):
    digest = write_oci_archive(tree, CONFIG, tmp_path / "img.tar", mtime=MTIME)
    shown = json.loads(run("skopeo", "inspect", f"oci-archive:{tmp_path / 'img.tar'}:v1"))
    assert shown["Digest"] == digest
    assert (shown["Architecture"], shown["Os"]) == ("amd64", "linux")
    assert shown["Labels"] == {"org.opencontainers.image.title": "demo"}
    config = json.loads(run("skopeo", "inspect", "--config",
                            f"oci-archive:{tmp_path / 'img.tar'}:v1"))["config"]
    assert config["Entrypoint"] == ["/usr/bin/tool"] and config["Cmd"] == ["--help"]
    assert (config["User"], config["WorkingDir"]) == ("1000:1000", "/srv")
    assert config["Env"] == list(CONFIG.env)
    run("skopeo", "copy", f"oci-archive:{tmp_path / 'img.tar'}:v1", f"dir:{tmp_path / 'copy'}")
    assert (tmp_path / "copy" / "manifest.json").is_file()


@needs_skopeo
@needs_umoci
@needs_root
def test_umoci_unpacks_the_same_tree(tree: Path, tmp_path: Path):
    digest = write_oci_archive(tree, CONFIG, tmp_path / "img.tar", mtime=MTIME)
    layout = unpack_outer(tmp_path / "img.tar", tmp_path / "layout")
    assert run("umoci", "ls", "--layout", layout).split() == ["v1"]
    shown = json.loads(run("skopeo", "inspect", f"oci:{layout}:v1"))
    assert shown["Digest"] == digest
    run("umoci", "unpack", "--image", f"{layout}:v1", tmp_path / "bundle")
    rootfs = tmp_path / "bundle" / "rootfs"
    compare_trees(tree, rootfs)
    assert os.lstat(rootfs / "etc/hostname").st_mtime == MTIME
    if has_xattr(tree):
        assert os.getxattr(rootfs / "etc/hostname", "user.origin") == b"unessential"
    runtime = json.loads((tmp_path / "bundle" / "config.json").read_text())
    assert runtime["process"]["args"] == ["/usr/bin/tool", "--help"]
    assert runtime["process"]["cwd"] == "/srv"


@needs_umoci
def test_oci_dir_is_the_same_layout(tree: Path, tmp_path: Path):
    digest = write_oci_dir(tree, CONFIG, tmp_path / "layout", mtime=MTIME)
    assert digest == write_oci_archive(tree, CONFIG, tmp_path / "img.tar", mtime=MTIME)
    assert run("umoci", "ls", "--layout", tmp_path / "layout").split() == ["v1"]
    packed = unpack_outer(tmp_path / "img.tar", tmp_path / "unpacked")
    for path in sorted(packed.rglob("*")):
        twin = tmp_path / "layout" / path.relative_to(packed)
        assert path.is_dir() == twin.is_dir()
        if path.is_file():
            assert path.read_bytes() == twin.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["img.tar", "layout", "tree",
                                                          "unpacked"]


# ---------------------------------------------------------------------------------
# docker archive


@needs_skopeo
def test_docker_archive_read_by_skopeo(tree: Path, twin: Path, tmp_path: Path):
    image_id = write_docker_archive(tree, CONFIG, tmp_path / "d.tar", mtime=MTIME)
    assert write_docker_archive(twin, CONFIG, tmp_path / "e.tar", mtime=MTIME) == image_id
    assert (tmp_path / "d.tar").read_bytes() == (tmp_path / "e.tar").read_bytes()
    with tarfile.open(tmp_path / "d.tar") as tar:
        [entry] = json.loads(tar.extractfile("manifest.json").read())
    assert entry["RepoTags"] == ["unessential/demo:v1"]
    assert entry["Config"] == f"{image_id[7:]}.json"

    source = f"docker-archive:{tmp_path / 'd.tar'}:unessential/demo:v1"
    raw = subprocess.run(["skopeo", "inspect", "--raw", "--config", source],
                         capture_output=True, check=True).stdout
    assert f"sha256:{hashlib.sha256(raw).hexdigest()}" == image_id
    shown = json.loads(run("skopeo", "inspect", source))
    assert shown["Labels"] == {"org.opencontainers.image.title": "demo"}
    assert len(shown["Layers"]) == 1
    # the layer is our uncompressed layer, unchanged
    run("skopeo", "copy", source, f"dir:{tmp_path / 'copy'}")
    layer_digest = json.loads(raw)["rootfs"]["diff_ids"][0]
    copied = (tmp_path / "copy" / layer_digest[7:]).read_bytes()
    assert copied == layer_bytes(tree)


# ---------------------------------------------------------------------------------
# errors: clear exception, nothing left behind


@pytest.mark.parametrize("writer", [write_oci_archive, write_docker_archive, write_oci_dir])
def test_missing_output_directory(writer, tree: Path, tmp_path: Path):
    with pytest.raises(ImageError, match="does not exist"):
        writer(tree, CONFIG, tmp_path / "missing" / "out", mtime=MTIME)
    assert not (tmp_path / "missing").exists()


@pytest.mark.parametrize("writer", [write_oci_archive, write_docker_archive, write_oci_dir])
def test_missing_root(writer, tmp_path: Path):
    with pytest.raises(ImageError, match="root directory does not exist"):
        writer(tmp_path / "nothing", CONFIG, tmp_path / "out", mtime=MTIME)
    assert list(tmp_path.iterdir()) == []


def test_missing_root_for_rootfs_tar(tmp_path: Path):
    with pytest.raises(ImageError, match="root directory does not exist"):
        write_rootfs_tar(tmp_path / "nothing", tmp_path / "rootfs.tar", mtime=MTIME)
    assert list(tmp_path.iterdir()) == []


def test_failure_after_the_layer_leaves_nothing_and_keeps_the_old_output(tree: Path,
                                                                         tmp_path: Path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "img.tar").mkdir()  # the final rename target is a directory: fails last
    with pytest.raises(ImageError, match="is a directory"):
        write_oci_archive(tree, CONFIG, out / "img.tar", mtime=MTIME)
    assert [p.name for p in out.iterdir()] == ["img.tar"]
    assert list((out / "img.tar").iterdir()) == []

    write_docker_archive(tree, CONFIG, out / "d.tar", mtime=MTIME)
    before = (out / "d.tar").read_bytes()
    with pytest.raises(ImageError):
        write_docker_archive(tree / "gone", CONFIG, out / "d.tar", mtime=MTIME)
    assert (out / "d.tar").read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == ["d.tar", "img.tar"]


def test_oci_dir_refuses_a_non_empty_directory(tree: Path, tmp_path: Path):
    (tmp_path / "layout").mkdir()
    (tmp_path / "layout" / "keep").write_text("mine")
    with pytest.raises(ImageError, match="already exists"):
        write_oci_dir(tree, CONFIG, tmp_path / "layout", mtime=MTIME)
    assert [p.name for p in (tmp_path / "layout").iterdir()] == ["keep"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["layout", "tree"]
