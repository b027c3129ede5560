"""Issue 12: `audit --fail-on essential-in-image` on malformed images.

An image is untrusted input of a CI gate. OCI layouts (tar and directory) and
docker-archives with JSON of the wrong shape, bad digests, blob or layer paths with
`..` and oversized files must give one line `unessential: format error: <image>...`
(exit 11), never a traceback. A bounded hypothesis fuzz test mutates the JSON of a
valid OCI tar: the gate passes (0), fails (18) or reports a format error (11).
"""

from __future__ import annotations

import copy
import gzip
import hashlib
import io
import json
import os
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.image import MAX_JSON
from base.errors import EXIT_CODES
from bootstrap.model import ImageConfig
from bootstrap.oci import write_docker_archive, write_oci_archive, write_oci_dir
from tests.fixtures.audit_seed import write_image_root
from unessential.cli import cli

FORMAT = EXIT_CODES["format"]
GATE = EXIT_CODES["policy"]
CONFIG = ImageConfig(created=1_700_000_000, tag="gate", name="test/gate")
ZERO = "0" * 64

Json = Any


# -- helpers --------------------------------------------------------------------------


def gate(image: Path, data_dir: Path) -> Result:
    runner = CliRunner(env={"UNESSENTIAL_DATA_DIR": str(data_dir)})
    return runner.invoke(cli, ["-q", "audit", "--fail-on", "essential-in-image", str(image),
                               "--no-upstream"])


def assert_format_error(result: Result, image: Path, *problem: str) -> None:
    """Exit 11 and exactly one stderr line naming the image and the problem."""
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        f"{image}: {result.exception!r}"
    assert result.exit_code == FORMAT, (result.exit_code, result.output)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"unessential: format error: {image}"), lines[0]
    for part in problem:
        assert part in lines[0], (part, lines[0])


