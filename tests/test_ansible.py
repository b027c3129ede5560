"""The farm deployed with Ansible (ansible/): lint, syntax, and a real run on this host.

`test_site_playbook_deploys_a_working_farm` runs ansible/site.yml for real against
localhost (connection local), every role on this host, pointed at the local Redis
(database REDIS_DB, its own queue) and PostgreSQL (a database of its own, made by the
catalog role). Paths live under one temporary directory; the nginx site, the system user,
the database and the Redis database are removed afterwards. A second run must change
nothing. Then a worker the playbook started repacks zlib, the publisher publishes on
demand, and nginx serves the archive with the cache headers of each kind of file.

Where systemd is not the service manager (this kind of machine), the roles run the
services with start-stop-daemon under `unessential-service`; the test prints which mode
was used. Marked `network` (zlib comes from the host's mirror) and `postgres`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
import redis

from tests.fixtures.builder_user import TABLES, free_subids
from tests.fixtures.keys import make_key

ROOT = Path(__file__).resolve().parents[1]
ANSIBLE = ROOT / "ansible"
REDIS_DB = 5  # used by this test only: emptied afterwards
RECAP = re.compile(
    r"^(?P<host>\S+)\s*:\s*ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+"
    r"unreachable=(?P<unreachable>\d+)\s+failed=(?P<failed>\d+)", re.M)
MODE = re.compile(r"unessential service mode: (\S+)")

needs_ansible = pytest.mark.skipif(shutil.which("ansible-playbook") is None,
                                   reason="ansible-playbook is not installed")


def ansible_env(config: bool = True) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("UNESSENTIAL_", "ANSIBLE_", "VIRTUAL_ENV"))}
    env.update(ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", ANSIBLE_STDOUT_CALLBACK="default",
               NO_COLOR="1")
    if config:
        env["ANSIBLE_CONFIG"] = str(ANSIBLE / "ansible.cfg")
    return env


def recap(output: str) -> dict[str, int]:
    """The PLAY RECAP line of localhost: ok, changed, unreachable, failed."""
    tail = output.rsplit("PLAY RECAP", 1)[-1]
    match = next((m for m in RECAP.finditer(tail) if m["host"] == "localhost"), None)
    assert match is not None, f"no PLAY RECAP for localhost in:\n{output[-3000:]}"
    return {k: int(v) for k, v in match.groupdict().items() if k != "host"}


def changed_tasks(output: str) -> list[str]:
    """Names of the tasks and handlers that reported `changed`."""
    names, current = [], ""
    for line in output.splitlines():
        if line.startswith(("TASK [", "RUNNING HANDLER [")):
            current = line.split("[", 1)[1].rsplit("]", 1)[0]
        elif line.startswith("changed:") and current not in names:
            names.append(current)
    return names


@needs_ansible
def test_site_playbook_syntax() -> None:
    run = subprocess.run(
        ["ansible-playbook", "-i", "ansible/inventory.example.ini", "ansible/site.yml",
         "--syntax-check"], cwd=ROOT, env=ansible_env(config=False), capture_output=True,
        text=True, timeout=300)  # the command of ansible/README.md, as it stands
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.skipif(shutil.which("ansible-lint") is None, reason="ansible-lint is not installed")
def test_ansible_lint_production_profile() -> None:
    # ansible/.ansible-lint: profile production, offline.
    run = subprocess.run(["ansible-lint", "--profile", "production", "--nocolor"],
                         cwd=ANSIBLE, env=ansible_env(), capture_output=True, text=True,
                         timeout=600)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "Passed with production profile" in output, output


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def copy_checkout(target: Path) -> None:
    """The checkout as git sees it (tracked and untracked, not ignored), to build from."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file() and not name.startswith(("ansible/", "tests/")):
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def build_wheel(base: Path) -> Path:
    source = base / "checkout"
    copy_checkout(source)
    wheels = base / "wheelhouse"
    subprocess.run([str(ROOT / ".venv/bin/python"), "-m", "pip", "wheel", "-q", "--no-deps",
                    "-w", str(wheels), str(source)], check=True, capture_output=True,
                   timeout=600)
    (wheel,) = wheels.glob("unessential-*.whl")
    shutil.rmtree(source)
    return wheel


