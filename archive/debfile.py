"""Read and deterministically write Debian binary packages (.deb), in pure Python.

A .deb is an ar(5) archive of three members, in this order (deb(5)):

- ``debian-binary``: the format version, ``2.0\\n``;
- ``control.tar[.gz|.xz|.zst]``: the control files (``control``, maintainer scripts,
  ``md5sums``, ``conffiles``, ...), all regular files at the top level;
- ``data.tar[.gz|.xz|.zst|.bz2|.lzma]``: the files installed on the system.

Members whose names start with ``_`` may sit between them and are ignored, as is
anything after the data member.

The rewrite engine changes only the control archive, so the data member is kept as
its raw (compressed) bytes and written back untouched. The control archive is read
with every check of DESIGN principle 4 (no absolute path, no ``..``, no subdirectory,
no link, no device, bounded sizes against decompression bombs) and rebuilt in a fixed
form (principle 7): sorted members, fixed owners, one mtime (SOURCE_DATE_EPOCH), fixed
compression settings. ``write_deb`` switches the result in with a rename (principle 5).

Every problem with the input is one :class:`FormatError` naming the package file and
the cause; I/O errors (a missing file) stay ``OSError``.
"""

from __future__ import annotations

import bz2
import io
import lzma
import re
import tarfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Protocol

import zstandard

from base.atomic import write_bytes
from base.errors import FormatError

MiB = 1024 * 1024
#: Largest single member of a control archive.
CONTROL_MEMBER_LIMIT = 16 * MiB
#: Largest decompressed control archive.
CONTROL_TAR_LIMIT = 64 * MiB
#: Largest compressed control.tar member (generous: compression never doubles a tar).
CONTROL_RAW_LIMIT = 2 * CONTROL_TAR_LIMIT
#: Largest decompressed data archive that :func:`data_listing` walks through.
DATA_TAR_LIMIT = 64 * 1024 * MiB
#: Memory an xz/lzma decoder may allocate (xz -9 needs 65 MiB).
LZMA_MEMLIMIT = 256 * MiB
#: Largest file an ar header can describe (10 decimal digits).
AR_SIZE_LIMIT = 10**10 - 1

AR_MAGIC = b"!<arch>\n"
DEB_VERSION = b"2.0\n"

# Compressions by file-name extension, and the names write_deb accepts for them.
CONTROL_EXTENSIONS = ("", ".gz", ".xz", ".zst")
DATA_EXTENSIONS = ("", ".gz", ".xz", ".zst", ".bz2", ".lzma")
_COMPRESSION_EXT = {
    "xz": ".xz",
    "gz": ".gz",
    "gzip": ".gz",
    "zst": ".zst",
    "zstd": ".zst",
    "none": "",
}

_CHUNK = 1 * MiB  # decompressed bytes produced per step
_ZSTD_PIECE = 512  # compressed bytes fed per zstd step: at most ~16 MiB out per step


@dataclass(frozen=True)
class ControlMember:
    """One file of the control archive."""

    name: str  # "control", "postinst", "md5sums", ... (no "./" prefix)
    data: bytes
    mode: int  # permission bits, e.g. 0o755 for scripts, 0o644 otherwise


@dataclass
class DebFile:
    """A binary package: parsed control archive, untouched data member."""

    members: dict[str, ControlMember]  # the control.tar members, by name
    data_name: str  # e.g. "data.tar.xz" (as in the ar archive)
    data: bytes  # the data.tar.* member, raw (compressed) bytes, kept untouched
    control_name: str  # e.g. "control.tar.xz" as read
    #: Where it was read from (path or name), to name it in errors; not compared.
    origin: str = field(default="", compare=False)


class _Bad(Exception):
    """Internal: a format problem; the caller turns it into FormatError(subject, cause)."""


# ---------------------------------------------------------------------------------
# reading


def read_deb(path: Path) -> DebFile:
    """Read and check a .deb file. Raises FormatError (naming `path`) if it is not one."""
    subject = str(path)
    with open(path, "rb") as stream:
        return _read(stream, subject)


