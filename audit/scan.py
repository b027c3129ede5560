"""What scanners see in an image (`unessential scan`): its distribution, its packages and
their purls, and the files no package owns.

Syft, Grype and Trivy name the distribution from os-release, the packages from dpkg's
status, and trust a file to a package through dpkg's `.list` files. An ELF file or a
shared library that no package lists is invisible to them: its vulnerabilities are
never reported. The image is read as `audit.image` reads it (a directory, a rootfs tar,
an OCI layout or archive, a docker-archive; layers streamed with their whiteouts,
nothing unpacked); the purls are computed as bootstrap's SBOMs write them.
"""

from __future__ import annotations

import os
import re
import stat
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from audit.gate import installed_packages
from audit.image import (
    _STREAM_ERRORS,
    STATUS,
    ImageStatus,
    Stream,
    _clean,
    _decompressed,
    _one_line,
    _Verifying,
    read_images,
)
from base.errors import FormatError
from bootstrap.identity import OS_RELEASE, Identity, identity_of, parse_os_release
from bootstrap.model import InstalledPackage
from bootstrap.sbom import purl

INFO = "var/lib/dpkg/info/"
MAX_TEXT = 16 * 1024 * 1024  # one status, .list or os-release file
MAX_ENTRIES = 2_000_000
ELF_MAGIC = b"\x7fELF"
#: merged /usr: what packages list under /bin, /lib... is in /usr
ALIASES = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")


@dataclass
class Entry:
    kind: str  # f file, d directory, l symlink, h hard link, o other
    elf: bool = False
    target: str = ""  # of a link


@dataclass
class Tree:
    """The paths of an image (clean, relative) and the texts scanning needs."""

    entries: dict[str, Entry] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ScannedPackage:
    name: str
    version: str
    architecture: str
    purl: str


@dataclass(frozen=True)
class Scan:
    label: str
    format: str
    identity: Identity | None
    packages: list[ScannedPackage]
    unowned: list[str]  # ELF files and shared libraries no package lists
    files: int  # regular files in the image

    def problems(self) -> list[str]:
        out = []
        if self.identity is None:
            out.append("no /etc/os-release: scanners identify no distribution and give "
                       "packages no purl")
        out += [f"{path}: not owned by any package (scanners cannot see it)"
                for path in self.unowned]
        return out


def scan_image(path: Path) -> list[Scan]:
    """One Scan per image in `path`."""
    images = read_images(path, _tree_layers, _dir_tree, _tar_tree)
    return [_scan(image) for image in images]


# -- what is seen ----------------------------------------------------------------------


def _scan(image: ImageStatus[Tree]) -> Scan:
    tree = image.text
    if STATUS not in tree.texts:
        raise FormatError(image.label, f"no {STATUS}: not a Debian root file system")
    identity = _identity(tree)
    packages: list[ScannedPackage] = []
    for installed in installed_packages(tree.texts[STATUS], image.label):
        name, version = installed.name, installed.version
        source_field = installed.fields.get("Source", "").strip()
        source, _, rest = source_field.partition("(")
        package = InstalledPackage(
            name=name, version=version, architecture=installed.architecture,
            source=source.strip() or name, source_version=rest.rstrip(") ").strip() or version,
            sha256="", size=0, filename="", archive="", suite="",
            source_field=source_field)
        packages.append(ScannedPackage(name, version, package.architecture,
                                       purl(package, identity) if identity else ""))
    owned = _owned(tree)
    unowned = sorted(f"/{path}" for path, entry in tree.entries.items()
                     if entry.kind == "f" and (entry.elf or _library(path))
                     and path not in owned)
    files = sum(1 for entry in tree.entries.values() if entry.kind == "f")
    return Scan(image.label, image.format, identity,
                sorted(packages, key=lambda p: (p.name, p.architecture)), unowned, files)


def _identity(tree: Tree) -> Identity | None:
    for name in OS_RELEASE:
        resolved = _resolve(tree, name)
        if resolved is not None and resolved in tree.texts:
            found = identity_of(parse_os_release(tree.texts[resolved]), "/" + name)
            if found is not None:
                return found
    return None


def _resolve(tree: Tree, path: str, depth: int = 0) -> str | None:
    """`path` with the image's links followed (inside the image), or None."""
    if depth > 16:
        return None
    parts: list[str] = []
    for part in path.split("/"):
        candidate = "/".join([*parts, part])
        entry = tree.entries.get(candidate)
        if entry is not None and entry.kind == "l":
            base = [] if entry.target.startswith("/") else parts
            joined = os.path.normpath("/".join([*base, entry.target.lstrip("/")]))
            if joined.startswith(".."):
                return None
            resolved = _resolve(tree, joined.lstrip("/"), depth + 1)
            if resolved is None:
                return None
            parts = resolved.split("/")
        else:
            parts.append(part)
    return "/".join(parts)


