"""bootstrap never writes outside its image (issue 12, items 1 and 4).

A signed archive (a throwaway key: signature checks pass, so the mirror or a
compromised worker is the attacker) serves hand-made packages that plant symlinks to
a host directory, give names with `../` in their control data or actions, and inject
lines into the account files. Every case snapshots a sentinel directory on the host
(the rest of the test's directory too) before and after: nothing there may change,
whatever bootstrap answers; the cases that are harmless inside the image must still
succeed, the others must fail with a one-line error.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from base.errors import EXIT_CODES
from bootstrap.accounts import BASE_GROUP, BASE_PASSWD
from bootstrap.apply import ActionFailed, Applier
from bootstrap.confined import Confinement, ImageRoot
from bootstrap.status import DpkgEntry, write_database
from recipes.actions import SystemGroup, SystemUser
from tests.fixtures.archive import SUITE, FixtureArchive
from tests.fixtures.handdeb import Entry, directory, entry, hand_deb
from tests.fixtures.keys import ArchiveKey
from unessential.cli import cli

#: the image root is <case>/out/.img.XXXX/rootfs: from its var/lib/dpkg/info (or
#: alternatives) seven '..' reach <case>, where the sentinel directory "host" lies
UP_FROM_ADMIN = "../" * 7


def link(name: str, target: str) -> Entry:
    return entry(name, kind=tarfile.SYMTYPE, linkname=target)


def dirs(*names: str) -> list[Entry]:
    return [directory(f"./{name}/") for name in names]


@dataclass
class Case:
    """A hostile package: its data members (host paths as `{host}`), actions, fields."""

    entries: Callable[[Path], list[Entry]]
    actions: str = ""
    control: str = ""
    name: str = ""  # the Package field (default: the case's name)
    extra: list[str] = field(default_factory=list)  # more bootstrap arguments
    ok: bool = True  # harmless inside the image: bootstrap succeeds
    inside: Callable[[Path, Path], None] | None = None  # checks of (image, host)


def _ca(host: Path) -> list[Entry]:
    return [*dirs("usr", "usr/share", "usr/share/ca-certificates",
                  "usr/share/ca-certificates/t", "etc", "etc/ssl", "etc/ssl/certs"),
            entry("./usr/share/ca-certificates/t/a.crt", b"CERT-A\n"),
            link("./etc/ssl/certs/.ca-certificates.crt.tmp", str(host / "victim")),
            link("./etc/ssl/certs/ca-certificates.crt", str(host / "victim"))]


def _ca_dir(host: Path) -> list[Entry]:
    return [*dirs("usr", "usr/share", "usr/share/ca-certificates",
                  "usr/share/ca-certificates/t", "etc", "etc/ssl"),
            entry("./usr/share/ca-certificates/t/a.crt", b"CERT-A\n"),
            link("./etc/ssl/certs", str(host / "dir"))]


def _bundle_inside(image: Path, host: Path) -> None:
    fs = ImageRoot(image)  # /etc/ssl/certs may be a link: resolved as in the image
    assert not fs.is_symlink("/etc/ssl/certs/ca-certificates.crt")
    assert fs.read_text("/etc/ssl/certs/ca-certificates.crt") == "CERT-A\n"


ACCOUNT = "Action: system-user\nScript: postinst\nOn: configure\nName: svc\n"
CA = "Action: ca-bundle\nScript: postinst\nOn: configure\nTrust-New: yes\n"


def _passwd_tmp(host: Path) -> list[Entry]:
    return [*dirs("etc"), link("./etc/.passwd.tmp", str(host / "victim")),
            link("./etc/.shadow.tmp", str(host / "victim"))]


def _svc_exists(image: Path, host: Path) -> None:
    assert "svc:x:" in (image / "etc/passwd").read_text()


CASES: dict[str, Case] = {
    # the CA bundle's temporary and final names planted as links to a host file
    "ca-temporary": Case(_ca, CA, inside=_bundle_inside),
    # /etc/ssl/certs itself a link to a host directory: resolved in the image
    "ca-directory": Case(_ca_dir, CA, inside=_bundle_inside),
    # the account files' temporaries planted
    "passwd-temporary": Case(_passwd_tmp, ACCOUNT, inside=_svc_exists),
    # /etc/passwd a link to a host file: refused
    "passwd-link": Case(lambda host: [*dirs("etc"), link("./etc/passwd", str(host / "victim"))],
                        ACCOUNT, ok=False),
    # dpkg's database: a planted temporary, and info/ a link to a host directory
    "status-temporary": Case(lambda host: [
        *dirs("var", "var/lib", "var/lib/dpkg"),
        link("./var/lib/dpkg/.status.tmp", str(host / "victim"))]),
    "info-link": Case(lambda host: [*dirs("var", "var/lib", "var/lib/dpkg"),
                                    link("./var/lib/dpkg/info", str(host / "dir"))], ok=False),
    "alternatives-link": Case(lambda host: [
        *dirs("usr", "usr/bin", "var", "var/lib", "var/lib/dpkg"),
        entry("./usr/bin/real", b"x"),
        link("./var/lib/dpkg/alternatives", str(host / "dir"))],
        "Action: alternative-install\nScript: postinst\nOn: configure\nName: tool\n"
        "Link: /usr/bin/tool\nPath: /usr/bin/real\nPriority: 10\n", ok=False),
    # a package name from control data that climbs out of var/lib/dpkg/info
    "package-name": Case(lambda host: [*dirs("usr"), entry("./usr/x", b"x")],
                         name=f"{UP_FROM_ADMIN}host/evil", ok=False),
    # an alternative name that climbs out of var/lib/dpkg/alternatives
    "alternative-name": Case(lambda host: [*dirs("usr", "usr/bin"), entry("./usr/bin/real", b"x")],
                             "Action: alternative-install\nScript: postinst\nOn: configure\n"
                             f"Name: {UP_FROM_ADMIN}host/alt\nLink: /usr/bin/x\n"
                             "Path: /usr/bin/real\nPriority: 10\n", ok=False),
    # an absolute alternative name (what `update-alternatives --install /usr/bin/x
    # /tmp/ESCAPE ...` became)
    "alternative-absolute": Case(lambda host: [*dirs("usr", "usr/bin"),
                                               entry("./usr/bin/real", b"x")],
                                 "Action: alternative-install\nScript: postinst\n"
                                 "On: configure\nName: {host}/escape\nLink: /usr/bin/x\n"
                                 "Path: /usr/bin/real\nPriority: 10\n", ok=False),
    # --user app with /home/app a link to a host directory: resolved in the image
    "home-link": Case(lambda host: [*dirs("home"), link("./home/app", str(host / "dir"))],
                      extra=["--user", "app"]),
    # make-dir, set-owner, remove-path, symlink, create-file, install-config, sysusers
    # through links
    "make-dir-link": Case(lambda host: [*dirs("var", "var/log"),
                                        link("./var/log/x", str(host / "dir"))],
                          "Action: make-dir\nScript: postinst\nOn: configure\n"
                          "Path: /var/log/x/sub\nMode: 0777\n"),
    "set-owner-link": Case(lambda host: [*dirs("usr"), link("./usr/v", str(host / "victim")),
                                         link("./usr/d", str(host / "dir"))],
                           "Action: set-owner\nScript: postinst\nOn: configure\n"
                           "Path: /usr/d\nMode: 0777\nOwner: nobody\n", ok=False),
    "remove-path-link": Case(lambda host: [*dirs("usr"), link("./usr/d", str(host / "dir"))],
                             "Action: remove-path\nScript: postinst\nOn: configure\n"
                             "Path: /usr/d/inner\nRecursive: yes\n"),
    "remove-path-dotdot": Case(lambda host: [*dirs("usr"), entry("./usr/x", b"x")],
                               "Action: remove-path\nScript: postinst\nOn: configure\n"
                               f"Path: /usr/{UP_FROM_ADMIN}host/dir\nRecursive: yes\n",
                               ok=False),
    "symlink-link": Case(lambda host: [*dirs("etc"), link("./etc/x", str(host / "dir"))],
                         "Action: symlink\nScript: postinst\nOn: configure\n"
                         "Path: /etc/x/planted\nTarget: /nowhere\n"),
    "create-file-link": Case(lambda host: [*dirs("var", "var/lib"),
                                           link("./var/lib/x", str(host / "dir"))],
                             "Action: create-file\nScript: postinst\nOn: configure\n"
                             "Path: /var/lib/x/planted\nContent: x\nMode: 4777\n"),
    "install-config-source": Case(lambda host: [*dirs("usr", "etc"),
                                                link("./usr/src", str(host / "secret"))],
                                  "Action: install-config\nScript: postinst\nOn: configure\n"
                                  "Source: /usr/src\nPath: /etc/copied\n", ok=False),
    "sysusers-config": Case(lambda host: [*dirs("usr"), link("./usr/users", str(host / "secret"))],
                            "Action: sysusers\nScript: postinst\nOn: configure\n"
                            "Config: /usr/users\n", ok=False),
    # account injection from the actions file (item 4)
    "gecos-newline": Case(lambda host: [*dirs("usr"), entry("./usr/x", b"x")],
                          "Action: system-user\nScript: postinst\nOn: configure\nName: svc\n"
                          "Gecos: x\n evil:x:0:0::/root:/bin/sh\n", ok=False),
    "gecos-colon": Case(lambda host: [*dirs("usr"), entry("./usr/x", b"x")],
                        "Action: system-user\nScript: postinst\nOn: configure\nName: svc\n"
                        "Gecos: x:0:0\n", ok=False),
    "group-colon": Case(lambda host: [*dirs("usr"), entry("./usr/x", b"x")],
                        "Action: system-group\nScript: postinst\nOn: configure\n"
                        "Name: g:x:0:evil\n", ok=False),
    # plain, but larger than the small file system of the disk-full test
    "big": Case(lambda host: [*dirs("usr"), entry("./usr/big", b"x" * (256 << 10))]),
    "home-relative": Case(lambda host: [*dirs("usr"), entry("./usr/x", b"x")],
                          "Action: system-user\nScript: postinst\nOn: configure\nName: svc\n"
                          "Home: ../../..\nCreate-Home: yes\n", ok=False),
}


def snapshot(top: Path, skip: Path) -> dict[str, tuple]:  # type: ignore[type-arg]
    """Every path below `top` (not below `skip`): type, mode, owner, content, target."""
    seen: dict[str, tuple] = {}  # type: ignore[type-arg]
    for folder, subdirs, files in os.walk(top):
        here = Path(folder)
        if here == skip or skip in here.parents:
            subdirs[:] = []
            continue
        for name in [*subdirs, *files]:
            path = here / name
            if path == skip:
                continue
            info = path.lstat()
            content: str = ""
            if stat.S_ISREG(info.st_mode):
                content = hashlib.sha256(path.read_bytes()).hexdigest()
            elif stat.S_ISLNK(info.st_mode):
                content = os.readlink(path)
            seen[str(path.relative_to(top))] = (stat.S_IFMT(info.st_mode),
                                                stat.S_IMODE(info.st_mode), info.st_uid,
                                                info.st_gid, content, int(info.st_mtime))
    return seen


def sentinel(case_dir: Path) -> Path:
    host = case_dir / "host"
    (host / "dir").mkdir(parents=True)
    (host / "dir/inner").write_text("host data\n")
    (host / "victim").write_text("host file\n")
    (host / "secret").write_text("u root 0\nHOST SECRET\n")
    os.chmod(host / "dir", 0o700)
    os.chmod(host / "secret", 0o600)
    return host


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory,
            keys: dict[str, ArchiveKey]) -> Iterator[tuple[FixtureArchive, Path]]:
    """The hostile packages in one signed archive; the host paths they aim at are the
    sentinel of each case (the same path for every case: <case>/host)."""
    top = tmp_path_factory.mktemp("hostile")
    case_root = top / "case"  # each test's own directory is linked here
    fixture = FixtureArchive(root=top / "www", key=keys["archive"])
    for key, case in CASES.items():
        name = case.name or key
        pool = fixture.repo / "pool/main" / key
        pool.mkdir(parents=True)
        control = (f"Package: {name}\nVersion: 1.0\nArchitecture: all\n"
                   f"Maintainer: T <t@example.invalid>\nUnessential-Recipe: test\n{case.control}"
                   "Description: hostile\n")
        members = {}
        if case.actions:
            members["actions"] = case.actions.replace("{host}", str(case_root / "host")).encode()
            members["postinst"] = b"#!/bin/sh\n# rendered\n"
        hand_deb(pool / f"{key}_1.0_all.deb",
                 [directory("./"), *case.entries(case_root / "host")],
                 control_text=control, members=members)
    fixture.write_indices()
    fixture.write_release()
    yield fixture, case_root


def boot(fixture: FixtureArchive, data: Path, *args: str) -> Result:
    environ = {"UNESSENTIAL_DATA_DIR": str(data), "SOURCE_DATE_EPOCH": "1700000000"}
    return CliRunner(env=environ).invoke(
        cli, ["-q", "bootstrap", "--archive", str(fixture.repo), "--suite", SUITE,
              "--keyring", str(fixture.key.public_armored), "--no-record", *args],
        catch_exceptions=False)


@pytest.mark.parametrize("key", sorted(CASES))
def test_hostile_package_leaves_the_host_alone(
        key: str, hostile: tuple[FixtureArchive, Path], tmp_path: Path) -> None:
    fixture, case_root = hostile
    case = CASES[key]
    if case_root.is_symlink():
        case_root.unlink()
    case_root.symlink_to(tmp_path)  # the packages aim at <case>/host: this test's sentinel
    host = sentinel(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    data = tmp_path.parent / f"{tmp_path.name}-data"
    before = snapshot(tmp_path, skip=out)
    image = out / "img"
    result = boot(fixture, data, case.name or key, "--output", str(image), "--format", "dir",
                  *case.extra)
    after = snapshot(tmp_path, skip=out)
    assert after == before, f"{key}: the host changed: {set(after.items()) ^ set(before.items())}"
    assert "Traceback" not in result.output
    if case.ok:
        assert result.exit_code == 0, result.output
        if case.inside is not None:
            case.inside(image, host)
    else:
        assert result.exit_code in (EXIT_CODES["format"], EXIT_CODES["install"]), result.output
        assert len(result.output.strip().splitlines()) == 1, result.output
        assert not image.exists()
    # nothing left beside the output either (no work directory, no temporaries)
    assert [p.name for p in out.iterdir()] == (["img"] if case.ok else [])


def test_secret_of_the_host_is_not_copied_into_the_image(
        hostile: tuple[FixtureArchive, Path], tmp_path: Path) -> None:
    """A Source that is a link to a host file is resolved in the image (where it is
    missing): refused, and the host's bytes are never read into the image."""
    fixture, case_root = hostile
    if case_root.is_symlink():
        case_root.unlink()
    case_root.symlink_to(tmp_path)
    sentinel(tmp_path)
    image = tmp_path / "img"
    result = boot(fixture, tmp_path / "data", "install-config-source", "--output", str(image),
                  "--format", "dir")
    assert result.exit_code == EXIT_CODES["install"], result.output
    assert "install-config-source" in result.output and "/usr/src" in result.output


