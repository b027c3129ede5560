"""Issue 12, archive side: what an attacker (a hostile mirror, a signed index with odd
fields) or a careless user (a bad suite, root or option, a full disk) gets is one line
on stderr with its exit code, and nothing written outside where it belongs.

Real parts only: signed fixture archives with throwaway gpg keys, served on 127.0.0.1;
our own archive published with the real publisher and read by stock apt; `serve` run as
a process and asked over HTTP; a full disk is a real, tiny tmpfs.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner, Result

from archive.catalog.db import upgrade
from archive.upstream.cache import Cache
from archive.upstream.mirror import Upstream
from base.deb822 import iter_stanzas, parse_one
from base.errors import EXIT_CODES, NotFoundError
from tests.conftest import Workspace
from tests.fixtures.apt import PrivateApt
from tests.fixtures.archive import FixtureArchive
from tests.fixtures.catalog_seed import seed
from tests.fixtures.debs import make_deb
from tests.fixtures.server import ArchiveServer, free_port
from unessential.cli import cli
from unessential.config import load_settings

PASSWORD = "s3cr3t-Pw"


# -- helpers -------------------------------------------------------------------------


def one_error(result: Result, kind: str) -> str:
    """The single stderr line of a failed command, checked: its kind and exit code."""
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        repr(result.exception)
    assert result.exit_code == EXIT_CODES[kind], result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"unessential: {kind} error: "), lines[0]
    return lines[0]


def files_under(folder: Path, *, skip: tuple[Path, ...] = ()) -> dict[str, str]:
    """Every file and link under `folder` (except under `skip`) with its content digest."""
    state: dict[str, str] = {}
    for path in sorted(folder.rglob("*")):
        if any(path == s or s in path.parents for s in skip):
            continue
        if path.is_symlink():
            state[str(path)] = "-> " + os.readlink(path)
        elif path.is_file():
            state[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return state


def all_paths(folder: Path, *, skip: tuple[Path, ...] = ()) -> set[str]:
    return {str(p) for p in folder.rglob("*")
            if not any(p == s or s in p.parents for s in skip)}


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / "debs").mkdir()
    return tmp_path


def data(home: Path) -> Path:
    return home / "data"


def public(home: Path) -> Path:
    return home / "data" / "public"


def run(home: Path, *args: str, config: Path | None = None) -> Result:
    if config is not None:
        return CliRunner().invoke(cli, ["--config", str(config), "-q", *args])
    return CliRunner(env={"UNESSENTIAL_DATA_DIR": str(data(home))}).invoke(cli, ["-q", *args])


def publish(home: Path, *args: str, config: Path | None = None) -> dict:
    result = run(home, "publish", "--json", *args, config=config)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def add(home: Path, name: str, version: str = "1.0", extra: str = "",
        folder: str = "debs") -> Path:
    out = home / folder
    out.mkdir(exist_ok=True)
    deb = make_deb(out, name, version, "all", extra=extra)
    seed(data(home), [deb])
    return deb


def served_release(home: Path, suite: str = "stable") -> bytes:
    return (public(home) / "dists" / suite / "Release").read_bytes()


def pool_matches_every_snapshot(home: Path, suite: str = "stable") -> int:
    """Every Packages stanza of every snapshot names pool bytes of its size and SHA256."""
    checked = 0
    for snapshot in sorted((public(home) / "snapshots" / suite).iterdir()):
        for packages in snapshot.glob("main/binary-*/Packages"):
            for stanza in iter_stanzas(packages.read_text()):
                blob = (public(home) / stanza["Filename"]).read_bytes()
                assert len(blob) == int(stanza["Size"]), (snapshot.name, stanza["Filename"])
                assert hashlib.sha256(blob).hexdigest() == stanza["SHA256"], \
                    (snapshot.name, stanza["Filename"])
                checked += 1
    return checked


def rebuilt_deb(home: Path, name: str, version: str, first: Path, same_size: bool) -> Path:
    """Another .deb of the same name and version (a rebuild with a changed recipe).

    Of the same size: the first .deb with another timestamp in the ar header of its
    first member (compressed sizes of fresh builds vary with their mtimes, so a size
    match cannot be counted on); of another size: a fresh build with a longer control.
    """
    folder = home / "rebuild"
    folder.mkdir()
    if same_size:
        blob = bytearray(first.read_bytes())
        assert blob[:8] == b"!<arch>\n" and blob[8:24].rstrip() == b"debian-binary"
        blob[24:36] = b"%-12d" % 1234567890  # ar member header: name[16], then mtime[12]
        deb = folder / first.name
        deb.write_bytes(bytes(blob))
    else:
        noise = "".join(hashlib.sha256(bytes([i])).hexdigest() for i in range(10))
        deb = make_deb(folder, name, version, "all", extra=f"X-Rebuild: {noise}\n")  # 640
        # hex characters: xz cannot shrink them back to the first .deb's size
    assert deb.read_bytes() != first.read_bytes()
    assert (deb.stat().st_size == first.stat().st_size) == same_size
    subprocess.run(["dpkg-deb", "--info", str(deb)], check=True, capture_output=True)
    return deb


# -- 3. pool integrity -----------------------------------------------------------------


@pytest.mark.parametrize("same_size", [True, False], ids=["same-size", "other-size"])
def test_a_pool_name_never_changes_content(home: Path, same_size: bool) -> None:
    first = add(home, "tiny", extra="X-Rebuild: a\n")
    publish(home)
    add(home, "other")
    publish(home)
    pool_file = public(home) / "pool/main/t/tiny/tiny_1.0_all.deb"
    old_bytes = pool_file.read_bytes()
    assert old_bytes == first.read_bytes()
    release = served_release(home)
    before = files_under(public(home))

    rebuild = rebuilt_deb(home, "tiny", "1.0", first, same_size)
    seed(data(home), [rebuild])  # the catalog's newest build of tiny 1.0: other bytes
    line = one_error(run(home, "publish"), "integrity")
    assert "pool/main/t/tiny/tiny_1.0_all.deb" in line
    assert hashlib.sha256(old_bytes).hexdigest() in line
    assert hashlib.sha256(rebuild.read_bytes()).hexdigest() in line
    assert "new version" in line and "Nothing was published" in line
    # nothing published: the same files, the same served Release, the old pool bytes
    assert files_under(public(home)) == before
    assert served_release(home) == release
    assert pool_file.read_bytes() == old_bytes
    assert pool_matches_every_snapshot(home) == 3

    # rollback to the first snapshot still serves bytes that match its Packages
    assert run(home, "snapshot", "rollback", "stable").exit_code == 0
    assert pool_matches_every_snapshot(home) == 3
    apt = PrivateApt(home / "apt", public(home).as_uri(), "stable",
                     public(home) / "archive-keyring.asc")
    update = apt.update()
    assert update.returncode == 0, update.stdout + update.stderr
    installed = apt.install("tiny")
    assert installed.returncode == 0, installed.stdout + installed.stderr

    # a rebuild under a new version publishes, and the old name keeps its bytes
    add(home, "tiny", "1.0+b1", folder="rebuild-new")
    assert publish(home)["new_pool_files"] == 3  # the .deb, its source's .dsc and tarball
    assert pool_file.read_bytes() == old_bytes
    assert pool_matches_every_snapshot(home) == 5


def test_an_unchanged_pool_is_not_read_again(home: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The digests of pool files are remembered with their stat: a second publish does
    not re-read them, but a pool file changed behind our back is read and refused."""
    import archive.publish.pool

    hashed: list[Path] = []
    real = archive.publish.pool.sha256_file

    def recording(path: Path) -> str:
        hashed.append(path)
        return real(path)

    monkeypatch.setattr(archive.publish.pool, "sha256_file", recording)
    add(home, "tiny")
    publish(home)
    pool_file = public(home) / "pool/main/t/tiny/tiny_1.0_all.deb"
    state = list((data(home) / "cache" / "publish-pool").glob("pool-*.json"))
    assert len(state) == 1
    known = json.loads(state[0].read_text())["entries"]
    assert known["pool/main/t/tiny/tiny_1.0_all.deb"][-1] == \
        hashlib.sha256(pool_file.read_bytes()).hexdigest()
    add(home, "other")
    hashed.clear()
    assert publish(home)["new_pool_files"] == 3  # other's .deb, .dsc and tarball
    assert pool_file not in hashed and len(hashed) == 3  # only the new copies are checked
    # same size, other bytes, same mtime: only the ctime (and the digest) tell
    blob = bytearray(pool_file.read_bytes())
    blob[-1] ^= 0xFF
    stat = pool_file.stat()
    pool_file.write_bytes(bytes(blob))
    os.utime(pool_file, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    add(home, "third")
    line = one_error(run(home, "publish"), "integrity")
    assert "tiny_1.0_all.deb" in line


# -- 5. digests, sizes and names of signed indices ------------------------------------


def edit_packages(archive: FixtureArchive, package: str, **fields: str) -> None:
    """Change fields of `package`'s stanzas in the signed Packages index (re-signed)."""
    folder = archive.dist / "main" / "binary-amd64"
    stanzas = []
    for stanza in iter_stanzas((folder / "Packages").read_text()):
        if stanza["Package"] == package:
            stanza.update(fields)
        stanzas.append("".join(_field(k, v) for k, v in stanza.items()))
    _rewrite_index(archive, folder, "Packages", "\n".join(stanzas))


def _field(name: str, value: str) -> str:
    first, *rest = value.split("\n")
    return f"{name}: {first}\n" + "".join(f" {line}\n" for line in rest)


def edit_sources(archive: FixtureArchive, package: str, field: str, value: str) -> None:
    folder = archive.dist / "main" / "source"
    text = (folder / "Sources").read_text()
    out = []
    for block in text.split("\n\n"):
        if f"Package: {package}\n" in block + "\n":
            lines = block.split("\n")
            at = lines.index(f"{field}:")
            lines[at + 1] = value
            block = "\n".join(lines)
        out.append(block)
    _rewrite_index(archive, folder, "Sources", "\n\n".join(out))


def _rewrite_index(archive: FixtureArchive, folder: Path, name: str, text: str) -> None:
    for old in (folder / "by-hash" / "SHA256").iterdir():
        old.unlink()
    FixtureArchive._write_index(folder, name, text.encode())
    archive.write_release()


def fetch_binary(ws: Workspace, *names: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(ws.config), "-q", "fetch", "--binary",
                                    *names, "--dest", str(ws.dest)])


