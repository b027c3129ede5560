"""The archive's OpenPGP signing keys, in a private GNUPGHOME (`<data_dir>/keys`).

The keys sign unattended (`unessential publish` on the publisher host), so they have
no passphrase: whoever can read `<data_dir>/keys` can sign as the archive. The
directory is created 0700; the host must protect it like any other private key
(only the publisher has it; workers never need it). The user's `~/.gnupg` is never
read or written.

Signing goes through python-gnupg with `--batch --pinentry-mode loopback` and an
empty passphrase, so a passphrase-protected key fails at once instead of waiting for a
pinentry. gpg starts one gpg-agent per GNUPGHOME and every call reuses it;
`stop_agent()` (or leaving a `with SigningKeys(...)` block) ends it.

Every signature made here is verified again before it is returned, and the signers'
primary fingerprints are compared with those requested: python-gnupg calls any good
signature valid, so that check is ours.
"""

from __future__ import annotations

import builtins
import fcntl
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import gnupg

from archive.publish_settings import parse_fingerprint
from base.errors import SigningError

DIGEST = "SHA512"
# gpg's `--quick-gen-key` / Expire-Date forms: 0 (never), 3y, 6m, 2w, 10d, 86400 (s), a date
_EXPIRE = re.compile(r"0|never|none|[1-9]\d*[dwmy]?|\d{4}-\d\d-\d\d")
_EMAIL = re.compile(r"[^@\s<>()]+@[^@\s<>()]+")
_SOCKET_MAX = 107  # sun_path of a unix socket, minus the terminating NUL
_GPG_ERROR_WORDS = ("fail", "error", "invalid", "unusable", "skipped", "expired", "revoked",
                    "no secret", "not found", "passphrase")
_NOISE = ("keybox", "trustdb", "directory", "WARNING: unsafe")


@dataclass(frozen=True)
class KeyInfo:
    """One key of the signing home: its primary fingerprint and first user ID."""

    fingerprint: str
    uid: str
    created: datetime
    expires: datetime | None
    secret: bool

    @property
    def expired(self) -> bool:
        return self.expires is not None and self.expires <= datetime.now(UTC)

    def as_dict(self) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "uid": self.uid,
            "created": self.created.isoformat(),
            "expires": self.expires.isoformat() if self.expires else None,
            "secret": self.secret,
            "expired": self.expired,
        }


def _failed(what: str, cause: str) -> str:
    return cause if "fail" in cause.lower() else f"{what} failed: {cause}"


def _epoch(value: str) -> datetime | None:
    return datetime.fromtimestamp(int(value), UTC) if value and value.isdigit() else None


