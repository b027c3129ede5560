"""bootstrap: from an archive published by unessential to an image, with no interpreter.

A small published archive (tiny packages built with dpkg-deb, signed with a key made
on first use) holds a library shipped under /lib (merged /usr), a daemon with actions
(system user, directory, alternative, ldconfig), certificates with a ca-bundle action,
a package never rewritten (its postinst is reported), and packages outside the closure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from base.errors import EXIT_CODES
from tests.fixtures.archive import SUITE, FixtureArchive
from tests.fixtures.catalog_seed import seed
from tests.fixtures.handdeb import directory, entry, hand_deb
from tests.fixtures.keys import ArchiveKey
from tests.fixtures.server import ArchiveServer
from unessential.cli import cli

IS_ROOT = os.geteuid() == 0
EPOCH = "1700000000"


def build(out: Path, name: str, files: dict[str, str | tuple[str, str]], *,
          control: str = "", members: dict[str, str] | None = None,
          version: str = "1.0", arch: str = "amd64") -> Path:
    """A .deb made by dpkg-deb: `files` maps paths to text (or ("symlink", target))."""
    root = out / f"build-{name}"
    (root / "DEBIAN").mkdir(parents=True)
    sums = []
    for path, content in files.items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, tuple):
            target.symlink_to(content[1])
            continue
        target.write_text(content)
        if "/bin/" in path:
            target.chmod(0o755)
        import hashlib
        sums.append(f"{hashlib.md5(content.encode()).hexdigest()}  {path.lstrip('/')}\n")
    (root / "DEBIAN" / "control").write_text(
        f"Package: {name}\nVersion: {version}\nArchitecture: {arch}\n"
        f"Maintainer: Test <test@example.invalid>\n{control}"
        f"Description: test package {name}\n small\n")
    (root / "DEBIAN" / "md5sums").write_text("".join(sums))
    for member, text in (members or {}).items():
        (root / "DEBIAN" / member).write_text(text)
        if member.endswith(("inst", "rm")):
            (root / "DEBIAN" / member).chmod(0o755)
    deb = out / f"{name}_{version}_{arch}.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zxz", "--build", str(root), str(deb)],
                   check=True, capture_output=True)
    shutil.rmtree(root)
    return deb


REWRITTEN = "Unessential-Recipe: test\n"
DAEMON_ACTIONS = """\
Action: system-group
Script: preinst
On: install
Name: foogrp

Action: system-user
Script: postinst
On: configure
Name: food
Home: /var/lib/food
Group: foogrp
Create-Home: yes

Action: make-dir
Script: postinst
On: configure
Path: /var/log/food
Mode: 0750
Owner: food
Group: foogrp

Action: alternative-install
Script: postinst
On: configure
Name: foo-tool
Link: /usr/bin/foo-tool
Path: /usr/bin/food-tool
Priority: 50
Slaves: /usr/share/man/man1/foo-tool.1.gz foo-tool.1.gz /usr/share/man/man1/food-tool.1.gz

Action: ldconfig
Script: postinst
On: configure
"""
CERT_ACTIONS = """\
Action: ca-bundle
Script: postinst
On: configure
Trust-New: yes

