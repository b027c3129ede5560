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

Images are untrusted input (a CI gate reads what a pipeline produced): every JSON
document is checked for the types and keys it must have, digests must be well formed
(`sha256:` and 64 hex digits, so a blob path can never hold `..`), docker layer paths
must be relative and without `..`, and sizes and counts are bounded. Anything else is
a one-line `FormatError` naming the image and what is wrong, never a traceback.
"""

from __future__ import annotations

import hashlib
import io
import json
import lzma
import re
import tarfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Generic, TypeVar

import zstandard

from base.errors import FormatError, IntegrityError, NotFoundError
from bootstrap.rootpath import OutsideRoot, inside

STATUS = "var/lib/dpkg/status"
MAX_STATUS = 64 * 1024 * 1024
MAX_JSON = 4 * 1024 * 1024
_MAX_NESTING = 4
_MAX_IMAGES = 256  # image manifests in one index (nested indices included)
_MAX_LAYERS = 1024  # layers in one image
_DIGEST_HEX = {"sha256": 64, "sha512": 128}
_HEX = re.compile(r"[0-9a-f]+")
# what reading a corrupt (compressed) tar stream raises, besides tarfile's own errors
_STREAM_ERRORS = (tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError,
                  zstandard.ZstdError)
_PARENTS = ("", "var", "var/lib", "var/lib/dpkg")  # directories above the status file


T = TypeVar("T")


@dataclass(frozen=True)
class ImageStatus(Generic[T]):
    """The dpkg status of one image: its label (path, ref or tag), format and text (or
    what `read_images`' readers made of it)."""

    label: str
    format: str  # dir | tar | oci | docker
    text: T


def read_statuses(path: Path) -> list[ImageStatus[str]]:
    """The dpkg status of each image in `path` (one, or one per OCI manifest / tag)."""
    return read_images(path, _layers, _dir_status, _rootfs_tar)


def read_images(path: Path, read: Callable[[Any, list[Stream], str], T],
                directory: Callable[[Path], T],
                rootfs: Callable[[tarfile.TarFile, dict[str, tarfile.TarInfo], str], T]
                ) -> list[ImageStatus[T]]:
    """Each image in `path`, its `text` what `read` makes of its layers (an OCI layout,
    a docker-archive), `directory` of a root directory, `rootfs` of a root file system
    tar (its members by clean name)."""
    what = str(path)
    if path.is_dir():
        try:
            if (path / "index.json").exists() and (path / "oci-layout").exists():
                return _oci(_DirBlobs(path), what, read)
            return [ImageStatus(what, "dir", directory(path))]
        except OSError as exc:
            raise FormatError(what, f"cannot read the image directory: {_os_cause(exc)}") \
                from exc
    if not path.exists():
        raise NotFoundError(what, "no such image (file or directory)")
    try:
        with tarfile.open(path, "r:*") as outer:
            names = {_clean(m.name): m for m in outer.getmembers()}
            if "index.json" in names and "oci-layout" in names:
                return _oci(_TarBlobs(outer, names, what), what, read)
            if "manifest.json" in names:
                return _docker(outer, names, what, read)
            return [ImageStatus(what, "tar", rootfs(outer, names, what))]
    except _STREAM_ERRORS as exc:
        raise FormatError(what, f"not a directory or a readable tar: {_one_line(exc)}") \
            from exc


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
            what: str, read: Callable[[Any, list[Stream], str], T]) -> list[ImageStatus[T]]:
    where = f"{what}: manifest.json"
    manifest = _json(_read(outer, names["manifest.json"], MAX_JSON, what), where)
    if not isinstance(manifest, list) or not manifest:
        raise FormatError(where, "expected a non-empty list of images")
    if len(manifest) > _MAX_IMAGES:
        raise FormatError(where, f"more than {_MAX_IMAGES} images")
    out = []
    for number, entry in enumerate(manifest):
        if not isinstance(entry, dict) or not isinstance(entry.get("Layers"), list):
            raise FormatError(where, f"image {number} has no Layers list")
        tags = entry.get("RepoTags")
        if tags is not None and (not isinstance(tags, list)
                                 or not all(isinstance(t, str) for t in tags)):
            raise FormatError(where, f"image {number}: RepoTags is not a list of strings")
        label = f"{what} ({tags[0]})" if tags else f"{what} (image {number})"
        layers = entry["Layers"]
        if len(layers) > _MAX_LAYERS:
            raise FormatError(where, f"image {number}: more than {_MAX_LAYERS} layers")
        streams: list[Stream] = []
        for layer in layers:
            path = _member_path(layer, where, f"image {number}")
            member = names.get(path)
            if member is None:
                raise FormatError(what, f"layer {_show(layer)} is missing")
            streams.append((path, None, "", member))  # Stream
        out.append(ImageStatus(label, "docker",
                               read(lambda m: _extract(outer, m, what), streams, label)))
    return out


