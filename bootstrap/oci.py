"""OCI image layout and docker-archive writers for a finished root directory.

One layer (the whole root), an image config, a manifest and an index, per the OCI
image spec (https://github.com/opencontainers/image-spec). JSON is canonical (sorted
keys, no spaces) and every tar is deterministic, so the same tree, config and mtime
give byte-identical outputs and the same digests. Outputs are staged next to their
destination and renamed into place: on error nothing is left behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from base import __version__
from base.atomic import fsync_directory
from bootstrap.layer import (
    OWNERS,
    ImageError,
    atomic_writer,
    os_errors,
    pack_directory,
    recorded_owners,
    write_gzip_layer,
    write_layer,
    write_zstd_layer,
)
from bootstrap.model import ImageConfig

MEDIA_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
MEDIA_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
REF_NAME = "org.opencontainers.image.ref.name"


@dataclass(frozen=True)
class Blob:
    """A content-addressed blob: its digest ("sha256:<hex>") and size."""

    digest: str
    size: int

    @property
    def hex(self) -> str:
        return _hex(self.digest)

    def descriptor(self, media_type: str) -> dict[str, object]:
        return {"mediaType": media_type, "digest": self.digest, "size": self.size}


# ---------------------------------------------------------------------------------
# public


def write_oci_archive(root: Path, config: ImageConfig, out_path: Path, *,
                      mtime: int | None) -> str:
    """Write an OCI image layout packed in one tar at `out_path`; the manifest digest."""
    return write_oci_platforms([(root, config)], out_path, mtime=mtime)


def write_oci_platforms(images: list[tuple[Path, ImageConfig]], out_path: Path, *,
                        mtime: int | None,
                        owners: list[Mapping[str, tuple[int, int]] | None] | None = None
                        ) -> str:
    """Write an OCI image layout packed in one tar at `out_path` holding one image per
    platform (`images`: root and config of each). One image: index.json names its
    manifest, whose digest is returned. Several: index.json names an image index (a
    multi-platform image, as registries store one) listing a manifest per platform with
    its platform; that index's digest is returned."""
    out_path = Path(out_path)
    for root, _ in images:
        _check(root, out_path)
    platforms = [(c.os, c.architecture) for _, c in images]
    if len(set(platforms)) != len(platforms):
        raise ImageError(str(out_path), "the same platform twice in one image")
    first = images[0][1]
    with os_errors(out_path), _staging(out_path) as work:
        layout = work / "layout"
        layout.mkdir()
        blobs = layout / "blobs" / "sha256"
        blobs.mkdir(parents=True)
        entries = []
        for number, (root, config) in enumerate(images):
            with recorded_owners(owners[number] if owners else OWNERS.get()):
                entries.append(_write_image(root, config, blobs, mtime))
        if len(entries) == 1:
            top, digest = entries[0], str(entries[0]["digest"])
        else:
            nested = _put(blobs, {"schemaVersion": 2, "mediaType": MEDIA_INDEX,
                                  "manifests": entries})
            top, digest = nested.descriptor(MEDIA_INDEX), nested.digest
        top["annotations"] = {REF_NAME: first.tag}
        index = {"schemaVersion": 2, "mediaType": MEDIA_INDEX, "manifests": [top]}
        (layout / "index.json").write_bytes(canonical_json(index))
        (layout / "oci-layout").write_bytes(canonical_json({"imageLayoutVersion": "1.0.0"}))
        _pack(layout, out_path, _wrapper_mtime(first, mtime))
    return digest


