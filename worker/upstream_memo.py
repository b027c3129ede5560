"""One verified upstream per worker process, reused by its tasks for a while.

Opening the upstream costs a task more than its rewrite: InRelease fetched and verified
by gpg, the Packages records loaded (parsed-index cache) and the relation universe
built. A worker process keeps what its last task opened and hands it to the next task
with the same data directory, upstream settings, architecture and policy priorities,
for `worker.upstream_ttl` seconds after it was opened (0: every task opens its own).
Every file a task fetches is still verified against the signed indices; only a Release
newer than the TTL is not seen until the next opening (a version that disappeared
meanwhile is a NotFoundError and the task's retry opens a fresh one).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from archive.upstream.index import BinaryRecord
from archive.upstream.mirror import Upstream
from base.console import Reporter
from rewrite.relations import Universe
from worker.settings import FarmSettings


@dataclass
class Opened:
    upstream: Upstream
    records: list[BinaryRecord]
    universe: Universe


@dataclass
class _Held:
    key: tuple[str, ...]
    opened: Opened
    at: float


_held: _Held | None = None


def forget() -> None:
    global _held
    _held = None


@contextmanager
def shared_upstream(settings: FarmSettings, arch: str,
                    priorities: tuple[str, ...]) -> Iterator[Opened]:
    """The process's open upstream (a new one when the last is older than the TTL or
    for other settings); what the block fetched is committed to the cache when it ends,
    and dropped (with the open upstream) when it fails."""
    global _held
    key = (str(settings.data_dir), settings.upstream.model_dump_json(), arch, *priorities)
    ttl = settings.worker.upstream_ttl
    now = time.monotonic()
    if _held is None or _held.key != key or now - _held.at >= ttl:
        _held = None
        upstream = Upstream(settings.data_dir, settings.upstream, reporter=Reporter(quiet=True))
        try:
            records = [record for _, record in upstream.packages(arch)]
            universe = Universe.from_records(records, priorities)
            upstream.commit()
        except BaseException:
            upstream.abort()
            raise
        _held = _Held(key, Opened(upstream, records, universe), now)
    held = _held
    try:
        yield held.opened
    except BaseException:
        held.opened.upstream.abort()
        forget()
        raise
    held.opened.upstream.commit()
    if ttl <= 0:
        forget()