def sha256(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def dumps(document: Json) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


class OciTar:
    """The members of a valid OCI tar, to be changed and written again."""

    def __init__(self, path: Path) -> None:
        self.members: dict[str, bytes | None] = {}  # None: a directory
        with tarfile.open(path) as tar:
            for member in tar.getmembers():
                name = member.name.removeprefix("./")
                handle = tar.extractfile(member) if member.isfile() else None
                self.members[name] = handle.read() if handle is not None else None
        self.index: Json = json.loads(self.members["index.json"] or b"")
        self.manifest_digest: str = self.index["manifests"][0]["digest"]
        self.manifest: Json = json.loads(self.blob(self.manifest_digest))

    def blob(self, digest: str) -> bytes:
        data = self.members[f"blobs/sha256/{digest.split(':', 1)[1]}"]
        assert data is not None
        return data

    def write(self, out: Path, *, index: Json | bytes | None = None,
              manifest: Json | bytes | None = None,
              extra: dict[str, bytes] | None = None) -> Path:
        """A copy with another index.json and/or another manifest blob (stored under its
        own digest, which the first descriptor of the index then names)."""
        members = dict(self.members)
        index_doc = copy.deepcopy(self.index) if index is None else index
        if manifest is not None:
            body = manifest if isinstance(manifest, bytes) else dumps(manifest)
            digest = sha256(body)
            members[f"blobs/sha256/{digest.split(':', 1)[1]}"] = body
            if index is None:
                index_doc["manifests"][0]["digest"] = digest
                index_doc["manifests"][0]["size"] = len(body)
        members["index.json"] = index_doc if isinstance(index_doc, bytes) else dumps(index_doc)
        members.update(extra or {})
        write_tar(out, members)
        return out


def write_tar(out: Path, members: dict[str, bytes | None]) -> None:
    with tarfile.open(out, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
                continue
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("images")
    root = write_image_root(folder / "root")
    out = {"root": root, "oci": folder / "image.oci.tar", "docker": folder / "image.docker.tar"}
    write_oci_archive(root, CONFIG, out["oci"], mtime=0)
    write_docker_archive(root, CONFIG, out["docker"], mtime=0)
    return out


@pytest.fixture(scope="module")
def oci(built: dict[str, Path]) -> OciTar:
    return OciTar(built["oci"])


def test_the_valid_images_fail_the_gate_cleanly(built: dict[str, Path], tmp_path: Path) -> None:
    for kind in ("oci", "docker"):
        result = gate(built[kind], tmp_path / "data")
        assert result.exit_code == GATE, result.output


# -- OCI tars -------------------------------------------------------------------------


def _descriptor(oci: OciTar, **changes: Json) -> Json:
    descriptor = copy.deepcopy(oci.index["manifests"][0])
    for key, value in changes.items():
        if value is _DROP:
            descriptor.pop(key, None)
        else:
            descriptor[key] = value
    return descriptor


_DROP = object()


def _index(oci: OciTar, manifests: Json) -> Json:
    return {"schemaVersion": 2, "manifests": manifests}


OCI_INDEX_CASES: dict[str, tuple[Callable[[OciTar], Json], tuple[str, ...]]] = {
    "manifests-is-a-string": (lambda o: _index(o, "oops"),
                              ("index.json", "'manifests' is a string, not a list")),
    "manifests-is-an-object": (lambda o: _index(o, {"a": 1}), ("'manifests' is an object",)),
    "manifests-missing": (lambda o: {"schemaVersion": 2}, ("'manifests' is missing",)),
    "index-is-a-list": (lambda o: [o.index], ("not an OCI image index",)),
    "index-is-a-number": (lambda o: 7, ("not an OCI image index",)),
    "descriptor-is-a-string": (lambda o: _index(o, ["sha256:" + ZERO]),
                               ("manifest 0 is not a descriptor",)),
    "digest-missing": (lambda o: _index(o, [_descriptor(o, digest=_DROP)]),
                       ("manifest 0 has no digest",)),
    "digest-is-a-number": (lambda o: _index(o, [_descriptor(o, digest=12)]),
                           ("malformed or unsupported digest 12",)),
    "digest-with-dot-dot": (
        lambda o: _index(o, [_descriptor(o, digest="sha256:../../../../etc/passwd")]),
        ("malformed or unsupported digest", "etc/passwd")),
    "digest-algorithm-with-dot-dot": (
        lambda o: _index(o, [_descriptor(o, digest="../../x:" + ZERO)]),
        ("malformed or unsupported digest",)),
    "digest-too-short": (lambda o: _index(o, [_descriptor(o, digest="sha256:abc")]),
                         ("malformed or unsupported digest",)),
    "digest-unknown-algorithm": (lambda o: _index(o, [_descriptor(o, digest="md5:" + ZERO)]),
                                 ("malformed or unsupported digest",)),
    "digest-not-in-the-tar": (lambda o: _index(o, [_descriptor(o, digest="sha256:" + ZERO)]),
                              ("blob sha256:" + ZERO, "missing")),
    "media-type-is-a-list": (lambda o: _index(o, [_descriptor(o, mediaType=[1])]),
                             ("mediaType is a list, not a string",)),
    "annotations-is-a-list": (lambda o: _index(o, [_descriptor(o, annotations=["x"])]),
                              ("annotations is a list, not an object",)),
    "platform-is-a-string": (lambda o: _index(o, [_descriptor(o, platform="linux")]),
                             ("platform is a string, not an object",)),
    "no-manifest": (lambda o: _index(o, []), ("no image manifest",)),
    "nested-too-deep": (lambda o: b"[" * 100_000 + b"]" * 100_000, ("nested too deep",)),
    "not-json": (lambda o: b"{\"manifests\": [", ("not JSON",)),
    "not-utf8": (lambda o: b"\xff\xfe\x00{", ("not JSON",)),
    "huge": (lambda o: b" " * (MAX_JSON + 1) + b"{}", ("larger than",)),
}


@pytest.mark.parametrize("case", sorted(OCI_INDEX_CASES))
def test_malformed_oci_index(case: str, oci: OciTar, tmp_path: Path) -> None:
    make, problem = OCI_INDEX_CASES[case]
    image = oci.write(tmp_path / f"{case}.oci.tar", index=make(oci))
    assert_format_error(gate(image, tmp_path / "data"), image, *problem)


def _layer(o: OciTar, **changes: Json) -> Json:
    manifest = copy.deepcopy(o.manifest)
    layer = manifest["layers"][0]
    for key, value in changes.items():
        if value is _DROP:
            layer.pop(key, None)
        else:
            layer[key] = value
    return manifest


def _zstd_manifest(o: OciTar) -> Json:
    manifest = copy.deepcopy(o.manifest)
    manifest["layers"][0]["mediaType"] = "application/vnd.oci.image.layer.v1.tar+zstd"
    return manifest


OCI_MANIFEST_CASES: dict[str, tuple[Callable[[OciTar], Json], tuple[str, ...]]] = {
    "manifest-is-a-list": (lambda o: [o.manifest], ("not an OCI manifest or index",)),
    "manifest-is-a-string": (lambda o: "manifest", ("not an OCI manifest or index",)),
    "layers-missing": (lambda o: {k: v for k, v in o.manifest.items() if k != "layers"},
                       ("manifest has no layers list",)),
    "layers-is-a-string": (lambda o: {**o.manifest, "layers": "layer.tar"},
                           ("manifest has no layers list",)),
    "layer-is-a-string": (lambda o: {**o.manifest, "layers": ["sha256:" + ZERO]},
                          ("layer 0 is not a descriptor",)),
    "layer-digest-missing": (lambda o: _layer(o, digest=_DROP), ("layer 0 has no digest",)),
    "layer-digest-with-dot-dot": (lambda o: _layer(o, digest="sha256:../../../etc/shadow"),
                                  ("layer 0: malformed or unsupported digest",)),
    "layer-media-type-is-a-number": (lambda o: _layer(o, mediaType=3),
                                     ("layer 0: mediaType is a number",)),
    "layer-is-the-manifest-itself": (lambda o: _layer(o, digest=o.manifest_digest),
                                     ("unreadable layer",)),
    "gzip-layer-said-to-be-zstd": (_zstd_manifest, ("unreadable layer",)),
    "manifest-nests-indices": (
        lambda o: {"manifests": [{"digest": o.manifest_digest}], "layers": []},
        (),  # an index leading back to a manifest: read as the nested image
    ),
}


@pytest.mark.parametrize("case", sorted(OCI_MANIFEST_CASES))
def test_malformed_oci_manifest(case: str, oci: OciTar, tmp_path: Path) -> None:
    make, problem = OCI_MANIFEST_CASES[case]
    image = oci.write(tmp_path / f"{case}.oci.tar", manifest=make(oci))
    result = gate(image, tmp_path / "data")
    if case == "manifest-nests-indices":
        assert result.exit_code == GATE, result.output  # followed, and judged
        return
    assert_format_error(result, image, *problem)


def test_index_that_points_at_itself_through_nested_indices(oci: OciTar,
                                                            tmp_path: Path) -> None:
    """Indices nested deeper than allowed (each its own blob) end with a format error."""
    extra: dict[str, bytes] = {}
    digest = oci.manifest_digest
    for _ in range(8):
        body = dumps({"schemaVersion": 2, "manifests": [
            {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": digest}]})
        digest = sha256(body)
        extra[f"blobs/sha256/{digest.split(':', 1)[1]}"] = body
    index = _index(oci, [{"mediaType": "application/vnd.oci.image.index.v1+json",
                          "digest": digest}])
    image = oci.write(tmp_path / "deep.oci.tar", index=index, extra=extra)
    assert_format_error(gate(image, tmp_path / "data"), image, "nested more than")


def test_too_many_manifests(oci: OciTar, tmp_path: Path) -> None:
    index = _index(oci, [oci.index["manifests"][0]] * 300)
    image = oci.write(tmp_path / "many.oci.tar", index=index)
    assert_format_error(gate(image, tmp_path / "data"), image, "more than 256 manifests")


def test_blob_member_that_is_not_a_file(oci: OciTar, tmp_path: Path) -> None:
    members = dict(oci.members)
    members[f"blobs/sha256/{oci.manifest_digest.split(':', 1)[1]}"] = None  # a directory
    image = tmp_path / "dir-blob.oci.tar"
    write_tar(image, members)
    assert_format_error(gate(image, tmp_path / "data"), image, "is not a regular file")


def test_huge_manifest_blob(oci: OciTar, tmp_path: Path) -> None:
    image = oci.write(tmp_path / "huge-manifest.oci.tar",
                      manifest=b" " * (MAX_JSON + 1) + dumps(oci.manifest))
    assert_format_error(gate(image, tmp_path / "data"), image, "larger than")


# -- OCI layout directories -----------------------------------------------------------


@pytest.fixture
def layout(built: dict[str, Path], tmp_path: Path) -> Path:
    out = tmp_path / "layout"
    write_oci_dir(built["root"], CONFIG, out, mtime=0)
    return out


def test_malformed_oci_directory(layout: Path, tmp_path: Path) -> None:
    index = json.loads((layout / "index.json").read_text())
    data = tmp_path / "data"
    assert gate(layout, data).exit_code == GATE
    (layout / "index.json").write_text(json.dumps({**index, "manifests": "oops"}))
    assert_format_error(gate(layout, data), layout, "'manifests' is a string")
    (layout / "index.json").write_text(json.dumps(
        {**index, "manifests": [{**index["manifests"][0],
                                 "digest": "sha256/../../../../../etc/passwd"}]}))
    assert_format_error(gate(layout, data), layout, "malformed or unsupported digest")
    # a huge (sparse) index.json is refused by its size, not read into memory
    (layout / "index.json").unlink()
    with (layout / "index.json").open("wb") as handle:
        handle.truncate(1 << 34)
    assert_format_error(gate(layout, data), layout, "index.json: larger than")
    # an index.json that is a symlink (to a file of the host) is not followed
    (layout / "index.json").unlink()
    outside = tmp_path / "outside.json"
    outside.write_text(json.dumps(index))
    (layout / "index.json").symlink_to(outside)
    assert_format_error(gate(layout, data), layout, "index.json is not a regular file")
    (layout / "index.json").unlink()
    (layout / "index.json").mkdir()
    assert_format_error(gate(layout, data), layout, "index.json is not a regular file")


def test_unreadable_oci_directory(layout: Path, tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads files whatever their mode")
    (layout / "index.json").chmod(0)
    assert_format_error(gate(layout, tmp_path / "data"), layout, "Permission denied")


# -- docker archives ------------------------------------------------------------------


def _docker_members(path: Path) -> tuple[dict[str, bytes | None], Json]:
    members: dict[str, bytes | None] = {}
    with tarfile.open(path) as tar:
        for member in tar.getmembers():
            handle = tar.extractfile(member) if member.isfile() else None
            members[member.name.removeprefix("./")] = handle.read() if handle else None
    return members, json.loads(members["manifest.json"] or b"")


def _entry(manifest: Json, **changes: Json) -> Json:
    entry = dict(manifest[0])
    entry.update(changes)
    return [entry]


DOCKER_CASES: dict[str, tuple[Callable[[Json], Json], tuple[str, ...]]] = {
    "manifest-is-an-object": (lambda m: m[0], ("expected a non-empty list of images",)),
    "manifest-is-empty": (lambda m: [], ("expected a non-empty list of images",)),
    "entry-is-a-string": (lambda m: ["x"], ("image 0 has no Layers list",)),
    "layers-is-a-string": (lambda m: _entry(m, Layers="layer.tar"),
                           ("image 0 has no Layers list",)),
    "layer-is-a-number": (lambda m: _entry(m, Layers=[5]), ("layer 5 is not a path",)),
    "layer-with-dot-dot": (lambda m: _entry(m, Layers=["../../etc/passwd"]),
                           ("layer path '../../etc/passwd' leaves the archive",)),
    "layer-absolute": (lambda m: _entry(m, Layers=["/etc/passwd"]), ("leaves the archive",)),
    "layer-missing": (lambda m: _entry(m, Layers=["nope/layer.tar"]),
                      ("layer 'nope/layer.tar' is missing",)),
    "repo-tags-is-an-object": (lambda m: _entry(m, RepoTags={"a": 1}),
                               ("RepoTags is not a list of strings",)),
    "repo-tags-is-a-number": (lambda m: _entry(m, RepoTags=5),
                              ("RepoTags is not a list of strings",)),
    "repo-tags-holds-a-number": (lambda m: _entry(m, RepoTags=[5]),
                                 ("RepoTags is not a list of strings",)),
    "layer-is-the-config": (lambda m: _entry(m, Layers=[m[0]["Config"]]),
                            ("unreadable layer",)),
    "huge": (lambda m: b" " * (MAX_JSON + 1), ("manifest.json", "larger than")),
    "not-json": (lambda m: b"[{", ("manifest.json", "not JSON")),
}


@pytest.mark.parametrize("case", sorted(DOCKER_CASES))
def test_malformed_docker_archive(case: str, built: dict[str, Path], tmp_path: Path) -> None:
    make, problem = DOCKER_CASES[case]
    members, manifest = _docker_members(built["docker"])
    changed = make(manifest)
    members["manifest.json"] = changed if isinstance(changed, bytes) else dumps(changed)
    image = tmp_path / f"{case}.docker.tar"
    write_tar(image, members)
    assert_format_error(gate(image, tmp_path / "data"), image, *problem)


def test_docker_layer_that_is_not_a_tar(built: dict[str, Path], tmp_path: Path) -> None:
    members, manifest = _docker_members(built["docker"])
    layer = manifest[0]["Layers"][0]
    members[layer] = gzip.compress(b"\0" * 100)[:-8] + b"garbage!"
    image = tmp_path / "bad-layer.docker.tar"
    write_tar(image, members)
    assert_format_error(gate(image, tmp_path / "data"), image, "unreadable layer")


# -- fuzz -----------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False) | st.text(max_size=20)
    | st.sampled_from(["sha256:" + ZERO, "sha256:../../x", "../../etc/passwd",
                       "application/vnd.oci.image.index.v1+json",
                       "application/vnd.oci.image.layer.v1.tar+zstd", "manifests", "layers"]),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(["manifests", "layers", "digest", "mediaType",
                                       "annotations", "platform", "size", "x"])
                      | st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


def _paths(document: Json, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every location in a JSON document (the root is `()`)."""
    found = [prefix]
    if isinstance(document, dict):
        for key, value in document.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(document, list):
        for number, value in enumerate(document):
            found += _paths(value, (*prefix, number))
    return found


def _mutate(document: Json, data: st.DataObject) -> Json:
    document = copy.deepcopy(document)
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        path = data.draw(st.sampled_from(_paths(document)), label="where")
        how = data.draw(st.sampled_from(["replace", "delete", "add", "duplicate"]),
                        label="how")
        if not path:
            if how == "replace":
                document = data.draw(JSON_VALUES, label="root")
            continue
        parent = document
        for step in path[:-1]:
            parent = parent[step]
        last = path[-1]
        if how == "replace":
            parent[last] = data.draw(JSON_VALUES, label="value")
        elif how == "delete":
            del parent[last]
        elif how == "add" and isinstance(parent[last], dict):
            parent[last][data.draw(st.text(max_size=10), label="key")] = \
                data.draw(JSON_VALUES, label="value")
        elif how == "add" and isinstance(parent[last], list):
            parent[last].append(data.draw(JSON_VALUES, label="item"))
        elif how == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[last]))
    return document


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data(), target=st.sampled_from(["index", "manifest", "both"]))
def test_fuzz_mutated_oci_json_never_traces_back(oci: OciTar, data: st.DataObject,
                                                 target: str) -> None:
    index = _mutate(oci.index, data) if target in ("index", "both") else None
    manifest = _mutate(oci.manifest, data) if target in ("manifest", "both") else None
    if manifest is not None and index is not None:
        # keep the mutated index pointing at the mutated manifest where it can
        body = dumps(manifest)
        descriptors = index.get("manifests") if isinstance(index, dict) else None
        for descriptor in descriptors if isinstance(descriptors, list) else []:
            if isinstance(descriptor, dict) and descriptor.get("digest") == oci.manifest_digest:
                descriptor["digest"] = sha256(body)
    with tempfile.TemporaryDirectory() as folder:
        image = oci.write(Path(folder) / "fuzz.oci.tar", index=index, manifest=manifest)
        result = gate(image, Path(folder) / "data")
        assert result.exception is None or isinstance(result.exception, SystemExit), \
            (index, manifest, result.exception)
        assert "Traceback" not in result.output
        assert result.exit_code in (0, GATE, FORMAT), (result.exit_code, result.output)
        if result.exit_code == FORMAT:
            lines = result.stderr.splitlines()
            assert len(lines) == 1 and lines[0].startswith(
                f"unessential: format error: {image}"), result.stderr
