"""The publisher's check of an upload before anything of it is used (issue 18).

As dak's process-upload does for a buildd's upload: the `.changes` must be clearsigned
by a key of the accepted worker keyring (verified in a private GNUPGHOME; the signer's
fingerprint checked by us), and every file it lists must be in the incoming directory
with exactly its size and SHA256. Only then is the upload returned; any failure is one
error naming the file and the problem, and nothing of the upload has been used.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError as DatabaseIntegrity
from sqlalchemy.orm import Session, sessionmaker

from archive.artifacts import ArtifactStore
from archive.catalog.db import make_engine, session_factory
from archive.catalog.models import Build, UploadRecord
from archive.changes import Upload, parse_changes
from archive.upstream.aptsources import SignedBy
from archive.upstream.signature import verify_clearsigned
from base.errors import (
    FormatError,
    IntegrityError,
    NotFoundError,
    TruncatedDownload,
    UnessentialError,
)

MAX_CHANGES = 1 << 20  # a .changes lists files; it is never megabytes


@dataclass(frozen=True)
class VerifiedUpload:
    upload: Upload
    signers: tuple[str, ...]  # primary key fingerprints
    changes: Path


def verify_upload(changes: Path, keyrings: list[Path]) -> VerifiedUpload:
    """The upload `changes` describes, once its signature and every file are checked."""
    what = str(changes)
    try:
        size = changes.stat().st_size
        if size > MAX_CHANGES:
            raise FormatError(what, f"larger than {MAX_CHANGES} bytes: not a .changes file")
        data = changes.read_bytes()
    except FileNotFoundError:
        raise NotFoundError(what, "no such .changes file") from None
    verified = verify_clearsigned(data, what, SignedBy(keyrings=tuple(keyrings)))
    try:
        text = verified.content.decode("utf-8")
    except UnicodeDecodeError:
        raise FormatError(what, "the signed text is not UTF-8") from None
    upload = parse_changes(text, what)
    for item in upload.files:
        path = changes.parent / item.name  # a plain name (parse_changes checked it)
        if not path.is_file() or path.is_symlink():
            raise NotFoundError(str(path), f"listed in {changes.name} but not uploaded")
        actual = path.stat().st_size
        if actual != item.size:
            raise TruncatedDownload(str(path), f"{actual} bytes, {changes.name} says "
                                               f"{item.size}")
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
        if digest.hexdigest() != item.sha256:
            raise IntegrityError(str(path), f"SHA256 {digest.hexdigest()}, {changes.name} "
                                            f"says {item.sha256}")
    return VerifiedUpload(upload, verified.signers, changes)


class Rejected(FormatError):
    """An upload the intake refuses; `reason` is a code the catalog records."""

    kind = "rejected-upload"

    def __init__(self, subject: str, reason: str, cause: str) -> None:
        super().__init__(subject, f"{reason}: {cause}")
        self.reason = reason


@dataclass(frozen=True)
class BuildFacts:
    """What the catalog knows of the build an upload claims to be."""

    build_id: int
    status: str
    recipe_digest: str
    env_digest: str
    counter: int | None
    files: dict[str, str]  # pool file name -> SHA256, as the worker recorded them
    imported: bool = False  # an upload of it was imported already


REASONS = ("unknown-build", "not-done", "identity", "files", "replay", "unknown-worker",
           "incomplete")


def check_against_build(upload: Upload, facts: BuildFacts | None, what: str) -> None:
    """Refuse an upload that is not the catalog's build: unknown or unfinished build,
    another identity (recipe, environment, counter), other files or bytes, or a build
    whose upload was imported already (a replay)."""
    if facts is None:
        raise Rejected(what, "unknown-build", f"no build {upload.build_id} in the catalog")
    if facts.imported:
        raise Rejected(what, "replay", f"build {facts.build_id} was imported already")
    if facts.status != "done":
        raise Rejected(what, "not-done", f"build {facts.build_id} is {facts.status}")
    claimed = (upload.recipe_digest, upload.env_digest, upload.counter)
    known = (facts.recipe_digest, facts.env_digest, facts.counter)
    if claimed != known:
        raise Rejected(what, "identity", f"build {facts.build_id} has recipe, environment "
                                         "and counter other than the upload's")
    sent = {item.name: item.sha256 for item in upload.files}
    if sent != facts.files:
        differ = sorted(set(sent) ^ set(facts.files)) or sorted(
            name for name in sent if sent[name] != facts.files[name])
        raise Rejected(what, "files", f"not the files build {facts.build_id} recorded "
                                      f"({', '.join(differ[:3])})")


# -- the queue ---------------------------------------------------------------------


@dataclass(frozen=True)
class IntakeResult:
    changes: str  # worker/build/name.changes, relative to the incoming directory
    build_id: int | None
    status: str  # imported | rejected
    reason: str = ""
    detail: str = ""


@dataclass(frozen=True)
class Acceptance:
    """Whose uploads are accepted. `keyrings`: keys accepted from any worker account.
    `worker_keys`: a directory of `<account>.asc` (or `.gpg`) files; an upload under
    `incoming/<account>/` must be signed by a key of that account's file (a worker's
    key cannot upload in another worker's name)."""

    keyrings: tuple[Path, ...] = ()
    worker_keys: Path | None = None

    def for_account(self, account: str, what: str) -> list[Path]:
        files = list(self.keyrings)
        if self.worker_keys is not None and ACCOUNT.fullmatch(account):
            files += [path for suffix in (".asc", ".gpg")
                      if (path := self.worker_keys / f"{account}{suffix}").is_file()]
        if not files:
            raise Rejected(what, "unknown-worker",
                           f"no accepted key for worker account {account!r}")
        return files