def fetch_source(ws: Workspace, name: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(ws.config), "-q", "fetch", name,
                                    "--dest", str(ws.dest)])


ESCAPE = "../../" + "0" * 58  # 64 characters: the length of a SHA256, not its digits


@pytest.mark.parametrize("fields, needle", [
    ({"SHA256": "../../x"}, "SHA256 is not 64 hex digits: '../../x'"),
    ({"SHA256": ESCAPE}, "SHA256 is not 64 hex digits"),
    ({"SHA256": "g" * 64}, "SHA256 is not 64 hex digits"),
    ({"MD5sum": "../../x"}, "MD5sum is not 32 hex digits"),
    ({"Size": "-5"}, "Size is not a number of bytes: '-5'"),
    ({"Size": "1_000"}, "Size is not a number of bytes"),
    ({"Filename": "../../../x.deb"}, "unsafe Filename"),
], ids=["sha256-path", "sha256-64-chars", "sha256-not-hex", "md5", "size-negative",
        "size-underscore", "filename"])
def test_bad_fields_of_a_signed_packages_index(
    workspace: Workspace, archive: FixtureArchive, server: ArchiveServer,
    fields: dict[str, str], needle: str,
) -> None:
    edit_packages(archive, "tiny", **fields)
    outside = workspace.data_dir.parent
    before = all_paths(outside, skip=(workspace.data_dir,))
    line = one_error(fetch_binary(workspace, "tiny"), "format")
    assert "main/binary-amd64/Packages" in line and "'tiny'" in line and needle in line
    assert all_paths(outside, skip=(workspace.data_dir,)) == before
    assert not list(workspace.data_dir.rglob("*.part"))


