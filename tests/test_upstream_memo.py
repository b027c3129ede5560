"""A worker process reuses the upstream it opened (worker/upstream_memo.py) for its next
tasks, for worker.upstream_ttl seconds, and never after a failure."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import Workspace
from tests.fixtures.archive import FixtureArchive
from tests.fixtures.server import ArchiveServer
from unessential.config import load_settings
from worker.settings import FarmSettings, WorkerSettings
from worker.upstream_memo import forget, shared_upstream


@pytest.fixture
def settings(workspace: Workspace, server: ArchiveServer) -> Iterator[FarmSettings]:
    loaded = load_settings(workspace.config).settings
    forget()
    yield FarmSettings(worker=WorkerSettings(upstream_ttl=60), upstream=loaded.upstream,
                       data_dir=loaded.data_dir, database_url=loaded.effective_database_url)
    forget()


def test_tasks_of_a_process_share_one_opened_upstream(
        settings: FarmSettings, archive: FixtureArchive, server: ArchiveServer) -> None:
    with shared_upstream(settings, "amd64", ("required",)) as first:
        assert sorted({r.package for r in first.records}) == ["libfoo1", "tiny"]
    requests = len(server.requests)
    with shared_upstream(settings, "amd64", ("required",)) as second:
        assert second is first
        second.upstream.fetch_binary("tiny", "1.1", settings.data_dir / "in")
    assert (settings.data_dir / "in" / "tiny_1.1_all.deb").is_file()  # committed
    assert not any("InRelease" in path for path in server.requests[requests:])
    with shared_upstream(settings, "arm64", ("required",)) as other:
        assert other is not first  # another architecture: opened for it


def test_a_failed_task_or_a_zero_ttl_opens_a_fresh_one(
        settings: FarmSettings, archive: FixtureArchive) -> None:
    with shared_upstream(settings, "amd64", ("required",)) as first:
        pass
    with pytest.raises(RuntimeError), shared_upstream(settings, "amd64", ("required",)):
        raise RuntimeError("the task failed")
    with shared_upstream(settings, "amd64", ("required",)) as after:
        assert after is not first
    instant = FarmSettings(worker=WorkerSettings(upstream_ttl=0), upstream=settings.upstream,
                           data_dir=settings.data_dir, database_url=settings.database_url)
    with shared_upstream(instant, "amd64", ("required",)) as one:
        pass
    with shared_upstream(instant, "amd64", ("required",)) as two:
        assert two is not one
