"""OpenPGP verification of Release files, in a private GNUPGHOME.

python-gnupg calls a good signature from any key in its keyring "valid" (with
TRUST_UNDEFINED), so the key material is imported into a throwaway GNUPGHOME holding
only the trusted keys, and the signer's primary fingerprint is checked against the
allowed set by us. The user's keyring is never read.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import gnupg

from archive.upstream.aptsources import SignedBy
from base.errors import ConfigError, SignatureError

DEFAULT_TRUSTED = (Path("/etc/apt/trusted.gpg"), Path("/etc/apt/trusted.gpg.d"))

CLEARSIGN_HEAD = "-----BEGIN PGP SIGNED MESSAGE-----"
SIG_HEAD = "-----BEGIN PGP SIGNATURE-----"
SIG_TAIL = "-----END PGP SIGNATURE-----"


@dataclass(frozen=True)
class Verified:
    """The signed content and who signed it (primary key fingerprints)."""

    content: bytes
    signers: tuple[str, ...]


def _keyring_files(signed_by: SignedBy) -> list[Path]:
    if signed_by.keyrings:
        return list(signed_by.keyrings)
    if signed_by.inline:
        return []
    files: list[Path] = []
    for path in DEFAULT_TRUSTED:
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.suffix in (".gpg", ".asc"))
        elif path.is_file():
            files.append(path)
    return files


@contextmanager
def trusted_gpg(signed_by: SignedBy) -> Iterator[tuple[gnupg.GPG, set[str]]]:
    """A GPG bound to a fresh GNUPGHOME with only the keys of `signed_by`.

    Yields the GPG object and the set of allowed primary-key fingerprints.
    """
    home = tempfile.mkdtemp(prefix="unessential-gpg-")
    try:
        gpg = gnupg.GPG(gnupghome=home, options=["--no-autostart"])
        blobs: list[tuple[str, bytes]] = []
        for file in _keyring_files(signed_by):
            try:
                blobs.append((str(file), file.read_bytes()))
            except OSError as exc:
                raise ConfigError(str(file), f"cannot read keyring: {exc.strerror}") from exc
        if signed_by.inline:
            blobs.append(("inline Signed-By key", signed_by.inline.encode()))
        if not blobs:
            raise ConfigError(signed_by.describe(), "no keyring to verify with")
        for name, blob in blobs:
            result = gpg.import_keys(blob)
            if not result.fingerprints:
                raise ConfigError(name, "holds no OpenPGP public key")
        allowed = {key["fingerprint"].upper() for key in gpg.list_keys()}
        if signed_by.fingerprints:
            wanted = set(signed_by.fingerprints)
            allowed = {fpr for fpr in allowed if fpr in wanted or fpr[-16:] in wanted}
        yield gpg, allowed
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _signers(result: gnupg.Verify, what: str, allowed: set[str], keyring: str) -> tuple[str, ...]:
    infos = list(getattr(result, "sig_info", {}).values())
    statuses = [str(info.get("status", "")) for info in infos]
    status = str(result.status or "")
    if "signature bad" in statuses or status == "signature bad":
        raise SignatureError(what, "bad signature: the content was altered after signing")
    good = {
        str(info.get("pubkey_fingerprint") or info.get("fingerprint") or "").upper()
        for info in infos
        if info.get("status") == "signature valid"
    }
    if not infos and result.valid:
        good = {str(result.pubkey_fingerprint or result.fingerprint or "").upper()}
    trusted = tuple(sorted(good & allowed))
    if trusted:
        return trusted
    if good:
        raise SignatureError(
            what, f"signed by {', '.join(sorted(good))}, which is not allowed by {keyring}"
        )
    missing = re.findall(r"NO_PUBKEY ([0-9A-F]+)", result.stderr or "")
    if missing:
        raise SignatureError(
            what, f"signed by key {missing[0]}, which is not in {keyring} (wrong keyring?)"
        )
    if "expired" in status or "revoked" in status:
        raise SignatureError(what, f"no valid signature: {status}")
    raise SignatureError(what, f"no valid signature ({status or 'not signed'})")


def check_clearsigned_shape(text: str, what: str) -> None:
    """Exactly one clearsigned message and nothing outside it, as apt requires."""
    stripped = text.strip()
    if not stripped.startswith(CLEARSIGN_HEAD):
        raise SignatureError(what, "not signed: no clearsigned OpenPGP message")
    if stripped.count(CLEARSIGN_HEAD) != 1 or stripped.count(SIG_HEAD) != 1:
        raise SignatureError(what, "more than one signed message")
    if not stripped.endswith(SIG_TAIL):
        raise SignatureError(what, "content after the signature block")


def verify_clearsigned(data: bytes, what: str, signed_by: SignedBy) -> Verified:
    """Verify an InRelease file; return the text that was actually signed."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SignatureError(what, "not text: cannot be a clearsigned Release") from exc
    check_clearsigned_shape(text, what)
    with trusted_gpg(signed_by) as (gpg, allowed):
        result = gpg.decrypt(data)
        signers = _signers(result, what, allowed, signed_by.describe())
        return Verified(content=bytes(result.data), signers=signers)


def verify_detached(data: bytes, signature: bytes, what: str, signed_by: SignedBy) -> Verified:
    """Verify Release against Release.gpg."""
    with trusted_gpg(signed_by) as (gpg, allowed), tempfile.NamedTemporaryFile() as sig:
        sig.write(signature)
        sig.flush()
        result = gpg.verify_data(sig.name, data)
        signers = _signers(result, what, allowed, signed_by.describe())
        return Verified(content=data, signers=signers)