def nginx_running() -> bool:
    try:
        pid = int(Path("/run/nginx.pid").read_text())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return False
    return True


def service_manager() -> str:
    return "systemd" if Path("/run/systemd/system").is_dir() else "start-stop-daemon"


@dataclass
class Farm:
    base: Path
    inventory: Path
    port: int
    fingerprint: str
    db_name: str
    user: str
    site: str
    queue: str
    worker_user: str = ""
    #: /etc/subuid and /etc/subgid as they were (None: absent), restored at the end
    subids: dict[Path, bytes | None] = field(default_factory=dict)

    def playbook(self) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ansible-playbook", "-i", str(self.inventory), str(ANSIBLE / "site.yml")],
            cwd=ROOT, env=ansible_env(), capture_output=True, text=True, timeout=1500)

    def run(self, *argv: str, timeout: int = 900) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("UNESSENTIAL_")}
        return subprocess.run(list(argv), env=env, capture_output=True, text=True,
                              timeout=timeout)

    def put(self, url: str, auth: tuple[str, str]) -> int:
        token = base64.b64encode(":".join(auth).encode()).decode()
        request = urllib.request.Request(url, data=b"x", method="PUT",
                                         headers={"Authorization": f"Basic {token}"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    def get(self, path: str) -> tuple[int, dict[str, str], bytes]:
        url = f"http://127.0.0.1:{self.port}/{path.lstrip('/')}"
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), b""


def inventory_vars(base: Path, wheel: Path, key_file: Path, port: int, suffix: str) -> dict:
    return {
        "unessential_wheel": str(wheel),
        "unessential_user": f"ues-{suffix}",
        "unessential_group": f"ues-{suffix}",
        "unessential_worker_user": f"uew-{suffix}",
        "unessential_worker_subids": free_subids(1000000),
        "unessential_home": str(base / "home"),
        "unessential_venv": str(base / "opt/venv"),
        "unessential_config_dir": str(base / "etc"),
        "unessential_data_dir": str(base / "data"),
        "unessential_publish_root": str(base / "public"),
        "unessential_bin_dir": str(base / "bin"),
        "unessential_sbin_dir": str(base / "sbin"),
        "unessential_systemd_dir": "/etc/systemd/system",
        "unessential_run_dir": str(base / "run"),
        "unessential_log_dir": str(base / "log"),
        "unessential_logrotate": False,
        # The local servers other tests use: only checked (broker), or given a role and
        # a database (catalog); never reconfigured.
        "broker_manage": False,
        "unessential_broker_host": "127.0.0.1",
        "unessential_broker_db": REDIS_DB,
        "unessential_worker_queue": f"ansible-{suffix}",
        "catalog_manage_server": False,
        "catalog_login_host": "127.0.0.1",
        "catalog_login_user": "root",
        "catalog_login_db": "test",
        "unessential_db_host": "127.0.0.1",
        "unessential_db_name": f"unessential_ansible_{suffix}",
        "unessential_db_user": f"unessential_ansible_{suffix}",
        "unessential_db_password": f"throwaway-{uuid.uuid4().hex}",
        "worker_instances": 1,
        "worker_concurrency": 2,
        "worker_stop_timeout": 60,
        "publisher_data_dir": str(base / "publisher"),
        "unessential_upload_spool": str(base / "spool"),
        "unessential_upload_url": f"http://127.0.0.1:{port}/incoming",
        "publisher_signing_key_file": str(key_file),
        "publisher_interval": 86400,
        "archive_web_listen": [f"127.0.0.1:{port}"],
        "archive_web_site_name": f"unessential-test-{suffix}",
        "archive_web_disable_default_site": False,
    }


@pytest.fixture
def farm() -> Iterator[Farm]:
    if os.geteuid() != 0:
        pytest.skip("the playbook deploys system users, services and an nginx site: root only")
    redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB).ping()
    psycopg.connect("host=127.0.0.1 dbname=test").close()
    suffix = uuid.uuid4().hex[:8]
    # Not pytest's tmp_path: its parents are mode 0700, and the publisher's user and
    # nginx (www-data) must reach their files.
    base = Path(tempfile.mkdtemp(prefix="unessential-ansible-", dir="/var/tmp"))
    base.chmod(0o755)
    key = make_key(base / "gnupg", "farm")
    key_file = base / "signing-key.asc"
    key_file.write_bytes(key.gpg("--armor", "--export-secret-keys", key.fingerprint))
    key_file.chmod(0o600)
    key.stop_agent()
    port = free_port()
    wheel = build_wheel(base)
    variables = inventory_vars(base, wheel, key_file, port, suffix)
    host = {"ansible_connection": "local", "ansible_python_interpreter": "/usr/bin/python3",
            "ansible_become": False}  # root already, and no sudo here
    groups = ("broker", "catalog", "workers", "publisher", "archive_web")
    inventory = base / "inventory.yml"
    inventory.write_text(json.dumps({"all": {
        "hosts": {"localhost": host}, "vars": variables,
        "children": {group: {"hosts": {"localhost": {}}} for group in groups}}}, indent=1))
    nginx_before = nginx_running()
    made = Farm(base=base, inventory=inventory, port=port, fingerprint=key.fingerprint,
                db_name=variables["unessential_db_name"], user=variables["unessential_user"],
                site=variables["archive_web_site_name"],
                queue=variables["unessential_worker_queue"],
                worker_user=variables["unessential_worker_user"],
                subids={table: table.read_bytes() if table.exists() else None
                        for table in TABLES})
    try:
        yield made
    finally:
        teardown(made, nginx_before)


