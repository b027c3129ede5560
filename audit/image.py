"""Reading an image's dpkg status (var/lib/dpkg/status) without unpacking it.

Accepted, as `bootstrap` writes them (`bootstrap.output`) and as other tools do:

- a root directory (symlinks resolved inside the root, never outside);
- an OCI image layout directory, or an OCI layout packed in a tar (`index.json` →
  manifest → layers; nested indices and several manifests are followed, each
  manifest is one image); index, manifest and layer blobs are checked against their
  digests;
- a docker-archive tar (`docker save`: `manifest.json` → `Layers`);
- a plain root file system tar (optionally gzip/bzip2/xz compressed).

Layers are read as streams, in order, honouring whiteouts (`.wh.status`, a whited-out
or opaque parent directory): the status a container would see. Nothing is written to
disk, and a status larger than `MAX_STATUS` is refused.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from bootstrap.rootpath import OutsideRoot, inside
from unessential.errors import FormatError, IntegrityError, NotFoundError

STATUS = "var/lib/dpkg/status"
MAX_STATUS = 64 * 1024 * 1024
MAX_JSON = 4 * 1024 * 1024
_MAX_NESTING = 4
_PARENTS = ("", "var", "var/lib", "var/lib/dpkg")  # directories above the status file


@dataclass(frozen=True)
class ImageStatus:
    """The dpkg status of one image: its label (path, ref or tag), format and text."""

    label: str
    format: str  # dir | tar | oci | docker
    text: str


def read_statuses(path: Path) -> list[ImageStatus]:
    """The dpkg status of each image in `path` (one, or one per OCI manifest / tag)."""
    if path.is_dir():
        if (path / "index.json").is_file() and (path / "oci-layout").is_file():
            return _oci(_DirBlobs(path), str(path))
        return [ImageStatus(str(path), "dir", _dir_status(path))]
    if not path.exists():
        raise NotFoundError(str(path), "no such image (file or directory)")
    try:
        with tarfile.open(path, "r:*") as outer:
            names = {_clean(m.name): m for m in outer.getmembers()}
            if "index.json" in names and "oci-layout" in names:
                return _oci(_TarBlobs(outer, names), str(path))
            if "manifest.json" in names:
                return _docker(outer, names, str(path))
            return [ImageStatus(str(path), "tar", _rootfs_tar(outer, names, str(path)))]
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise FormatError(str(path), f"not a directory or a readable tar: {exc}") from exc


# -- formats --------------------------------------------------------------------------


def _dir_status(root: Path) -> str:
    try:
        target = inside(root, STATUS)
    except OutsideRoot as exc:
        raise FormatError(str(root), str(exc)) from exc
    if not target.is_file():
        raise FormatError(str(root), f"no {STATUS}: not a Debian root file system")
    if target.stat().st_size > MAX_STATUS:
        raise FormatError(str(target), f"larger than {MAX_STATUS} bytes")
    return target.read_bytes().decode("utf-8", "replace")


def _rootfs_tar(outer: tarfile.TarFile, names: dict[str, tarfile.TarInfo], what: str) -> str:
    member = names.get(STATUS)
    if member is None:
        raise FormatError(what, f"no {STATUS}: not a Debian root file system")
    return _member_text(outer, member, what)


def _docker(outer: tarfile.TarFile, names: dict[str, tarfile.TarInfo],
            what: str) -> list[ImageStatus]:
    manifest = _json(_read(outer, names["manifest.json"], MAX_JSON, what), f"{what}: manifest.json")
    if not isinstance(manifest, list) or not manifest:
        raise FormatError(f"{what}: manifest.json", "expected a non-empty list of images")
    out = []
    for number, entry in enumerate(manifest):
        if not isinstance(entry, dict) or not isinstance(entry.get("Layers"), list):
            raise FormatError(f"{what}: manifest.json", f"image {number} has no Layers list")
        tags = entry.get("RepoTags") or []
        label = f"{what} ({tags[0]})" if tags else f"{what} (image {number})"
        streams = []
        for layer in entry["Layers"]:
            member = names.get(_clean(str(layer)))
            if member is None:
                raise FormatError(what, f"layer {layer} is missing")
            streams.append((str(layer), None, "", member))
        out.append(ImageStatus(label, "docker",
                               _layers(lambda m: _extract(outer, m, what), streams, label)))
    return out


def _oci(blobs: _Blobs, what: str) -> list[ImageStatus]:
    index = _json(blobs.named("index.json"), f"{what}: index.json")
    out: list[ImageStatus] = []
    for label, manifest in _manifests(blobs, index, what, 0):
        layers = manifest.get("layers")
        if not isinstance(layers, list):
            raise FormatError(f"{what}: {label}", "manifest has no layers list")
        streams = [(str(d.get("digest")), str(d.get("digest")), str(d.get("mediaType", "")),
                    None) for d in layers if isinstance(d, dict)]
        text = _layers(lambda d: blobs.open(d), streams, f"{what} ({label})")
        out.append(ImageStatus(f"{what} ({label})", "oci", text))
    if not out:
        raise FormatError(f"{what}: index.json", "no image manifest")
    return out


def _manifests(blobs: _Blobs, index: Any, what: str,
               depth: int) -> Iterator[tuple[str, dict[str, Any]]]:
    if depth > _MAX_NESTING or not isinstance(index, dict):
        raise FormatError(f"{what}: index.json", "not an OCI image index (or nested too deep)")
    for descriptor in index.get("manifests") or []:
        digest = str(descriptor.get("digest", ""))
        media = str(descriptor.get("mediaType", ""))
        document = _json(blobs.read(digest, MAX_JSON), f"{what}: {digest}")
        if media.endswith("image.index.v1+json") or "manifests" in document:
            yield from _manifests(blobs, document, what, depth + 1)
            continue
        annotations = descriptor.get("annotations") or {}
        platform = descriptor.get("platform") or {}
        label = annotations.get("org.opencontainers.image.ref.name") or \
            "/".join(str(v) for v in (platform.get("os"), platform.get("architecture")) if v) \
            or digest[:19]
        yield label, document


# -- layers ---------------------------------------------------------------------------

Stream = tuple[str, str | None, str, Any]  # name, digest, media type, opener argument


def _layers(opener: Any, streams: list[Stream], what: str) -> str:
    """The status seen through the layers, bottom to top (with whiteouts)."""
    status: str | None = None
    for name, digest, media, handle in streams:
        with opener(handle if handle is not None else digest) as raw:
            reader = _Verifying(raw, digest) if digest else raw
            found, hidden = _scan_layer(_decompressed(reader, media), f"{what}: layer {name}")
            if isinstance(reader, _Verifying):
                reader.finish(f"{what}: layer {name}")
        if found is not None:
            status = found
        elif hidden:
            status = None
    if status is None:
        raise FormatError(what, f"no {STATUS}: not a Debian root file system")
    return status


def _scan_layer(stream: IO[bytes], what: str) -> tuple[str | None, bool]:
    """The status a layer holds (or None) and whether it hides the lower ones'."""
    found: str | None = None
    hidden = False
    try:
        with tarfile.open(fileobj=stream, mode="r|*") as layer:
            for member in layer:
                name = _clean(member.name)
                if name == STATUS:
                    found = _member_text(layer, member, what)
                elif _whiteout(name):
                    hidden = True
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise FormatError(what, f"unreadable layer: {exc}") from exc
    return found, hidden


