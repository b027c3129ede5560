"""`.changes` files (archive/changes.py): golden text, read back by us and by
python-debian, signed with a throwaway key and verified by devscripts' dscverify (the
signature and every file's size and digests), and malformed uploads refused."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from debian.deb822 import Changes

from archive.changes import Upload, UploadFile, changes_text, parse_changes
from archive.intake import REASONS, BuildFacts, Rejected, check_against_build, verify_upload
from base.errors import (
    FormatError,
    IntegrityError,
    MirrorUnreachable,
    NotFoundError,
    SignatureError,
    TruncatedDownload,
)
from tests.fixtures.golden import GOLDEN, assert_golden
from tests.fixtures.keys import ArchiveKey


def _file(name: str, data: bytes, section: str = "devel") -> UploadFile:
    return UploadFile(name, len(data), hashlib.md5(data).hexdigest(),
                      hashlib.sha1(data).hexdigest(), hashlib.sha256(data).hexdigest(),
                      section)


CONTENT = {"hello_2.10-3ue1_amd64.deb": b"a deb\n",
           "hello-doc_2.10-3ue1_all.deb": b"another deb\n"}
UPLOAD = Upload(
    source="hello", version="2.10-3ue1", architectures=("amd64", "all"),
    binaries=("hello", "hello-doc"),
    files=tuple(_file(name, data) for name, data in CONTENT.items()),
    build_id=7, recipe_digest="a" * 64, env_digest="b" * 64, counter=1,
    date=datetime(2026, 11, 28, 12, 0, tzinfo=UTC),
    maintainer="unessential <builds@example.invalid>")


def test_golden_changes() -> None:
    assert_golden(GOLDEN / "changes" / "hello.changes", changes_text(UPLOAD))


def test_read_back_by_us_and_by_python_debian() -> None:
    text = changes_text(UPLOAD)
    assert parse_changes(text, "hello.changes") == replace(
        UPLOAD, files=tuple(sorted(UPLOAD.files, key=lambda f: f.name)),
        distribution="stable", changes="")
    theirs = Changes(text)
    assert sorted(f["name"] for f in theirs["Files"]) == sorted(CONTENT)
    assert {f["name"]: f["sha256"] for f in theirs["Checksums-Sha256"]} == {
        f.name: f.sha256 for f in UPLOAD.files}


def test_dscverify_accepts_the_signed_upload(tmp_path: Path,
                                             keys: dict[str, ArchiveKey]) -> None:
    for name, data in CONTENT.items():
        (tmp_path / name).write_bytes(data)
    changes = tmp_path / "hello_2.10-3ue1_amd64.changes"
    changes.write_bytes(keys["archive"].clearsign(changes_text(UPLOAD).encode()))
    verify = subprocess.run(["dscverify", "--no-default-keyrings", "--keyring",
                             str(keys["archive"].public_keyring), str(changes)],
                            capture_output=True, text=True)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "All files validated successfully" in verify.stdout
    (tmp_path / "hello-doc_2.10-3ue1_all.deb").write_bytes(b"tampered\n")
    verify = subprocess.run(["dscverify", "--no-default-keyrings", "--keyring",
                             str(keys["archive"].public_keyring), str(changes)],
                            capture_output=True, text=True)
    assert verify.returncode != 0
    other = subprocess.run(["dscverify", "--no-default-keyrings", "--keyring",
                            str(keys["other"].public_keyring), str(changes)],
                           capture_output=True, text=True)
    assert other.returncode != 0


@pytest.mark.parametrize(("change", "message"), [
    (lambda t: t.replace("hello_2.10-3ue1_amd64.deb", "../etc/x.deb"),
     "'../etc/x.deb' is not a plain file name"),
    (lambda t: t.replace("optional hello_2.10-3ue1_amd64.deb", "optional x.deb"),
     "different files"),
    (lambda t: t.replace("devel optional hello_2", "devel optional hello_2").replace(
        "26f389db3d3fd483a662f9a700c99297428982b7", "26f389db"), "not a sha1 digest"),
    (lambda t: t.replace("Format: 1.8", "Format: 1.7"), "Format '1.7'"),
    (lambda t: t.replace("Unessential-Build: 7\n", ""), "no Unessential-Build"),
    (lambda t: t.replace("Unessential-Build: 7", "Unessential-Build: seven"), "numbers"),
    (lambda t: t.replace(" 6 devel", " 7 devel"), "Checksums-Sha1 says 6 bytes"),
    (lambda t: t.replace("Date: ", "Date: yesterday "), "not an RFC 2822 date"),
    (lambda t: t.replace("Source: hello", "Source: Hello!"), "source name"),
    (lambda t: t + "\nFormat: 1.8\n", "one stanza"),
])
def test_malformed_uploads_are_refused(change, message: str) -> None:
    with pytest.raises(FormatError) as caught:
        parse_changes(change(changes_text(UPLOAD)), "up.changes")
    assert message in str(caught.value) and "up.changes" in str(caught.value)


def test_a_path_as_file_name_is_refused_when_rendering() -> None:
    bad = replace(UPLOAD, files=(replace(UPLOAD.files[0], name="../../etc/passwd"),))
    with pytest.raises(FormatError, match="not a plain file name"):
        changes_text(bad)


# ---------------------------------------------------------------------------------
# the publisher's intake check


def _incoming(tmp_path: Path, key: ArchiveKey | None) -> Path:
    for name, data in CONTENT.items():
        (tmp_path / name).write_bytes(data)
    changes = tmp_path / "hello_2.10-3ue1_amd64.changes"
    text = changes_text(UPLOAD).encode()
    changes.write_bytes(key.clearsign(text) if key else text)
    return changes


def test_intake_accepts_an_upload_signed_by_an_accepted_key(
        tmp_path: Path, keys: dict[str, ArchiveKey]) -> None:
    changes = _incoming(tmp_path, keys["archive"])
    verified = verify_upload(changes, [keys["archive"].public_keyring])
    assert verified.upload.build_id == 7 and len(verified.signers) == 1
    assert {f.name for f in verified.upload.files} == set(CONTENT)


@pytest.mark.parametrize(("case", "error", "message"), [
    ("unsigned", SignatureError, "not signed"),
    ("unknown key", SignatureError, "not in"),
    ("wrong hash", IntegrityError, "SHA256"),
    ("truncated", TruncatedDownload, "5 bytes"),
    ("missing", NotFoundError, "not uploaded"),
])
def test_intake_refuses(tmp_path: Path, keys: dict[str, ArchiveKey], case: str,
                        error: type[Exception], message: str) -> None:
    signer = {"unsigned": None, "unknown key": keys["other"]}.get(case, keys["archive"])
    changes = _incoming(tmp_path, signer)
    deb = tmp_path / "hello_2.10-3ue1_amd64.deb"
    if case == "wrong hash":
        deb.write_bytes(b"a dab\n")
    elif case == "truncated":
        deb.write_bytes(b"a deb")
    elif case == "missing":
        deb.unlink()
    with pytest.raises(error) as caught:
        verify_upload(changes, [keys["archive"].public_keyring])
    assert message in str(caught.value), caught.value


def _facts(**changes: object) -> BuildFacts:
    facts = BuildFacts(build_id=7, status="done", recipe_digest="a" * 64,
                       env_digest="b" * 64, counter=1,
                       files={f.name: f.sha256 for f in UPLOAD.files})
    return replace(facts, **changes)  # type: ignore[arg-type]


def test_the_catalogs_build_is_accepted() -> None:
    check_against_build(UPLOAD, _facts(), "up.changes")


@pytest.mark.parametrize(("facts", "reason"), [
    (None, "unknown-build"),
    (_facts(imported=True), "replay"),
    (_facts(status="failed"), "not-done"),
    (_facts(env_digest="c" * 64), "identity"),
    (_facts(counter=2), "identity"),
    (_facts(files={"hello_2.10-3ue1_amd64.deb": "0" * 64}), "files"),
    (_facts(files={f.name: ("1" * 64 if "doc" in f.name else f.sha256)
                   for f in UPLOAD.files}), "files"),
])
def test_uploads_that_are_not_the_catalogs_build_are_rejected(
        facts: BuildFacts | None, reason: str) -> None:
    with pytest.raises(Rejected) as caught:
        check_against_build(UPLOAD, facts, "up.changes")
    assert caught.value.reason == reason and reason in REASONS
    assert str(caught.value).startswith("up.changes: " + reason)


# ---------------------------------------------------------------------------------
# the worker's side


def test_a_worker_writes_an_upload_the_intake_accepts(tmp_path: Path) -> None:
    from worker.outgoing import worker_key, worker_keys, write_upload

    sources = {}
    for name, data in CONTENT.items():
        sources[name] = tmp_path / "built" / name
        sources[name].parent.mkdir(exist_ok=True)
        sources[name].write_bytes(data)
    with worker_keys(tmp_path / "worker-data") as keys:
        changes = write_upload(UPLOAD, sources, tmp_path / "outgoing", keys)
        fingerprint = worker_key(keys).fingerprint
        public = tmp_path / "worker.gpg"
        public.write_bytes(keys.export_public([fingerprint], armor=False))
    assert changes == tmp_path / "outgoing" / "7" / "hello_2.10-3ue1_amd64.changes"
    assert not [p for p in (tmp_path / "outgoing").iterdir() if p.name.startswith(".")]
    verified = verify_upload(changes, [public])
    assert verified.signers == (fingerprint,)
    # devscripts' dscverify checks it too, with the worker's public key
    verify = subprocess.run(["dscverify", "--no-default-keyrings", "--keyring", str(public),
                             str(changes)], capture_output=True, text=True)
    assert verify.returncode == 0, verify.stdout + verify.stderr


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx-light is not installed")
def test_uploads_reach_nginx_with_the_changes_last_and_again(tmp_path: Path) -> None:
    """HTTP PUT to nginx (WebDAV, basic authentication): the files land under
    <worker>/<build>/, the .changes after them; sending again replaces them (idempotent);
    a wrong password or a dead server is an error naming the URL."""
    from tests.fixtures.upload_server import upload_server
    from worker.outgoing import worker_key, worker_keys, write_upload
    from worker.upload import send_upload

    built = tmp_path / "built"
    built.mkdir()
    for name, data in CONTENT.items():
        (built / name).write_bytes(data)
    with worker_keys(tmp_path / "w") as keys:
        changes = write_upload(UPLOAD, {n: built / n for n in CONTENT}, tmp_path / "out", keys)
        public = tmp_path / "worker.gpg"
        public.write_bytes(keys.export_public([worker_key(keys).fingerprint], armor=False))
    with upload_server(tmp_path / "server", {"w1": "secret"}) as server:
        sent = send_upload(changes, server.url, "w1", ("w1", "secret"))
        assert sent[-1].endswith("/w1/7/hello_2.10-3ue1_amd64.changes")
        landed = server.incoming / "w1" / "7"
        assert sorted(p.name for p in landed.iterdir()) == sorted(
            [*CONTENT, changes.name])
        assert verify_upload(landed / changes.name, [public]).upload.build_id == 7
        assert send_upload(changes, server.url, "w1", ("w1", "secret")) == sent
        with pytest.raises(MirrorUnreachable, match="upload refused: HTTP 401"):
            send_upload(changes, server.url, "w1", ("w1", "wrong"), retries=0)
        url = server.url
    with pytest.raises(MirrorUnreachable, match="after 2 attempts"):
        send_upload(changes, url, "w1", ("w1", "secret"), retries=1, backoff=0.01)


# ---------------------------------------------------------------------------------
# the intake queue against a catalog


def _seeded_upload(tmp_path: Path) -> tuple[str, Upload, dict[str, Path]]:
    """A catalog with one done build of `tool` (its .deb), and the upload of it."""
    from sqlalchemy import select

    from archive.catalog.db import make_engine, session_factory
    from archive.catalog.models import Build
    from tests.fixtures.catalog_seed import seed
    from tests.fixtures.debs import make_deb

    deb = make_deb(tmp_path / "debs", "tool", "1.0-1ue1", "all")
    (build_id,) = seed(tmp_path / "data", [deb])
    url = f"sqlite:///{tmp_path / 'data' / 'catalog.sqlite'}"
    engine = make_engine(url)
    with session_factory(engine).begin() as session:
        build = session.scalars(select(Build).where(Build.id == build_id)).one()
        recipe, env = build.recipe_digest, build.env_digest
    engine.dispose()
    upload = replace(UPLOAD, source="tool", version="1.0-1ue1", architectures=("all",),
                     binaries=("tool",), files=(_file(deb.name, deb.read_bytes()),),
                     build_id=build_id, recipe_digest=recipe, env_digest=env, counter=None)
    return url, upload, {deb.name: deb}


def _queue(tmp_path: Path, upload: Upload, files: dict[str, Path], key: ArchiveKey | None,
           worker: str = "w1", tamper: bytes | None = None) -> Path:
    folder = tmp_path / "incoming" / worker / str(upload.build_id)
    folder.mkdir(parents=True, exist_ok=True)
    for name, path in files.items():
        (folder / name).write_bytes(tamper if tamper is not None else path.read_bytes())
    text = changes_text(upload).encode()
    (folder / "tool_1.0-1ue1_all.changes").write_bytes(key.clearsign(text) if key else text)
    return folder


def test_the_intake_imports_once_and_rejects_with_reasons(
        tmp_path: Path, keys: dict[str, ArchiveKey]) -> None:
    from sqlalchemy import select

    from archive.artifacts import ArtifactStore
    from archive.catalog.db import make_engine, session_factory
    from archive.catalog.models import UploadRecord
    from archive.intake import process_incoming

    url, upload, files = _seeded_upload(tmp_path)
    store = ArtifactStore(tmp_path / "publisher" / "artifacts")
    accepted = [keys["archive"].public_keyring]

    def take() -> list:
        return process_incoming(tmp_path / "incoming", tmp_path / "quarantine", accepted,
                                url, store)

    _queue(tmp_path, upload, files, keys["archive"])
    (done,) = take()
    assert (done.status, done.build_id) == ("imported", upload.build_id)
    assert store.path(upload.files[0].sha256).read_bytes() == next(iter(files.values())) \
        .read_bytes()
    assert not (tmp_path / "incoming" / "w1" / str(upload.build_id)).exists()
    refused = {}
    for case, key, tamper, claimed in (
            ("replay", keys["archive"], None, upload),
            ("unsigned", None, None, upload),
            ("unknown key", keys["other"], None, upload),
            ("wrong hash", keys["archive"], b"X" * upload.files[0].size, upload),
            ("truncated", keys["archive"], b"short", upload),
            ("unknown build", keys["archive"], None, replace(upload, build_id=999))):
        _queue(tmp_path, claimed, files, key, worker=case.replace(" ", "-"), tamper=tamper)
        (result,) = take()
        assert result.status == "rejected", case
        refused[case] = result.reason
    assert refused == {"replay": "replay", "unsigned": "signature", "unknown key": "signature",
                       "wrong hash": "integrity", "truncated": "truncated",
                       "unknown build": "unknown-build"}
    assert len(list((tmp_path / "quarantine").iterdir())) == 6
    assert not list((tmp_path / "incoming").glob("*/*/*.changes"))
    assert len([p for p in (tmp_path / "publisher" / "artifacts").rglob("*") if p.is_file()]) \
        == 1  # nothing of a refused upload reached the store
    engine = make_engine(url)
    with session_factory(engine).begin() as session:
        rows = session.scalars(select(UploadRecord).order_by(UploadRecord.id)).all()
        assert [(r.status, r.reason) for r in rows] == [
            ("imported", None), *[("rejected", reason) for reason in refused.values()]]
        assert all(r.detail for r in rows[1:])
    engine.dispose()


def test_intake_command(tmp_path: Path, keys: dict[str, ArchiveKey]) -> None:
    import json
    import os
    import sys

    url, upload, files = _seeded_upload(tmp_path)
    _queue(tmp_path, upload, files, keys["archive"])
    env = {**os.environ, "UNESSENTIAL_DATA_DIR": str(tmp_path / "data")}
    for name in ("UNESSENTIAL_DATABASE_URL", "UNESSENTIAL_CONFIG"):
        env.pop(name, None)
    cli = [sys.executable, "-m", "unessential.cli", "-q", "intake", str(tmp_path / "incoming")]
    done = subprocess.run([*cli, "--keyring", str(keys["archive"].public_keyring), "--json"],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert [r["status"] for r in json.loads(done.stdout)] == ["imported"]
    missing = subprocess.run([*cli, "--keyring", str(tmp_path / "nope.gpg")],
                             capture_output=True, text=True, env=env)
    assert missing.returncode == 3 and "nope.gpg: no such keyring file" in missing.stderr


def test_a_worker_account_is_bound_to_its_own_keys(
        tmp_path: Path, keys: dict[str, ArchiveKey]) -> None:
    """With a directory of worker keys (<account>.asc), an upload under incoming/<account>/
    must be signed by that account's key: another worker's key, an account with no key
    file, or a build uploaded under another build's number are refused."""
    from archive.artifacts import ArtifactStore
    from archive.intake import Acceptance, process_incoming

    url, upload, files = _seeded_upload(tmp_path)
    accounts = tmp_path / "worker-keys"
    accounts.mkdir()
    (accounts / "w1.asc").write_bytes(keys["archive"].public_keyring.read_bytes())
    (accounts / "w2.asc").write_bytes(keys["other"].public_keyring.read_bytes())
    store = ArtifactStore(tmp_path / "publisher" / "artifacts")

    def take() -> list:
        return process_incoming(tmp_path / "incoming", tmp_path / "quarantine",
                                Acceptance(worker_keys=accounts), url, store)

    _queue(tmp_path, upload, files, keys["archive"], worker="w2")  # w1's key, w2's name
    (other,) = take()
    assert (other.status, other.reason) == ("rejected", "signature"), other
    assert "not in" in other.detail and "w2.asc" in other.detail
    _queue(tmp_path, upload, files, keys["archive"], worker="w3")
    (unknown,) = take()
    assert (unknown.status, unknown.reason) == ("rejected", "unknown-worker"), unknown
    moved = _queue(tmp_path, upload, files, keys["archive"], worker="w1")
    moved.rename(moved.parent / "12345")
    (renamed,) = take()
    assert (renamed.status, renamed.reason) == ("rejected", "identity"), renamed
    _queue(tmp_path, upload, files, keys["archive"], worker="w1")
    (own,) = take()
    assert own.status == "imported", own