def _oci(blobs: _Blobs, what: str,
         read: Callable[[Any, list[Stream], str], T]) -> list[ImageStatus[T]]:
    index = _json(blobs.named("index.json"), f"{what}: index.json")
    out: list[ImageStatus[T]] = []
    for label, digest, manifest in _manifests(blobs, index, what, "index.json", 0):
        if len(out) >= _MAX_IMAGES:
            raise FormatError(f"{what}: index.json", f"more than {_MAX_IMAGES} image manifests")
        where = f"{what}: manifest {digest}"
        layers = manifest.get("layers")
        if not isinstance(layers, list):
            raise FormatError(where, "manifest has no layers list")
        if len(layers) > _MAX_LAYERS:
            raise FormatError(where, f"more than {_MAX_LAYERS} layers")
        streams: list[Stream] = []
        for number, layer in enumerate(layers):
            if not isinstance(layer, dict):
                raise FormatError(where, f"layer {number} is not a descriptor (a JSON object)")
            layer_digest = _digest(layer.get("digest"), where, f"layer {number}")
            media = _optional_str(layer, "mediaType", where, f"layer {number}")
            streams.append((layer_digest, layer_digest, media, None))
        text = read(lambda d: blobs.open(d), streams, f"{what} ({label})")
        out.append(ImageStatus(f"{what} ({label})", "oci", text))
    if not out:
        raise FormatError(f"{what}: index.json", "no image manifest")
    return out


