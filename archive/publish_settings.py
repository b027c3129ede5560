"""Typed settings of the published archive: `[publish]` in the configuration.

    [publish]
    suite = "stable"
    valid_for = "7d"                      # Valid-Until = Date + 7 days
    signing_keys = ["0123...CDEF"]        # pinned; two during a key rotation

Only fingerprints listed in `signing_keys` sign a publish; with none pinned, the
embedded default is a key created on first use under `<data_dir>/keys`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from archive.settings import UpstreamSettings

_FINGERPRINT = re.compile(r"[0-9A-F]{40}")
_DURATION_PART = re.compile(r"(\d+)([smhdw])")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
# suite, codename, component: a directory name under dists/ and a word in Release
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+~-]*")
_ARCH = re.compile(r"[a-z0-9][a-z0-9-]*")


def parse_fingerprint(text: str) -> str:
    """A full OpenPGP v4 fingerprint, upper-case; spaces (as gpg prints them) are dropped.

    Raises ValueError for anything else (a short or long key ID is not enough: pinning
    must name exactly one key).
    """
    value = "".join(text.split()).upper()
    if not _FINGERPRINT.fullmatch(value):
        raise ValueError(
            "expected a 40-hex-digit OpenPGP fingerprint (see: unessential key list)"
        )
    return value


def parse_duration(text: str) -> timedelta:
    """`7d`, `12h`, `1d12h`, `30m`, `2w`, `90s` as a positive timedelta; ValueError if not."""
    value = text.strip().lower()
    pos = 0
    seconds = 0
    for match in _DURATION_PART.finditer(value):
        if match.start() != pos:
            break
        seconds += int(match.group(1)) * _DURATION_UNITS[match.group(2)]
        pos = match.end()
    if not value or pos != len(value) or seconds <= 0:
        raise ValueError(
            "expected a positive duration such as 7d, 12h or 1d12h "
            "(units: s, m, h, d, w)"
        )
    return timedelta(seconds=seconds)


def _one_line(value: str) -> str:
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise ValueError("expected a single line of text without control characters")
    return value


def _name(value: str) -> str:
    if not _NAME.fullmatch(value):
        raise ValueError(
            "expected a name of letters, digits and . _ + ~ - (it becomes a directory)"
        )
    return value


def _architecture(value: str) -> str:
    if not _ARCH.fullmatch(value):
        raise ValueError("expected a Debian architecture name such as amd64 or arm64")
    return value


def _duration(value: str) -> str:
    parse_duration(value)
    return value


def _unique(values: list[str]) -> list[str]:
    seen = set()
    for item in values:
        if item in seen:
            raise ValueError(f"{item!r} is listed twice")
        seen.add(item)
    return values


Name = Annotated[str, AfterValidator(_name)]
OneLine = Annotated[str, AfterValidator(_one_line)]
Architecture = Annotated[str, AfterValidator(_architecture)]
Duration = Annotated[str, AfterValidator(_duration)]
Fingerprint = Annotated[str, AfterValidator(parse_fingerprint)]


class PublishSettings(BaseModel):
    """What `unessential publish` writes, where, and with which keys."""

    model_config = ConfigDict(extra="forbid")

    root: Path | None = Field(
        default=None, description="where the public archive is written (default: data_dir/public)"
    )
    suite: Name = Field(default="stable", description="Suite: of Release, dists/<suite>")
    codename: Name | None = Field(default=None, description="Codename: (default: the suite)")
    origin: OneLine = Field(default="unessential", description="Origin: of Release")
    label: OneLine = Field(default="unessential", description="Label: of Release")
    components: list[Name] = Field(default=["main"], description="Components: of Release")
    architectures: list[Architecture] | None = Field(
        default=None, description="Architectures: (default: those of the published binaries)"
    )
    valid_for: Duration | None = Field(
        default=None, description="Valid-Until = Date + this duration, e.g. 7d (default: none)"
    )
    signing_keys: list[Fingerprint] = Field(
        default=[], description="fingerprints of the keys that sign (several during a rotation)"
    )
    keep_snapshots: int = Field(default=10, ge=0, description="previous publishes kept")
    sources: Literal["required", "available"] = Field(
        default="required",
        description="required: every published binary's source is in Sources (fetched, "
                    "verified, from the upstream when not cached), or the publish fails; "
                    "available: sources that cannot be had are left out, with a log line")
    description: OneLine = Field(default="", description="Description: of Release")
    uploads: bool = Field(
        default=False,
        description="builds reach this publisher as uploads (unessential intake): publish "
                    "only the builds whose upload was imported, not those still on their "
                    "way (false: the workers' artifacts are in this data directory)")
    incoming: Path | None = Field(
        default=None,
        description="with uploads: the directory workers upload into (<account>/<build>/); "
                    "`publish` takes in what arrived there first (unessential intake)")
    worker_keys: Path | None = Field(
        default=None,
        description="directory of <account>.asc files: the public keys each worker account "
                    "may sign its uploads with")
    quarantine: Path | None = Field(
        default=None, description="where refused uploads go (default: data_dir/quarantine)")
    incomplete_after: Duration = Field(
        default="1d", description="an upload whose .changes has not arrived after this long "
                                  "is quarantined as incomplete")

    @field_validator("components")
    @classmethod
    def _components(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("expected at least one component, such as main")
        return _unique(value)

    @field_validator("architectures")
    @classmethod
    def _architectures(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not value:
            raise ValueError("expected at least one architecture, or leave it unset")
        return None if value is None else _unique(value)

    @field_validator("signing_keys")
    @classmethod
    def _signing_keys(cls, value: list[str]) -> list[str]:
        return _unique(value)

    @property
    def effective_codename(self) -> str:
        return self.codename or self.suite

    @property
    def valid_for_delta(self) -> timedelta | None:
        return None if self.valid_for is None else parse_duration(self.valid_for)

    def effective_root(self, data_dir: Path) -> Path:
        """Where the public archive lives: `root`, or `<data_dir>/public`."""
        return self.root if self.root is not None else data_dir / "public"


def root_problem(root: Path, data_dir: Path) -> str | None:
    """Why `root` may not hold the public archive of `data_dir`, or None if it may.

    Everything under the root is served, and `<data_dir>/keys` holds the secret signing
    key: the root may be neither the data directory, nor contain it, nor lie in `keys/`.
    """
    public = root.expanduser().resolve()
    data = data_dir.expanduser().resolve()
    keys = data / "keys"
    if public == data:
        return ("is the data directory, which holds the secret signing key (keys/): "
                "choose a directory of its own, such as <data_dir>/public")
    if public in data.parents:
        return (f"contains the data directory {data}, which holds the secret signing key "
                "(keys/): choose a directory of its own, such as <data_dir>/public")
    if public == keys or keys in public.parents:
        return f"lies in {keys}, the secret signing keys: choose another directory"
    return None



@dataclass(frozen=True)
class PublishTarget:
    """What a publish needs: its settings section, the data dir and the catalog's URL;
    the upstream, where the sources of published binaries are fetched from when this
    host has not cached them (None: never fetched)."""

    publish: PublishSettings
    data_dir: Path
    database_url: str
    upstream: UpstreamSettings | None = None