def test_user_name_is_validated_before_anything_is_fetched(
        hostile: tuple[FixtureArchive, Path], tmp_path: Path) -> None:
    fixture, _ = hostile
    for bad in ("../x", "app:0:0", "Évil", "a" * 40, "app:x"):
        result = boot(fixture, tmp_path / "data", "home-link", "--output",
                      str(tmp_path / "img"), "--user", bad)
        assert result.exit_code == EXIT_CODES["config"], (bad, result.output)
        assert "--user" in result.output
    assert not (tmp_path / "data").exists() or not any((tmp_path / "data").rglob("*.deb"))


@pytest.mark.skipif(os.geteuid() != 0, reason="mounts a small tmpfs")
def test_disk_full_is_a_storage_error(hostile: tuple[FixtureArchive, Path],
                                      tmp_path: Path) -> None:
    import subprocess

    fixture, _ = hostile
    small = tmp_path / "small"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(small)], check=True)
    try:
        result = boot(fixture, tmp_path / "data", "big", "--output", str(small / "img"),
                      "--format", "dir")
        assert result.exit_code == EXIT_CODES["storage"], result.output
        assert "No space left on device" in result.output
        assert len(result.output.strip().splitlines()) == 1, result.output
        assert list(small.iterdir()) == []
    finally:
        subprocess.run(["umount", str(small)], check=True)