Action: ca-bundle
Script: postinst
On: triggered
"""


def fixture_debs(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    return [
        build(out, "libfoo1", {"/lib/x86_64-linux-gnu/libfoo.so.1": "libfoo\n",
                               "/etc/foo.conf": "level=1\n"},
              control=f"{REWRITTEN}Multi-Arch: same\nSource: foo (1.0-1)\n",
              members={"conffiles": "/etc/foo.conf\n"}),
        build(out, "food", {"/usr/bin/food-tool": "#!tool\n",
                            "/usr/share/man/man1/food-tool.1.gz": "man\n",
                            "/usr/sbin/food": "daemon\n"},
              control=f"{REWRITTEN}Depends: libfoo1 (>= 1.0), certs | other-certs\n",
              members={"actions": DAEMON_ACTIONS,
                       "postinst": "#!/bin/sh\nset -e\n# rendered from actions\n"}),
        build(out, "certs", {"/usr/share/ca-certificates/test/one.crt": "ONE\n",
                             "/usr/share/ca-certificates/test/two.crt": "TWO"},
              control=REWRITTEN, members={
                  "actions": CERT_ACTIONS,
                  "postinst": "#!/bin/sh\n# rendered\n",
                  "triggers": "interest-noawait /usr/share/ca-certificates/local\n"}),
        build(out, "legacy", {"/usr/share/legacy/data": "x\n"},
              members={"postinst": "#!/bin/bash\nperl -e 'print 1'\n"}),
        build(out, "other-certs", {"/usr/share/other": "x\n"}),
        build(out, "unrelated", {"/usr/share/unrelated": "x\n"}),
    ]


def run(home: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    environ = {"UNESSENTIAL_DATA_DIR": str(home / "data"), "SOURCE_DATE_EPOCH": EPOCH,
               **(env or {})}
    return CliRunner(env=environ).invoke(cli, ["-q", *args], catch_exceptions=False)


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A data dir whose publish root (data/public) holds the fixture packages."""
    home = tmp_path_factory.mktemp("bootstrap-home")
    seed(home / "data", fixture_debs(home / "debs"))
    result = run(home, "publish", "--date", "Tue, 14 Nov 2023 22:13:20 +0000")
    assert result.exit_code == 0, result.output
    yield home


