"""Indices compressed in pieces (archive/publish/compress.py): what stock apt, xz and
Python read back, what a change recompresses, and what the piece cache refuses."""

from __future__ import annotations

import gzip
import hashlib
import lzma
import random
import subprocess
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archive.publish import compress
from archive.publish.common import compressed
from archive.publish.compress import PieceCache, compress_all, join_xz, pieces, xz_block, xz_piece


def packages_text(count: int, seed: int = 1) -> bytes:
    """A Packages-like index: `count` stanzas of varied length."""
    rng = random.Random(seed)
    return "".join(
        f"Package: pkg{index:05d}\nVersion: 1.{rng.randint(0, 99)}-1\nArchitecture: amd64\n"
        f"Description: package {index}\n " + " ".join(
            rng.choice(["apt", "dpkg", "tools", "library", "data", "shared", "runtime"])
            for _ in range(rng.randint(5, 150))) + "\n\n"
        for index in range(count)).encode()


def apt_reads(path: Path) -> bytes:
    """The bytes stock apt reads from a compressed index (its own FileFd decoders)."""
    return subprocess.run(["/usr/lib/apt/apt-helper", "cat-file", str(path)],
                          capture_output=True, check=True).stdout


@given(st.lists(st.binary(max_size=300).map(lambda b: b.replace(b"\n\n", b"\n") + b"\n\n"),
                max_size=400))
@settings(max_examples=60, deadline=None)
def test_pieces_are_the_data_cut_at_record_ends(records: list[bytes]) -> None:
    data = b"".join(records)
    cut = pieces(data, b"\n\n")
    assert b"".join(cut) == data
    assert pieces(data, b"\n\n") == cut  # a function of the data only
    for piece in cut[:-1]:
        assert piece.endswith(b"\n\n")
        assert len(piece) >= compress.MIN_PIECE


def test_a_change_recompresses_the_piece_that_holds_it() -> None:
    data = packages_text(6000)
    before = pieces(data, b"\n\n")
    assert len(before) > 10
    assert max(len(piece) for piece in before) <= compress.MAX_PIECE + 2000
    inserted = data.replace(b"Package: pkg03000\n",
                            b"Package: pkg02999a\nVersion: 1\nDescription: new\n\n"
                            b"Package: pkg03000\n")
    changed = data.replace(b"Package: pkg01000\nVersion: 1.", b"Package: pkg01000\nVersion: 9.")
    for other in (inserted, changed):
        after = pieces(other, b"\n\n")
        assert len(set(after) - set(before)) <= 2


def test_apt_xz_and_python_read_the_joined_files(tmp_path: Path) -> None:
    data = packages_text(4000)
    out = compress_all({"Packages": (data, b"\n\n")}, PieceCache(None), threads=2)["Packages"]
    assert out[""] == data
    for suffix in (".gz", ".xz"):
        path = tmp_path / f"Packages{suffix}"
        path.write_bytes(out[suffix])
        assert apt_reads(path) == data, f"stock apt reads all of {suffix}"
    assert lzma.decompress(out[".xz"]) == data and gzip.decompress(out[".gz"]) == data
    subprocess.run(["xz", "--test", str(tmp_path / "Packages.xz")], check=True)
    listed = subprocess.run(["xz", "--robot", "--list", str(tmp_path / "Packages.xz")],
                            capture_output=True, text=True, check=True).stdout
    totals = next(line.split("\t") for line in listed.splitlines()
                  if line.startswith("totals"))
    assert totals[1] == "1", "one Stream: apt reads only the first"
    assert int(totals[2]) == len(pieces(data, b"\n\n")) > 1


def test_an_index_of_one_piece_is_what_compressed_always_gave() -> None:
    for data in (b"", b"Package: a\nVersion: 1\n\n", packages_text(40)):
        assert len(pieces(data, b"\n\n")) <= 1
        out = compress_all({"x": (data, b"\n\n")}, PieceCache(None), threads=1)["x"]
        assert out == compressed(data)
        # the parameters the publisher always used: gzip level 9, mtime 0, no name; xz
        # preset 6, CRC64
        encoder = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS, 9)
        assert out[".gz"] == encoder.compress(data) + encoder.flush()
        assert out[".xz"] == lzma.compress(data, format=lzma.FORMAT_XZ,
                                           check=lzma.CHECK_CRC64, preset=6)


def test_join_xz_keeps_blocks_and_refuses_other_streams() -> None:
    parts = [b"one\n" * 1000, b"two\n" * 3000, b"three\n" * 5]
    joined = join_xz([xz_piece(part) for part in parts])
    assert lzma.decompress(joined) == b"".join(parts)
    with pytest.raises(ValueError, match="Blocks, not one"):
        xz_block(joined)
    with pytest.raises(ValueError):
        xz_block(xz_piece(b"x")[:-1] + b"X")
    damaged = bytearray(xz_piece(b"abc" * 100))
    damaged[-13] ^= 1  # the Index's CRC32
    with pytest.raises(ValueError, match="CRC32"):
        xz_block(bytes(damaged))


def test_the_piece_cache_reuses_and_refuses_damaged_pieces(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    data = packages_text(3000)
    root = tmp_path / "pieces"
    first = compress_all({"P": (data, b"\n\n")}, PieceCache(root), threads=2)["P"]
    stored = sorted(root.iterdir())
    assert len(stored) == 2 * len(pieces(data, b"\n\n"))
    made: list[bytes] = []
    real = compress.PIECE_MAKERS[".xz"]

    def counted(piece: bytes) -> bytes:
        made.append(piece)
        return real(piece)

    monkeypatch.setitem(compress.PIECE_MAKERS, ".xz", counted)
    again = compress_all({"P": (data, b"\n\n")}, PieceCache(root), threads=2)["P"]
    assert again == first and made == []  # all from the cache
    victim = next(path for path in stored if path.name.endswith(".xz"))
    blob = bytearray(victim.read_bytes())
    blob[-5] ^= 0xFF
    victim.write_bytes(bytes(blob))
    (root / stored[1].name).write_bytes(b"")  # truncated
    third = compress_all({"P": (data, b"\n\n")}, PieceCache(root), threads=2)["P"]
    assert third == first and len(made) >= 1
    assert hashlib.sha256(victim.read_bytes()[32:]).digest() == victim.read_bytes()[:32]
    cache = PieceCache(root)
    compress_all({"P": (data[:1000], b"\n\n")}, cache, threads=1)
    cache.prune()
    assert len(list(root.iterdir())) == 2  # only the pieces this last call used


def test_a_cached_piece_that_is_not_one_xz_block_is_made_again(tmp_path: Path) -> None:
    data = packages_text(3000)
    root = tmp_path / "pieces"
    first = compress_all({"P": (data, b"\n\n")}, PieceCache(root), threads=1)["P"]
    victim = next(path for path in sorted(root.iterdir()) if path.name.endswith(".xz"))
    body = join_xz([xz_piece(b"a\n"), xz_piece(b"b\n")])  # two Blocks, a valid digest
    victim.write_bytes(hashlib.sha256(body).digest() + body)
    again = compress_all({"P": (data, b"\n\n")}, PieceCache(root), threads=1)["P"]
    assert again == first