def _manifests(blobs: _Blobs, index: Any, what: str, name: str,
               depth: int) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(label, digest, manifest) of each image manifest an index leads to."""
    where = f"{what}: {name}"
    if depth > _MAX_NESTING:
        raise FormatError(where, f"image indices nested more than {_MAX_NESTING} deep")
    if not isinstance(index, dict):
        raise FormatError(where, "not an OCI image index (expected a JSON object)")
    descriptors = index.get("manifests")
    if not isinstance(descriptors, list):
        raise FormatError(where, "not an OCI image index: 'manifests' is "
                                 + ("missing" if descriptors is None
                                    else f"{_json_type(descriptors)}, not a list"))
    if len(descriptors) > _MAX_IMAGES:
        raise FormatError(where, f"more than {_MAX_IMAGES} manifests")
    for number, descriptor in enumerate(descriptors):
        item = f"manifest {number}"
        if not isinstance(descriptor, dict):
            raise FormatError(where, f"{item} is not a descriptor (a JSON object)")
        digest = _digest(descriptor.get("digest"), where, item)
        media = _optional_str(descriptor, "mediaType", where, item)
        annotations = _optional_dict(descriptor, "annotations", where, item)
        platform = _optional_dict(descriptor, "platform", where, item)
        document = _json(blobs.read(digest, MAX_JSON), f"{what}: blob {digest}")
        if not isinstance(document, dict):
            raise FormatError(f"{what}: blob {digest}",
                              "not an OCI manifest or index (expected a JSON object)")
        if media.endswith("image.index.v1+json") or "manifests" in document:
            yield from _manifests(blobs, document, what, f"index {digest}", depth + 1)
            continue
        ref = annotations.get("org.opencontainers.image.ref.name")
        system = "/".join(v for v in (platform.get("os"), platform.get("architecture"))
                          if isinstance(v, str) and v)
        label = ref if isinstance(ref, str) and ref else system or digest[:19]
        yield _printable(label), digest, document


# -- layers ---------------------------------------------------------------------------

Stream = tuple[str, str | None, str, Any]  # name, digest, media type, opener argument


def _layers(opener: Any, streams: list[Stream], what: str) -> str:
    """The status seen through the layers, bottom to top (with whiteouts)."""
    status: str | None = None
    for name, digest, media, handle in streams:
        with opener(handle if handle is not None else digest) as raw:
            reader: Any = _Verifying(raw, digest) if digest else raw
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
    except _STREAM_ERRORS as exc:
        raise FormatError(what, f"unreadable layer: {_one_line(exc)}") from exc
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

        return zstandard.ZstdDecompressor().stream_reader(stream)
    return stream  # tar, tar+gzip: tarfile's "r|*" detects gzip/bzip2/xz itself


class _Verifying(io.RawIOBase):
    """Reads through, hashing; `finish` drains the rest and checks the digest."""

    def __init__(self, raw: IO[bytes], digest: str) -> None:
        super().__init__()
        self._raw = raw
        self._algorithm, _, self._expected = _digest(digest, "blob", "digest").partition(":")
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

    label: str  # the image, for error messages

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
                raise FormatError(f"{self.label}: blob {digest}", f"larger than {limit} bytes")
            reader.finish(f"{self.label}: blob {digest}")
        return data

    def path(self, digest: str) -> str:
        algorithm, _, hexdigest = _digest(digest, self.label, "blob").partition(":")
        return f"blobs/{algorithm}/{hexdigest}"


class _DirBlobs(_Blobs):
    def __init__(self, root: Path) -> None:
        self.root = root
        self.label = str(root)

    def named(self, name: str) -> bytes:
        target = self.root / name
        if target.is_symlink() or not target.is_file():
            raise FormatError(self.label, f"{name} is not a regular file")
        if target.stat().st_size > MAX_JSON:
            raise FormatError(self.label, f"{name}: larger than {MAX_JSON} bytes")
        with target.open("rb") as handle:
            return handle.read(MAX_JSON + 1)

    @contextmanager
    def open(self, digest: str) -> Iterator[IO[bytes]]:
        target = self.root / self.path(digest)
        if not target.is_file() or target.is_symlink():
            raise FormatError(self.label, f"blob {digest} is missing")
        with target.open("rb") as handle:
            yield handle


class _TarBlobs(_Blobs):
    def __init__(self, outer: tarfile.TarFile, names: dict[str, tarfile.TarInfo],
                 label: str) -> None:
        self.outer = outer
        self.names = names
        self.label = label

    def named(self, name: str) -> bytes:
        return _read(self.outer, self.names[name], MAX_JSON, self.label)

    @contextmanager
    def open(self, digest: str) -> Iterator[IO[bytes]]:
        member = self.names.get(self.path(digest))
        if member is None:
            raise FormatError(self.label, f"blob {digest} is missing")
        with _extract(self.outer, member, self.label) as handle:
            yield handle


# -- members --------------------------------------------------------------------------


def _clean(name: str) -> str:
    while name.startswith("./"):
        name = name[2:]
    return name.lstrip("/")


@contextmanager
def _extract(outer: tarfile.TarFile, member: tarfile.TarInfo, what: str) -> Iterator[IO[bytes]]:
    if not member.isfile():
        raise FormatError(what, f"{_show(member.name)} is not a regular file")
    handle = outer.extractfile(member)
    if handle is None:
        raise FormatError(what, f"{_show(member.name)} cannot be read")
    with handle:
        yield handle


def _read(outer: tarfile.TarFile, member: tarfile.TarInfo, limit: int, what: str) -> bytes:
    if member.size > limit:
        raise FormatError(what, f"{_show(member.name)}: larger than {limit} bytes")
    with _extract(outer, member, what) as handle:
        return handle.read()


def _member_text(tar: tarfile.TarFile, member: tarfile.TarInfo, what: str) -> str:
    return _read(tar, member, MAX_STATUS, what).decode("utf-8", "replace")


def _json(data: bytes, what: str) -> Any:
    if len(data) > MAX_JSON:
        raise FormatError(what, f"larger than {MAX_JSON} bytes")
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FormatError(what, f"not JSON: {_one_line(exc)}") from exc
    except RecursionError as exc:
        raise FormatError(what, "JSON nested too deep") from exc


# -- checks of untrusted JSON -----------------------------------------------------------


def _digest(value: object, where: str, item: str) -> str:
    """A blob digest `algorithm:hex` of a supported algorithm and its exact length."""
    if isinstance(value, str):
        algorithm, colon, hexdigest = value.partition(":")
        length = _DIGEST_HEX.get(algorithm)
        if colon and length == len(hexdigest) and _HEX.fullmatch(hexdigest):
            return value
    if value is None:
        raise FormatError(where, f"{item} has no digest")
    raise FormatError(where, f"{item}: malformed or unsupported digest {_show(value)} "
                             "(expected sha256:<64 hex digits> or sha512:<128 hex digits>)")


def _optional_str(document: dict[str, Any], key: str, where: str, item: str) -> str:
    value = document.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise FormatError(where, f"{item}: {key} is {_json_type(value)}, not a string")
    return value


def _optional_dict(document: dict[str, Any], key: str, where: str,
                   item: str) -> dict[str, Any]:
    value = document.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise FormatError(where, f"{item}: {key} is {_json_type(value)}, not an object")
    return value


def _member_path(value: object, where: str, item: str) -> str:
    """A docker-archive layer path: relative, no `..`, inside the archive."""
    if not isinstance(value, str) or not value:
        raise FormatError(where, f"{item}: layer {_show(value)} is not a path")
    parts = value.split("/")
    if value.startswith("/") or ".." in parts or "\0" in value:
        raise FormatError(where, f"{item}: layer path {_show(value)} leaves the archive")
    return _clean(value)


def _json_type(value: object) -> str:
    """The JSON type of `value`, with its article: "a string", "an object", "null"."""
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            int: "a number", float: "a number", type(None): "null"}.get(type(value), "a value")


def _show(value: object, limit: int = 80) -> str:
    """A value for an error message: quoted, escaped (one line), shortened."""
    text = repr(value) if isinstance(value, str) else json.dumps(value, default=str)[:limit * 2]
    text = _printable(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)


def _one_line(exc: BaseException) -> str:
    return _printable(" ".join(str(exc).split()))


def _os_cause(exc: OSError) -> str:
    return _printable(f"{exc.filename}: {exc.strerror}" if exc.strerror and exc.filename
                      else " ".join(str(exc).split()))
