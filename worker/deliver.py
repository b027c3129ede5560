"""A finished build's delivery to the publisher when workers share no disk with it
(`worker.upload_url`): its upload written to `<data_dir>/outgoing/<build>/` (files
and a `.changes` signed with the worker's key) before the build is recorded done, and
sent by HTTP PUT once it is. What cannot be sent now stays in outgoing/ and is sent by
the next build task of this worker, and by the worker's resender (at start, then every
`worker.upload_retry` seconds): a worker killed at any point sends it when it runs
again, and the publisher imports an upload once (`archive.intake`). Senders of one
data directory take turns (a lock), so an upload is never sent by two at once."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from archive.artifacts import ArtifactStore
from archive.catalog.db import make_engine, session_factory
from archive.catalog.models import Build
from archive.changes import Upload, UploadFile
from base.errors import UnessentialError
from worker.outgoing import worker_keys, write_upload
from worker.record import BinaryResult, Claimed, OwnSource
from worker.settings import FarmSettings
from worker.upload import send_upload

Log = Callable[[str], None]


def uploading(settings: FarmSettings) -> bool:
    return settings.worker.upload_url is not None


def prepare_upload(got: Claimed, binaries: list[BinaryResult], made: OwnSource | None,
                   settings: FarmSettings, log: Log) -> Path:
    """Write the build's signed upload into outgoing/ (before the build is recorded
    done: a worker killed after recording it still has its upload to send); the path of
    its `.changes`."""
    store = ArtifactStore(settings.data_dir / "artifacts")
    files: dict[str, Path] = {}
    items: list[UploadFile] = []
    for name, sha, path, section in [
            *((b.filename.rsplit("/", 1)[-1], b.sha256, store.path(b.sha256),
               _section(b.control)) for b in binaries),
            *((name, sha, store.path(sha), "misc") for name, sha, _ in
              (made.files if made else []))]:
        files[name] = path
        items.append(_described(name, path, sha, section))
    architectures = sorted({b.architecture for b in binaries})
    upload = Upload(
        source=got.source, version=made.version if made else got.version,
        architectures=tuple((["source"] if made else []) + architectures),
        binaries=tuple(sorted({b.name for b in binaries})), files=tuple(items),
        build_id=got.build_id, recipe_digest=got.recipe_digest, env_digest=got.env_digest,
        counter=got.counter, date=datetime.now(UTC), distribution=got.suite,
        maintainer=settings.worker.maintainer)
    with worker_keys(settings.data_dir) as keys:
        changes = write_upload(upload, files, settings.data_dir / "outgoing", keys)
    log(f"upload written: {changes.name}")
    return changes


@contextmanager
def _senders_turn(outgoing: Path) -> Iterator[None]:
    """One sender of this data directory at a time (the others wait)."""
    with (outgoing / ".send.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def send_pending(settings: FarmSettings, log: Log) -> int:
    """Send every complete upload in outgoing/ whose build the catalog says is done
    (oldest build first); each sent one is removed, as is one whose build failed or is
    gone; one whose build is still being recorded stays. The number sent."""
    url = settings.worker.upload_url
    outgoing = settings.data_dir / "outgoing"
    if url is None or not outgoing.is_dir():
        return 0
    user = settings.worker.upload_account
    auth = (user, _password(settings)) if settings.worker.upload_password_file else None
    sent = 0
    with _senders_turn(outgoing):
        _clean_unfinished(outgoing)
        pending = sorted(outgoing.glob("[0-9]*/*.changes"), key=lambda p: int(p.parent.name))
        states = _build_states(settings.database_url, [int(p.parent.name) for p in pending])
        for changes in pending:
            build = changes.parent.name
            state = states.get(int(build))
            if state != "done":
                if state in (None, "failed"):
                    log(f"upload of build {build} dropped: the build is "
                        f"{state or 'not in the catalog'}")
                    shutil.rmtree(changes.parent, ignore_errors=True)
                continue
            try:
                send_upload(changes, url, user, auth)
            except UnessentialError as exc:
                log(f"upload of build {build} not sent (kept for the next attempt): {exc}")
                continue
            shutil.rmtree(changes.parent, ignore_errors=True)
            log(f"upload of build {build} sent to {url}")
            sent += 1
    return sent


UNFINISHED_AFTER = 3600.0


def _clean_unfinished(outgoing: Path) -> None:
    """Temporary directories of uploads whose writer died (older than an hour: one
    still being written by another task of this host is left alone)."""
    limit = time.time() - UNFINISHED_AFTER
    for folder in outgoing.glob(".[0-9]*.*"):
        try:
            if folder.is_dir() and folder.lstat().st_mtime < limit:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            continue


def _build_states(database_url: str, ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    engine = make_engine(database_url)
    try:
        with session_factory(engine).begin() as session:
            rows = session.execute(select(Build.id, Build.status).where(Build.id.in_(ids)))
            return {build_id: status for build_id, status in rows}
    finally:
        engine.dispose()


def resend_forever(settings: FarmSettings, log: Log, parent: int) -> None:
    """The worker's resender: send what is pending now, then every
    `worker.upload_retry` seconds, until the process `parent` is gone."""
    interval = settings.worker.upload_retry
    due = 0.0
    while os.getppid() == parent:
        if time.monotonic() >= due:
            try:
                send_pending(settings, log)
            except (UnessentialError, OSError) as exc:
                log(f"pending uploads not sent: {exc}")
            due = time.monotonic() + interval
        time.sleep(1)


def _password(settings: FarmSettings) -> str:
    path = settings.worker.upload_password_file
    assert path is not None
    try:
        return path.read_text().strip()
    except OSError as exc:
        from base.errors import ConfigError

        raise ConfigError(str(path), f"cannot read the upload password: "
                          f"{exc.strerror or exc}") from None


def _described(name: str, path: Path, sha256: str, section: str) -> UploadFile:
    md5, sha1 = hashlib.md5(usedforsecurity=False), hashlib.sha1(usedforsecurity=False)
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            md5.update(chunk)
            sha1.update(chunk)
            size += len(chunk)
    return UploadFile(name, size, md5.hexdigest(), sha1.hexdigest(), sha256, section)


def _section(control: str | None) -> str:
    for line in (control or "").splitlines():
        if line.startswith("Section:"):
            value = line.split(":", 1)[1].strip().rsplit("/", 1)[-1]
            return value if value and " " not in value else "misc"
    return "misc"