def _owned(tree: Tree) -> set[str]:
    owned: set[str] = set()
    for name, text in tree.texts.items():
        if not (name.startswith(INFO) and name.endswith(".list")):
            continue
        for line in text.splitlines():
            path = line.strip().lstrip("/")
            if not path or path == ".":
                continue
            owned.add(path)
            head, _, rest = path.partition("/")
            if head in ALIASES and rest:
                owned.add(f"usr/{path}")
    return owned


_LIBRARY = re.compile(r"[^/]+\.so(\.[0-9]+)*")


def _library(path: str) -> bool:
    """A shared library's name (`libc.so.6`, `_ssl.cpython-311-x86_64-linux-gnu.so`)."""
    return _LIBRARY.fullmatch(path.rsplit("/", 1)[-1]) is not None


def _wanted(name: str) -> bool:
    return name == STATUS or name in OS_RELEASE or (
        name.startswith(INFO) and name.endswith(".list") and "/" not in name[len(INFO):])


# -- reading ---------------------------------------------------------------------------


def _tree_layers(opener: Any, streams: list[Stream], what: str) -> Tree:
    tree = Tree()
    for name, digest, media, handle in streams:
        with opener(handle if handle is not None else digest) as raw:
            reader: Any = _Verifying(raw, digest) if digest else raw
            _read_layer(_decompressed(reader, media), tree, f"{what}: layer {name}")
            if isinstance(reader, _Verifying):
                reader.finish(f"{what}: layer {name}")
    return tree


def _read_layer(stream: IO[bytes], tree: Tree, what: str) -> None:
    try:
        with tarfile.open(fileobj=stream, mode="r|*") as layer:
            for member in layer:
                _member(layer, member, tree, what)
    except _STREAM_ERRORS as exc:
        raise FormatError(what, f"unreadable layer: {_one_line(exc)}") from exc


def _member(tar: tarfile.TarFile, member: tarfile.TarInfo, tree: Tree, what: str) -> None:
    name = _clean(member.name)
    folder, _, base = name.rpartition("/")
    if base == ".wh..wh..opq":  # an opaque directory: what lower layers had in it goes
        _drop_under(tree, folder)
        return
    if base.startswith(".wh."):
        hidden = f"{folder}/{base[4:]}" if folder else base[4:]
        tree.entries.pop(hidden, None)
        tree.texts.pop(hidden, None)
        _drop_under(tree, hidden)
        return
    if len(tree.entries) >= MAX_ENTRIES:
        raise FormatError(what, f"more than {MAX_ENTRIES} paths")
    if not name:
        return
    if member.isfile():
        entry = Entry("f")
        data = tar.extractfile(member)
        if data is not None:
            if _wanted(name):
                if member.size > MAX_TEXT:
                    raise FormatError(what, f"{name} is larger than {MAX_TEXT} bytes")
                text = data.read()
                tree.texts[name] = text.decode("utf-8", "replace")
                entry.elf = text[:4] == ELF_MAGIC
            else:
                entry.elf = data.read(4) == ELF_MAGIC
                tree.texts.pop(name, None)
    elif member.isdir():
        entry = Entry("d")
    elif member.issym():
        entry = Entry("l", target=member.linkname)
    elif member.islnk():
        linked = tree.entries.get(_clean(member.linkname))
        entry = Entry("f", elf=bool(linked and linked.elf))
    else:
        entry = Entry("o")
    tree.entries[name] = entry


def _drop_under(tree: Tree, folder: str) -> None:
    prefix = f"{folder}/" if folder else ""
    for path in [p for p in tree.entries if p.startswith(prefix) and p != folder]:
        del tree.entries[path]
        tree.texts.pop(path, None)


def _dir_tree(root: Path) -> Tree:
    tree = Tree()
    for path, kind in _walk(root):
        rel = path.relative_to(root).as_posix()
        if kind == "l":
            tree.entries[rel] = Entry("l", target=os.readlink(path))
        elif kind == "f":
            with path.open("rb") as handle:
                head = handle.read(4)
            tree.entries[rel] = Entry("f", elf=head == ELF_MAGIC)
            if _wanted(rel):
                if path.stat().st_size > MAX_TEXT:
                    raise FormatError(str(path), f"larger than {MAX_TEXT} bytes")
                tree.texts[rel] = path.read_bytes().decode("utf-8", "replace")
        else:
            tree.entries[rel] = Entry(kind)
        if len(tree.entries) > MAX_ENTRIES:
            raise FormatError(str(root), f"more than {MAX_ENTRIES} paths")
    return tree


def _walk(root: Path) -> Iterator[tuple[Path, str]]:
    """Every path under `root` and its kind; links never followed."""
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            mode = os.lstat(path).st_mode
            kind = ("l" if stat.S_ISLNK(mode) else "d" if stat.S_ISDIR(mode)
                    else "f" if stat.S_ISREG(mode) else "o")
            yield path, kind


def _tar_tree(outer: tarfile.TarFile, names: dict[str, tarfile.TarInfo], what: str) -> Tree:
    tree = Tree()
    for member in names.values():
        _member(outer, member, tree, what)
    return tree
