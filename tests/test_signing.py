"""The archive's signing keys: generate, import, export, clearsign/detach-sign, rotation.

Every signature is checked with gpgv against the exported public key, in a directory
of its own, the way apt checks it: apt runs gpgv with the `signed-by` keyring and
accepts a file when at least one signature is good (VALIDSIG) and none is bad; a
signature by a key it does not have (NO_PUBKEY) is ignored, which is what makes a
two-key rotation work. apt reads an armored `.asc` keyring by dearmoring it first.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from archive.publish_settings import PublishSettings, parse_duration, parse_fingerprint
from archive.signing import SigningKeys
from base.errors import EXIT_CODES, ConfigError, SigningError
from unessential.cli import cli
from unessential.config import load_settings

RELEASE = (
    b"Origin: unessential\nLabel: unessential\nSuite: stable\nCodename: stable\n"
    b"Date: Sat, 01 Jun 2024 00:00:00 UTC\nArchitectures: amd64\nComponents: main\n"
    b"SHA256:\n 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef 12 "
    b"main/binary-amd64/Packages\n"
)


# -- helpers -------------------------------------------------------------------------


def short_dir() -> Path:
    """A short temporary path: gpg-agent's socket path must fit in 107 bytes."""
    return Path(tempfile.mkdtemp(prefix="ue-"))


@pytest.fixture
def tmp() -> Iterator[Path]:
    folder = short_dir()
    yield folder
    for home in [folder, *folder.rglob("*")]:
        if home.is_dir() and (home / "pubring.kbx").exists():
            subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"],
                           capture_output=True, check=False)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def keys(tmp: Path) -> Iterator[SigningKeys]:
    with SigningKeys(tmp / "keys") as signing:
        yield signing


def gpg(home: Path, *args: str, input: bytes | None = None) -> bytes:
    return subprocess.run(["gpg", "--homedir", str(home), "--batch", "--yes", *args],
                           input=input, capture_output=True, check=True).stdout


def dearmor(armored: bytes, block: str = "PUBLIC KEY BLOCK") -> bytes:
    """What apt does with a `.asc` keyring before handing it to gpgv."""
    lines = armored.decode("ascii").strip().splitlines()
    assert lines[0] == f"-----BEGIN PGP {block}-----"
    assert lines[-1] == f"-----END PGP {block}-----"
    body = lines[lines.index("") + 1: -1]
    return base64.b64decode("".join(line for line in body if not line.startswith("=")))


def gpgv(keyring: bytes, *files: bytes) -> tuple[set[str], bool]:
    """Run gpgv in a fresh directory; (primary fingerprints of good signatures, any bad)."""
    folder = short_dir()
    try:
        (folder / "keyring.gpg").write_bytes(keyring)
        paths = []
        for index, data in enumerate(files):
            path = folder / f"file{index}"
            path.write_bytes(data)
            paths.append(str(path))
        out = subprocess.run(
            ["gpgv", "--homedir", str(folder), "--status-fd", "1",
             "--keyring", str(folder / "keyring.gpg"), *paths],
            capture_output=True, text=True, check=False,
        ).stdout
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    status = [line.split()[1:] for line in out.splitlines() if line.startswith("[GNUPG:] ")]
    good = {fields[-1] for fields in status if fields[0] == "VALIDSIG"}
    bad = any(fields[0] in ("BADSIG", "EXPKEYSIG", "REVKEYSIG", "EXPSIG") for fields in status)
    return good, bad


def apt_accepts(keyring: bytes, *files: bytes) -> bool:
    good, bad = gpgv(keyring, *files)
    return bool(good) and not bad


# -- generate, clearsign, detach-sign ---------------------------------------------------


