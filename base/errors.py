"""Errors a user can act on, each with its own exit code.

Every error renders as one line naming the thing (file, package, URL) and the cause.
Exit codes are part of the interface: scripts may branch on them.
"""

from __future__ import annotations


class UnessentialError(Exception):
    """Base class: a clear, one-line, user-facing failure."""

    exit_code = 1
    kind = "error"

    def __init__(self, subject: str, cause: str) -> None:
        self.subject = subject
        self.cause = cause
        super().__init__(f"{subject}: {cause}")


class ConfigError(UnessentialError):
    exit_code = 3
    kind = "config"


class SignatureError(UnessentialError):
    """Missing, bad or untrusted OpenPGP signature (including the wrong keyring)."""

    exit_code = 4
    kind = "signature"


class ReleaseDateError(UnessentialError):
    """Release file expired (Valid-Until in the past) or dated in the future."""

    exit_code = 5
    kind = "release-date"


class IntegrityError(UnessentialError):
    """A file's size or hash differs from what a signed index says."""

    exit_code = 6
    kind = "integrity"


class TruncatedDownload(UnessentialError):
    exit_code = 7
    kind = "truncated"


class NotFoundError(UnessentialError):
    """Unknown package, version or index."""

    exit_code = 8
    kind = "not-found"


class MirrorUnreachable(UnessentialError):
    exit_code = 9
    kind = "unreachable"


class CatalogError(UnessentialError):
    exit_code = 10
    kind = "catalog"


class FormatError(UnessentialError):
    """A file that does not parse as the format it claims to be."""

    exit_code = 11
    kind = "format"


class RecipeError(UnessentialError):
    """A policy or recipe file that does not validate, or a recipe that cannot apply."""

    exit_code = 12
    kind = "recipe"


class RewriteError(UnessentialError):
    """A package the rewrite engine cannot rewrite (an unknown script line, ...)."""

    exit_code = 13
    kind = "rewrite"


class FlaggedScript(RewriteError):
    """A maintainer script the engine flagged (a line it cannot translate): the package
    is not rewritten; `package`, `version` and `architecture` name it."""

    def __init__(self, subject: str, message: str, *, package: str = "", version: str = "",
                 architecture: str = "") -> None:
        super().__init__(subject, message)
        self.package, self.version, self.architecture = package, version, architecture


class BuildFailed(UnessentialError):
    """A source package that did not build; `log_tail` holds the end of its build log.

    Not retryable as such: the same inputs fail the same way. Network trouble while
    installing build dependencies is `MirrorUnreachable` instead.
    """

    exit_code = 14
    kind = "build"

    def __init__(self, subject: str, cause: str, log_tail: str = "") -> None:
        super().__init__(subject, cause)
        self.log_tail = log_tail

    def __reduce__(self) -> tuple[type[BuildFailed], tuple[str, str, str]]:
        # Picklable with its three fields (Celery result backends pickle exceptions).
        return (type(self), (self.subject, self.cause, self.log_tail))


class SigningError(UnessentialError):
    """A signing key that is unknown, has no secret part, has expired, or a gpg failure."""

    exit_code = 15
    kind = "signing"


class ResolveFailed(UnessentialError):
    """The requested packages have no installable closure (missing package, conflict)."""

    exit_code = 16
    kind = "resolve"


class InstallError(UnessentialError):
    """An image cannot be assembled: an action that cannot apply, an output in the way."""

    exit_code = 17
    kind = "install"


class PolicyGateFailed(UnessentialError):
    """A policy gate (`audit --fail-on`) found what it forbids."""

    exit_code = 18
    kind = "policy"


class StorageError(UnessentialError):
    """A local file that cannot be written or read: disk full, read-only, permission."""

    exit_code = 19
    kind = "storage"


class NotEquivalent(UnessentialError):
    """`verify` found a difference between Debian's package and the rewritten one that
    no reason of the expected list explains (or a system could not be installed)."""

    exit_code = 20
    kind = "equivalence"


EXIT_CODES: dict[str, int] = {
    cls.kind: cls.exit_code
    for cls in (
        ConfigError,
        SignatureError,
        ReleaseDateError,
        IntegrityError,
        TruncatedDownload,
        NotFoundError,
        MirrorUnreachable,
        CatalogError,
        FormatError,
        RecipeError,
        RewriteError,
        BuildFailed,
        SigningError,
        ResolveFailed,
        InstallError,
        PolicyGateFailed,
        StorageError,
        NotEquivalent,
    )
}
