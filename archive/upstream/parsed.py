"""Parsed Packages and Sources indices, cached for every process of a host.

Parsing bookworm main (Packages + Sources, ~98,000 stanzas, each field checked) takes
seconds; a worker, the planner, `survey` and bootstrap each need it again. What the
parser returned is kept under `<data_dir>/cache/parsed/`, one file per index:

    <slot>.<index sha256>.v<N>     slot: the suite and index it is of (a hash of them)

keyed by the SHA256 the signed Release gives for the index (a new Release with another
index makes another key: the file of the old one is removed when the new one is
written), and by the record format N (a change of the parser's records makes new
files). A file holds a header line and the records as `marshal` data of plain
values (strings, numbers, dicts: nothing is executed when it is read), authenticated
with HMAC-SHA256 under a key of this data directory (`.key`, mode 0600): a file that
was altered, cut short or written by another version is refused (and the index parsed
again), never used. Files are written to a temporary name and renamed, so two
processes filling the cache at once each read either nothing or a whole file.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import hmac
import json
import marshal
import os
import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from archive.upstream.index import BinaryRecord, SourceRecord

# of the record tuples below: raise it when BinaryRecord/SourceRecord change (2: fields
# without the unread ones, archive.upstream.index.PACKAGES_UNREAD)
VERSION = 2
MAGIC = b"unessential-parsed"
KEY_BYTES = 32

Record = BinaryRecord | SourceRecord


def _binary_row(record: BinaryRecord) -> tuple[Any, ...]:
    return (record.package, record.version, record.architecture, record.source,
            record.source_version, record.filename, record.size, record.sha256,
            record.essential, record.priority, record.fields)


def _source_row(record: SourceRecord) -> tuple[Any, ...]:
    return (record.package, record.version, record.directory, record.fields)


RecordType = type[BinaryRecord] | type[SourceRecord]
KINDS: dict[str, tuple[Callable[[Any], tuple[Any, ...]], RecordType]] = {
    "Packages": (_binary_row, BinaryRecord),
    "Sources": (_source_row, SourceRecord),
}


class ParsedCache:
    """The parsed indices of one data directory."""

    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / "cache" / "parsed"

    # -- the key ---------------------------------------------------------------------
    def _key(self) -> bytes:
        path = self.root / ".key"
        key = _read_key(path)
        if key is not None:
            return key
        self.root.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=self.root, prefix=".key.")  # mode 0600
        try:
            os.write(fd, secrets.token_bytes(KEY_BYTES))
            os.fsync(fd)
            os.close(fd)
            if path.exists():  # damaged: a new key (every cached file is refused)
                os.replace(temp, path)
            else:
                with contextlib.suppress(FileExistsError):  # the first writer's key wins
                    os.link(temp, path)
        finally:
            Path(temp).unlink(missing_ok=True)
        key = _read_key(path)
        if key is None:
            raise OSError(f"{path}: cannot make the parsed-index cache key")
        return key

    @staticmethod
    def _slot(slot: str) -> str:
        return hashlib.sha256(slot.encode()).hexdigest()[:24]

    def path(self, slot: str, index_sha256: str) -> Path:
        return self.root / f"{self._slot(slot)}.{index_sha256}.v{VERSION}"

    # -- read and write --------------------------------------------------------------
    def load(self, kind: str, slot: str, index_sha256: str) -> list[Record] | None:
        """The records of the index whose signed SHA256 is `index_sha256`, or None when
        they are not cached or the file is not one this cache wrote for that index."""
        path = self.path(slot, index_sha256)
        try:
            data = path.read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            return None
        end = data.find(b"\n")
        header, sep = (data[:end], True) if end >= 0 else (data, False)
        payload = memoryview(data)[end + 1:] if sep else memoryview(b"")
        try:
            meta = json.loads(header) if sep else None
        except ValueError:
            meta = None
        if (not isinstance(meta, dict) or meta.get("magic") != MAGIC.decode()
                or meta.get("version") != VERSION or meta.get("kind") != kind
                or meta.get("index") != index_sha256 or not isinstance(meta.get("mac"), str)):
            return None
        if not hmac.compare_digest(_mac(self._key(), kind, index_sha256, payload),
                                   meta["mac"]):
            return None
        collecting = gc.isenabled()
        gc.disable()  # ~100,000 new containers at once: the collector would rescan them
        try:
            rows = marshal.loads(payload)
            make = KINDS[kind][1]._make  # named tuples: checks the number of values
            return list(map(make, rows))
        except (ValueError, EOFError, TypeError):
            return None
        finally:
            if collecting:
                gc.enable()

    def store(self, kind: str, slot: str, index_sha256: str, records: list[Record]) -> None:
        """Keep `records` for that index (atomically), and drop the slot's older files."""
        row = KINDS[kind][0]
        payload = marshal.dumps([row(record) for record in records])
        header = json.dumps({"magic": MAGIC.decode(), "version": VERSION, "kind": kind,
                             "index": index_sha256, "count": len(records),
                             "mac": _mac(self._key(), kind, index_sha256, payload)},
                            sort_keys=True).encode()
        target = self.path(slot, index_sha256)
        self.root.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=self.root, prefix=f".{target.name}.")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(header + b"\n" + payload)
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        for old in self.root.glob(f"{self._slot(slot)}.*"):
            if old != target:
                old.unlink(missing_ok=True)

    def records(self, kind: str, slot: str, index_sha256: str,
                parse: Callable[[], list[Record]],
                later: Callable[[Callable[[], None]], None] | None = None) -> list[Record]:
        """The cached records, or `parse()`'s, cached for the next process (now, or by
        the callable handed to `later`: an Upstream keeps it for its commit, so that a
        failed command leaves nothing). A cache that cannot be written (a read-only data
        directory, a full disk) is not an error."""
        found = self.load(kind, slot, index_sha256)
        if found is not None:
            return found
        records = parse()

        def keep() -> None:
            with contextlib.suppress(OSError):
                self.store(kind, slot, index_sha256, records)

        if later is None:
            keep()
        else:
            later(keep)
        return records


def _mac(key: bytes, kind: str, index_sha256: str, payload: bytes | memoryview) -> str:
    mac = hmac.new(key, b"\0".join((MAGIC, str(VERSION).encode(), kind.encode(),
                                    index_sha256.encode(), b"")), "sha256")
    mac.update(payload)
    return mac.hexdigest()


def _read_key(path: Path) -> bytes | None:
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        return None
    return key if len(key) == KEY_BYTES else None
