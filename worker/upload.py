"""Sending a build's upload to the publisher: HTTP PUT to its web server (issue 18).

What a Debian admin runs for an upload queue without a shared disk: nginx with WebDAV
PUT (`dav_methods PUT`) behind basic authentication, one account per worker. Each file
of `outgoing/<build>/` is PUT to `<url>/<worker>/<build>/<name>`, the `.changes` last,
so that the intake never sees a `.changes` before its files; nginx writes each body to
a temporary file and renames it, so a killed transfer leaves nothing under the name.
A PUT of the same file again replaces it: sending is idempotent, and a retry (with
backoff) or a second run after a crash simply sends the upload again.
"""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import quote

import requests

from base.errors import MirrorUnreachable, StorageError

RETRIES = 4
BACKOFF = 0.5


def send_upload(changes: Path, url: str, worker: str, auth: tuple[str, str] | None, *,
                retries: int = RETRIES, backoff: float = BACKOFF,
                session: requests.Session | None = None) -> list[str]:
    """PUT the files of the upload whose `.changes` is `changes`, then the `.changes`;
    the URLs written. Raises MirrorUnreachable once the retries are spent (4xx but 408
    and 429 are not retried: a refusal is final)."""
    folder = changes.parent
    names = sorted(p.name for p in folder.iterdir() if p.is_file() and p != changes)
    base = f"{url.rstrip('/')}/{quote(worker, safe='')}/{quote(folder.name, safe='')}"
    http = session or requests.Session()
    sent = []
    for name in [*names, changes.name]:
        target = f"{base}/{quote(name, safe='')}"
        _put(http, folder / name, target, auth, retries, backoff)
        sent.append(target)
    return sent


def _put(http: requests.Session, path: Path, target: str, auth: tuple[str, str] | None,
         retries: int, backoff: float) -> None:
    problem = ""
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(backoff * 2 ** (attempt - 1))
        try:
            with path.open("rb") as body:
                response = http.put(target, data=body, auth=auth, timeout=60,
                                    headers={"Content-Length": str(path.stat().st_size)})
        except requests.RequestException as exc:  # (an OSError too: before it)
            problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            continue
        except OSError as exc:
            raise StorageError(str(path), f"cannot read: {exc.strerror or exc}") from None
        if response.status_code in (200, 201, 204):
            return
        problem = f"HTTP {response.status_code}"
        if 400 <= response.status_code < 500 and response.status_code not in (408, 429):
            raise MirrorUnreachable(target, f"upload refused: {problem}")
    raise MirrorUnreachable(target, f"upload failed after {retries + 1} attempts: {problem}")