def test_generate_makes_an_ed25519_signing_key(keys: SigningKeys, tmp: Path) -> None:
    info = keys.generate("Example Distro Archive", "archive@example.org")
    assert len(info.fingerprint) == 40 and info.fingerprint == info.fingerprint.upper()
    assert info.uid == "Example Distro Archive <archive@example.org>"
    assert info.secret and not info.expired
    now = datetime.now(UTC)
    assert abs(info.created - now) < timedelta(minutes=5)
    assert info.expires is not None
    assert timedelta(days=3 * 365 - 2) < info.expires - info.created < timedelta(days=3 * 366)
    assert keys.list() == [info]
    listing = gpg(tmp / "keys", "--with-colons", "--list-keys", info.fingerprint).decode()
    pub = next(line.split(":") for line in listing.splitlines() if line.startswith("pub"))
    assert pub[3] == "22" and pub[16] == "ed25519"  # EdDSA, ed25519
    assert "e" not in pub[11].lower()  # no encryption capability
    assert stat_mode(tmp / "keys") == 0o700


def stat_mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_generate_never_expiring_and_bad_input(keys: SigningKeys) -> None:
    assert keys.generate("No expiry", expire="0").expires is None
    with pytest.raises(SigningError, match="expiry"):
        keys.generate("Bad", expire="soon")
    with pytest.raises(SigningError, match="one line"):
        keys.generate("Two\nKey-Type: RSA")
    with pytest.raises(SigningError, match="e-mail"):
        keys.generate("Name", "not an address")


def test_clearsign_verifies_with_the_exported_key_armored_and_binary(keys: SigningKeys) -> None:
    info = keys.generate("Archive")
    signed = keys.clearsign(RELEASE, [info.fingerprint])
    text = signed.decode()
    assert text.startswith("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n")
    assert text.count("-----BEGIN PGP SIGNATURE-----") == 1
    assert RELEASE.decode() in text
    binary = keys.export_public([info.fingerprint], armor=False)
    armored = keys.export_public([info.fingerprint])
    assert armored.startswith(b"-----BEGIN PGP PUBLIC KEY BLOCK-----")
    assert dearmor(armored) == binary
    for keyring in (binary, dearmor(armored)):
        assert gpgv(keyring, signed) == ({info.fingerprint}, False)


def test_tampered_inrelease_fails_gpgv(keys: SigningKeys) -> None:
    info = keys.generate("Archive")
    signed = keys.clearsign(RELEASE, [info.fingerprint])
    tampered = signed.replace(b"Suite: stable", b"Suite: stab1e")
    assert tampered != signed
    good, bad = gpgv(keys.export_public([info.fingerprint], armor=False), tampered)
    assert bad and not good


def test_detached_signature_verifies_and_tampering_fails(keys: SigningKeys) -> None:
    info = keys.generate("Archive")
    signature = keys.detach_sign(RELEASE, [info.fingerprint])
    assert signature.startswith(b"-----BEGIN PGP SIGNATURE-----")
    keyring = keys.export_public([info.fingerprint], armor=False)
    assert gpgv(keyring, signature, RELEASE) == ({info.fingerprint}, False)
    assert not apt_accepts(keyring, signature, RELEASE + b"Extra: line\n")


def test_signature_by_another_key_is_refused(keys: SigningKeys) -> None:
    ours = keys.generate("Ours")
    theirs = keys.generate("Theirs")
    signed = keys.clearsign(RELEASE, [theirs.fingerprint])
    assert not apt_accepts(keys.export_public([ours.fingerprint], armor=False), signed)


def test_two_key_rotation_either_key_alone_accepts(keys: SigningKeys) -> None:
    old = keys.generate("Archive 2024")
    new = keys.generate("Archive 2027")
    both = [old.fingerprint, new.fingerprint]
    inrelease = keys.clearsign(RELEASE, both)
    assert inrelease.count(b"-----BEGIN PGP SIGNATURE-----") == 1
    release_gpg = keys.detach_sign(RELEASE, both)
    keyring_both = keys.export_public(both, armor=False)
    assert gpgv(keyring_both, inrelease) == (set(both), False)
    assert gpgv(keyring_both, release_gpg, RELEASE) == (set(both), False)
    for alone in both:
        keyring = keys.export_public([alone], armor=False)
        assert gpgv(keyring, inrelease) == ({alone}, False)
        assert gpgv(keyring, release_gpg, RELEASE) == ({alone}, False)
        assert apt_accepts(keyring, inrelease)
        assert apt_accepts(keyring, release_gpg, RELEASE)