ACCOUNT = re.compile(r"[A-Za-z0-9_.-]+")
INCOMPLETE_AFTER = 24 * 3600.0  # an upload without its .changes this long is given up


def process_incoming(incoming: Path, quarantine: Path, accepted: Acceptance | list[Path],
                     database_url: str, store: ArtifactStore, *,
                     incomplete_after: float = INCOMPLETE_AFTER) -> list[IntakeResult]:
    """Take in every complete upload under `incoming` (`<worker>/<build>/*.changes`): a
    verified one that is the catalog's build has its files copied into `store` and its
    directory removed; a refused one is moved under `quarantine`; either way a catalog
    row says what happened (and why). An upload whose `.changes` has not arrived is left
    for later, and quarantined as `incomplete` once nothing of it changed for
    `incomplete_after` seconds (a worker that died for good half way). Nothing of a
    refused upload reaches the store."""
    if not isinstance(accepted, Acceptance):
        accepted = Acceptance(keyrings=tuple(accepted))
    results = []
    engine = make_engine(database_url)
    try:
        sessions = session_factory(engine)
        for folder in _upload_dirs(incoming):
            for changes in sorted(folder.glob("*.changes")):
                results.append(_take(changes, incoming, quarantine, accepted, sessions,
                                     store))
        for folder in _incomplete(incoming, time.time() - incomplete_after):
            results.append(_give_up(folder, incoming, quarantine, sessions))
    finally:
        engine.dispose()
    return results


def _upload_dirs(incoming: Path) -> list[Path]:
    """`incoming/<account>/<build>/`: real directories only. A symbolic link (which no
    PUT makes) is never followed: nothing outside `incoming` is read, moved or removed."""
    found = []
    for account in sorted(_real_dirs(incoming)):
        found += sorted(_real_dirs(account))
    return found


def _real_dirs(folder: Path) -> list[Path]:
    try:
        entries = list(folder.iterdir())
    except OSError:
        return []
    return [entry for entry in entries if entry.is_dir() and not entry.is_symlink()]


