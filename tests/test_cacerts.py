"""update-ca-certificates done natively: OpenSSL's subject hash, `openssl rehash`'s
links, the postinst's /etc/ca-certificates.conf, each checked against the real tools
(openssl, the rendered sh run by dash)."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bootstrap.apply import Applier
from bootstrap.cacerts import (
    CONFIG_HEADER,
    DirEntry,
    merge_config,
    pem_link_name,
    rehash,
)
from bootstrap.x509hash import CertificateError, single_certificate, subject_hash
from recipes.actions import make_action
from tests.test_render import run

OPENSSL = shutil.which("openssl")
pytestmark = pytest.mark.skipif(OPENSSL is None, reason="needs openssl")

# Subjects with what the canonical encoding changes: case, runs of blanks, leading and
# trailing blanks, non-ASCII letters, several attributes in one RDN (+).
SUBJECTS = [
    "/CN=Plain Root",
    "/C=DE/O=  Mixed   CASE\tOrg  /CN=ÄÖÜ Zertifikat Ünïcode",
    "/C=US/O=Two+OU=Values/CN=multi valued",
    "/CN=plain root",  # the same hash as "/CN=Plain Root": a collision
    "/DC=com/DC=example/emailAddress=ca@example.com/CN=IA5 and more",
]


def make_cert(directory: Path, name: str, subject: str, *, string_mask: str = "utf8only",
              ) -> Path:
    """A self-signed certificate made by openssl (key thrown away)."""
    config = directory / f"{name}.cnf"
    config.write_text(f"[req]\ndistinguished_name = dn\nstring_mask = {string_mask}\n"
                      "prompt = no\n[dn]\nCN = unused\n", encoding="utf-8")
    path = directory / f"{name}.crt"
    subprocess.run(
        [OPENSSL, "req", "-x509", "-config", str(config), "-newkey", "ec",
         "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", os.devnull,
         "-days", "30", "-utf8", "-multivalue-rdn", "-subj", subject, "-out", str(path)],
        check=True, capture_output=True)
    return path


def openssl_hash(path: Path) -> str:
    return subprocess.run([OPENSSL, "x509", "-noout", "-subject_hash", "-in", str(path)],
                          check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    directory = tmp_path_factory.mktemp("certs")
    made = [make_cert(directory, f"utf8-{i}", subject) for i, subject in enumerate(SUBJECTS)]
    # PrintableString / T61String / BMPString values (string_mask default and pkix)
    made += [make_cert(directory, f"default-{i}", subject, string_mask="default")
             for i, subject in enumerate(SUBJECTS)]
    made += [make_cert(directory, f"pkix-{i}", subject, string_mask="pkix")
             for i, subject in enumerate(SUBJECTS)]
    return made


def test_subject_hash_is_openssls(certs: list[Path]) -> None:
    host = sorted(Path("/usr/share/ca-certificates").glob("*/*.crt"))
    for path in [*certs, *host]:
        der = single_certificate(path.read_bytes())
        assert der is not None, path
        assert subject_hash(der) == openssl_hash(path), path
    assert openssl_hash(certs[0]) == openssl_hash(certs[3])  # the collision is real


def test_pem_objects_counted_as_rehash_does(certs: list[Path]) -> None:
    one = certs[0].read_bytes()
    assert single_certificate(one) is not None
    assert single_certificate(one + certs[1].read_bytes()) is None  # a bundle
    assert single_certificate(b"not PEM at all\n") is None
    key = b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
    assert single_certificate(key + one) is not None  # other labels are not counted


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_malformed_der_is_a_certificate_error(data: bytes) -> None:
    hashes = _hashes(data)  # never anything but a CertificateError
    pem = b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(data) \
        + b"-----END CERTIFICATE-----\n"
    removed, created = rehash([DirEntry("x.pem", None, pem)])
    assert removed == [] and set(created) <= {f"{h}.0" for h in hashes}


def _hashes(data: bytes) -> set[str]:
    try:
        return {subject_hash(data)}
    except CertificateError:
        return set()


def _links(directory: Path) -> dict[str, str]:
    return {path.name: os.readlink(path) for path in directory.iterdir() if path.is_symlink()}


def test_rehash_is_openssl_rehash(certs: list[Path], tmp_path: Path) -> None:
    """Collisions numbered in name order, a duplicate certificate skipped, bundles and
    non-certificates skipped, stale links removed, a valid old link kept as it is."""
    directory = tmp_path / "certs"
    directory.mkdir()
    for path in certs:
        shutil.copy(path, directory / f"{path.stem}.pem")
    shutil.copy(certs[0], directory / "zz-duplicate.crt")
    (directory / "bundle.crt").write_bytes(certs[1].read_bytes() + certs[2].read_bytes())
    (directory / "notes.pem").write_text("not a certificate\n")
    (directory / "ignored.txt").write_bytes(certs[4].read_bytes())
    (directory / "deadbeef.0").symlink_to("gone.pem")
    # an old link of a present certificate under the number 1 of its bucket
    (directory / f"{openssl_hash(certs[1])}.1").symlink_to(f"{certs[1].stem}.pem")
    expected = tmp_path / "expected"
    shutil.copytree(directory, expected, symlinks=True)
    subprocess.run([OPENSSL, "rehash", str(expected)], check=True, capture_output=True)

    entries = []
    for path in sorted(directory.iterdir()):
        link = os.readlink(path) if path.is_symlink() else None
        data = path.read_bytes() if path.is_file() else None
        entries.append(DirEntry(path.name, link, data))
    removed, created = rehash(entries)
    for name in removed:
        (directory / name).unlink()
    for name, target in created.items():
        (directory / name).unlink(missing_ok=True)
        (directory / name).symlink_to(target)
    assert _links(directory) == _links(expected)
    assert any(name.endswith(".1") for name in created)


def _image(root: Path, certs: list[Path]) -> None:
    share = root / "usr/share/ca-certificates"
    (share / "mozilla").mkdir(parents=True)
    (share / "extra" / "deeper").mkdir(parents=True)
    for path in certs[:5]:
        shutil.copy(path, share / "mozilla" / f"{path.stem} (x),y.crt")
    shutil.copy(certs[5], share / "extra" / "deeper" / "deep.crt")
    local = root / "usr/local/share/ca-certificates"
    local.mkdir(parents=True)
    shutil.copy(certs[6], local / "local.crt")
    (root / "etc/ssl/certs").mkdir(parents=True)


def _native(root: Path, *values: dict[str, str]) -> None:
    applier = Applier(root)
    for value in values:
        action = make_action("ca-bundle", "postinst", ("configure",), value)
        assert applier.run("ca-certificates", action).status == "applied"


def test_native_update_matches_the_tools(certs: list[Path], tmp_path: Path) -> None:
    root = tmp_path / "root"
    _image(root, certs)
    _native(root, {"trust_new": "yes"})
    config = (root / "etc/ca-certificates.conf").read_text()
    names = sorted(["extra/deeper/deep.crt",
                    *(f"mozilla/{p.stem} (x),y.crt" for p in certs[:5])])
    assert config == CONFIG_HEADER + "".join(f"{n}\n" for n in names)
    etc = root / "etc/ssl/certs"
    links = _links(etc)
    for name in names:
        assert links[pem_link_name(name)] == f"/usr/share/ca-certificates/{name}"
    assert links["local.pem"] == "/usr/local/share/ca-certificates/local.crt"
    assert pem_link_name("mozilla/a (x),y.crt") == "a_=x=_y.pem"
    bundle = (etc / "ca-certificates.crt").read_bytes()
    assert bundle == b"".join((root / "usr/share/ca-certificates" / n).read_bytes()
                              for n in names) + (certs[6]).read_bytes()
    # openssl rehash over the same directory, its links' targets made host paths
    check = tmp_path / "check"
    check.mkdir()
    for name, target in links.items():
        if target.startswith("/"):
            (check / name).symlink_to(f"{root}{target}")
    shutil.copy(etc / "ca-certificates.crt", check)
    subprocess.run([OPENSSL, "rehash", str(check)], check=True, capture_output=True)
    hashed = {k: v for k, v in links.items() if not v.startswith("/")}
    assert hashed == {k: v for k, v in _links(check).items() if not v.startswith("/")}
    assert len(hashed) == 7  # five (one collision: .0 and .1), the deep one, the local one


def test_configuration_merge_in_sh_and_native(certs: list[Path], tmp_path: Path) -> None:
    """An existing configuration: a deselection kept, a certificate gone deselected,
    new ones appended, the old file kept as .dpkg-old; sh and native agree and
    update-ca-certificates' removals follow."""
    shell = tmp_path / "sh" / "root"
    _image(shell, certs)
    old = (CONFIG_HEADER + "mozilla/utf8-0 (x),y.crt\n!mozilla/utf8-1 (x),y.crt\n"
           "mozilla/gone.crt\n  extra/deeper/deep.crt \n")
    (shell / "etc/ca-certificates.conf").write_text(old)
    (shell / "etc/ssl/certs/utf8-1 (x),y.pem").symlink_to("/somewhere")
    native = tmp_path / "native"
    shutil.copytree(shell, native, symlinks=True)
    run(shell, make_action("ca-bundle", "postinst", ("configure",), {"trust_new": "yes"}))
    _native(native, {"trust_new": "yes"})
    available = sorted(p.relative_to(shell / "usr/share/ca-certificates").as_posix()
                       for p in (shell / "usr/share/ca-certificates").rglob("*.crt"))
    expected = merge_config(old, available, lambda name: False)
    assert "!mozilla/utf8-1 (x),y.crt\n!mozilla/gone.crt\n" in expected
    assert expected.endswith("mozilla/utf8-4 (x),y.crt\n")
    for root in (shell, native):
        assert (root / "etc/ca-certificates.conf").read_text() == expected
        assert (root / "etc/ca-certificates.conf.dpkg-old").read_text() == old
    assert not (native / "etc/ssl/certs/utf8-1 (x),y.pem").is_symlink()
    # a second run changes nothing and keeps no new backup
    (native / "etc/ca-certificates.conf.dpkg-old").unlink()
    _native(native, {"trust_new": "yes"})
    assert not (native / "etc/ca-certificates.conf.dpkg-old").exists()
    run(shell, make_action("ca-bundle", "postinst", ("configure",), {"trust_new": "yes"}))
    assert (shell / "etc/ca-certificates.conf").read_text() == expected