def test_fingerprints_are_normalised_and_deduplicated(keys: SigningKeys) -> None:
    info = keys.generate("Archive")
    spaced = " ".join(info.fingerprint.lower()[i:i + 4] for i in range(0, 40, 4))
    signed = keys.clearsign(RELEASE, [spaced, info.fingerprint])
    good, _ = gpgv(keys.export_public([info.fingerprint], armor=False), signed)
    assert good == {info.fingerprint}


def test_signing_errors(keys: SigningKeys, tmp: Path) -> None:
    info = keys.generate("Archive")
    unknown = "0" * 40
    with pytest.raises(SigningError, match="no such key") as exc:
        keys.clearsign(RELEASE, [info.fingerprint, unknown])
    assert exc.value.subject == unknown and exc.value.exit_code == 15
    with pytest.raises(SigningError, match="40-hex-digit"):
        keys.detach_sign(RELEASE, [info.fingerprint[-16:]])
    with pytest.raises(SigningError, match="no signing key given"):
        keys.clearsign(RELEASE, [])
    with pytest.raises(SigningError, match="no such key"):
        keys.export_public([unknown])
    with pytest.raises(SigningError, match="trailing white space"):
        keys.clearsign(b"Origin: x  \n", [info.fingerprint])
    # a public key only: known, but cannot sign
    other = SigningKeys(tmp / "other")
    try:
        foreign = other.generate("Foreign")
        (tmp / "foreign.gpg").write_bytes(other.export_public([foreign.fingerprint]))
    finally:
        other.stop_agent()
    gpg(keys.home, "--import", str(tmp / "foreign.gpg"))
    assert {k.fingerprint: k.secret for k in keys.list()} == {
        info.fingerprint: True, foreign.fingerprint: False}
    with pytest.raises(SigningError, match="only the public key"):
        keys.clearsign(RELEASE, [foreign.fingerprint])


def test_expired_key_is_refused(keys: SigningKeys) -> None:
    gpg(keys.home, "--faked-system-time", "20200101T000000", "--passphrase", "",
        "--quick-gen-key", "Old Archive", "ed25519", "sign", "1d")
    old = keys.list()[0]
    assert old.expired and old.secret
    with pytest.raises(SigningError, match="expired on 2020-01-02") as exc:
        keys.clearsign(RELEASE, [old.fingerprint])
    assert exc.value.subject == old.fingerprint
    with pytest.raises(SigningError, match="no other secret key can sign"):
        keys.ensure_default("Archive")


def test_no_agent_is_left_running(tmp: Path) -> None:
    with SigningKeys(tmp / "keys") as keys:
        info = keys.generate("Archive")
        for _ in range(3):
            keys.clearsign(RELEASE, [info.fingerprint])
        sockets = subprocess.run(
            ["gpgconf", "--homedir", str(keys.home), "--list-dirs", "agent-socket"],
            capture_output=True, text=True, check=True).stdout.strip()
        assert Path(sockets).exists()
    assert not Path(sockets).exists()


# -- import -----------------------------------------------------------------------------


def test_import_of_an_exported_secret_key(tmp: Path) -> None:
    with SigningKeys(tmp / "a") as first:
        info = first.generate("Archive", "archive@example.org")
        secret = gpg(first.home, "--pinentry-mode", "loopback", "--passphrase", "",
                     "--armor", "--export-secret-keys", info.fingerprint)
        public = first.export_public([info.fingerprint], armor=False)
    (tmp / "secret.asc").write_bytes(secret)
    (tmp / "secret.gpg").write_bytes(dearmor(secret, "PRIVATE KEY BLOCK"))
    for name in ("secret.asc", "secret.gpg"):
        with SigningKeys(tmp / f"b-{name}") as second:
            imported = second.import_file(tmp / name)
            assert [k.fingerprint for k in imported] == [info.fingerprint]
            assert imported[0].secret and imported[0].uid == info.uid
            assert second.list() == imported
            assert apt_accepts(public, second.clearsign(RELEASE, [info.fingerprint]))
            assert second.import_file(tmp / name) == imported  # again: no change


