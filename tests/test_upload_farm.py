"""Issue 18: a farm with no shared disk. Two `unessential worker` processes and a
publisher, three data directories and no path shared, on Redis and PostgreSQL: every
build reaches the publisher as a signed upload (HTTP PUT to nginx), the publisher takes
them in when it publishes, and stock apt installs from what it published.

One worker is killed in the middle of an upload (a proxy in front of nginx holds its
PUT half way): its build is recorded done but not published; when the worker runs again
it sends the upload, and the publisher imports every build exactly once.

Marked `postgres` (the local server); Redis is the local server on 127.0.0.1:6379.
The upstream is a fixture archive served on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import select

from archive.catalog.db import make_engine, session_factory
from archive.catalog.models import Build, UploadRecord
from tests.fixtures.apt import PrivateApt
from tests.fixtures.keys import ArchiveKey
from tests.fixtures.postgres import throwaway_database
from tests.fixtures.server import ArchiveServer
from tests.fixtures.stall_proxy import stall_proxy
from tests.fixtures.upload_server import upload_server
from tests.test_derived import _upstream

pytestmark = [pytest.mark.postgres,
              pytest.mark.skipif(not Path("/usr/sbin/nginx").exists(), reason="needs nginx")]
CLI = [sys.executable, "-m", "unessential.cli"]


@pytest.fixture
def database() -> Iterator[str]:
    with throwaway_database("unessential_up") as url:
        if url is None:
            pytest.fail("no PostgreSQL server on 127.0.0.1:5432 (the farm's catalog)")
        yield url


@pytest.fixture
def queue() -> Iterator[str]:
    redis.Redis(host="127.0.0.1", port=6379).ping()
    name = f"up-{uuid.uuid4().hex[:8]}"
    yield name
    client = redis.Redis(host="127.0.0.1", port=6379)
    for key in client.scan_iter(f"*{name}*"):
        client.delete(key)


def cli(config: Path, *args: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("UNESSENTIAL_")}
    return subprocess.run([*CLI, "--config", str(config), "-q", *args], capture_output=True,
                          text=True, timeout=timeout, env=env)


def start_worker(config: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("UNESSENTIAL_")}
    with log.open("ab") as handle:
        return subprocess.Popen([*CLI, "--config", str(config), "worker", "--concurrency",
                                 "1"], stdout=handle, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        os.killpg(process.pid, sig)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def wait_for(what: str, check, timeout: float = 120) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def test_two_workers_and_a_publisher_share_no_disk(
        tmp_path: Path, keys: dict[str, ArchiveKey], database: str, queue: str) -> None:
    upstream = _upstream(tmp_path / "upstream", keys["archive"])
    passwords = {"w1": uuid.uuid4().hex, "w2": uuid.uuid4().hex}
    homes = {name: tmp_path / name for name in ("w1", "w2", "publisher")}
    with ArchiveServer(upstream.root) as mirror, \
            upload_server(tmp_path / "queue", passwords) as nginx, \
            stall_proxy(int(nginx.url.split(":")[2].split("/")[0]), 600) as proxy:
        common = (f'database_url = "{database}"\n'
                  'broker_url = "redis://127.0.0.1:6379/0"\n'
                  "[upstream]\n"
                  f'mirror = "{mirror.url}/debian"\nsuites = ["fixture"]\n'
                  f'components = ["main"]\nkeyring = ["{upstream.key.public_keyring}"]\n'
                  'architectures = ["amd64"]\napt_sources = []\n'
                  "retries = 1\nbackoff = 0\ntimeout = 5\n")
        configs = {}
        for name, home in homes.items():
            home.mkdir()
            configs[name] = home / "unessential.toml"
            text = f'data_dir = "{home / "data"}"\n' + common
            if name != "publisher":
                (home / "recipes").mkdir()
                (home / "password").write_text(passwords[name] + "\n")
                # w1 uploads through the proxy that will hold its first upload half way
                url = (nginx.url if name == "w2" else
                       nginx.url.replace(nginx.url.split("/")[2], f"127.0.0.1:{proxy.port}"))
                text += (f'[worker]\nqueue = "{queue}"\nrecipes_dir = "{home / "recipes"}"\n'
                         "visibility_timeout = 20\nheartbeat = 1\nlease = 5\n"
                         f'upload_url = "{url}"\nupload_user = "{name}"\n'
                         f'upload_password_file = "{home / "password"}"\n'
                         "upload_retry = 2\n")
            configs[name].write_text(text)
        # the publisher accepts each worker account's own key (what the playbook collects)
        accepted = homes["publisher"] / "worker-keys"
        accepted.mkdir()
        for name in ("w1", "w2"):
            identity = cli(configs[name], "upload-key", "--json")
            assert identity.returncode == 0, identity.stderr
            (accepted / f"{name}.asc").write_text(json.loads(identity.stdout)["public_key"])
        configs["publisher"].write_text(
            configs["publisher"].read_text() + "[publish]\nuploads = true\n"
            f'incoming = "{nginx.incoming}"\nworker_keys = "{accepted}"\n')

        workers = {"w1": start_worker(configs["w1"], tmp_path / "w1.log")}
        try:
            queued = cli(configs["w1"], "rebuild", "--repack", "pair", "--json")
            assert queued.returncode == 0, queued.stderr
            (first,) = json.loads(queued.stdout)["builds"]
            # w1 built it, recorded it done, and hangs half way through its upload
            assert proxy.stalled.wait(180), (tmp_path / "w1.log").read_text()[-3000:]
            assert build_status(database, first["build_id"]) == "done"
            early = cli(configs["publisher"], "publish", "--json")
            assert early.returncode == 0, early.stderr
            assert json.loads(early.stdout)["intake"] == []  # nothing complete arrived
            assert json.loads(early.stdout)["packages"] == 0

            workers["w2"] = start_worker(configs["w2"], tmp_path / "w2.log")
            rest = cli(configs["w2"], "rebuild", "--repack", "user", "base-thing", "--wait",
                       "--json", timeout=600)
            assert rest.returncode == 0, rest.stderr
            assert [b["status"] for b in json.loads(rest.stdout)["builds"]] == ["done"] * 2

            stop(workers.pop("w1"), signal.SIGKILL)  # killed mid-upload
            assert not list(nginx.incoming.glob(f"w1/{first['build_id']}/*.changes"))
            proxy.stall_after = None
            workers["w1"] = start_worker(configs["w1"], tmp_path / "w1-again.log")
            outgoing = homes["w1"] / "data" / "outgoing" / str(first["build_id"])
            wait_for("w1's upload sent by the restarted worker", lambda: not outgoing.exists())
            assert "sent to" in (tmp_path / "w1-again.log").read_text()

            published = cli(configs["publisher"], "publish", "--json")
            assert published.returncode == 0, published.stderr
            result = json.loads(published.stdout)
        finally:
            for process in workers.values():
                stop(process)

        intake = result["intake"]
        assert sorted(r["status"] for r in intake) == ["imported"] * 3, intake
        assert {r["changes"].split("/")[0] for r in intake} == {"w1", "w2"}
        root = Path(result["root"])
        assert root.is_relative_to(homes["publisher"])
        packages = (root / "dists/stable/main/binary-amd64/Packages").read_text()
        names = sorted(line.split(": ", 1)[1] for line in packages.splitlines()
                       if line.startswith("Package: "))
        assert names == ["base-thing", "pair", "pair-data", "user"]
        sources = (root / "dists/stable/main/source/Sources").read_text()
        assert sorted(line.split(": ", 1)[1] for line in sources.splitlines()
                      if line.startswith("Package: ")) == ["base-thing", "pair", "user"]
        # the publisher's files are its own: nothing of a worker's data directory
        for home in (homes["w1"], homes["w2"]):
            assert not any(p.resolve().is_relative_to(home) for p in root.rglob("*"))

        # each build was taken in once, by the worker account that built it; no refusals
        rows = upload_rows(database)
        assert sorted(r[0] for r in rows) == sorted({r[0] for r in rows}), rows
        assert {r[1] for r in rows} == {"imported"}, rows
        builders = {b.id: b.worker for b in builds(database)}
        others = {worker for build_id, worker in builders.items() if build_id != first["build_id"]}
        assert len(builders) == 3 and builders[first["build_id"]] not in others, builders

        apt = PrivateApt(tmp_path / "apt", root.as_uri(), "stable",
                         root / "archive-keyring.asc")
        assert apt.update().returncode == 0
        installed = apt.install("user")
        assert installed.returncode == 0, installed.stdout + installed.stderr


def build_status(url: str, build_id: int) -> str:
    engine = make_engine(url)
    try:
        with session_factory(engine).begin() as session:
            build = session.get(Build, build_id)
            return build.status if build else "missing"
    finally:
        engine.dispose()


def builds(url: str) -> list[Build]:
    engine = make_engine(url)
    try:
        with session_factory(engine).begin() as session:
            rows = list(session.scalars(select(Build).order_by(Build.id)))
            session.expunge_all()
            return rows
    finally:
        engine.dispose()


def upload_rows(url: str) -> list[tuple[int | None, str]]:
    engine = make_engine(url)
    try:
        with session_factory(engine).begin() as session:
            return [(r.build_id, r.status) for r in
                    session.scalars(select(UploadRecord).order_by(UploadRecord.id))]
    finally:
        engine.dispose()
