"""A finished build's delivery to the publisher when workers share no disk with it
(`worker.upload_url`): its upload written to `<data_dir>/outgoing/<build>/` (files
and a `.changes` signed with the worker's key) and sent by HTTP PUT. What cannot be
sent now stays in outgoing/ and is sent by the next build task of this worker (after
a crash too): the build itself is recorded done either way, and the publisher imports
an upload once (`archive.intake`)."""

from __future__ import annotations

import hashlib
import shutil
import socket
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from archive.artifacts import ArtifactStore
from archive.changes import Upload, UploadFile
from base.errors import UnessentialError
from worker.outgoing import worker_keys, write_upload
from worker.record import BinaryResult, Claimed, OwnSource
from worker.settings import FarmSettings
from worker.upload import send_upload

Log = Callable[[str], None]


def uploading(settings: FarmSettings) -> bool:
    return settings.worker.upload_url is not None


def deliver(got: Claimed, binaries: list[BinaryResult], made: OwnSource | None,
            settings: FarmSettings, log: Log) -> None:
    """Write the build's signed upload and send what is pending; a failure to send is
    logged and left for the next task."""
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
    send_pending(settings, log)


def send_pending(settings: FarmSettings, log: Log) -> int:
    """Send every complete upload in outgoing/ (oldest build first); each sent one is
    removed. The number sent."""
    url = settings.worker.upload_url
    outgoing = settings.data_dir / "outgoing"
    if url is None or not outgoing.is_dir():
        return 0
    user = settings.worker.upload_user or socket.gethostname()
    auth = (user, _password(settings)) if settings.worker.upload_password_file else None
    sent = 0
    for changes in sorted(outgoing.glob("[0-9]*/*.changes"),
                          key=lambda p: int(p.parent.name)):
        try:
            send_upload(changes, url, user, auth)
        except UnessentialError as exc:
            log(f"upload of build {changes.parent.name} not sent (kept for the next task): "
                f"{exc}")
            continue
        shutil.rmtree(changes.parent, ignore_errors=True)
        log(f"upload of build {changes.parent.name} sent to {url}")
        sent += 1
    return sent


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