def test_import_refuses_public_only_and_non_keys(keys: SigningKeys, tmp: Path) -> None:
    info = keys.generate("Archive")
    (tmp / "public.asc").write_bytes(keys.export_public([info.fingerprint]))
    with SigningKeys(tmp / "other") as other:
        with pytest.raises(SigningError, match="holds no secret key") as exc:
            other.import_file(tmp / "public.asc")
        assert exc.value.subject == str(tmp / "public.asc")
        assert other.list() == []
        (tmp / "junk").write_text("not a key\n")
        with pytest.raises(SigningError, match="holds no OpenPGP key"):
            other.import_file(tmp / "junk")
        with pytest.raises(SigningError, match="cannot read"):
            other.import_file(tmp / "missing.asc")


def test_import_of_a_passphrase_protected_key_says_so(tmp: Path) -> None:
    home = tmp / "protected"
    home.mkdir(mode=0o700)
    try:
        gpg(home, "--pinentry-mode", "loopback", "--passphrase", "sekrit",
            "--quick-gen-key", "Protected", "ed25519", "sign", "1y")
        secret = gpg(home, "--pinentry-mode", "loopback", "--passphrase", "sekrit",
                     "--armor", "--export-secret-keys")
    finally:
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"],
                       capture_output=True, check=False)
    (tmp / "protected.asc").write_bytes(secret)
    with SigningKeys(tmp / "keys") as keys:
        with pytest.raises(SigningError, match="passphrase-protected"):
            keys.import_file(tmp / "protected.asc")
        assert keys.list() == []  # tried in a throwaway home: nothing half-imported
        assert [p.name for p in keys.home.iterdir() if p.name.startswith(".import-")] == []


def test_import_of_an_expired_key_is_refused(tmp: Path) -> None:
    home = tmp / "old"
    home.mkdir(mode=0o700)
    try:
        gpg(home, "--faked-system-time", "20200101T000000", "--passphrase", "",
            "--quick-gen-key", "Old", "ed25519", "sign", "1d")
        secret = gpg(home, "--pinentry-mode", "loopback", "--passphrase", "",
                     "--export-secret-keys")
    finally:
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"],
                       capture_output=True, check=False)
    (tmp / "old.gpg").write_bytes(secret)
    with SigningKeys(tmp / "keys") as keys:
        with pytest.raises(SigningError, match="cannot sign: the key expired on 2020-01-02"):
            keys.import_file(tmp / "old.gpg")
        assert keys.list() == []


# -- ensure_default ---------------------------------------------------------------------


def test_ensure_default_generates_once_then_reuses(keys: SigningKeys, tmp: Path) -> None:
    # a public key of someone else does not count as a signing key
    with SigningKeys(tmp / "other") as other:
        foreign = other.generate("Foreign")
        (tmp / "foreign.gpg").write_bytes(other.export_public([foreign.fingerprint]))
    gpg(keys.home, "--import", str(tmp / "foreign.gpg"))
    first = keys.ensure_default("unessential archive signing key")
    assert first.secret and first.uid == "unessential archive signing key"
    assert keys.ensure_default("another name") == first
    assert SigningKeys(keys.home).ensure_default("x") == first
    assert [k.fingerprint for k in keys.list() if k.secret] == [first.fingerprint]


# -- command line ----------------------------------------------------------------------


def invoke(data_dir: Path, *args: str, config: Path | None = None):  # noqa: ANN201
    env = {"UNESSENTIAL_DATA_DIR": str(data_dir)}
    prefix = ["--config", str(config)] if config else []
    return CliRunner(env=env).invoke(cli, [*prefix, *args])


