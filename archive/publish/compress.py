"""Compressed indices made of pieces, so that a publish recompresses only what changed.

An index (Packages, Sources, Contents) is cut into pieces at record boundaries (a
stanza, a Contents line); where a cut falls depends only on the records around it (a
content-defined cut: a record's first line hashed against its length), so adding or
changing a package changes the piece that holds it and, at most, its neighbour. Each
piece is compressed on its own and the results are joined into one valid file:

gzip
    One gzip member per piece, the members one after the other (RFC 1952 2.2: a gzip
    file is a series of members; zlib's gzread, which apt reads with, and Python's
    gzip read them all).
xz
    One xz Stream whose Blocks are the pieces' (the .xz file format 1.2.1, sections
    2 and 3: a Block is compressed independently; the Index lists each Block's
    unpadded and uncompressed size). Stock apt reads only the first Stream of a file,
    so the pieces' Blocks are joined into one Stream, as `xz --threads` writes it, not
    their Streams concatenated.

An index of one piece (anything under `MIN_PIECE` bytes) is exactly what `compressed`
gave before pieces existed: `lzma.compress` and a one-member gzip, byte for byte.

Pieces are cached by the SHA256 of their uncompressed bytes (`PieceCache`); a cached
piece is checked against the SHA256 of its compressed bytes recorded beside it before
it is used, so a damaged cache file costs a recompression, never a broken index.
"""

from __future__ import annotations

import contextlib
import hashlib
import lzma
import os
import struct
import threading
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

AVERAGE_PIECE = 256 * 1024
MIN_PIECE = AVERAGE_PIECE // 4
MAX_PIECE = AVERAGE_PIECE * 4

_XZ_MAGIC = b"\xfd7zXZ\x00"
_XZ_FOOTER_MAGIC = b"YZ"
FORMATS = (".gz", ".xz")


def gzip_piece(data: bytes) -> bytes:
    """One gzip member: level 9, mtime 0, no file name (what `compressed` always made)."""
    encoder = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS, 9)
    return encoder.compress(data) + encoder.flush()


def xz_piece(data: bytes) -> bytes:
    """One xz Stream of one Block: preset 6, CRC64."""
    return lzma.compress(data, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64, preset=6)


PIECE_MAKERS: dict[str, Callable[[bytes], bytes]] = {".gz": gzip_piece, ".xz": xz_piece}


def pieces(data: bytes, separator: bytes) -> list[bytes]:
    """`data` cut after records ending in `separator`, into pieces of MIN_PIECE to
    MAX_PIECE bytes (the last may be shorter); their concatenation is `data`.

    A cut follows a record when the CRC32 of its first line, read as a fraction of
    2**32, is below len(record) / AVERAGE_PIECE: the cuts depend on the records, not
    on their offsets, and fall every AVERAGE_PIECE bytes on average.
    """
    if len(data) < MIN_PIECE:
        return [data] if data else []
    out: list[bytes] = []
    start = 0
    position = 0
    size = len(data)
    step = len(separator)
    while position < size:
        end = data.find(separator, position)
        end = size if end == -1 else end + step
        length = end - position
        head_end = data.find(b"\n", position, end)
        head = data[position:head_end if head_end != -1 else end]
        position = end
        taken = position - start
        if taken < MIN_PIECE:
            continue
        if taken >= MAX_PIECE or zlib.crc32(head) * AVERAGE_PIECE < length << 32:
            out.append(data[start:position])
            start = position
    if start < size:
        out.append(data[start:])
    return out


def _vli(value: int) -> bytes:
    """A variable-length integer of the xz format (7 bits a byte, least first)."""
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _read_vli(data: bytes, offset: int) -> tuple[int, int]:
    value = 0
    for index in range(9):
        byte = data[offset + index]
        value |= (byte & 0x7F) << (7 * index)
        if not byte & 0x80:
            return value, offset + index + 1
    raise ValueError("xz: a variable-length integer longer than 9 bytes")


def xz_block(stream: bytes) -> tuple[bytes, bytes, int, int]:
    """(stream flags, Block with its padding and check, unpadded size, uncompressed
    size) of a one-Block xz Stream; ValueError for anything else."""
    if len(stream) < 24 or stream[:6] != _XZ_MAGIC or stream[-2:] != _XZ_FOOTER_MAGIC:
        raise ValueError("xz: not one Stream")
    flags = stream[6:8]
    if stream[-4:-2] != flags or zlib.crc32(flags) != struct.unpack("<I", stream[8:12])[0]:
        raise ValueError("xz: Stream flags differ or their CRC32 is wrong")
    backward = (struct.unpack("<I", stream[-8:-4])[0] + 1) * 4
    index_start = len(stream) - 12 - backward
    if index_start < 12 or stream[index_start] != 0:
        raise ValueError("xz: no Index where the footer says")
    index = stream[index_start:len(stream) - 12]
    if zlib.crc32(index[:-4]) != struct.unpack("<I", index[-4:])[0]:
        raise ValueError("xz: the Index's CRC32 is wrong")
    count, offset = _read_vli(stream, index_start + 1)
    if count != 1:
        raise ValueError(f"xz: {count} Blocks, not one")
    unpadded, offset = _read_vli(stream, offset)
    uncompressed, offset = _read_vli(stream, offset)
    block = stream[12:index_start]
    if len(block) != (unpadded + 3) & ~3:
        raise ValueError("xz: the Block's size is not the one the Index lists")
    return flags, block, unpadded, uncompressed