def _incomplete(incoming: Path, before: float) -> list[Path]:
    """Upload directories with no .changes whose newest entry is older than `before`."""
    stale = []
    for folder in _upload_dirs(incoming):
        if any(folder.glob("*.changes")):
            continue
        try:
            newest = max([folder.lstat().st_mtime,
                          *(p.lstat().st_mtime for p in folder.iterdir())])
        except OSError:
            continue  # removed meanwhile
        if newest < before:
            stale.append(folder)
    return stale


def _give_up(folder: Path, incoming: Path, quarantine: Path,
             sessions: sessionmaker[Session]) -> IntakeResult:
    name = folder.relative_to(incoming).as_posix() + "/"
    build_id = int(folder.name) if folder.name.isdigit() and len(folder.name) < 12 else None
    detail = f"{name}: no .changes arrived; its files were given up"
    with sessions.begin() as session:
        session.add(UploadRecord(build_id=build_id, changes=name, status="rejected",
                                 reason="incomplete", detail=detail))
    _quarantine(folder, quarantine)
    return IntakeResult(name, build_id, "rejected", "incomplete", detail)


def _take(changes: Path, incoming: Path, quarantine: Path, accepted: Acceptance,
          sessions: sessionmaker[Session], store: ArtifactStore) -> IntakeResult:
    name = changes.relative_to(incoming).as_posix()
    build_id: int | None = None
    signer: str | None = None
    try:
        keyrings = accepted.for_account(changes.parent.parent.name, name)
        verified = verify_upload(changes, keyrings)
        build_id, signer = verified.upload.build_id, verified.signers[0]
        if changes.parent.name != str(build_id):
            raise Rejected(name, "identity", f"uploaded as {changes.parent.name}, the "
                                             f".changes says build {build_id}")
        try:
            with sessions.begin() as session:
                check_against_build(verified.upload, _facts(session, build_id), name)
                for item in verified.upload.files:
                    sha, _ = store.store(changes.parent / item.name)
                    if sha != item.sha256:  # changed under us since it was verified
                        raise IntegrityError(item.name, "changed while it was imported")
                session.add(UploadRecord(build_id=build_id, changes=name, signer=signer,
                                         status="imported"))
        except DatabaseIntegrity:  # the unique index: another intake imported it first
            raise Rejected(name, "replay", f"build {build_id} was imported meanwhile") \
                from None
        shutil.rmtree(changes.parent)
        return IntakeResult(name, build_id, "imported")
    except UnessentialError as exc:
        reason = exc.reason if isinstance(exc, Rejected) else exc.kind
        with sessions.begin() as session:
            session.add(UploadRecord(build_id=build_id, changes=name, signer=signer,
                                     status="rejected", reason=reason, detail=str(exc)))
        _quarantine(changes.parent, quarantine)
        return IntakeResult(name, build_id, "rejected", reason, str(exc))


def _facts(session: Session, build_id: int) -> BuildFacts | None:
    build = session.get(Build, build_id)
    if build is None:
        return None
    imported = session.scalars(
        select(UploadRecord.id).where(UploadRecord.build_id == build_id,
                                      UploadRecord.status == "imported")).first()
    files = {b.filename.rsplit("/", 1)[-1]: b.sha256 for b in build.binaries}
    files.update({f.name: f.sha256 for f in build.source_files})
    return BuildFacts(build.id, build.status, build.recipe_digest, build.env_digest,
                      build.version_counter, files, imported is not None)


def _quarantine(folder: Path, quarantine: Path) -> None:
    quarantine.mkdir(parents=True, exist_ok=True)
    target = quarantine / f"{folder.parent.name}-{folder.name}"
    number = 1
    while target.exists():
        number += 1
        target = quarantine / f"{folder.parent.name}-{folder.name}.{number}"
    try:
        os.replace(folder, target)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        shutil.copytree(folder, target, symlinks=True)  # another filesystem
        shutil.rmtree(folder)