def test_cli_generate_list_export(tmp: Path) -> None:
    data = tmp / "data"
    result = invoke(data, "key", "generate", "--name", "Example Distro Archive",
                    "--email", "archive@example.org")
    assert result.exit_code == 0, result.output
    fingerprint = result.output.split()[0]
    assert len(fingerprint) == 40
    assert f'signing_keys = ["{fingerprint}"]' in result.output
    assert "[publish]" in result.output

    result = invoke(data, "key", "generate", "--name", "Second", "--expire", "1y", "--json")
    assert result.exit_code == 0, result.output
    second = json.loads(result.output)
    assert second["secret"] and second["uid"] == "Second"

    listed = json.loads(invoke(data, "key", "list", "--json").output)
    assert listed["home"] == str(data / "keys")
    assert {k["fingerprint"] for k in listed["keys"]} == {fingerprint, second["fingerprint"]}
    assert not any(k["pinned"] for k in listed["keys"])
    text = invoke(data, "key", "list").output
    assert fingerprint in text and "secret" in text

    # default export: every key with a secret, armored on stdout
    exported = invoke(data, "key", "export")
    assert exported.exit_code == 0
    assert exported.stdout_bytes.startswith(b"-----BEGIN PGP PUBLIC KEY BLOCK-----")
    with SigningKeys(data / "keys") as keys:
        inrelease = keys.clearsign(RELEASE, [fingerprint])
        inrelease2 = keys.clearsign(RELEASE, [second["fingerprint"]])
    keyring = dearmor(exported.stdout_bytes)
    assert gpgv(keyring, inrelease) == ({fingerprint}, False)
    assert gpgv(keyring, inrelease2) == ({second["fingerprint"]}, False)

    # one key, binary, to a file
    out = tmp / "archive-keyring.gpg"
    result = invoke(data, "key", "export", fingerprint, "--binary", "--output", str(out))
    assert result.exit_code == 0, result.output
    assert result.output == ""
    assert gpgv(out.read_bytes(), inrelease) == ({fingerprint}, False)
    assert gpgv(out.read_bytes(), inrelease2) == (set(), False)


def test_cli_export_defaults_to_the_pinned_keys(tmp: Path) -> None:
    data = tmp / "data"
    first = json.loads(invoke(data, "key", "generate", "--name", "One", "--json").output)
    second = json.loads(invoke(data, "key", "generate", "--name", "Two", "--json").output)
    config = tmp / "unessential.toml"
    config.write_text(f'[publish]\nsigning_keys = ["{second["fingerprint"].lower()}"]\n')
    result = invoke(data, "key", "export", "--binary", config=config)
    assert result.exit_code == 0, result.output
    with SigningKeys(data / "keys") as keys:
        by_second = keys.clearsign(RELEASE, [second["fingerprint"]])
        by_first = keys.clearsign(RELEASE, [first["fingerprint"]])
    assert apt_accepts(result.stdout_bytes, by_second)
    assert not apt_accepts(result.stdout_bytes, by_first)
    listed = json.loads(invoke(data, "key", "list", "--json", config=config).output)
    assert {k["fingerprint"]: k["pinned"] for k in listed["keys"]} == {
        first["fingerprint"]: False, second["fingerprint"]: True}
    # a newly generated key: the hint shows how to rotate with both
    result = invoke(data, "key", "generate", "--name", "Three", config=config)
    new = result.output.split()[0]
    assert f'signing_keys = ["{second["fingerprint"]}", "{new}"]' in result.output


def test_cli_import_and_errors(tmp: Path) -> None:
    with SigningKeys(tmp / "source") as source:
        info = source.generate("Imported Archive")
        secret = gpg(source.home, "--pinentry-mode", "loopback", "--passphrase", "",
                     "--armor", "--export-secret-keys", info.fingerprint)
        (tmp / "public.asc").write_bytes(source.export_public([info.fingerprint]))
    (tmp / "secret.asc").write_bytes(secret)
    data = tmp / "data"

    result = invoke(data, "key", "export")
    assert result.exit_code == EXIT_CODES["signing"] == 15
    assert "no signing key" in result.output

    result = invoke(data, "key", "import", str(tmp / "public.asc"))
    assert result.exit_code == 15
    line = result.output.strip().splitlines()[-1]
    assert line.startswith("unessential: signing error: ")
    assert "holds no secret key" in line

    result = invoke(data, "key", "import", str(tmp / "secret.asc"), "--json")
    assert result.exit_code == 0, result.output
    assert [k["fingerprint"] for k in json.loads(result.output)] == [info.fingerprint]
    result = invoke(data, "key", "import", str(tmp / "secret.asc"))
    assert result.exit_code == 0, result.output
    assert info.fingerprint in result.output and "signing_keys" in result.output

    result = invoke(data, "key", "export", "0" * 40)
    assert result.exit_code == 15 and "no such key" in result.output