@pytest.mark.parametrize("field, make_line", [
    ("Checksums-Sha256", lambda sha, size, name: f" {ESCAPE} {size} {name}"),
    ("Checksums-Sha256", lambda sha, size, name: f" {sha} {size} ../../{name}"),
    ("Checksums-Sha256", lambda sha, size, name: f" {sha} -{size} {name}"),
    ("Files", lambda sha, size, name: f" {'z' * 32} {size} {name}"),
], ids=["digest", "name", "size", "md5"])
def test_bad_checksum_lines_of_a_signed_sources_index(
    workspace: Workspace, archive: FixtureArchive, server: ArchiveServer, field: str,
    make_line: Callable[[str, int, str], str],
) -> None:
    sources = (archive.dist / "main" / "source" / "Sources").read_text()
    hello = next(s for s in iter_stanzas(sources) if s["Package"] == "hello")
    sha, size, name = hello[field].split("\n")[1].split()
    edit_sources(archive, "hello", field, make_line(sha, int(size), name))
    outside = workspace.data_dir.parent
    before = all_paths(outside, skip=(workspace.data_dir,))
    line = one_error(fetch_source(workspace, "hello"), "format")
    assert "main/source/Sources" in line and "'hello'" in line and f"bad {field} line" in line
    assert all_paths(outside, skip=(workspace.data_dir,)) == before
    assert not workspace.dest.exists() or not list(workspace.dest.iterdir())