def read_deb_bytes(data: bytes, name: str) -> DebFile:
    """Read and check a .deb held in memory; `name` names it in errors."""
    return _read(io.BytesIO(data), name)


def _read(stream: BinaryIO, subject: str) -> DebFile:
    try:
        return _parse_deb(stream, subject)
    except _Bad as exc:
        raise FormatError(subject, str(exc)) from None


def _parse_deb(stream: BinaryIO, subject: str) -> DebFile:
    if _read_exact(stream, len(AR_MAGIC), "ar magic", allow_short=True) != AR_MAGIC:
        raise _Bad("not a Debian package (no ar archive magic '!<arch>')")
    offset = len(AR_MAGIC)

    def next_member() -> tuple[str, int] | None:
        nonlocal offset
        header = _read_exact(stream, 60, "ar member header", allow_short=True)
        if not header:
            return None
        if len(header) < 60:
            raise _Bad(f"truncated ar member header at offset {offset}")
        name, size = _parse_ar_header(header, offset)
        offset += 60
        return name, size

    def take(name: str, size: int, limit: int | None = None) -> bytes:
        nonlocal offset
        if limit is not None and size > limit:
            raise _Bad(f"member '{name}' is larger than {_human(limit)}")
        body = _read_exact(stream, size, f"member '{name}'")
        offset += size
        if size % 2:  # ar pads members to an even offset
            _read_exact(stream, 1, f"padding of member '{name}'")
            offset += 1
        return body

    def skip(name: str, size: int) -> None:
        nonlocal offset
        left = size + size % 2
        while left:
            got = len(_read_exact(stream, min(left, _CHUNK), f"member '{name}'"))
            left -= got
        offset += size + size % 2

    def next_required(what: str) -> tuple[str, int]:
        """The next member that is not an ignorable `_`-prefixed one."""
        while True:
            member = next_member()
            if member is None:
                raise _Bad(f"no {what} member")
            name, size = member
            if not name.startswith("_"):
                return name, size
            skip(name, size)

    first = next_member()
    if first is None:
        raise _Bad("empty ar archive (no debian-binary member)")
    name, size = first
    if name != "debian-binary":
        raise _Bad(f"first member is '{name}', not 'debian-binary'")
    version = take(name, size, limit=4096)
    if not re.fullmatch(rb"2\.[0-9]+\n.*", version, re.DOTALL):
        shown = _quote(version.split(b"\n", 1)[0][:20].decode("latin-1"))
        raise _Bad(f"unsupported package format version {shown} (expected 2.0)")

    control_name, size = next_required("control.tar")
    control_ext = _extension(control_name, "control.tar", CONTROL_EXTENSIONS)
    control_raw = take(control_name, size, limit=CONTROL_RAW_LIMIT)

    data_name, size = next_required("data.tar")
    _extension(data_name, "data.tar", DATA_EXTENSIONS)
    data = _read_exact(stream, size, f"member '{data_name}'")
    # Anything after the data member is ignored (deb(5)), including its padding.

    members = _parse_control_tar(control_raw, control_name, control_ext)
    return DebFile(members=members, data_name=data_name, data=data,
                   control_name=control_name, origin=subject)


def _read_exact(stream: BinaryIO, size: int, what: str, *, allow_short: bool = False) -> bytes:
    chunks: list[bytes] = []
    left = size
    while left:
        chunk = stream.read(left)
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    body = b"".join(chunks)
    if left and not allow_short:
        raise _Bad(f"truncated {what}: {size - left} of {size} bytes")
    return body


def _parse_ar_header(header: bytes, offset: int) -> tuple[str, int]:
    if header[58:60] != b"`\n":
        raise _Bad(f"corrupt ar member header at offset {offset}")
    raw_name = header[0:16].rstrip(b" ")
    if raw_name.endswith(b"/") and raw_name != b"/":
        raw_name = raw_name[:-1]  # GNU ar terminates names with '/'
    try:
        name = raw_name.decode("ascii")
    except UnicodeDecodeError:
        raise _Bad(f"corrupt ar member name at offset {offset}") from None
    if not name.isprintable() or not name:
        raise _Bad(f"corrupt ar member name at offset {offset}")
    size_field = header[48:58].strip(b" ")
    if not size_field.isdigit():
        raise _Bad(f"corrupt size of ar member '{name}' at offset {offset}")
    return name, int(size_field)