# -- configuration ---------------------------------------------------------------------


def test_publish_settings_defaults() -> None:
    settings = PublishSettings()
    assert settings.suite == "stable" and settings.effective_codename == "stable"
    assert settings.components == ["main"] and settings.signing_keys == []
    assert settings.valid_for_delta is None and settings.keep_snapshots == 10
    assert settings.effective_root(Path("/srv/u")) == Path("/srv/u/public")
    assert load_settings().settings.publish == settings


def test_publish_settings_from_a_file(tmp: Path) -> None:
    fingerprint = "0123 4567 89ab cdef 0123  4567 89ab cdef 0123 4567"
    path = tmp / "c.toml"
    path.write_text(
        "[publish]\n"
        'root = "/srv/archive"\n'
        'codename = "trixie-u"\n'
        'valid_for = "1d12h"\n'
        f'signing_keys = ["{fingerprint}"]\n'
    )
    publish = load_settings(path).settings.publish
    assert publish.signing_keys == ["0123456789ABCDEF0123456789ABCDEF01234567"]
    assert publish.valid_for_delta == timedelta(hours=36)
    assert publish.effective_codename == "trixie-u"
    assert publish.effective_root(tmp) == Path("/srv/archive")


@pytest.mark.parametrize(
    ("lines", "key", "line"),
    [
        (['signing_keys = [', '  "ABCDEF",', ']'], "publish.signing_keys[0]", 3),
        (['signing_keys = ["0123456789ABCDEF"]'], "publish.signing_keys[0]", 2),
        (['signing_keys = ["' + "G" * 40 + '"]'], "publish.signing_keys[0]", 2),
        (['suite = "stable"', 'valid_for = "7x"'], "publish.valid_for", 3),
        (['valid_for = "0d"'], "publish.valid_for", 2),
        (['valid_for = "7 days"'], "publish.valid_for", 2),
        (['suite = "../up"'], "publish.suite", 2),
        (['components = []'], "publish.components", 2),
        (['origin = "a\\nSuite: evil"'], "publish.origin", 2),
        (['keep_snapshots = -1'], "publish.keep_snapshots", 2),
        (['signing_key = []'], "publish.signing_key", 2),
    ],
)
def test_publish_settings_errors_name_the_key(tmp: Path, lines: list[str], key: str,
                                              line: int) -> None:
    path = tmp / "c.toml"
    path.write_text("[publish]\n" + "\n".join(lines) + "\n")
    with pytest.raises(ConfigError) as exc:
        load_settings(path)
    assert exc.value.subject == f"{path}:{line}"
    assert f"'{key}'" in exc.value.cause
    result = CliRunner().invoke(cli, ["--config", str(path), "key", "list"])
    assert result.exit_code == EXIT_CODES["config"]
    assert f"'{key}'" in result.output


def test_duplicate_pinned_key_is_an_error(tmp: Path) -> None:
    path = tmp / "c.toml"
    path.write_text(f'[publish]\nsigning_keys = ["{"A" * 40}", "{"a" * 40}"]\n')
    with pytest.raises(ConfigError, match="listed twice"):
        load_settings(path)


def test_parse_helpers() -> None:
    assert parse_duration("7d") == timedelta(days=7)
    assert parse_duration("12h") == timedelta(hours=12)
    assert parse_duration("2w3d") == timedelta(days=17)
    assert parse_duration("90s") == timedelta(seconds=90)
    for bad in ("", "7", "d", "-1d", "1.5d", "1y", "0h"):
        with pytest.raises(ValueError):
            parse_duration(bad)
    assert parse_fingerprint("a" * 40) == "A" * 40
    with pytest.raises(ValueError):
        parse_fingerprint("A" * 39)