def test_bad_digest_in_a_signed_release(workspace: Workspace, archive: FixtureArchive,
                                        server: ArchiveServer) -> None:
    release = (archive.dist / "Release").read_text()
    xz = (archive.dist / "main" / "binary-amd64" / "Packages.xz").read_bytes()
    digest = hashlib.sha256(xz).hexdigest()
    assert f" {digest} " in release
    forged = release.replace(digest, ESCAPE).encode()
    (archive.dist / "InRelease").write_bytes(archive.key.clearsign(forged))
    outside = workspace.data_dir.parent
    before = all_paths(outside, skip=(workspace.data_dir,))
    line = one_error(fetch_binary(workspace, "tiny"), "format")
    assert "InRelease" in line and "bad SHA256 line" in line
    assert all_paths(outside, skip=(workspace.data_dir,)) == before


def test_the_cache_refuses_a_digest_that_is_a_path(tmp_path: Path) -> None:
    from base.errors import FormatError

    cache = Cache(tmp_path / "data")
    for bad in ("../../x", ESCAPE, "A" * 63, ""):
        with pytest.raises(FormatError, match="not a SHA256 digest"):
            cache.object_path(bad)
        with pytest.raises(FormatError), cache.download_lock(bad):
            pass
    assert not list(tmp_path.rglob("*.lock"))


# -- partial/*.lock ---------------------------------------------------------------------


