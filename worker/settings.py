"""Typed settings of the worker room (the rebuild farm)."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from archive.settings import UpstreamSettings


class WorkerSettings(BaseModel):
    """How builds are queued, leased and retried."""

    model_config = ConfigDict(extra="forbid")

    queue: str = Field(default="unessential", pattern=r"^[A-Za-z0-9_.-]+$",
                       description="Celery queue name (one per farm)")
    concurrency: int = Field(default=1, ge=1, le=64, description="builds per worker process")
    visibility_timeout: int = Field(
        default=3600, ge=5,
        description="seconds before Redis hands an unacknowledged task to another worker",
    )
    heartbeat: float = Field(default=15, gt=0, description="seconds between build heartbeats")
    lease: float = Field(
        default=90, gt=0, description="a build whose heartbeat is older is taken over"
    )
    build_timeout: int = Field(default=3 * 3600, ge=60, description="seconds per source build")
    jobs: int = Field(default=2, ge=1, le=256, description="dpkg-buildpackage -j")
    sandbox: Literal["auto", "root", "unshare"] = Field(
        default="auto",
        description="where source builds run: \"unshare\" needs no root (a user namespace "
                    "of the worker user's subordinate ids, /etc/subuid and /etc/subgid), "
                    "\"root\" needs a worker running as root; \"auto\": unshare where "
                    "subordinate ids are set up, else root")
    retries: int = Field(default=3, ge=0, le=20, description="retries after network errors")
    retry_backoff: float = Field(default=30, ge=0, description="first retry delay in seconds")
    version_mark: str = Field(
        default="ue", pattern=r"^[a-z]{1,16}$",
        description="letters appended to Debian's version of each binary we publish, with "
                    "a counter (1.0-1 -> 1.0-1ue1): above Debian's same version, below its "
                    "later uploads (see rewrite.versions)")
    maintainer: str = Field(
        default="unessential <rebuild@unessential.invalid>",
        pattern=r"^[^\n<>]+ <[^\n<>@ ]+@[^\n<> ]+>$",
        description="the changelog entry's maintainer of a source of our own (a recipe's "
                    "patches)")
    upstream_ttl: float = Field(
        default=120, ge=0,
        description="seconds a worker process reuses the upstream it opened (verified "
                    "Release, Packages records, relation universe) for its next tasks; 0: "
                    "every task opens it again")
    recipes_dir: Path | None = Field(
        default=None, description="directory of recipes (default: the packaged recipes/)"
    )
    upload_url: str | None = Field(
        default=None, pattern=r"^https?://[^\s]+$",
        description="the publisher's upload queue (HTTP PUT, e.g. nginx WebDAV): each "
                    "build's files and a .changes signed with the worker's key go there; "
                    "none: the publisher reads this host's data directory")
    upload_user: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9_.-]+$",
        description="the worker's account on the queue (default: the host name)")
    upload_password_file: Path | None = Field(
        default=None, description="file holding the account's password (one line)")
    @property
    def upload_account(self) -> str:
        """The worker's account on the upload queue: upload_user, else the host name."""
        return self.upload_user or socket.gethostname()

    upload_retry: float = Field(
        default=300, ge=1, description="seconds between two attempts of a running worker "
                                       "to send the uploads it could not send yet")


@dataclass(frozen=True)
class FarmSettings:
    """What the farm needs: its own section, the upstream's, where data and the catalog
    live, and the broker (none: the embedded queue under the data dir)."""

    worker: WorkerSettings
    upstream: UpstreamSettings
    data_dir: Path
    database_url: str
    broker_url: str | None = None