def _extension(name: str, stem: str, allowed: tuple[str, ...]) -> str:
    if not name.startswith(stem):
        raise _Bad(f"unexpected member '{name}' where {stem} was expected")
    ext = name[len(stem):]
    if ext not in allowed:
        raise _Bad(f"unsupported compression of '{name}' (expected one of "
                   + ", ".join(stem + e for e in allowed) + ")")
    return ext


def _parse_control_tar(raw: bytes, member: str, ext: str) -> dict[str, ControlMember]:
    tar_file = _decompress_bounded(raw, ext, member, CONTROL_TAR_LIMIT)
    members: dict[str, ControlMember] = {}
    try:
        with tarfile.open(fileobj=tar_file, mode="r:",
                          encoding="utf-8", errors="surrogateescape") as tar:
            while (info := tar.next()) is not None:
                name = _control_member_name(info, member)
                if name is None:
                    continue
                if name in members:
                    raise _Bad(f"{member} member {_quote(info.name)} appears twice")
                if info.size > CONTROL_MEMBER_LIMIT:
                    raise _Bad(f"{member} member {_quote(info.name)} is larger than "
                               f"{_human(CONTROL_MEMBER_LIMIT)}")
                source = tar.extractfile(info)
                if source is None:  # pragma: no cover - regular files always have one
                    raise _Bad(f"{member} member {_quote(info.name)} has no data")
                body = source.read()
                if len(body) != info.size:
                    raise _Bad(f"{member} member {_quote(info.name)} is truncated")
                members[name] = ControlMember(name=name, data=body, mode=info.mode & 0o777)
            end = tar.offset
    except (tarfile.TarError, EOFError, ValueError, OverflowError) as exc:
        raise _Bad(f"corrupt {member}: {exc}") from None
    # tarfile stops quietly at a damaged header after the first: only the end-of-archive
    # zero blocks (and record padding) may follow the last member.
    tail = tar_file.getbuffer()[end:].tobytes()
    if tail.count(0) != len(tail):
        raise _Bad(f"corrupt {member}: damaged tar header at offset {end}")
    if "control" not in members:
        raise _Bad(f"{member} has no 'control' member")
    return members


def _control_member_name(info: tarfile.TarInfo, member: str) -> str | None:
    """The checked top-level name of a control.tar entry; None for the "./" entry."""
    raw = info.name
    shown = f"{member} member {_quote(raw)}"
    if raw in (".", "./", "") and info.isdir():
        return None
    if raw.startswith("/"):
        raise _Bad(f"{shown} has an absolute path")
    name = raw[2:] if raw.startswith("./") else raw
    parts = name.split("/")
    if ".." in parts:
        raise _Bad(f"{shown} escapes the control archive")
    if info.isdir():
        raise _Bad(f"{shown} is a directory (control files must be at the top level)")
    if len(parts) > 1 or name in ("", "."):
        raise _Bad(f"{shown} is not at the top level of the control archive")
    if info.type not in (tarfile.REGTYPE, tarfile.AREGTYPE):
        raise _Bad(f"{shown} is {_kind(info)}, not a regular file")
    return name


def _kind(info: tarfile.TarInfo) -> str:
    kinds = {
        tarfile.SYMTYPE: "a symbolic link",
        tarfile.LNKTYPE: "a hard link",
        tarfile.CHRTYPE: "a character device",
        tarfile.BLKTYPE: "a block device",
        tarfile.FIFOTYPE: "a FIFO",
        tarfile.DIRTYPE: "a directory",
        tarfile.GNUTYPE_SPARSE: "a sparse file",
    }
    return kinds.get(info.type, f"of unsupported tar type {info.type!r}")


# ---------------------------------------------------------------------------------
# decompression, bounded and incremental


