"""A worker and a publisher with separate data directories: the worker's build reaches
the published archive through a signed upload (HTTP PUT to nginx, WebDAV, basic
authentication), the publisher's intake, and its own artifact store; stock apt installs
the package from the published archive. A worker that cannot reach the queue keeps the
upload and its next task sends it; the intake imports it once.

(The catalog is one SQLite file both name, standing in for the farm's PostgreSQL: no
file of the worker's data directory is read by the publisher.)
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from archive.signing import SigningKeys
from tests.conftest import Workspace
from tests.fixtures.apt import PrivateApt
from tests.fixtures.keys import ArchiveKey
from tests.fixtures.source_farm import farm_on, run
from tests.fixtures.upload_server import upload_server
from tests.test_derived import _upstream

pytestmark = pytest.mark.skipif(shutil.which("nginx") is None, reason="needs nginx-light")


def _publisher(tmp_path: Path, worker: Workspace) -> Workspace:
    """The publisher's own data directory; the worker's upstream and catalog."""
    home = tmp_path / "publisher"
    home.mkdir()
    ws = Workspace(data_dir=home / "data", dest=home / "dest", config=home / "unessential.toml")
    text = worker.config.read_text().split("[worker]", 1)[0]
    text = text.replace(f'data_dir = "{worker.data_dir}"',
                        f'data_dir = "{ws.data_dir}"\ndatabase_url = '
                        f'"sqlite:///{worker.data_dir / "catalog.sqlite"}"')
    ws.config.write_text(text + "[publish]\nuploads = true\n")
    return ws


def _facts_recorded(worker: Workspace, build_id: int) -> None:
    """The worker recorded what a publish lists of each binary (0010): the publisher
    renders its indices without reading a .deb."""
    from archive.catalog.db import make_engine, session_factory
    from archive.catalog.models import Build
    from archive.publish.facts import from_catalog

    engine = make_engine(f"sqlite:///{worker.data_dir / 'catalog.sqlite'}")
    try:
        with session_factory(engine).begin() as session:
            build = session.get(Build, build_id)
            assert build is not None and build.binaries
            for b in build.binaries:
                facts = from_catalog(b.control, b.size, b.sha256, b.md5, b.sha1, b.sha512,
                                     b.contents)
                assert facts is not None and facts.control["Package"] == b.name
                assert facts.paths and all(not p.startswith("/") for p in facts.paths)
    finally:
        engine.dispose()


def _worker_keyring(worker: Workspace, into: Path) -> Path:
    with SigningKeys(worker.data_dir / "keys" / "worker") as keys:
        secret = [k for k in keys.list() if k.secret]
        into.write_bytes(keys.export_public([secret[0].fingerprint], armor=False))
    return into


def test_a_build_reaches_the_archive_through_an_upload(
        tmp_path: Path, keys: dict[str, ArchiveKey]) -> None:
    archive = _upstream(tmp_path / "upstream", keys["archive"])
    (tmp_path / "worker").mkdir()
    password = tmp_path / "w1.password"
    password.write_text("s3cret\n")
    with upload_server(tmp_path / "queue", {"w1": "s3cret"}) as queue, \
            farm_on(tmp_path / "worker", archive) as (worker, _):
        worker.config.write_text(worker.config.read_text() + (
            f'upload_url = "{queue.url}"\nupload_user = "w1"\n'
            f'upload_password_file = "{password}"\n'))
        built = run(worker, "rebuild", "--repack", "pair", "--wait", "--json")
        assert built.returncode == 0, built.stderr
        (build,) = json.loads(built.stdout)["builds"]
        _facts_recorded(worker, build["build_id"])
        landed = queue.incoming / "w1" / str(build["build_id"])
        assert sorted(p.suffix for p in landed.iterdir()) == [".changes", ".deb", ".deb"]
        assert not (worker.data_dir / "outgoing" / str(build["build_id"])).exists()
        publisher = _publisher(tmp_path, worker)
        # before the intake the build is not this publisher's: not published (and its
        # missing artifacts are no error)
        early = run(publisher, "publish", "--json")
        assert early.returncode == 0, early.stderr
        early_root = Path(json.loads(early.stdout)["root"])
        assert "Package: pair" not in (
            early_root / "dists/stable/main/binary-amd64/Packages").read_text()
        # the publisher accepts this worker account's key (what the playbook collects)
        exported = run(worker, "upload-key", "--json")
        assert exported.returncode == 0, exported.stderr
        identity = json.loads(exported.stdout)
        assert identity["account"] == "w1"
        assert identity["public_key"].startswith("-----BEGIN PGP PUBLIC KEY BLOCK-----")
        accepted = tmp_path / "worker-keys"
        accepted.mkdir()
        (accepted / "w1.asc").write_text(identity["public_key"])
        publisher.config.write_text(publisher.config.read_text() + (
            f'incoming = "{queue.incoming}"\nworker_keys = "{accepted}"\n'))
        published = run(publisher, "publish", "--json")  # takes in the upload first
        assert published.returncode == 0, published.stderr
        assert [(r["status"], r["build_id"]) for r in json.loads(published.stdout)["intake"]] \
            == [("imported", build["build_id"])]
        root = Path(json.loads(published.stdout)["root"])
        assert root.is_relative_to(publisher.data_dir)
        packages = (root / "dists/stable/main/binary-amd64/Packages").read_text()
        assert "Package: pair\n" in packages and "Version: 1.0-1ue1" in packages
        assert "Package: pair\n" in (root / "dists/stable/main/source/Sources").read_text()
        apt = PrivateApt(tmp_path / "apt", root.as_uri(), "stable",
                         root / "archive-keyring.asc")
        assert apt.update().returncode == 0
        installed = apt.install("pair")
        assert installed.returncode == 0, installed.stdout + installed.stderr
        assert not landed.exists()  # taken in: removed from the queue


def test_an_upload_not_sent_is_sent_by_the_next_task(
        tmp_path: Path, keys: dict[str, ArchiveKey]) -> None:
    archive = _upstream(tmp_path / "upstream", keys["archive"])
    (tmp_path / "worker").mkdir()
    with farm_on(tmp_path / "worker", archive) as (worker, _):
        base = worker.config.read_text()
        worker.config.write_text(base + 'upload_url = "http://127.0.0.1:9/incoming"\n')
        first = run(worker, "rebuild", "--repack", "pair", "--wait", "--json")
        assert first.returncode == 0, first.stderr
        (build,) = json.loads(first.stdout)["builds"]
        kept = worker.data_dir / "outgoing" / str(build["build_id"])
        assert build["status"] == "done" and kept.is_dir()  # done; its upload kept
        password = tmp_path / "w2.password"
        password.write_text("pw\n")
        with upload_server(tmp_path / "queue", {"w2": "pw"}) as queue:
            worker.config.write_text(base + f'upload_url = "{queue.url}"\nupload_user = "w2"\n'
                                     f'upload_password_file = "{password}"\n')
            second = run(worker, "rebuild", "--repack", "user", "--wait")
            assert second.returncode == 0, second.stderr
            sent = sorted(p.name for p in queue.incoming.glob("w2/*"))
        assert str(build["build_id"]) in sent and not kept.exists()


KILLED_SENDER = r"""
import http.client, os, signal, sys
host, port, path, file, user, password = sys.argv[1:]
import base64
data = open(file, "rb").read()
connection = http.client.HTTPConnection(host, int(port))
connection.putrequest("PUT", path)
token = base64.b64encode(f"{user}:{password}".encode()).decode()
connection.putheader("Authorization", f"Basic {token}")
connection.putheader("Content-Length", str(len(data)))
connection.endheaders()
connection.send(data[: len(data) // 2])
os.kill(os.getpid(), signal.SIGKILL)  # killed mid-PUT
"""


def test_a_worker_killed_mid_upload(tmp_path: Path, keys: dict[str, ArchiveKey]) -> None:
    """A sender killed half way through a PUT leaves nothing under the file's name (nginx
    writes the body to a temporary file and renames it only when complete), so the
    intake sees no upload; the worker's next send completes it, and the intake imports
    it once (the same upload sent again is a replay)."""
    import subprocess
    import sys
    from urllib.parse import urlsplit

    from archive.artifacts import ArtifactStore
    from archive.intake import process_incoming
    from archive.settings import UpstreamSettings
    from worker.deliver import send_pending
    from worker.settings import FarmSettings, WorkerSettings

    archive = _upstream(tmp_path / "upstream", keys["archive"])
    (tmp_path / "worker").mkdir()
    password = tmp_path / "w1.password"
    password.write_text("pw\n")
    with farm_on(tmp_path / "worker", archive) as (worker, _):
        worker.config.write_text(worker.config.read_text()
                                 + 'upload_url = "http://127.0.0.1:9/incoming"\n')
        built = run(worker, "rebuild", "--repack", "pair", "--wait", "--json")
        assert built.returncode == 0, built.stderr
    (build,) = json.loads(built.stdout)["builds"]
    outgoing = worker.data_dir / "outgoing" / str(build["build_id"])
    (changes,) = outgoing.glob("*.changes")
    deb = sorted(outgoing.glob("*.deb"))[0]
    with upload_server(tmp_path / "queue", {"w1": "pw"}) as queue:
        where = urlsplit(queue.url)
        killed = subprocess.run([sys.executable, "-c", KILLED_SENDER, where.hostname or "",
                                 str(where.port), f"{where.path}/w1/{build['build_id']}/"
                                 f"{deb.name}", str(deb), "w1", "pw"])
        assert killed.returncode == -9
        assert not list(queue.incoming.rglob(deb.name))  # nothing under its name
        keyring = _worker_keyring(worker, tmp_path / "workers.gpg")
        url = f"sqlite:///{worker.data_dir / 'catalog.sqlite'}"
        store = ArtifactStore(tmp_path / "publisher-artifacts")

        def take() -> list:
            return process_incoming(queue.incoming, tmp_path / "quarantine", [keyring], url,
                                    store)

        assert take() == []  # no .changes: no upload yet
        settings = FarmSettings(
            worker=WorkerSettings(upload_url=queue.url, upload_user="w1",
                                  upload_password_file=password),
            upstream=UpstreamSettings(), data_dir=worker.data_dir, database_url=url)
        kept = tmp_path / "kept-copy"
        shutil.copytree(outgoing, kept)
        lines: list[str] = []
        assert send_pending(settings, lines.append) == 1 and not outgoing.exists()
        (first,) = take()
        assert (first.status, first.build_id) == ("imported", build["build_id"])
        # a worker that crashed after sending, before it removed outgoing/, sends again:
        # the intake refuses the replay, and nothing is imported twice
        shutil.copytree(kept, outgoing)
        assert send_pending(settings, lines.append) == 1
        (second,) = take()
        assert (second.status, second.reason) == ("rejected", "replay")