class SigningKeys:
    """The signing keys under `home`, a private GNUPGHOME (created 0700)."""

    def __init__(self, home: Path) -> None:
        self.home = Path(home)
        try:
            self.home.mkdir(mode=0o700, parents=True, exist_ok=True)
            if self.home.stat().st_mode & 0o077:
                self.home.chmod(0o700)
        except OSError as exc:
            raise SigningError(str(self.home), f"cannot create the key directory: "
                               f"{exc.strerror}") from exc
        env = dict(os.environ)
        env["LC_ALL"] = "C.UTF-8"  # English messages, which the error causes quote
        env.pop("LANGUAGE", None)
        try:
            self._gpg = gnupg.GPG(gnupghome=str(self.home), encoding="utf-8", env=env)
        except (OSError, ValueError) as exc:
            raise SigningError(str(self.home), f"cannot run gpg: {exc}") from exc

    # -- lifetime ------------------------------------------------------------------

    def __enter__(self) -> SigningKeys:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop_agent()

    def stop_agent(self) -> None:
        """End the gpg-agent of this home, if one runs (the next operation restarts it)."""
        subprocess.run(["gpgconf", "--homedir", str(self.home), "--kill", "gpg-agent"],
                       capture_output=True, check=False)

    # -- keys ----------------------------------------------------------------------

    def list(self) -> builtins.list[KeyInfo]:
        """Every key of the home, oldest first; `secret` if its secret part is here."""
        secret = {key["fingerprint"].upper() for key in self._gpg.list_keys(secret=True)}
        keys = [self._info(record, secret) for record in self._gpg.list_keys()]
        return sorted(keys, key=lambda k: (k.created, k.fingerprint))

    def generate(self, name: str, email: str | None = None, *, expire: str = "3y") -> KeyInfo:
        """A new ed25519 sign-only key without a passphrase, valid for `expire`."""
        name = name.strip()
        if not name or any(ord(c) < 32 or c in "<>()" for c in name):
            raise SigningError(repr(name), "expected a key name on one line, without <>()")
        if email is not None and not _EMAIL.fullmatch(email):
            raise SigningError(repr(email), "expected an e-mail address such as "
                               "archive@example.org")
        if not _EXPIRE.fullmatch(expire):
            raise SigningError(repr(expire), "expected an expiry such as 3y, 18m, 2w, 90d, "
                               "a date (2030-01-01) or 0 for never")
        lines = [
            "Key-Type: EDDSA",
            "Key-Curve: ed25519",
            "Key-Usage: sign",
            f"Name-Real: {name}",
            *([f"Name-Email: {email}"] if email else []),
            f"Expire-Date: {expire}",
            "%no-protection",
            "%commit",
        ]
        result = self._gpg.gen_key("\n".join(lines) + "\n")
        if not result.fingerprint:
            raise SigningError(name, _failed("key generation", self._cause(result)))
        return self._key(result.fingerprint.upper())

    def import_file(self, path: Path) -> builtins.list[KeyInfo]:
        """Import keys (armored or binary); the file must hold a secret key to sign with."""
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise SigningError(str(path), f"cannot read: {exc.strerror}") from exc
        scanned = self._gpg.scan_keys_mem(data)
        if not scanned:
            raise SigningError(str(path), "holds no OpenPGP key")
        if not any(key.get("type") == "sec" for key in scanned):
            raise SigningError(
                str(path),
                "holds no secret key, only a public one: a signing key is exported with "
                "gpg --export-secret-keys FINGERPRINT",
            )
        wanted = {key["fingerprint"].upper() for key in scanned if key.get("type") == "sec"}
        # Try the keys in a throwaway home first: a key that cannot sign unattended
        # (passphrase, expired, no signing capability) never enters this one.
        with self._staging() as staging:
            staging._gpg.import_keys(data)
            for key in staging.list():
                if key.fingerprint not in wanted or not key.secret:
                    continue
                try:
                    staging.detach_sign(b"unessential: can this key sign?\n", [key.fingerprint])
                except SigningError as exc:
                    cause = exc.cause
                    if "passphrase" in cause.lower():
                        cause = (
                            "it is passphrase-protected, but an archive key signs "
                            "unattended: remove the passphrase where it comes from "
                            f"(gpg --passwd {key.fingerprint}), export it again and import that"
                        )
                    raise SigningError(
                        str(path), f"{key.fingerprint} cannot sign: {cause}"
                    ) from exc
        result = self._gpg.import_keys(data)
        imported = {fpr.upper() for fpr in result.fingerprints} & wanted
        keys = [key for key in self.list() if key.fingerprint in imported and key.secret]
        if not keys:
            raise SigningError(str(path), _failed("import", self._cause(result)))
        return keys

    def export_public(self, fingerprints: Sequence[str], *, armor: bool = True) -> bytes:
        """The public keys, minimal, for apt's `signed-by` (.asc armored, .gpg binary)."""
        wanted = self._known(fingerprints)
        if not wanted:
            raise SigningError(str(self.home), "no key to export")
        exported = self._gpg.export_keys(wanted, armor=armor, minimal=True)
        data = exported.encode("ascii") if isinstance(exported, str) else bytes(exported)
        if not data:
            raise SigningError(", ".join(wanted), "gpg exported nothing")
        return data

    def ensure_default(self, name: str) -> KeyInfo:
        """The newest usable secret key; a new one if the home holds no secret key at all.

        If secret keys exist but none can sign (all expired or revoked), that is an
        error rather than a silent new key: clients trust the old one.
        """
        with self._lock():
            secrets = [key for key in self.list() if key.secret]
            if not secrets:
                return self.generate(name)
            problems = [(key, self._problem(key)) for key in secrets]
            usable = [key for key, problem in problems if problem is None]
            if usable:
                return max(usable, key=lambda k: (k.created, k.fingerprint))
            key, problem = problems[-1]
            raise SigningError(
                key.fingerprint,
                f"{problem}, and no other secret key can sign: "
                "create one with unessential key generate",
            )

    # -- signing -------------------------------------------------------------------

    def clearsign(self, data: bytes, fingerprints: Sequence[str]) -> bytes:
        """InRelease: `data` clearsigned by every key of `fingerprints` (one block)."""
        signers = self._signers(fingerprints)
        result = self._gpg.sign(data, clearsign=True, extra_args=self._sign_args(signers))
        signed = bytes(result.data)
        if result.status != "signature created" or b"-----BEGIN PGP SIGNATURE-----" not in signed:
            cause = self._cause(result, signers)
            raise SigningError(", ".join(signers), _failed("clearsign", cause))
        check = self._gpg.decrypt(signed)
        content = bytes(check.data)
        if content not in (data, data + b"\n"):
            raise SigningError(
                ", ".join(signers),
                "the clearsigned text differs from the input (trailing white space on a "
                "line?), so InRelease would not match Release",
            )
        self._check_signers(check, signers)
        return signed

    def detach_sign(self, data: bytes, fingerprints: Sequence[str]) -> bytes:
        """Release.gpg: an armored detached signature of `data` by every key given."""
        signers = self._signers(fingerprints)
        result = self._gpg.sign(data, detach=True, extra_args=self._sign_args(signers))
        signature = bytes(result.data)
        if result.status != "signature created" or not signature.startswith(
            b"-----BEGIN PGP SIGNATURE-----"
        ):
            cause = self._cause(result, signers)
            raise SigningError(", ".join(signers), _failed("signing", cause))
        with tempfile.NamedTemporaryFile(dir=self.home, prefix=".verify-") as sig:
            sig.write(signature)
            sig.flush()
            check = self._gpg.verify_data(sig.name, data)
        self._check_signers(check, signers)
        return signature

    # -- helpers -------------------------------------------------------------------

    def _sign_args(self, signers: Sequence[str]) -> builtins.list[str]:
        args = ["--pinentry-mode", "loopback", "--passphrase", "", "--digest-algo", DIGEST]
        for fingerprint in signers:
            args += ["--local-user", fingerprint]
        return args

    def _signers(self, fingerprints: Sequence[str]) -> builtins.list[str]:
        """The requested signers, checked: known, with a secret part, able to sign."""
        wanted = self._fingerprints(fingerprints)
        if not wanted:
            raise SigningError(str(self.home), "no signing key given")
        keys = {key.fingerprint: key for key in self.list()}
        for fingerprint in wanted:
            key = keys.get(fingerprint)
            if key is None:
                raise SigningError(fingerprint, f"no such key in {self.home}")
            if not key.secret:
                raise SigningError(
                    fingerprint, f"only the public key is in {self.home}, not the secret key"
                )
            problem = self._problem(key)
            if problem:
                raise SigningError(fingerprint, problem)
        return wanted

    def _problem(self, key: KeyInfo) -> str | None:
        """Why `key` cannot sign (expired, revoked, no signing capability), or None."""
        if key.expired and key.expires is not None:
            return f"the key expired on {key.expires:%Y-%m-%d}"
        record = self._record(key.fingerprint)
        if record.get("trust") == "r":
            return "the key is revoked"
        if record.get("trust") == "e":
            return "the key has expired"
        if "S" not in str(record.get("cap", "")):
            return "the key has no usable signing (sub)key"
        return None

    def _check_signers(self, check: Any, signers: Sequence[str]) -> None:
        good = {
            str(info.get("pubkey_fingerprint") or info.get("fingerprint") or "").upper()
            for info in getattr(check, "sig_info", {}).values()
            if info.get("status") == "signature valid"
        }
        missing = [fingerprint for fingerprint in signers if fingerprint not in good]
        if missing:
            raise SigningError(
                ", ".join(missing),
                f"the signature made does not verify with this key ({check.status or 'no status'})",
            )

    def _fingerprints(self, fingerprints: Sequence[str]) -> builtins.list[str]:
        if isinstance(fingerprints, str):
            fingerprints = [fingerprints]
        out: builtins.list[str] = []
        for text in fingerprints:
            try:
                fingerprint = parse_fingerprint(text)
            except ValueError as exc:
                raise SigningError(repr(text), str(exc)) from exc
            if fingerprint not in out:
                out.append(fingerprint)
        return out

    def _known(self, fingerprints: Sequence[str]) -> builtins.list[str]:
        wanted = self._fingerprints(fingerprints)
        known = {key.fingerprint for key in self.list()}
        for fingerprint in wanted:
            if fingerprint not in known:
                raise SigningError(fingerprint, f"no such key in {self.home}")
        return wanted

    def _key(self, fingerprint: str) -> KeyInfo:
        for key in self.list():
            if key.fingerprint == fingerprint:
                return key
        raise SigningError(fingerprint, f"no such key in {self.home}")

    def _record(self, fingerprint: str) -> dict[str, Any]:
        for record in self._gpg.list_keys(keys=[fingerprint]):
            if record["fingerprint"].upper() == fingerprint:
                return dict(record)
        return {}

    @staticmethod
    def _info(record: dict[str, Any], secret: set[str]) -> KeyInfo:
        fingerprint = str(record["fingerprint"]).upper()
        uids = record.get("uids") or [""]
        created = _epoch(str(record.get("date", ""))) or datetime.fromtimestamp(0, UTC)
        return KeyInfo(
            fingerprint=fingerprint,
            uid=str(uids[0]),
            created=created,
            expires=_epoch(str(record.get("expires", ""))),
            secret=fingerprint in secret,
        )

    def _cause(self, result: Any, signers: Sequence[str] = ()) -> str:
        """One line from gpg's stderr that says what went wrong."""
        lines = [
            line.removeprefix("gpg: ").strip()
            for line in str(getattr(result, "stderr", "") or "").splitlines()
            if line.startswith("gpg: ") and not any(noise in line for noise in _NOISE)
        ]
        useful = [line for line in lines if any(w in line.lower() for w in _GPG_ERROR_WORDS)]
        cause = (useful or lines or [str(getattr(result, "status", "") or "gpg failed")])[0]
        lowered = cause.lower()
        if "passphrase" in lowered:
            cause += (
                "; the key is passphrase-protected, but an archive key signs unattended: "
                f"remove the passphrase (gpg --homedir {self.home} --passwd "
                f"{signers[0] if len(signers) == 1 else 'FINGERPRINT'})"
            )
        elif "agent" in lowered and len(str(self.home / "S.gpg-agent.browser")) > _SOCKET_MAX:
            cause += (
                f"; the path {self.home} is too long for gpg-agent's socket: "
                "use a shorter data_dir"
            )
        return cause

    @contextmanager
    def _staging(self) -> Iterator[SigningKeys]:
        """A temporary private home inside this one (same file system, same owner)."""
        folder = Path(tempfile.mkdtemp(dir=self.home, prefix=".import-"))
        try:
            staging = SigningKeys(folder)
            try:
                yield staging
            finally:
                staging.stop_agent()
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    @contextmanager
    def _lock(self) -> Iterator[None]:
        """Serialises `ensure_default` between processes sharing the home."""
        with open(self.home / ".unessential.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