def _decompress_bounded(raw: bytes, ext: str, member: str, limit: int) -> io.BytesIO:
    """The decompressed bytes, at most `limit` of them, in a file positioned at 0."""
    out = io.BytesIO()
    total = 0
    for chunk in _decompress_iter(raw, ext, member):
        total += len(chunk)
        if total > limit:
            raise _Bad(f"{member} decompresses to more than {_human(limit)} "
                       "(refused as a decompression bomb)")
        out.write(chunk)
    out.seek(0)
    return out


def _decompress_iter(raw: bytes, ext: str, member: str) -> Iterator[bytes]:
    """Yield the decompressed bytes of `raw` in steps of bounded size.

    Truncated or corrupt input raises _Bad; the whole input must be consumed (several
    concatenated streams are fine, trailing zero bytes too).
    """
    try:
        if ext == "":
            for start in range(0, len(raw), _CHUNK):
                yield raw[start:start + _CHUNK]
        elif ext == ".gz":
            yield from _zlib_iter(raw, member)
        elif ext == ".xz":
            yield from _lzma_iter(
                raw, member,
                lambda: lzma.LZMADecompressor(lzma.FORMAT_XZ, memlimit=LZMA_MEMLIMIT))
        elif ext == ".lzma":
            yield from _lzma_iter(
                raw, member,
                lambda: lzma.LZMADecompressor(lzma.FORMAT_ALONE, memlimit=LZMA_MEMLIMIT))
        elif ext == ".bz2":
            yield from _lzma_iter(raw, member, bz2.BZ2Decompressor)
        elif ext == ".zst":
            yield from _zstd_iter(raw, member)
        else:  # pragma: no cover - names are checked before
            raise _Bad(f"unsupported compression of '{member}'")
    except (zlib.error, lzma.LZMAError, zstandard.ZstdError, OSError, EOFError,
            ValueError, MemoryError) as exc:
        raise _Bad(f"corrupt {member}: {exc}") from None


def _only_padding(rest: bytes) -> bool:
    return rest.count(0) == len(rest)


def _zlib_iter(raw: bytes, member: str) -> Iterator[bytes]:
    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    pending = raw
    while True:
        out = decoder.decompress(pending, _CHUNK)
        pending = decoder.unconsumed_tail
        if out:
            yield out
        if decoder.eof:
            rest = decoder.unused_data
            if _only_padding(rest):
                return
            decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)  # next gzip member
            pending = rest
        elif not out and not pending:
            raise _Bad(f"truncated {member}: compressed stream ends early")


class _Decoder(Protocol):
    """What lzma.LZMADecompressor and bz2.BZ2Decompressor have in common."""

    @property
    def eof(self) -> bool: ...

    @property
    def needs_input(self) -> bool: ...

    @property
    def unused_data(self) -> bytes: ...

    def decompress(self, data: bytes, max_length: int = -1) -> bytes: ...


def _lzma_iter(raw: bytes, member: str, make: Callable[[], _Decoder]) -> Iterator[bytes]:
    decoder = make()
    pending = raw
    while True:
        if decoder.eof:
            rest = decoder.unused_data
            if _only_padding(rest):
                return
            decoder = make()  # next concatenated stream
            pending = rest
        if decoder.needs_input and not pending:
            raise _Bad(f"truncated {member}: compressed stream ends early")
        out = decoder.decompress(pending, _CHUNK)
        pending = b""
        if out:
            yield out


def _zstd_iter(raw: bytes, member: str) -> Iterator[bytes]:
    # zstandard's decompressobj has no output limit: feed it small pieces instead (a
    # zstd block needs at least 4 input bytes for at most 128 KiB of output).
    context = zstandard.ZstdDecompressor()
    decoder = context.decompressobj()
    view = memoryview(raw)
    pos = 0
    while True:
        if pos >= len(view):
            raise _Bad(f"truncated {member}: compressed stream ends early")
        piece = bytes(view[pos:pos + _ZSTD_PIECE])
        pos += len(piece)
        out = decoder.decompress(piece)
        if out:
            yield out
        if decoder.eof:
            rest = decoder.unused_data + bytes(view[pos:])
            if _only_padding(rest):
                return
            decoder = context.decompressobj()  # next frame
            view = memoryview(rest)
            pos = 0