def test_lock_files_are_removed_after_a_download(workspace: Workspace,
                                                 archive: FixtureArchive) -> None:
    assert fetch_binary(workspace, "tiny", "libfoo1").exit_code == 0
    assert fetch_source(workspace, "hello").exit_code == 0
    partial = workspace.data_dir / "partial"
    assert partial.is_dir()
    assert list(partial.iterdir()) == []
    # and after a failed one (a pool file that does not match its signed hash)
    target = archive.pool_file("tiny_1.0_all.deb")
    blob = bytearray(target.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    target.write_bytes(bytes(blob))
    one_error(fetch_binary(workspace, "tiny=1.0"), "integrity")
    assert list(partial.iterdir()) == []


def test_stale_lock_files_are_swept_but_held_ones_kept(workspace: Workspace,
                                                       archive: FixtureArchive) -> None:
    partial = workspace.data_dir / "partial"
    partial.mkdir(parents=True)
    stale = partial / f"{'cd' * 32}.lock"
    stale.touch()  # as left by a version that never removed its lock files
    cache = Cache(workspace.data_dir)
    held = "ef" * 32
    with cache.download_lock(held):
        assert fetch_binary(workspace, "tiny").exit_code == 0
        assert (partial / f"{held}.lock").exists(), "a lock in use is never broken"
        assert not stale.exists()
    assert list(partial.iterdir()) == []


def test_the_download_lock_excludes_across_removals(tmp_path: Path) -> None:
    """Holders remove the lock file; waiters then lock the current file: never two
    holders at once (threads open the file separately, as processes do)."""
    cache = Cache(tmp_path / "data")
    sha = "ab" * 32
    inside = [0]
    overlaps: list[int] = []
    guard = threading.Lock()

    def worker() -> None:
        for _ in range(40):
            with cache.download_lock(sha):
                with guard:
                    inside[0] += 1
                    if inside[0] > 1:
                        overlaps.append(inside[0])
                time.sleep(0.0005)
                with guard:
                    inside[0] -= 1

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert overlaps == []
    assert not (cache.partial / f"{sha}.lock").exists()


# -- 7. suite names, publish.root, serve ------------------------------------------------


@pytest.mark.parametrize("suite", ["../../x", "bad suite", "a/b", ".hidden", "x\ny", ""])
def test_bad_suite_names_are_refused(home: Path, suite: str) -> None:
    add(home, "tiny")
    before = all_paths(home, skip=(data(home) / "keys", data(home) / "catalog.sqlite"))
    line = one_error(run(home, "publish", "--suite", suite), "config")
    assert "--suite" in line and "letters, digits" in line
    after = all_paths(home, skip=(data(home) / "keys", data(home) / "catalog.sqlite"))
    assert {p for p in after - before if "/public/" not in p and not p.endswith("/public")} \
        == set()
    assert not (public(home) / "snapshots").exists()
    for command in (["snapshot", "list", "--suite", suite],
                    ["snapshot", "rollback", suite]):
        one_error(run(home, *command), "config")


def test_rollback_only_to_a_snapshot_of_the_suite(home: Path) -> None:
    add(home, "tiny")
    other = publish(home, "--suite", "other")["snapshot"]
    publish(home)
    release = served_release(home)
    one_error(run(home, "snapshot", "rollback", "stable", "--to", f"../other/{other}"),
              "not-found")
    assert served_release(home) == release


def write_config(home: Path, **publish_keys: str) -> Path:
    config = home / "unessential.toml"
    lines = [f'data_dir = "{data(home)}"', "[publish]"]
    lines += [f'{key} = "{value}"' for key, value in publish_keys.items()]
    config.write_text("\n".join(lines) + "\n")
    return config


@pytest.mark.parametrize("where", ["data-dir", "parent", "keys", "keys-sub"])
def test_a_root_that_would_expose_the_keys_is_refused(home: Path, where: str) -> None:
    root = {"data-dir": data(home), "parent": home, "keys": data(home) / "keys",
            "keys-sub": data(home) / "keys" / "public"}[where]
    add(home, "tiny")
    config = write_config(home, root=str(root))
    for command in (["publish"], ["serve", "--port", "0"], ["config", "show"]):
        line = one_error(run(home, *command, config=config), "config")
        assert "publish.root" in line and "key" in line, line
    assert not (root / "dists").exists() and not (root / "archive-keyring.asc").exists()
    assert not (data(home) / "public").exists()


def test_archive_root_checks_settings_made_in_code(home: Path) -> None:
    """Settings not loaded from a file (workers, bootstrap) are checked as well."""
    config = write_config(home, root=str(data(home) / "public"))
    assert load_settings(config).settings.publish.root == data(home) / "public"
    from archive.publish.publisher import archive_root
    from archive.publish_settings import PublishTarget
    from base.errors import ConfigError

    settings = load_settings(config).settings
    bad = PublishTarget(settings.publish.model_copy(update={"root": data(home)}),
                        settings.data_dir, settings.effective_database_url)
    with pytest.raises(ConfigError, match="publish.root"):
        archive_root(bad)


class Serve:
    """`unessential serve` as a process."""

    def __init__(self, home: Path, *args: str) -> None:
        env = {**os.environ, "UNESSENTIAL_DATA_DIR": str(data(home))}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "unessential.cli", "serve", *args], env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert " on http://" in line, line + self.stop()
        self.url = line.split(" on ")[1].split("/ ")[0]

    def stop(self) -> str:
        self.process.terminate()
        _, err = self.process.communicate(timeout=10)
        return err