def write_oci_dir(root: Path, config: ImageConfig, out_dir: Path, *,
                  mtime: int | None) -> str:
    """Write an OCI image layout as the new directory `out_dir`; the manifest digest."""
    out_dir = Path(out_dir)
    _check(root, out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise ImageError(str(out_dir), "already exists (and is not an empty directory)")
    with os_errors(out_dir), _staging(out_dir) as work:
        layout = work / "layout"
        layout.mkdir(mode=0o755)
        digest = _write_layout(root, config, layout, mtime)
        os.replace(layout, out_dir)
        fsync_directory(out_dir.parent)
    return digest


def write_docker_archive(root: Path, config: ImageConfig, out_path: Path, *,
                         mtime: int | None) -> str:
    """Write a `docker save` tar (manifest.json, config, layer.tar); the image id."""
    out_path = Path(out_path)
    _check(root, out_path)
    with os_errors(out_path), _staging(out_path) as work:
        folder = work / "docker"
        folder.mkdir()
        with (folder / "layer.tar").open("wb") as out:
            layer = write_layer(root, out, mtime=mtime)
        layer_dir = folder / _hex(layer.digest)
        layer_dir.mkdir()
        os.replace(folder / "layer.tar", layer_dir / "layer.tar")
        image = canonical_json(image_config(config, [layer.digest]))
        config_name = f"{_hex(_digest(image))}.json"
        (folder / config_name).write_bytes(image)
        manifest = [{"Config": config_name, "Layers": [f"{layer_dir.name}/layer.tar"],
                     "RepoTags": [f"{config.name}:{config.tag}"]}]
        (folder / "manifest.json").write_bytes(canonical_json(manifest))
        _pack(folder, out_path, _wrapper_mtime(config, mtime))
    return _digest(image)


def image_config(config: ImageConfig, diff_ids: list[str]) -> dict[str, object]:
    """The OCI image config (also a valid docker image config)."""
    created = rfc3339(config.created)
    runtime: dict[str, object] = {}
    for key, value in (("Env", list(config.env)), ("Entrypoint", list(config.entrypoint)),
                       ("Cmd", list(config.cmd)), ("User", config.user),
                       ("WorkingDir", config.workdir), ("Labels", dict(config.labels))):
        if value:
            runtime[key] = value
    described: dict[str, object] = {
        "architecture": config.architecture,
        "os": config.os,
        "created": created,
        "config": runtime,
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": created, "created_by": f"unessential {__version__}"}],
    }
    if config.variant:
        described["variant"] = config.variant
    return described


def rfc3339(seconds: int) -> str:
    """Seconds since the epoch as RFC 3339 UTC ("2023-11-14T22:13:20Z")."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def canonical_json(document: object) -> bytes:
    """Sorted keys, no insignificant whitespace, UTF-8."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode()


# ---------------------------------------------------------------------------------
# layout


def _write_layout(root: Path, config: ImageConfig, layout: Path, mtime: int | None) -> str:
    blobs = layout / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    entry = _write_image(root, config, blobs, mtime)
    entry["annotations"] = {REF_NAME: config.tag}
    index = {"schemaVersion": 2, "mediaType": MEDIA_INDEX, "manifests": [entry]}
    (layout / "index.json").write_bytes(canonical_json(index))
    (layout / "oci-layout").write_bytes(canonical_json({"imageLayoutVersion": "1.0.0"}))
    return str(entry["digest"])


def _write_image(root: Path, config: ImageConfig, blobs: Path,
                 mtime: int | None) -> dict[str, object]:
    """The layer, config and manifest blobs of one image; its manifest's descriptor
    with its platform."""
    staged = blobs / ".layer"
    with staged.open("wb") as out:
        if config.compression == "zstd":
            layer = write_zstd_layer(root, out, mtime=mtime)
        else:
            layer = write_gzip_layer(root, out, mtime=mtime)
    layer_blob = Blob(layer.digest, layer.size)
    os.replace(staged, blobs / layer_blob.hex)
    config_blob = _put(blobs, image_config(config, [layer.diff_id]))
    manifest = {
        "schemaVersion": 2,
        "mediaType": MEDIA_MANIFEST,
        "config": config_blob.descriptor(MEDIA_CONFIG),
        "layers": [layer_blob.descriptor(MEDIA_LAYER_ZSTD if config.compression == "zstd"
                                         else MEDIA_LAYER_GZIP)],
    }
    manifest_blob = _put(blobs, manifest)
    entry = manifest_blob.descriptor(MEDIA_MANIFEST)
    entry["platform"] = _platform(config)
    return entry


def _platform(config: ImageConfig) -> dict[str, str]:
    platform = {"architecture": config.architecture, "os": config.os}
    if config.variant:
        platform["variant"] = config.variant
    return platform


def _put(blobs: Path, document: object) -> Blob:
    body = canonical_json(document)
    blob = Blob(_digest(body), len(body))
    (blobs / blob.hex).write_bytes(body)
    return blob


def _hex(digest: str) -> str:
    return digest.split(":", 1)[1]


def _digest(body: bytes) -> str:
    return f"sha256:{hashlib.sha256(body).hexdigest()}"


# ---------------------------------------------------------------------------------
# output handling


def _check(root: Path, out: Path) -> None:
    if not Path(root).is_dir():
        raise ImageError(str(root), "root directory does not exist")
    if not out.parent.is_dir():
        raise ImageError(str(out), f"directory {out.parent} does not exist")


@contextmanager
def _staging(out: Path) -> Iterator[Path]:
    """A private work directory next to `out`, removed afterwards whatever happens."""
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _pack(folder: Path, out_path: Path, mtime: int) -> None:
    with atomic_writer(out_path) as out:
        pack_directory(folder, out, mtime=mtime)


def _wrapper_mtime(config: ImageConfig, mtime: int | None) -> int:
    """The mtime of the wrapper tar's members: `mtime`, else the image's creation time."""
    return config.created if mtime is None else mtime