def test_an_upload_whose_changes_never_came_is_given_up(
        tmp_path: Path, keys: dict[str, ArchiveKey]) -> None:
    """A directory without its .changes is left while a worker may still send it, and
    quarantined as incomplete (a catalog row) once nothing of it changed for a day."""
    import os
    import time

    from archive.artifacts import ArtifactStore
    from archive.intake import process_incoming

    url, upload, files = _seeded_upload(tmp_path)
    folder = _queue(tmp_path, upload, files, keys["archive"])
    (folder / "tool_1.0-1ue1_all.changes").unlink()
    store = ArtifactStore(tmp_path / "publisher" / "artifacts")

    def take() -> list:
        return process_incoming(tmp_path / "incoming", tmp_path / "quarantine",
                                [keys["archive"].public_keyring], url, store)

    assert take() == []  # on its way: left alone
    old = time.time() - 2 * 86400
    for path in (folder, *folder.iterdir()):
        os.utime(path, (old, old))
    (gone,) = take()
    assert (gone.status, gone.reason, gone.build_id) == ("rejected", "incomplete",
                                                         upload.build_id)
    assert not folder.exists() and len(list((tmp_path / "quarantine").iterdir())) == 1
    assert take() == []


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx-light is not installed")
def test_the_queue_takes_puts_of_each_account_into_its_own_directory_only(
        tmp_path: Path) -> None:
    import requests

    from tests.fixtures.upload_server import upload_server

    with upload_server(tmp_path / "server", {"w1": "one", "w2": "two"}) as server:
        def put(path: str, auth: tuple[str, str] | None) -> int:
            return requests.put(f"{server.url}/{path}", data=b"x", auth=auth,
                                timeout=10).status_code

        assert put("w1/5/a_1_all.deb", ("w1", "one")) in (201, 204)
        assert put("w2/5/a_1_all.deb", ("w1", "one")) == 403  # another worker's directory
        assert put("w2/5/a_1_all.deb", ("w2", "one")) == 401  # its name, a wrong password
        assert put("w1/5/a_1_all.deb", None) == 403
        assert put("w1/x/a_1_all.deb", ("w1", "one")) == 403  # not a build number
        assert put("w1/5/.hidden", ("w1", "one")) == 403
        assert put("w1/5/sub/a.deb", ("w1", "one")) == 403
        got = requests.get(f"{server.url}/w1/5/a_1_all.deb", auth=("w1", "one"), timeout=10)
        assert got.status_code == 403  # PUT only: nothing is read back
        assert sorted(p.relative_to(server.incoming).as_posix()
                      for p in server.incoming.rglob("*") if p.is_file()) == ["w1/5/a_1_all.deb"]