@pytest.fixture
def published(home: Path) -> Path:
    add(home, "tiny")
    publish(home)
    return home


def test_serve_never_serves_the_keys(published: Path) -> None:
    home = published
    keys = data(home) / "keys"
    secret = next(p for p in keys.rglob("*") if p.is_file())
    (public(home) / "k").symlink_to(keys)
    (public(home) / "d").symlink_to(data(home))
    (public(home) / "f").symlink_to(secret)
    server = Serve(home, "--port", "0")
    try:
        ok = requests.get(f"{server.url}/dists/stable/InRelease", timeout=10)
        assert ok.status_code == 200
        for path in ("/k/", f"/k/{secret.relative_to(keys)}", "/f", "/d/",
                     "/d/catalog.sqlite", f"/d/keys/{secret.relative_to(keys)}",
                     "/../keys/", "/%2e%2e/keys/"):
            response = requests.get(f"{server.url}{path}", timeout=10)
            assert response.status_code == 404, (path, response.status_code)
        # a listing of the root may name the links, never follow them
        assert requests.get(f"{server.url}/", timeout=10).status_code == 200
    finally:
        err = server.stop()
    assert "Traceback" not in err


def test_serve_answers_bad_paths_and_keeps_serving(published: Path) -> None:
    server = Serve(published, "--port", "0")
    try:
        for path in ("/%00", "/dists/%00/x", "/%ff%fe", "/x%00.deb"):
            response = requests.get(f"{server.url}{path}", timeout=10)
            assert response.status_code in (400, 404), (path, response.status_code)
        # a raw request line with a NUL byte, straight on the socket
        host, port = server.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(b"GET /\x00 HTTP/1.0\r\n\r\n")
            answer = sock.recv(100)
        assert answer.split(b" ")[1] in (b"400", b"404"), answer
        assert requests.get(f"{server.url}/dists/stable/Release", timeout=10).status_code \
            == 200
    finally:
        err = server.stop()
    assert "Traceback" not in err


def serve_fails(home: Path, *args: str) -> str:
    env = {**os.environ, "UNESSENTIAL_DATA_DIR": str(data(home))}
    done = subprocess.run([sys.executable, "-m", "unessential.cli", "serve", *args],
                          env=env, capture_output=True, text=True, timeout=60)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == EXIT_CODES["config"], done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("unessential: config error: "), lines[0]
    return lines[0]