class _Stream(io.RawIOBase):
    """A read-only file over decompressed chunks, for tarfile's stream mode."""

    def __init__(self, chunks: Iterator[bytes], member: str, limit: int) -> None:
        super().__init__()
        self._chunks = chunks
        self._member = member
        self._limit = limit
        self._total = 0
        self._buffer = b""
        self._pos = 0

    def readable(self) -> bool:
        return True

    def readinto(self, target: bytearray | memoryview) -> int:  # type: ignore[override]
        while self._pos >= len(self._buffer):
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._total += len(chunk)
            if self._total > self._limit:
                raise _Bad(f"{self._member} decompresses to more than {_human(self._limit)}")
            self._buffer, self._pos = chunk, 0
        size = min(len(target), len(self._buffer) - self._pos)
        target[:size] = self._buffer[self._pos:self._pos + size]
        self._pos += size
        return size


# ---------------------------------------------------------------------------------
# listing the data archive


#: tar member type -> kind letter: f file, d directory, l symlink, h hard link, c/b device,
#: p FIFO (as `data_listing` reports them and bootstrap's unpack checks them)
TYPE_CODES = {
    tarfile.REGTYPE: "f",
    tarfile.AREGTYPE: "f",
    tarfile.CONTTYPE: "f",
    tarfile.GNUTYPE_SPARSE: "f",
    tarfile.DIRTYPE: "d",
    tarfile.SYMTYPE: "l",
    tarfile.LNKTYPE: "h",
    tarfile.CHRTYPE: "c",
    tarfile.BLKTYPE: "b",
    tarfile.FIFOTYPE: "p",
}


def data_listing(deb: DebFile) -> list[tuple[str, str, int]]:
    """(path without leading "./", type, size) of each data.tar entry, in archive order.

    Types: 'f' file, 'd' directory, 'l' symlink, 'h' hard link, 'c'/'b' device, 'p' FIFO,
    '?' anything else. The root directory is ".". Size is 0 for all but files. The
    archive is streamed, never held decompressed in memory.
    """
    subject = deb.origin or deb.data_name
    member = deb.data_name
    try:
        ext = _extension(member, "data.tar", DATA_EXTENSIONS)
        stream = _Stream(_decompress_iter(deb.data, ext, member), member, DATA_TAR_LIMIT)
        listing: list[tuple[str, str, int]] = []
        with tarfile.open(fileobj=io.BufferedReader(stream, _CHUNK), mode="r|",
                          encoding="utf-8", errors="surrogateescape") as tar:
            for info in tar:
                path = info.name[2:] if info.name.startswith("./") else info.name
                code = TYPE_CODES.get(info.type, "?")
                listing.append((path or ".", code, info.size if code == "f" else 0))
        return listing
    except _Bad as exc:
        raise FormatError(subject, str(exc)) from None
    except (tarfile.TarError, EOFError, ValueError, OverflowError, OSError) as exc:
        raise FormatError(subject, f"corrupt {member}: {exc}") from None


# ---------------------------------------------------------------------------------
# writing


def clamp_mtime(source_date_epoch: int | None, fallback: int) -> int:
    """The mtime to write: `fallback` clamped to SOURCE_DATE_EPOCH when that is set.

    As ``tar --clamp-mtime``: a timestamp later than SOURCE_DATE_EPOCH becomes
    SOURCE_DATE_EPOCH; never negative.
    """
    value = fallback if source_date_epoch is None else min(fallback, source_date_epoch)
    return max(value, 0)


def write_deb(deb: DebFile, path: Path, *, mtime: int, compression: str = "xz") -> None:
    """Write `deb` to `path` atomically and durably (`base.atomic`; mode 0644 less the
    umask, as a new file would have)."""
    body = deb_bytes(deb, mtime=mtime, compression=compression)
    write_bytes(Path(path), body, mode=0o644, umask=True)