def join_xz(streams: list[bytes]) -> bytes:
    """One xz Stream holding the Blocks of one-Block Streams, in order (one stream is
    returned as it is)."""
    if len(streams) == 1:
        return streams[0]
    parts = [xz_block(stream) for stream in streams]
    flags = parts[0][0]
    if any(part[0] != flags for part in parts):
        raise ValueError("xz: pieces with different check types")
    records = b"".join(_vli(unpadded) + _vli(size) for _, _, unpadded, size in parts)
    index = b"\x00" + _vli(len(parts)) + records
    index += b"\x00" * (-len(index) % 4)
    index += struct.pack("<I", zlib.crc32(index))
    backward = struct.pack("<I", len(index) // 4 - 1)
    header = _XZ_MAGIC + flags + struct.pack("<I", zlib.crc32(flags))
    footer = struct.pack("<I", zlib.crc32(backward + flags)) + backward + flags
    return (header + b"".join(block for _, block, _, _ in parts) + index + footer
            + _XZ_FOOTER_MAGIC)


def join(suffix: str, compressed_pieces: list[bytes]) -> bytes:
    if suffix == ".xz":
        return join_xz(compressed_pieces) if compressed_pieces else xz_piece(b"")
    return b"".join(compressed_pieces) if compressed_pieces else gzip_piece(b"")


class PieceCache:
    """Compressed pieces by the SHA256 of their bytes, one file each:
    <root>/<sha256>.<format> holding the SHA256 of the compressed bytes, then them."""

    def __init__(self, root: Path | None) -> None:
        self.root = root
        self.used: set[str] = set()

    def _path(self, digest: str, suffix: str) -> Path | None:
        return None if self.root is None else self.root / f"{digest}{suffix}"

    def get(self, digest: str, suffix: str) -> bytes | None:
        path = self._path(digest, suffix)
        if path is None:
            return None
        self.used.add(path.name)
        try:
            raw = path.read_bytes()
        except OSError:
            return None
        body = raw[32:]
        if len(raw) < 32 or hashlib.sha256(body).digest() != raw[:32]:
            return None
        if suffix == ".xz":
            try:
                xz_block(body)  # what `join_xz` will take apart
            except ValueError:
                return None
        return body

    def put(self, digest: str, suffix: str, body: bytes) -> None:
        path = self._path(digest, suffix)
        if path is None:
            return
        self.used.add(path.name)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
            temp.write_bytes(hashlib.sha256(body).digest() + body)
            os.replace(temp, path)
        except OSError:
            return  # a cache that cannot be written costs a compression next time

    def prune(self) -> None:
        """Remove the pieces this publish did not use (best effort)."""
        if self.root is None:
            return
        try:
            names = os.listdir(self.root)
        except OSError:
            return
        for name in names:
            if name not in self.used:
                with contextlib.suppress(OSError):
                    os.unlink(self.root / name)


def compress_all(indices: dict[str, tuple[bytes, bytes]], cache: PieceCache,
                 threads: int) -> dict[str, dict[str, bytes]]:
    """{path: {"": data, ".gz": ..., ".xz": ...}} for {path: (data, record separator)}.

    Pieces not in `cache` are compressed on `threads` threads (zlib and lzma release
    the GIL) and kept in it."""
    cut = {path: pieces(data, separator) for path, (data, separator) in indices.items()}
    digests = {path: [hashlib.sha256(piece).hexdigest() for piece in parts]
               for path, parts in cut.items()}
    found: dict[tuple[str, str], bytes] = {}
    todo: dict[tuple[str, str], bytes] = {}
    for path, parts in cut.items():
        for digest, piece in zip(digests[path], parts, strict=True):
            for suffix in FORMATS:
                if (digest, suffix) in found or (digest, suffix) in todo:
                    continue
                cached = cache.get(digest, suffix)
                if cached is None:
                    todo[(digest, suffix)] = piece
                else:
                    found[(digest, suffix)] = cached
    # the biggest first, so that the threads finish together
    order = sorted(todo, key=lambda key: (-len(todo[key]) * (8 if key[1] == ".xz" else 1),
                                          key))
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        made = pool.map(lambda key: PIECE_MAKERS[key[1]](todo[key]), order)
        for key, body in zip(order, made, strict=True):
            found[key] = body
            cache.put(key[0], key[1], body)
    return {path: {"": data, **{suffix: join(suffix, [found[(digest, suffix)]
                                                       for digest in digests[path]])
                                for suffix in FORMATS}}
            for path, (data, _) in indices.items()}

