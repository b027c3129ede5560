"""Typed settings of the archive room (the upstream mirror reader)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator


class UpstreamSettings(BaseModel):
    """Where upstream Debian comes from and how it is fetched.

    With no `mirror`, the mirror, suites, components and keyrings are those of the
    host's APT sources (`apt_sources`). With `mirror`, one entry is made from
    `mirror`, `suites`, `components` and `keyring`.
    """

    model_config = ConfigDict(extra="forbid")

    mirror: str | None = Field(default=None, description="base URI of a Debian mirror")
    suites: list[str] | None = Field(default=None, description="suites to read")
    components: list[str] | None = Field(default=None, description="components to read")
    keyring: list[Path] | None = Field(default=None, description="OpenPGP keyrings to trust")
    architectures: list[str] | None = Field(default=None, description="binary architectures")
    apt_sources: list[Path] = Field(
        default=[Path("/etc/apt/sources.list"), Path("/etc/apt/sources.list.d")],
        description="host APT sources files or directories",
    )
    timeout: float = Field(default=30.0, gt=0, description="seconds per network read")
    retries: int = Field(default=4, ge=0, le=20, description="retries of a failed download")
    backoff: float = Field(default=0.5, ge=0, description="first retry delay, doubled each time")
    check_valid_until: bool = True
    max_date_skew: int = Field(
        default=600, ge=0, description="seconds a Release Date may lie in the future"
    )

    @field_validator("mirror")
    @classmethod
    def _mirror_is_url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not value.startswith(("http://", "https://", "file:/")):
            raise ValueError("expected an http://, https:// or file:/ URL")
        return value.rstrip("/")