def deb_bytes(deb: DebFile, *, mtime: int, compression: str = "xz") -> bytes:
    """The .deb as bytes: same DebFile, mtime and compression give the same bytes.

    ar members: debian-binary ("2.0"), control.tar.<ext> rebuilt, the data member
    unchanged; every ar header with this mtime, uid/gid 0, mode 100644.
    """
    if compression not in _COMPRESSION_EXT:
        raise ValueError(f"unknown control.tar compression {compression!r} "
                         "(expected xz, gz, zst or none)")
    if isinstance(mtime, bool) or not isinstance(mtime, int) or not 0 <= mtime < 10**12:
        raise ValueError(f"mtime must be a non-negative integer, not {mtime!r}")
    _check_for_writing(deb)
    ext = _COMPRESSION_EXT[compression]
    control = _compress(_control_tar(deb, mtime), ext)
    out = io.BytesIO()
    out.write(AR_MAGIC)
    for name, body in (("debian-binary", DEB_VERSION), ("control.tar" + ext, control),
                       (deb.data_name, deb.data)):
        out.write(_ar_header(name, len(body), mtime))
        out.write(body)
        if len(body) % 2:
            out.write(b"\n")
    return out.getvalue()


def _check_for_writing(deb: DebFile) -> None:
    try:
        _extension(deb.data_name, "data.tar", DATA_EXTENSIONS)
    except _Bad as exc:
        raise ValueError(str(exc)) from None
    if len(deb.data) > AR_SIZE_LIMIT:
        raise ValueError(f"{deb.data_name} is too large for an ar archive")
    if "control" not in deb.members:
        raise ValueError("a package needs a 'control' member")
    total = 0
    for key, member in deb.members.items():
        if key != member.name:
            raise ValueError(f"control member {member.name!r} is filed under {key!r}")
        name = member.name
        if not name or name in (".", "..") or "/" in name or "\0" in name:
            raise ValueError(f"invalid control member name {name!r}")
        if not 0 <= member.mode <= 0o7777:
            raise ValueError(f"invalid mode {member.mode:o} of control member {name!r}")
        if len(member.data) > CONTROL_MEMBER_LIMIT:
            raise ValueError(f"control member {name!r} is larger than "
                             f"{_human(CONTROL_MEMBER_LIMIT)}")
        total += len(member.data) + 1024
    if total > CONTROL_TAR_LIMIT:
        raise ValueError(f"control archive would be larger than {_human(CONTROL_TAR_LIMIT)}")


def _tar_info(name: str, size: int, mode: int, mtime: int, kind: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = size
    info.mode = mode
    info.mtime = mtime
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def _control_tar(deb: DebFile, mtime: int) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT,
                      encoding="utf-8", errors="surrogateescape") as tar:
        tar.addfile(_tar_info(".", 0, 0o755, mtime, tarfile.DIRTYPE))  # stored as "./"
        for name in sorted(deb.members):
            member = deb.members[name]
            info = _tar_info("./" + name, len(member.data), member.mode, mtime,
                             tarfile.REGTYPE)
            tar.addfile(info, io.BytesIO(member.data))
    return out.getvalue()


def _compress(data: bytes, ext: str) -> bytes:
    if ext == ".xz":
        return lzma.compress(data, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64, preset=6)
    if ext == ".gz":
        # zlib's own gzip header: no file name, mtime 0, fixed OS byte.
        encoder = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS, 9)
        return encoder.compress(data) + encoder.flush()
    if ext == ".zst":
        zstd = zstandard.ZstdCompressor(level=19, write_checksum=True,
                                        write_content_size=True, threads=0)
        return zstd.compress(data)
    return data


def _ar_header(name: str, size: int, mtime: int) -> bytes:
    header = (f"{name:<16}{mtime:<12}{0:<6}{0:<6}{'100644':<8}{size:<10}`\n").encode("ascii")
    if len(header) != 60:  # pragma: no cover - names and sizes are checked before
        raise ValueError(f"ar member {name!r} does not fit an ar header")
    return header


def _quote(text: str) -> str:
    """`text` in single quotes, non-printable characters escaped: messages stay one line."""
    return "'" + "".join(
        c if c.isprintable() else f"\\x{ord(c):02x}" if ord(c) < 256 else f"\\u{ord(c):04x}"
        for c in text) + "'"


def _human(size: int) -> str:
    return f"{size // MiB} MiB" if size % MiB == 0 else f"{size} bytes"