def teardown(farm: Farm, nginx_before: bool) -> None:
    base = farm.base
    if service_manager() == "systemd":
        for unit in ("unessential-worker@1.service", "unessential-publish.timer"):
            subprocess.run(["systemctl", "disable", "--now", unit], capture_output=True)
        for name in ("unessential-worker@.service", "unessential-publish.service",
                     "unessential-publish.timer"):
            Path("/etc/systemd/system", name).unlink(missing_ok=True)
        subprocess.run(["systemctl", "daemon-reload"], capture_output=True)
    elif (base / "sbin/unessential-service").exists():
        subprocess.run([str(base / "sbin/unessential-service"), "stop-all"],
                       capture_output=True, timeout=180)
    for folder in ("sites-enabled", "sites-available"):
        Path("/etc/nginx", folder, f"{farm.site}.conf").unlink(missing_ok=True)
    Path("/etc/nginx", f"{farm.site}.htpasswd").unlink(missing_ok=True)
    if nginx_before:
        subprocess.run(["nginx", "-s", "reload"], capture_output=True)
    elif nginx_running():
        subprocess.run(["nginx", "-s", "quit"], capture_output=True)
    with psycopg.connect("host=127.0.0.1 dbname=test", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{farm.db_name}" WITH (FORCE)')
        connection.execute(f'DROP ROLE IF EXISTS "{farm.db_name}"')
    redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB).flushdb()
    subprocess.run(["userdel", farm.worker_user], capture_output=True)
    subprocess.run(["userdel", farm.user], capture_output=True)
    subprocess.run(["groupdel", farm.user], capture_output=True)
    for table, data in farm.subids.items():
        if data is None:
            table.unlink(missing_ok=True)
        else:
            table.write_bytes(data)
    shutil.rmtree(base, ignore_errors=True)


def process_uids(pid: int) -> set[int]:
    """The real, effective, saved and file-system uids of a process."""
    line = next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                if line.startswith("Uid:"))
    return {int(uid) for uid in line.split()[1:]}


def children_of(pid: int) -> list[int]:
    found = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True,
                           text=True).stdout.split()
    return [int(p) for p in found]


def worker_main_pid(farm: Farm) -> int:
    if service_manager() == "systemd":
        out = subprocess.run(["systemctl", "show", "-p", "MainPID", "--value",
                              "unessential-worker@1.service"], capture_output=True, text=True)
        return int(out.stdout.strip())
    return int((farm.base / "run/unessential-worker@1.pid").read_text())