def test_serve_bad_port_and_bind(home: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert "already in use" in serve_fails(home, "--port", str(port))
    assert "--port" in serve_fails(home, "--port", "99999")
    assert "--port" in serve_fails(home, "--port", "-1")
    for bind in ("not an address", "999.1.1.1", "192.0.2.1", "::ffff:1:2:3:4:5:6:7"):
        assert "--bind" in serve_fails(home, "--port", "0", "--bind", bind)


# -- 8. mirror passwords ---------------------------------------------------------------


def password_config(ws: Workspace, url: str, keyring: Path) -> str:
    """The workspace's config with a password in the mirror URL; that URL."""
    with_password = url.replace("http://", f"http://mirror-user:{PASSWORD}@")
    ws.write_config(with_password, keyring)
    return with_password


def test_mirror_password_never_printed(workspace: Workspace, archive: FixtureArchive,
                                       server: ArchiveServer) -> None:
    password_config(workspace, f"{server.url}/debian", archive.key.public_keyring)
    invoke = CliRunner().invoke
    config = ["--config", str(workspace.config)]
    for args in (["config", "show"], ["config", "show", "--json"], ["mirror", "show"],
                 ["mirror", "show", "--json"], ["mirror", "show", "--verify"]):
        result = invoke(cli, [*config, *args])
        assert result.exit_code == 0, result.output
        assert PASSWORD not in result.output, args
        assert "mirror-user:***@" in result.output, args
    # the mirror is still used with its password: the fetch works
    assert fetch_binary(workspace, "tiny").exit_code == 0
    for path in workspace.data_dir.rglob("*"):  # nor is it written to a file or its name
        assert PASSWORD not in str(path)
        assert not path.is_file() or PASSWORD.encode() not in path.read_bytes(), path
    # download errors: a file gone from the pool (HTTP 404), a suite the mirror lacks
    archive.pool_file("libfoo1_2.0-1_amd64.deb").unlink()
    line = one_error(fetch_binary(workspace, "libfoo1"), "not-found")
    assert PASSWORD not in line and "mirror-user:***@" in line
    line = one_error(invoke(cli, [*config, "-q", "mirror", "show", "--verify", "--mirror",
                                  f"http://u:{PASSWORD}@127.0.0.1:{free_port()}/debian"]),
                     "unreachable")
    assert PASSWORD not in line and "u:***@" in line
    result = invoke(cli, [*config, "-q", "fetch", "hello", "--mirror", f"ftp://u:{PASSWORD}@x/"])
    assert PASSWORD not in one_error(result, "config")


def test_mirror_password_not_in_the_errors_themselves(
    workspace: Workspace, archive: FixtureArchive, server: ArchiveServer
) -> None:
    """Not only the console masks it: the errors (which workers record) never hold it."""
    password_config(workspace, f"{server.url}/debian", archive.key.public_keyring)
    settings = load_settings(workspace.config).settings
    archive.pool_file("libfoo1_2.0-1_amd64.deb").unlink()
    with pytest.raises(NotFoundError) as caught, \
            Upstream(settings.data_dir, settings.upstream) as upstream:
        upstream.fetch_binary("libfoo1", None, workspace.dest)
    assert PASSWORD not in str(caught.value) and "***" in str(caught.value)
    server.faults["/debian/dists/fixture/InRelease"] = "500"
    server.faults["/debian/dists/fixture/Release"] = "500"
    from base.errors import MirrorUnreachable

    with pytest.raises(MirrorUnreachable) as unreachable, \
            Upstream(settings.data_dir, settings.upstream) as upstream:
        upstream.suites()
    assert PASSWORD not in str(unreachable.value) and "***" in str(unreachable.value)


# -- valid_for: one duration parser ---------------------------------------------------


def valid_for_of(home: Path) -> timedelta:
    fields = parse_one(served_release(home).decode())
    return parsedate_to_datetime(fields["Valid-Until"]) - parsedate_to_datetime(fields["Date"])


def test_valid_for_has_one_syntax(home: Path) -> None:
    add(home, "tiny")
    config = write_config(home, valid_for="1d12h")
    shown = CliRunner().invoke(cli, ["--config", str(config), "config", "show", "--json"])
    assert json.loads(shown.stdout)["settings"]["publish"]["valid_for"] == "1d12h"
    publish(home, config=config)
    assert valid_for_of(home) == timedelta(hours=36)
    add(home, "two")
    publish(home, "--valid-for", "2w3d")
    assert valid_for_of(home) == timedelta(days=17)
    for bad in ("0d", "0", "-1d", "1y", "7 d", "d"):
        line = one_error(run(home, "publish", "--valid-for", bad), "config")
        assert "--valid-for" in line and "positive duration" in line, line
        line = one_error(run(home, "config", "show", config=write_config(home, valid_for=bad)),
                         "config")
        assert "publish.valid_for" in line and "positive duration" in line, line
    assert valid_for_of(home) == timedelta(days=17)


# -- the catalog must be upgraded first ------------------------------------------------


def test_publish_before_catalog_upgrade(home: Path) -> None:
    line = one_error(run(home, "publish"), "catalog")
    assert "unessential catalog upgrade" in line and "no tables" in line
    assert not (public(home) / "dists").exists()
    upgrade(f"sqlite:///{data(home) / 'catalog.sqlite'}", "0001")
    line = one_error(run(home, "publish"), "catalog")
    assert "revision 0001" in line and "unessential catalog upgrade" in line
    assert run(home, "catalog", "upgrade").exit_code == 0
    add(home, "tiny")
    publish(home)


# -- a full disk -----------------------------------------------------------------------


@pytest.fixture
def tiny_fs(tmp_path: Path) -> Iterator[Path]:
    """A real 512 KiB tmpfs, unmounted afterwards (needs root)."""
    mount = tmp_path / "tiny-fs"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k,mode=0755", "tmpfs",
                           str(mount)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(folder: Path) -> Path:
    """Fill the file system of `folder`; return the filler to free it."""
    filler = folder / "filler"
    with filler.open("wb", buffering=0) as handle:
        try:
            while handle.write(b"\0" * 4096):
                pass
        except OSError:
            pass
    return filler


def test_disk_full_while_publishing(home: Path, tiny_fs: Path) -> None:
    config = write_config(home, root=str(tiny_fs / "archive"))
    add(home, "tiny")
    publish(home, config=config)
    release = (tiny_fs / "archive/dists/stable/Release").read_bytes()
    add(home, "big")
    filler = fill(tiny_fs)
    before = files_under(tiny_fs, skip=(filler,))
    line = one_error(run(home, "publish", config=config), "storage")
    assert "No space left on device" in line
    # the previous archive is served, nothing half-written is left
    assert (tiny_fs / "archive/dists/stable/Release").read_bytes() == release
    assert files_under(tiny_fs, skip=(filler,)) == before
    filler.unlink()
    assert publish(home, config=config)["packages"] == 2


@pytest.mark.parametrize("full", ["data-dir", "dest"])
def test_disk_full_while_fetching(workspace: Workspace, tiny_fs: Path, full: str) -> None:
    if full == "data-dir":
        workspace.data_dir = tiny_fs / "data"
    else:
        workspace.dest = tiny_fs / "dest"
    text = workspace.config.read_text().splitlines()
    text[0] = f'data_dir = "{workspace.data_dir}"'
    workspace.config.write_text("\n".join(text) + "\n")
    workspace.data_dir.mkdir(parents=True, exist_ok=True)
    (workspace.data_dir / "partial").mkdir(exist_ok=True)
    filler = fill(tiny_fs)
    line = one_error(fetch_source(workspace, "hello"), "storage")
    assert "No space left on device" in line
    assert list((workspace.data_dir / "partial").iterdir()) == []
    assert not workspace.dest.exists() or list(workspace.dest.iterdir()) == []
    filler.unlink()
    assert fetch_source(workspace, "hello").exit_code == 0