def test_fresh_configuration_in_sh_is_the_natives(certs: list[Path], tmp_path: Path) -> None:
    shell = tmp_path / "sh" / "root"
    _image(shell, certs)
    native = tmp_path / "native"
    shutil.copytree(shell, native, symlinks=True)
    run(shell, make_action("ca-bundle", "postinst", ("configure",), {"trust_new": "yes"}))
    _native(native, {"trust_new": "yes"})
    assert (shell / "etc/ca-certificates.conf").read_text() == \
        (native / "etc/ca-certificates.conf").read_text()


def test_prune_links_in_sh_and_native(tmp_path: Path) -> None:
    shell = tmp_path / "sh" / "root"
    certs = shell / "etc/ssl/certs"
    (certs / "sub").mkdir(parents=True)
    (certs / "file.crt").write_text("x\n")
    (certs / "kept.pem").symlink_to("file.crt")
    (certs / "dangling.pem").symlink_to("/usr/share/ca-certificates/gone.crt")
    (certs / "abcdef01.0").symlink_to("dangling.pem")
    (certs / "sub" / "dir-link").symlink_to("..")
    (certs / "sub" / "deep.pem").symlink_to("nowhere")
    native = tmp_path / "native"
    shutil.copytree(shell, native, symlinks=True)
    action = make_action("prune-links", "postrm", ("remove",), {"path": "/etc/ssl/certs"})
    run(shell, action, script="postrm", arg="remove")
    assert Applier(native).run("ca-certificates", action).status == "applied"
    for root in (shell, native):
        left = sorted(str(p.relative_to(root)) for p in (root / "etc/ssl/certs").rglob("*"))
        assert left == ["etc/ssl/certs/file.crt", "etc/ssl/certs/kept.pem",
                        "etc/ssl/certs/sub"], root
    assert Applier(native).run("ca-certificates", action).status == "not-needed"