def _whiteout(name: str) -> bool:
    """Whether `name` whites out the status file or hides one of its directories."""
    folder, _, base = name.rpartition("/")
    if base == ".wh..wh..opq":
        return folder in _PARENTS[1:]
    if not base.startswith(".wh."):
        return False
    hidden = f"{folder}/{base[4:]}" if folder else base[4:]
    return hidden == STATUS or hidden in _PARENTS[1:]


def _decompressed(stream: IO[bytes], media: str) -> IO[bytes]:
    if media.endswith("+zstd"):
        import zstandard

        return zstandard.ZstdDecompressor().stream_reader(stream)  # type: ignore[return-value]
    return stream  # tar, tar+gzip: tarfile's "r|*" detects gzip/bzip2/xz itself


class _Verifying(io.RawIOBase):
    """Reads through, hashing; `finish` drains the rest and checks the digest."""

    def __init__(self, raw: IO[bytes], digest: str) -> None:
        super().__init__()
        self._raw = raw
        self._algorithm, _, self._expected = digest.partition(":")
        if self._algorithm not in ("sha256", "sha512") or not self._expected:
            raise FormatError(digest, "unsupported or malformed blob digest")
        self._hash = hashlib.new(self._algorithm)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        self._hash.update(data)
        buffer[: len(data)] = data
        return len(data)

    def finish(self, what: str) -> None:
        while self.read(1 << 20):
            pass  # the rest of the blob (tar padding after its end-of-archive blocks)
        if self._hash.hexdigest() != self._expected:
            raise IntegrityError(what, f"content does not match {self._algorithm}:"
                                       f"{self._expected}")