def parent_of(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^PPid:\s*(\d+)", status, re.M)[1])


@needs_ansible
@pytest.mark.network
@pytest.mark.postgres
def test_site_playbook_deploys_a_working_farm(
        farm: Farm, capsys: pytest.CaptureFixture[str]) -> None:
    started = time.monotonic()
    first = farm.playbook()
    assert first.returncode == 0, first.stdout[-6000:] + first.stderr[-3000:]
    counts = recap(first.stdout)
    assert counts["failed"] == 0 and counts["unreachable"] == 0, counts
    modes = set(MODE.findall(first.stdout))
    assert modes == {service_manager()}, modes
    with capsys.disabled():  # said whatever pytest captures
        print(f"\n  service mode used by the roles: {service_manager()}; first run {counts}, "
              f"{time.monotonic() - started:.0f} s")

    second_start = time.monotonic()
    second = farm.playbook()
    assert second.returncode == 0, second.stdout[-6000:] + second.stderr[-3000:]
    counts = recap(second.stdout)
    assert counts["changed"] == 0, (counts, changed_tasks(second.stdout))
    with capsys.disabled():
        print(f"  second run: {counts}, {time.monotonic() - second_start:.0f} s")

    # A worker the playbook started is running, and only it serves this farm's queue;
    # it runs as the workers' own unprivileged user, as every process of its pool.
    main_pid = worker_main_pid(farm)
    assert main_pid > 0 and Path(f"/proc/{main_pid}").is_dir()
    worker_uid = pwd.getpwnam(farm.worker_user).pw_uid
    assert worker_uid != 0 and process_uids(main_pid) == {worker_uid}
    for child in children_of(main_pid):
        assert process_uids(child) == {worker_uid}, child
    if service_manager() == "start-stop-daemon":
        status = farm.run(str(farm.base / "sbin/unessential-service"), "status-all")
        assert status.returncode == 0, status.stdout + status.stderr
        assert "unessential-worker@1: running" in status.stdout
        assert "unessential-publish-loop: running" in status.stdout

    # The deployed command line (the deployed venv and configuration) queues a repack.
    rebuilt = farm.run(str(farm.base / "bin/unessential"), "-q", "rebuild", "--repack", "zlib",
                       "--wait", "--json")
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    (build,) = json.loads(rebuilt.stdout)["builds"]
    assert build["status"] == "done", build
    state = farm.run(str(farm.base / "bin/unessential"), "status", "--json", "zlib")
    (row,) = json.loads(state.stdout)
    host, pid = row["worker"].rsplit(":", 1)
    assert host == socket.gethostname()
    assert int(pid) == main_pid or parent_of(int(pid)) == main_pid, \
        f"build {row} was not run by the deployed worker (pid {main_pid})"
    if service_manager() == "start-stop-daemon":
        log = (farm.base / "log/unessential-worker@1.log").read_text()
        assert f"unessential-{main_pid}@" in log and "succeeded" in log, log[-2000:]

    # No disk is shared: the build reached nginx's upload queue as the worker account's
    # signed upload, and the publisher takes it in (with the key the playbook collected
    # from the worker) when it publishes, on demand, signed by the key it imported.
    account = "localhost"
    assert (farm.base / f"publisher/worker-keys/{account}.asc").is_file()
    assert not (farm.base / "publisher/artifacts").is_symlink()
    assert list((farm.base / "spool/incoming").glob(f"{account}/{build['build_id']}/*.changes"))
    published = farm.run(str(farm.base / "sbin/unessential-publisher"), "-q", "publish",
                         "--json")
    assert published.returncode == 0, published.stdout + published.stderr
    result = json.loads(published.stdout)
    assert [(r["status"], r["build_id"]) for r in result["intake"]] == [
        ("imported", build["build_id"])], result["intake"]
    assert not list((farm.base / "spool/incoming").glob("*/*/*"))
    assert result["fingerprints"] == [farm.fingerprint]
    assert result["packages"] >= 1
    # the queue takes PUTs of a known account into its own directory only, and serves
    # nothing back
    put = f"http://127.0.0.1:{farm.port}/incoming/{account}/1/x_1_all.deb"
    assert farm.put(put, ("intruder", "x")) == 403
    assert farm.put(put, (account, "wrong")) == 401
    assert farm.get(f"incoming/{account}/")[0] == 403
    assert (farm.base / "publisher/keys").stat().st_mode & 0o077 == 0
    # the workers' data_dir holds their own upload key only, never the archive's
    assert sorted(p.name for p in (farm.base / "data/keys").iterdir()) == ["worker"]
    worker_key = farm.run(str(farm.base / "bin/unessential"), "upload-key")
    assert worker_key.returncode == 0, worker_key.stderr
    assert worker_key.stdout.strip() not in ("", farm.fingerprint)
    assert farm.fingerprint not in farm.run(
        "setpriv", f"--reuid={farm.worker_user}", f"--regid={farm.user}", "--init-groups",
        "gpg", "--homedir", str(farm.base / "data/keys/worker"), "--list-secret-keys",
        "--with-colons").stdout

    # nginx serves the published tree with the cache headers of each kind of file.
    for name in ("InRelease", "Release", "Release.gpg"):
        code, headers, body = farm.get(f"dists/stable/{name}")
        assert code == 200, name
        assert headers["Cache-Control"] == "no-cache", (name, headers)
        assert body == (farm.base / "public/dists/stable" / name).read_bytes()
    release = farm.get("dists/stable/Release")[2].decode()
    sha256 = release.split("SHA256:", 1)[1]
    packages_sha = next(line.split()[0] for line in sha256.splitlines()
                        if line.endswith(" main/binary-amd64/Packages"))
    code, headers, packages = farm.get("dists/stable/main/binary-amd64/Packages")
    assert code == 200 and "max-age=60" in headers["Cache-Control"], headers
    assert hashlib.sha256(packages).hexdigest() == packages_sha
    code, headers, body = farm.get(
        f"dists/stable/main/binary-amd64/by-hash/SHA256/{packages_sha}")
    assert code == 200 and body == packages
    assert headers["Cache-Control"] == "public, max-age=31536000, immutable", headers
    stanza = next(s for s in packages.decode().split("\n\n") if "Package: zlib1g\n" in s)
    filename = re.search(r"^Filename: (\S+)$", stanza, re.M)[1]
    deb_sha = re.search(r"^SHA256: (\S+)$", stanza, re.M)[1]
    code, headers, deb = farm.get(filename)
    assert code == 200 and hashlib.sha256(deb).hexdigest() == deb_sha
    assert headers["Cache-Control"] == "public, max-age=86400", headers
    assert farm.get(".publish.lock")[0] == 404
    code, _, keyring = farm.get("archive-keyring.asc")  # what clients put in Signed-By
    assert code == 200 and keyring.startswith(b"-----BEGIN PGP PUBLIC KEY BLOCK-----")

    # The deployed worker, not root, builds from source: in a user namespace of the
    # subordinate ids the playbook gave its user (worker.sandbox "auto").
    built = farm.run(str(farm.base / "bin/unessential"), "-q", "rebuild", "hello", "--wait",
                     "--json", timeout=1800)
    assert built.returncode == 0, built.stdout + built.stderr
    (source_build,) = json.loads(built.stdout)["builds"]
    assert source_build["status"] == "done", source_build
    log = (farm.base / f"data/logs/{source_build['build_id']}.log").read_text()
    assert "sandbox unshare" in log and "sandbox: unshare (ids 0-65535" in log, log[-3000:]
    assert "dpkg-buildpackage" in log
    strangers = [p for p in (farm.base / "data").rglob("*")
                 if p.lstat().st_uid not in (worker_uid, 0)]
    assert strangers == [], strangers[:5]  # nothing of a build's ids is left behind
    with capsys.disabled():
        print(f"  deployed twice, rebuilt, published and served in "
              f"{time.monotonic() - started:.0f} s")