# -- the writers themselves, with the action model's validation bypassed ----------------
# (the cases above are refused by the actions parser before an action reaches a writer)
INJECTED = "evil:x:0:0::/root:/bin/sh"
WRITER_CASES = {
    "gecos-newline": SystemUser.model_construct(script="postinst", on=("configure",),
                                                user="svc", gecos=f"x\n{INJECTED}"),
    "user-dotdot": SystemUser.model_construct(script="postinst", on=("configure",),
                                              user="../../x"),
    "group-colon": SystemGroup.model_construct(script="postinst", on=("configure",),
                                               group="g:x:0:evil"),
}


@pytest.mark.parametrize("key", sorted(WRITER_CASES))
def test_account_writer_refuses_unvalidated_action(key: str, tmp_path: Path) -> None:
    sentinel(tmp_path)
    image = tmp_path / "out" / "rootfs"
    image.mkdir(parents=True)
    before = snapshot(tmp_path, skip=image)
    applier = Applier(image)
    with pytest.raises(ActionFailed) as refused:
        applier.run("hostile", WRITER_CASES[key])
    assert "\n" not in str(refused.value) and str(refused.value).startswith("hostile: ")
    applier.finish()  # the account files are written: without the refused entry
    assert snapshot(tmp_path, skip=image) == before
    passwd = (image / "etc/passwd").read_text()
    group = (image / "etc/group").read_text()
    assert "evil" not in passwd + group and "../" not in passwd + group
    assert passwd.splitlines() == BASE_PASSWD and group.splitlines() == BASE_GROUP


@pytest.mark.parametrize("name", ["../../../x", "../../../../../x"])
def test_database_writer_refuses_a_climbing_package_name(name: str, tmp_path: Path) -> None:
    sentinel(tmp_path)
    image = tmp_path / "out" / "rootfs"
    image.mkdir(parents=True)
    before = snapshot(tmp_path, skip=image)
    record = DpkgEntry(control={"Package": name, "Version": "1", "Architecture": "all"},
                       paths=("/usr",), md5sums="0  usr/x\n")
    with pytest.raises(Confinement) as refused:
        write_database(ImageRoot(image), [record])
    assert "\n" not in str(refused.value) and name in str(refused.value)
    assert snapshot(tmp_path, skip=image) == before
    assert list(image.iterdir()) == []  # every name checked before any write
    assert not list(tmp_path.rglob("x.*"))
