"""`unessential fetch` against signed fixture archives served on 127.0.0.1.

Each bad path gives one line naming the thing and the cause, its own exit code, and
leaves the cache and the destination as they were.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from base.errors import EXIT_CODES
from tests.conftest import Workspace
from tests.fixtures.archive import FixtureArchive
from tests.fixtures.keys import ArchiveKey
from tests.fixtures.server import ArchiveServer, free_port
from unessential.cli import cli


def run(ws: Workspace, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(ws.config), "-q", *args])


def snapshot(*folders: Path) -> dict[str, str]:
    """Every file under `folders` (but partial downloads) with its SHA256."""
    state: dict[str, str] = {}
    for folder in folders:
        if not folder.exists():
            continue
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "partial" not in path.relative_to(folder).parts:
                state[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return state


def error_line(result: Result) -> str:
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines, "no output"
    return lines[-1]


def assert_fails(ws: Workspace, kind: str, needle: str, *args: str) -> str:
    before = snapshot(ws.data_dir, ws.dest)
    result = run(ws, *args)
    assert result.exit_code == EXIT_CODES[kind], result.output
    line = error_line(result)
    assert line.startswith(f"unessential: {kind} error: "), line
    assert needle in line, line
    assert snapshot(ws.data_dir, ws.dest) == before
    return line


def test_fetch_source_and_binary_verified(workspace: Workspace, archive: FixtureArchive,
                                          server: ArchiveServer) -> None:
    result = run(workspace, "fetch", "hello", "--dest", str(workspace.dest), "--json")
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in workspace.dest.iterdir())
    assert names == ["hello_1.0-1.debian.tar.xz", "hello_1.0-1.dsc", "hello_1.0.orig.tar.gz"]
    for name in names:
        assert (workspace.dest / name).read_bytes() == archive.pool_file(name).read_bytes()
    # indices were fetched by hash, as the Release says Acquire-By-Hash: yes
    assert any("/by-hash/SHA256/" in path for path in server.requests)
    result = run(workspace, "fetch", "--binary", "tiny", "--dest", str(workspace.dest))
    assert result.exit_code == 0, result.output
    assert (workspace.dest / "tiny_1.1_all.deb").exists(), "highest version is chosen"
    result = run(workspace, "fetch", "--binary", "tiny=1.0", "libfoo1",
                 "--dest", str(workspace.dest))
    assert result.exit_code == 0, result.output
    assert (workspace.dest / "tiny_1.0_all.deb").exists()
    assert (workspace.dest / "libfoo1_2.0-1_amd64.deb").exists()


def test_second_fetch_comes_from_cache(workspace: Workspace, server: ArchiveServer) -> None:
    assert run(workspace, "fetch", "hello", "--dest", str(workspace.dest)).exit_code == 0
    server.requests.clear()
    other = workspace.dest.parent / "again"
    assert run(workspace, "fetch", "hello", "--dest", str(other)).exit_code == 0
    assert server.requests == ["/debian/dists/fixture/InRelease"]


def test_indices_are_refreshed_when_the_release_changes(
    workspace: Workspace, archive: FixtureArchive, server: ArchiveServer, keys: dict
) -> None:
    assert run(workspace, "fetch", "--binary", "tiny", "--dest", str(workspace.dest)).exit_code == 0
    from tests.fixtures.debs import make_deb

    deb = make_deb(workspace.dest.parent, "tiny", "1.2")
    (archive.repo / "pool/main/t/tiny" / deb.name).write_bytes(deb.read_bytes())
    archive.write_indices()
    archive.write_release()
    server.requests.clear()
    result = run(workspace, "fetch", "--binary", "tiny", "--dest", str(workspace.dest))
    assert result.exit_code == 0, result.output
    assert (workspace.dest / "tiny_1.2_all.deb").exists()
    assert any("binary-amd64/by-hash" in path for path in server.requests)


def test_release_gpg_fallback(workspace: Workspace, archive: FixtureArchive) -> None:
    archive.write_release(inrelease=False, detached=True)
    result = run(workspace, "fetch", "hello", "--dest", str(workspace.dest))
    assert result.exit_code == 0, result.output


def test_tampered_inrelease_is_a_bad_signature(workspace: Workspace,
                                               archive: FixtureArchive) -> None:
    inrelease = archive.dist / "InRelease"
    inrelease.write_bytes(inrelease.read_bytes().replace(b"Origin: Fixture", b"Origin: Evil!!"))
    assert_fails(workspace, "signature", "bad signature", "fetch", "hello",
                 "--dest", str(workspace.dest))


def test_missing_signature(workspace: Workspace, archive: FixtureArchive) -> None:
    archive.write_release(inrelease=False, detached=False)
    assert_fails(workspace, "signature", "not signed", "fetch", "hello",
                 "--dest", str(workspace.dest))


def test_unsigned_inrelease(workspace: Workspace, archive: FixtureArchive) -> None:
    (archive.dist / "InRelease").write_bytes((archive.dist / "Release").read_bytes())
    assert_fails(workspace, "signature", "not signed", "fetch", "hello",
                 "--dest", str(workspace.dest))


def test_content_outside_the_signed_message(workspace: Workspace,
                                            archive: FixtureArchive) -> None:
    inrelease = archive.dist / "InRelease"
    inrelease.write_bytes(inrelease.read_bytes() + b"\nSHA256:\n 00 1 evil\n")
    assert_fails(workspace, "signature", "after the signature", "fetch", "hello",
                 "--dest", str(workspace.dest))


def test_wrong_keyring(workspace: Workspace, archive: FixtureArchive, server: ArchiveServer,
                       keys: dict[str, ArchiveKey]) -> None:
    workspace.write_config(f"{server.url}/debian", keys["other"].public_keyring)
    line = assert_fails(workspace, "signature", "wrong keyring", "fetch", "hello",
                        "--dest", str(workspace.dest))
    assert str(keys["other"].public_keyring) in line


def test_signed_by_another_key(workspace: Workspace, archive: FixtureArchive,
                               keys: dict[str, ArchiveKey]) -> None:
    archive.write_release(sign_with=keys["other"])
    assert_fails(workspace, "signature", "InRelease", "fetch", "hello",
                 "--dest", str(workspace.dest))


def test_armored_keyring_is_accepted(workspace: Workspace, archive: FixtureArchive,
                                     server: ArchiveServer) -> None:
    workspace.write_config(f"{server.url}/debian", archive.key.public_armored)
    assert run(workspace, "fetch", "hello", "--dest", str(workspace.dest)).exit_code == 0


def test_expired_valid_until(workspace: Workspace, archive: FixtureArchive) -> None:
    past = datetime.now(UTC) - timedelta(days=2)
    archive.write_release(date=past - timedelta(days=7), valid_until=past)
    assert_fails(workspace, "release-date", "expired", "fetch", "hello",
                 "--dest", str(workspace.dest))


def test_date_in_the_future(workspace: Workspace, archive: FixtureArchive) -> None:
    future = datetime.now(UTC) + timedelta(days=1)
    archive.write_release(date=future, valid_until=future + timedelta(days=7))
    assert_fails(workspace, "release-date", "in the future", "fetch", "hello",
                 "--dest", str(workspace.dest))


def _tamper(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def test_tampered_index(workspace: Workspace, archive: FixtureArchive) -> None:
    folder = archive.dist / "main" / "source"
    for path in [folder / "Sources.xz", *(folder / "by-hash" / "SHA256").iterdir()]:
        _tamper(path)
    assert_fails(workspace, "integrity", "SHA256", "fetch", "hello",
                 "--dest", str(workspace.dest))


def test_tampered_pool_file_after_a_good_fetch(workspace: Workspace,
                                               archive: FixtureArchive) -> None:
    assert run(workspace, "fetch", "--binary", "tiny=1.0", "--dest",
               str(workspace.dest)).exit_code == 0
    _tamper(archive.pool_file("libfoo1_2.0-1_amd64.deb"))
    line = assert_fails(workspace, "integrity", "SHA256", "fetch", "--binary", "tiny",
                        "libfoo1", "--dest", str(workspace.dest))
    assert "libfoo1_2.0-1_amd64.deb" in line
    assert not (workspace.dest / "tiny_1.1_all.deb").exists(), "all or nothing"


def test_oversized_pool_file(workspace: Workspace, archive: FixtureArchive) -> None:
    path = archive.pool_file("hello_1.0.orig.tar.gz")
    path.write_bytes(path.read_bytes() + b"extra")
    assert_fails(workspace, "integrity", "size", "fetch", "hello",
                 "--dest", str(workspace.dest))


def test_truncated_download(workspace: Workspace, archive: FixtureArchive,
                            server: ArchiveServer) -> None:
    server.faults["/debian/pool/main/h/hello/hello_1.0.orig.tar.gz"] = "truncate"
    line = assert_fails(workspace, "truncated", "hello_1.0.orig.tar.gz", "fetch", "hello",
                        "--dest", str(workspace.dest))
    assert "got" in line
    # the mirror recovers: the next run resumes the partial file and succeeds
    del server.faults["/debian/pool/main/h/hello/hello_1.0.orig.tar.gz"]
    server.ranges.clear()
    assert run(workspace, "fetch", "hello", "--dest", str(workspace.dest)).exit_code == 0
    assert [path for path, _ in server.ranges] == [
        "/debian/pool/main/h/hello/hello_1.0.orig.tar.gz"
    ], "the partial file was resumed with a Range request"
    assert (workspace.dest / "hello_1.0.orig.tar.gz").read_bytes() == \
        archive.pool_file("hello_1.0.orig.tar.gz").read_bytes()


def test_truncated_inrelease(workspace: Workspace, server: ArchiveServer) -> None:
    server.faults["/debian/dists/fixture/InRelease"] = "truncate"
    assert_fails(workspace, "truncated", "InRelease", "fetch", "hello",
                 "--dest", str(workspace.dest))


def test_unknown_package(workspace: Workspace) -> None:
    assert_fails(workspace, "not-found", "nosuchpkg", "fetch", "nosuchpkg",
                 "--dest", str(workspace.dest))


def test_unknown_version(workspace: Workspace) -> None:
    line = assert_fails(workspace, "not-found", "tiny=9.9", "fetch", "--binary", "tiny=9.9",
                        "--dest", str(workspace.dest))
    assert "1.0, 1.1" in line


def test_unknown_suite(workspace: Workspace, archive: FixtureArchive,
                       server: ArchiveServer) -> None:
    workspace.write_config(f"{server.url}/debian", archive.key.public_keyring)
    text = workspace.config.read_text().replace('suites = ["fixture"]', 'suites = ["nosuch"]')
    workspace.config.write_text(text)
    assert_fails(workspace, "not-found", "nosuch", "fetch", "hello",
                 "--dest", str(workspace.dest))


def test_unreachable_mirror(workspace: Workspace, archive: FixtureArchive) -> None:
    workspace.write_config(f"http://127.0.0.1:{free_port()}/debian",
                           archive.key.public_keyring)
    assert_fails(workspace, "unreachable", "connection refused", "fetch", "hello",
                 "--dest", str(workspace.dest))


def test_server_errors_are_retried_then_reported(workspace: Workspace,
                                                 server: ArchiveServer) -> None:
    server.faults["/debian/dists/fixture/InRelease"] = "500"
    assert_fails(workspace, "unreachable", "HTTP 500", "fetch", "hello",
                 "--dest", str(workspace.dest))
    assert server.requests.count("/debian/dists/fixture/InRelease") == 2  # retries = 1


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('colour = "blue"\n', "unknown key 'colour'"),
        ('[upstream]\ntimeout = "soon"\n', "key 'upstream.timeout'"),
        ('[upstream]\nretries = -1\n', "key 'upstream.retries'"),
        ('[upstream]\nmirror = "ftp://x"\n', "expected an http"),
        ("[upstream\n", "not valid TOML"),
    ],
)
def test_bad_config(tmp_path: Path, text: str, needle: str) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(text)
    result = CliRunner().invoke(cli, ["--config", str(config), "config", "show"])
    assert result.exit_code == EXIT_CODES["config"], result.output
    line = error_line(result)
    assert str(config) in line and needle in line, line


def test_bad_config_names_the_line(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('data_dir = "/tmp/x"\n\n[upstream]\nsuites = ["a"]\ntimeout = "soon"\n')
    result = CliRunner().invoke(cli, ["--config", str(config), "config", "show"])
    assert f"{config}:5:" in error_line(result)


def test_missing_named_config(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--config", str(tmp_path / "nope.toml"), "config", "show"])
    assert result.exit_code == EXIT_CODES["config"]
    assert "does not exist" in error_line(result)


def test_concurrent_fetches_share_one_data_dir(workspace: Workspace,
                                               server: ArchiveServer) -> None:
    """Workers of one host share the cache: simultaneous fetches of the same files work."""
    import subprocess
    import sys

    server.faults["/debian/pool/main/h/hello/hello_1.0.orig.tar.gz"] = "slow"

    processes = [
        subprocess.Popen([sys.executable, "-m", "unessential.cli", "--config",
                          str(workspace.config), "-q", "fetch", "hello",
                          "--dest", str(workspace.dest / str(i))],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(4)
    ]
    results = [(p.wait(timeout=120), p.stderr.read() if p.stderr else "") for p in processes]
    assert [code for code, _ in results] == [0] * 4, results
    for i in range(4):
        assert len(list((workspace.dest / str(i)).iterdir())) == 3