def test_the_catalog_holds_one_imported_upload_per_build(tmp_path: Path) -> None:
    """Two intakes at once cannot both import a build: the second commit breaks the
    unique index over imported uploads (0009); rejected rows may repeat."""
    from sqlalchemy.exc import IntegrityError as DatabaseIntegrity

    from archive.catalog.db import make_engine, session_factory
    from archive.catalog.models import UploadRecord

    url, upload, _ = _seeded_upload(tmp_path)
    engine = make_engine(url)
    sessions = session_factory(engine)
    try:
        for status in ("rejected", "rejected", "imported"):
            with sessions.begin() as session:
                session.add(UploadRecord(build_id=upload.build_id, changes="w/1/x.changes",
                                         status=status, reason="replay"))
        with pytest.raises(DatabaseIntegrity), sessions.begin() as session:
            session.add(UploadRecord(build_id=upload.build_id, changes="w2/1/x.changes",
                                     status="imported"))
    finally:
        engine.dispose()


def test_the_intake_never_follows_a_symbolic_link_out_of_incoming(
        tmp_path: Path, keys: dict[str, ArchiveKey]) -> None:
    """An account or build directory that is a symbolic link (no PUT makes one) is not
    read, imported, quarantined or removed: nothing outside incoming/ is touched."""
    import os
    import time

    from archive.artifacts import ArtifactStore
    from archive.intake import process_incoming

    url, upload, files = _seeded_upload(tmp_path)
    outside = _queue(tmp_path / "elsewhere", upload, files, keys["archive"])
    old = time.time() - 2 * 86400
    empty = tmp_path / "elsewhere" / "empty"
    empty.mkdir()
    os.utime(empty, (old, old))
    incoming = tmp_path / "incoming"
    (incoming / "w2").mkdir(parents=True)
    (incoming / "w1").symlink_to(outside.parent)  # an account that is a link
    (incoming / "w2" / str(upload.build_id)).symlink_to(outside)  # a build that is one
    (incoming / "w2" / "9").symlink_to(empty)
    results = process_incoming(incoming, tmp_path / "quarantine",
                               [keys["archive"].public_keyring], url,
                               ArtifactStore(tmp_path / "publisher" / "artifacts"))
    assert results == []
    assert outside.is_dir() and sorted(p.name for p in outside.iterdir()) == sorted(
        [*files, "tool_1.0-1ue1_all.changes"])
    assert empty.is_dir() and not (tmp_path / "quarantine").exists()