def boot(home: Path, tmp: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    return run(home, "bootstrap", "--archive", str(home / "data" / "public"), *args, env=env)


def test_directory_image(published: Path, tmp_path: Path) -> None:
    out = tmp_path / "rootfs"
    result = boot(published, tmp_path, "food", "legacy", "--output", str(out), "--json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert sorted(p["name"] for p in info["packages"]) == ["certs", "food", "legacy",
                                                           "libfoo1"]
    # merged /usr: /lib is a link, the library landed in /usr/lib
    assert os.readlink(out / "lib") == "usr/lib"
    assert (out / "usr/lib/x86_64-linux-gnu/libfoo.so.1").read_text() == "libfoo\n"
    assert not os.path.lexists(out / "usr/bin/sh") and not (out / "bin").resolve().joinpath(
        "sh").exists()
    # actions, applied with no interpreter
    passwd = (out / "etc/passwd").read_text()
    group = (out / "etc/group").read_text()
    assert "food:x:100:100::/var/lib/food:/usr/sbin/nologin" in passwd
    assert "foogrp:x:100:" in group
    assert "food:!:::::::" in (out / "etc/shadow").read_text()
    log = out / "var/log/food"
    assert oct(log.stat().st_mode & 0o7777) == "0o750"
    if IS_ROOT:
        assert (log.stat().st_uid, log.stat().st_gid) == (100, 100)
        assert (out / "var/lib/food").stat().st_uid == 100
    assert os.readlink(out / "usr/bin/foo-tool") == "/etc/alternatives/foo-tool"
    assert os.readlink(out / "etc/alternatives/foo-tool") == "/usr/bin/food-tool"
    assert os.readlink(out / "etc/alternatives/foo-tool.1.gz") == \
        "/usr/share/man/man1/food-tool.1.gz"
    admin = (out / "var/lib/dpkg/alternatives/foo-tool").read_text().splitlines()
    assert admin[:4] == ["auto", "/usr/bin/foo-tool", "foo-tool.1.gz",
                         "/usr/share/man/man1/foo-tool.1.gz"]
    assert (out / "etc/ssl/certs/ca-certificates.crt").read_text() == "ONE\nTWO\n"
    assert (out / "etc/ca-certificates.conf").read_text().endswith("\ntest/one.crt\ntest/two.crt\n")
    assert os.readlink(out / "etc/ssl/certs/one.pem") == "/usr/share/ca-certificates/test/one.crt"
    # the package never rewritten is reported, not silently skipped
    assert info["unhandled"] == [{"package": "legacy", "scripts": ["postinst"],
                                  "reason": "not rewritten by unessential: its maintainer "
                                            "scripts were not run"}]
    statuses = {(a["package"], a["action"]): a["status"] for a in info["actions"]}
    assert statuses[("food", "system-user")] == "applied"
    assert statuses[("certs", "ca-bundle")] == "applied"


def test_dpkg_reads_the_status_database(published: Path, tmp_path: Path) -> None:
    out = tmp_path / "rootfs"
    assert boot(published, tmp_path, "food", "--output", str(out)).exit_code == 0
    admin = out / "var/lib/dpkg"
    listed = subprocess.run(
        ["dpkg-query", f"--admindir={admin}", "-W", "-f", "${Package} ${Status}\\n"],
        capture_output=True, text=True, check=True).stdout.splitlines()
    assert listed == [f"{name} install ok installed" for name in ("certs", "food", "libfoo1")]
    files = subprocess.run(["dpkg-query", f"--admindir={admin}", "-L", "libfoo1"],
                           capture_output=True, text=True, check=True).stdout
    assert "/lib/x86_64-linux-gnu/libfoo.so.1" in files.splitlines()
    assert (admin / "info/libfoo1:amd64.list").is_file()  # Multi-Arch: same naming
    stanza = subprocess.run(["dpkg-query", f"--admindir={admin}", "-s", "libfoo1"],
                            capture_output=True, text=True, check=True).stdout
    assert "Conffiles:\n /etc/foo.conf " in stanza
    verify = subprocess.run(["dpkg", f"--root={out}", "--verify"], capture_output=True,
                            text=True)
    assert verify.returncode == 0 and verify.stdout == "", verify.stdout + verify.stderr


def test_why_prints_the_chain(published: Path, tmp_path: Path) -> None:
    result = boot(published, tmp_path, "food", "--why", "libfoo1")
    assert result.exit_code == 0, result.output
    assert result.output.strip().startswith("food")
    assert "libfoo1" in result.output


def test_missing_package_explains(published: Path, tmp_path: Path) -> None:
    out = tmp_path / "img"
    result = boot(published, tmp_path, "food", "no-such-package", "--output", str(out))
    assert result.exit_code == EXIT_CODES["resolve"], result.output
    assert "no-such-package" in result.output
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == []


def test_strict_refuses_scripts_not_run(published: Path, tmp_path: Path) -> None:
    out = tmp_path / "img"
    result = boot(published, tmp_path, "legacy", "--strict", "--output", str(out))
    assert result.exit_code == EXIT_CODES["install"], result.output
    assert "legacy: postinst not rewritten" in result.output
    assert list(tmp_path.iterdir()) == []


def test_output_in_the_way(published: Path, tmp_path: Path) -> None:
    out = tmp_path / "img.tar"
    out.write_text("keep me")
    result = boot(published, tmp_path, "certs", "--output", str(out))
    assert result.exit_code == EXIT_CODES["install"]
    assert out.read_text() == "keep me"
    assert boot(published, tmp_path, "certs", "--output", str(out), "--force").exit_code == 0
    assert tarfile.is_tarfile(out)


def test_tampered_deb_is_refused(published: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    shutil.copytree(published, home, symlinks=True)
    pool = next((home / "data/public/pool").rglob("certs_*.deb"))
    data = bytearray(pool.read_bytes())
    data[-10] ^= 0xFF
    pool.unlink()
    pool.write_bytes(bytes(data))
    out = tmp_path / "img"
    # a data dir of its own: the verified cache of the first (content-addressed) is fine
    result = run(tmp_path / "fresh", "bootstrap", "--archive", str(home / "data/public"),
                 "certs", "--output", str(out))
    assert result.exit_code == EXIT_CODES["integrity"], result.output
    assert not out.exists()


MALICIOUS = {
    "absolute": lambda outside: [entry(str(outside / "pwned"), b"x")],
    "dotdot": lambda outside: [entry("./usr/../../pwned", b"x")],
    "symlink": lambda outside: [entry("./evil", kind=tarfile.SYMTYPE,
                                      linkname=str(outside)),
                                entry("./evil/pwned", b"x")],
    "hardlink": lambda outside: [entry("./usr/pwned", kind=tarfile.LNKTYPE,
                                       linkname="/etc/passwd")],
    "device": lambda outside: [entry("./dev-null", kind=tarfile.CHRTYPE, mode=0o666)],
}


@pytest.mark.parametrize("kind", sorted(MALICIOUS))
def test_malicious_deb_refused(tmp_path: Path, kind: str, keys: dict[str, ArchiveKey]) -> None:
    """Served by an archive signed with a throwaway key (our publisher refuses some)."""
    outside = tmp_path / "outside"
    outside.mkdir()
    fixture = FixtureArchive(root=tmp_path / "www", key=keys["archive"])
    pool = fixture.repo / "pool/main/e/evil"
    pool.mkdir(parents=True)
    control = ("Package: evil\nVersion: 1.0\nArchitecture: all\n"
               "Maintainer: T <t@example.invalid>\nDescription: evil\n")
    hand_deb(pool / "evil_1.0_all.deb",
             [directory("./"), directory("./usr/"), entry("./usr/ok", b"ok\n"),
              *MALICIOUS[kind](outside)], control_text=control)
    fixture.write_indices()
    fixture.write_release()
    out = tmp_path / "img"
    result = run(tmp_path / "home", "bootstrap", "--archive", str(fixture.repo), "--suite",
                 SUITE, "--keyring", str(keys["archive"].public_armored), "evil",
                 "--output", str(out))
    assert result.exit_code == EXIT_CODES["format"], result.output
    assert "evil (pool/main/e/evil/evil_1.0_all.deb)" in result.output
    assert list(outside.iterdir()) == []
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "outside", "www"]


def test_publisher_refuses_an_absolute_member(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "debs").mkdir(parents=True)
    deb = hand_deb(home / "debs/evil_1.0_all.deb",
                   [directory("./"), *MALICIOUS["absolute"](tmp_path)])
    seed(home / "data", [deb])
    result = run(home, "publish")
    assert result.exit_code == EXIT_CODES["format"], result.output
    assert "unsafe path in data.tar" in result.output


def test_oci_image_is_reproducible_and_read_by_skopeo(published: Path, tmp_path: Path) -> None:
    digests = []
    for attempt in ("a", "b"):
        out = tmp_path / attempt / "food.oci.tar"
        out.parent.mkdir()
        result = boot(published, tmp_path, "food", "--output", str(out), "--json",
                      "--sbom", "spdx", "--sbom", "cyclonedx", "--user", "app:1000",
                      "--entrypoint", '["/usr/sbin/food", "--foreground"]', "--env", "A=1")
        assert result.exit_code == 0, result.output
        digests.append(json.loads(result.output)["digest"])
    assert digests[0] == digests[1] and digests[0].startswith("sha256:")
    first, second = tmp_path / "a/food.oci.tar", tmp_path / "b/food.oci.tar"
    assert first.read_bytes() == second.read_bytes()
    inspect = subprocess.run(["skopeo", "inspect", "--config", f"oci-archive:{first}"],
                             capture_output=True, text=True)
    assert inspect.returncode == 0, inspect.stderr
    config = json.loads(inspect.stdout)["config"]
    assert config["User"] == "1000:1000"
    assert config["Entrypoint"] == ["/usr/sbin/food", "--foreground"]
    assert "A=1" in config["Env"]
    spdx = json.loads((tmp_path / "a/food.oci.tar.spdx.json").read_text())
    names = {p["name"] for p in spdx["packages"]}
    assert {"food", "libfoo1", "certs"} <= names
    cdx = json.loads((tmp_path / "a/food.oci.tar.cdx.json").read_text())
    assert {c["name"] for c in cdx["components"]} == {"food", "libfoo1", "certs"}
    assert (tmp_path / "a/food.oci.tar.spdx.json").read_bytes() == \
        (tmp_path / "b/food.oci.tar.spdx.json").read_bytes()


def test_changed_epoch_changes_the_digest(published: Path, tmp_path: Path) -> None:
    outs = []
    for epoch in ("1700000000", "1700000001"):
        out = tmp_path / f"{epoch}.oci.tar"
        result = boot(published, tmp_path, "certs", "--output", str(out), "--json",
                      env={"SOURCE_DATE_EPOCH": epoch})
        assert result.exit_code == 0, result.output
        outs.append(json.loads(result.output)["digest"])
    assert outs[0] != outs[1]


def test_docker_archive_and_rootfs_tar(published: Path, tmp_path: Path) -> None:
    docker = tmp_path / "certs.docker.tar"
    assert boot(published, tmp_path, "certs", "--output", str(docker)).exit_code == 0
    inspect = subprocess.run(["skopeo", "inspect", f"docker-archive:{docker}"],
                             capture_output=True, text=True)
    assert inspect.returncode == 0, inspect.stderr
    plain = tmp_path / "certs.tar"
    assert boot(published, tmp_path, "certs", "--output", str(plain)).exit_code == 0
    with tarfile.open(plain) as tar:
        names = tar.getnames()
    assert "etc/ssl/certs/ca-certificates.crt" in names
    assert "var/lib/dpkg/status" in names


DROP_ROOT = """\
import os, sys
import bootstrap.cli, bootstrap.layer, bootstrap.oci, bootstrap.sbom, bootstrap.output
import encodings.latin_1, encodings.utf_8, encodings.ascii, encodings.idna
import difflib, gzip, json, shutil, subprocess, tempfile, uuid
from unessential.cli import main
# Python itself may live where nobody cannot read (/root/.pyenv): import, then drop
os.setgroups([])
os.setresgid(65534, 65534, 65534)
os.setresuid(65534, 65534, 65534)
sys.argv = ["unessential", *sys.argv[1:]]
main()
"""


@pytest.mark.skipif(not IS_ROOT, reason="drops from root to nobody")
def test_without_root_the_image_records_owners(published: Path, tmp_path: Path) -> None:
    """As nobody, files belong to nobody on disk; the image records the real owners."""
    import tempfile

    top = Path(tempfile.mkdtemp(prefix="unessential-nonroot-", dir="/tmp"))
    try:
        top.chmod(0o755)
        shutil.copytree(published / "data/public", top / "public", symlinks=True)
        subprocess.run(["chmod", "-R", "a+rX", str(top / "public")], check=True)
        for name in ("data", "out"):
            (top / name).mkdir()
            (top / name).chmod(0o777)
        (top / "drop.py").write_text(DROP_ROOT)
        env = dict(os.environ, UNESSENTIAL_DATA_DIR=str(top / "data"), HOME=str(top / "data"),
                   SOURCE_DATE_EPOCH=EPOCH)
        out = top / "out/food.tar"
        result = subprocess.run(
            [sys.executable, str(top / "drop.py"), "-q", "bootstrap", "food", "--archive",
             str(top / "public"), "--output", str(out), "--no-record"], env=env,
            capture_output=True,
            text=True, cwd=Path(__file__).parent.parent)
        assert result.returncode == 0, result.stderr
        assert out.stat().st_uid == 65534
        with tarfile.open(out) as tar:
            owners = {m.name: (m.uid, m.gid) for m in tar.getmembers()}
        assert owners["var/lib/food"] == (100, 100)
        assert owners["var/log/food"] == (100, 100)
        assert owners["usr/sbin/food"] == (0, 0)
        assert owners["etc/passwd"] == (0, 0)
        assert {o for n, o in owners.items() if not n.startswith("var/")} == {(0, 0)}
    finally:
        shutil.rmtree(top, ignore_errors=True)


def test_over_http_with_a_keyring(published: Path, tmp_path: Path) -> None:
    public = published / "data/public"
    with ArchiveServer(public) as server:
        out = tmp_path / "img"
        result = run(tmp_path / "home", "bootstrap", "--archive", server.url, "food",
                     "--keyring", str(public / "archive-keyring.asc"), "--output", str(out))
        assert result.exit_code == 0, result.output
        assert (out / "usr/sbin/food").is_file()
        assert any(path.endswith(".deb") for path in server.requests)
        # a URL without a keyring: refused before anything is fetched
        result = run(tmp_path / "home2", "bootstrap", "--archive", server.url, "food",
                     "--output", str(tmp_path / "img2"))
        assert result.exit_code == EXIT_CODES["config"]
        assert "needs --keyring" in result.output


def test_archive_signed_by_another_key_is_refused(published: Path, tmp_path: Path,
                                                  keys: dict[str, ArchiveKey]) -> None:
    out = tmp_path / "img"
    result = run(tmp_path / "home", "bootstrap", "--archive", str(published / "data/public"),
                 "food", "--keyring", str(keys["other"].public_armored), "--output", str(out))
    assert result.exit_code == EXIT_CODES["signature"], result.output
    assert not out.exists()


def test_image_is_recorded_in_the_catalog(published: Path, tmp_path: Path) -> None:
    from archive.catalog.db import make_engine, session_factory
    from archive.catalog.models import Image

    result = boot(published, tmp_path, "food", "--output", str(tmp_path / "img"), "--json")
    assert result.exit_code == 0, result.output
    image_id = json.loads(result.output)["image_id"]
    engine = make_engine(f"sqlite:///{published / 'data/catalog.sqlite'}")
    try:
        with session_factory(engine)() as session:
            image = session.get(Image, image_id)
            assert image is not None
            assert (image.roots, image.format, image.suite) == ("food", "dir", "stable")
            packages = {p.name: p for p in image.packages}
            assert set(packages) == {"food", "libfoo1", "certs"}
            assert packages["libfoo1"].why == "food -> food Depends libfoo1 (>= 1.0)"
            assert packages["food"].depends.startswith("libfoo1 (>= 1.0)")
    finally:
        engine.dispose()


DIVERT_ACTIONS = """\
Action: divert
Script: preinst
On: install
Path: /usr/bin/tool
Divert-To: /usr/bin/tool.real
"""


def test_a_diversion_sends_another_package_s_file_aside(tmp_path: Path) -> None:
    """wrapper's preinst diverts /usr/bin/tool (a divert action, applied before its own
    unpack): tool, which depends on wrapper, is unpacked after it and its file lands at
    the diverted name, while wrapper's own file takes the path; dpkg's database has the
    diversion and dpkg-divert reads it."""
    home = tmp_path / "home"
    debs = home / "debs"
    debs.mkdir(parents=True)
    seed(home / "data", [
        build(debs, "wrapper", {"/usr/bin/tool": "wrapper\n"}, control=REWRITTEN,
              members={"actions": DIVERT_ACTIONS,
                       "preinst": "#!/bin/sh\nset -e\n# rendered from actions\n"}),
        build(debs, "tool", {"/usr/bin/tool": "the real tool\n"},
              control=f"{REWRITTEN}Pre-Depends: wrapper\n"),
    ])
    assert run(home, "publish", "--date", "Tue, 14 Nov 2023 22:13:20 +0000").exit_code == 0
    out = tmp_path / "rootfs"
    result = boot(home, tmp_path, "tool", "--output", str(out), "--json")
    assert result.exit_code == 0, result.output
    assert (out / "usr/bin/tool").read_text() == "wrapper\n"
    assert (out / "usr/bin/tool.real").read_text() == "the real tool\n"
    assert (out / "var/lib/dpkg/diversions").read_text() == \
        "/usr/bin/tool\n/usr/bin/tool.real\nwrapper\n"
    assert "/usr/bin/tool" in (out / "var/lib/dpkg/info/tool.list").read_text()
    if shutil.which("dpkg-divert"):
        done = subprocess.run(["dpkg-divert", "--admindir", str(out / "var/lib/dpkg"),
                               "--listpackage", "/usr/bin/tool"],
                              capture_output=True, text=True, check=True)
        assert done.stdout.strip() == "wrapper"