# -- blobs ----------------------------------------------------------------------------


class _Blobs:
    """Content-addressed blobs of an OCI layout (in a directory or a tar)."""

    def named(self, name: str) -> bytes:
        raise NotImplementedError

    @contextmanager
    def open(self, digest: str) -> Iterator[IO[bytes]]:
        raise NotImplementedError
        yield  # pragma: no cover

    def read(self, digest: str, limit: int) -> bytes:
        with self.open(digest) as raw:
            reader = _Verifying(raw, digest)
            data = reader.read(limit + 1)
            if len(data) > limit:
                raise FormatError(digest, f"larger than {limit} bytes")
            reader.finish(f"blob {digest}")
        return data

    @staticmethod
    def path(digest: str) -> str:
        algorithm, _, hexdigest = digest.partition(":")
        if not algorithm.isalnum() or not hexdigest.isalnum():
            raise FormatError(digest, "malformed blob digest")
        return f"blobs/{algorithm}/{hexdigest}"


class _DirBlobs(_Blobs):
    def __init__(self, root: Path) -> None:
        self.root = root

    def named(self, name: str) -> bytes:
        return (self.root / name).read_bytes()[: MAX_JSON + 1]

    @contextmanager
    def open(self, digest: str) -> Iterator[IO[bytes]]:
        target = self.root / self.path(digest)
        if not target.is_file() or target.is_symlink():
            raise FormatError(str(self.root), f"blob {digest} is missing")
        with target.open("rb") as handle:
            yield handle


class _TarBlobs(_Blobs):
    def __init__(self, outer: tarfile.TarFile, names: dict[str, tarfile.TarInfo]) -> None:
        self.outer = outer
        self.names = names

    def named(self, name: str) -> bytes:
        return _read(self.outer, self.names[name], MAX_JSON, name)

    @contextmanager
    def open(self, digest: str) -> Iterator[IO[bytes]]:
        member = self.names.get(self.path(digest))
        if member is None:
            raise FormatError(self.outer.name or "image", f"blob {digest} is missing")
        with _extract(self.outer, member, str(self.outer.name)) as handle:
            yield handle


# -- members --------------------------------------------------------------------------


def _clean(name: str) -> str:
    while name.startswith("./"):
        name = name[2:]
    return name.lstrip("/")


@contextmanager
def _extract(outer: tarfile.TarFile, member: tarfile.TarInfo, what: str) -> Iterator[IO[bytes]]:
    if not member.isfile():
        raise FormatError(what, f"{member.name} is not a regular file")
    handle = outer.extractfile(member)
    if handle is None:
        raise FormatError(what, f"{member.name} cannot be read")
    with handle:
        yield handle


def _read(outer: tarfile.TarFile, member: tarfile.TarInfo, limit: int, what: str) -> bytes:
    if member.size > limit:
        raise FormatError(what, f"{member.name}: larger than {limit} bytes")
    with _extract(outer, member, what) as handle:
        return handle.read()


def _member_text(tar: tarfile.TarFile, member: tarfile.TarInfo, what: str) -> str:
    return _read(tar, member, MAX_STATUS, what).decode("utf-8", "replace")


def _json(data: bytes, what: str) -> Any:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FormatError(what, f"not JSON: {exc}") from exc
