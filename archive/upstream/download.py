"""Downloads with timeouts, retries with backoff, resume, and verification.

A file is written under `partial/` (named by its expected SHA256, so that a resume
continues the same bytes), checked against the size and SHA256 of a signed index,
and only then handed back to the caller, who moves it into place with a rename.
"""

from __future__ import annotations

import hashlib
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path

import requests

from archive.digests import is_digest, shown
from archive.storage import is_storage_error, storage_error
from archive.urls import display_url
from base import __version__
from base.errors import (
    FormatError,
    IntegrityError,
    MirrorUnreachable,
    NotFoundError,
    TruncatedDownload,
)

CHUNK = 1 << 16
RETRY_STATUS = {408, 425, 429, 500, 502, 503, 504}

Progress = Callable[[int], None]


class _Retry(Exception):
    """A transient failure: try again after a backoff."""


class Downloader:
    def __init__(
        self,
        partial_dir: Path,
        *,
        timeout: float = 30.0,
        retries: int = 4,
        backoff: float = 0.5,
    ) -> None:
        self.partial_dir = partial_dir
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.session = requests.Session()
        self.session.headers["User-Agent"] = f"unessential/{__version__}"

    # -- small files (Release, InRelease) ---------------------------------------
    def get_bytes(
        self, url: str, *, missing_ok: bool = False, limit: int = 64 << 20
    ) -> bytes | None:
        """GET a small file fully into memory. 404 gives None when `missing_ok`."""
        if url.startswith("file:"):
            path = Path(urllib.parse.urlparse(url).path)
            if not path.is_file():
                if missing_ok:
                    return None
                raise NotFoundError(display_url(url), "no such file")
            return path.read_bytes()
        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                with self.session.get(url, timeout=self.timeout, stream=True) as response:
                    if response.status_code == 404 or response.status_code == 410:
                        if missing_ok:
                            return None
                        raise NotFoundError(display_url(url), f"HTTP {response.status_code}")
                    if response.status_code in RETRY_STATUS:
                        last = f"HTTP {response.status_code}"
                        continue
                    if response.status_code != 200:
                        raise MirrorUnreachable(display_url(url),
                                                f"HTTP {response.status_code}")
                    response.raw.enforce_content_length = False
                    body = bytearray()
                    for chunk in response.iter_content(CHUNK):
                        body += chunk
                        if len(body) > limit:
                            raise IntegrityError(display_url(url), f"larger than {limit} bytes")
                    expected = response.headers.get("Content-Length")
                    if expected and expected.isdigit() and int(expected) != len(body):
                        last = f"truncated: {len(body)} of {expected} bytes"
                        continue
                    return bytes(body)
            except (requests.ConnectionError, requests.Timeout) as exc:
                last = _reason(exc)
            except requests.RequestException as exc:
                last = _reason(exc)
        if last.startswith("truncated"):
            raise TruncatedDownload(display_url(url), last)
        raise MirrorUnreachable(display_url(url), f"{last} (after {self.retries + 1} attempts)")

    # -- verified files ----------------------------------------------------------
    def fetch(
        self,
        url: str,
        *,
        size: int,
        sha256: str,
        name: str,
        progress: Progress | None = None,
    ) -> Path:
        """Download `url` into partial/, verified; return the partial path.

        The caller moves it into place. On any error the partial file is removed,
        except after a truncation, where it is kept so that the next try resumes. A
        full disk (or another refusal of the file system) is a StorageError; the partial
        file is removed then too, to free the space it took.
        """
        if not is_digest(sha256, "SHA256") or size < 0:
            raise FormatError(name, f"not a SHA256 digest and a size: {shown(sha256)} {size}")
        self.partial_dir.mkdir(parents=True, exist_ok=True)
        part = self.partial_dir / f"{sha256.lower()}.part"
        try:
            if url.startswith("file:"):
                self._copy_local(url, part, name)
            else:
                self._download(url, part, size, name, progress)
        except OSError as exc:
            if not is_storage_error(exc):
                raise
            part.unlink(missing_ok=True)
            raise storage_error(exc, part) from exc
        self._verify(part, size, sha256, name)
        return part

    def _copy_local(self, url: str, part: Path, name: str) -> None:
        source = Path(urllib.parse.unquote(urllib.parse.urlparse(url).path))
        if not source.is_file():
            raise NotFoundError(name, f"not found at {display_url(url)}")
        with source.open("rb") as src, part.open("wb") as dst:
            while chunk := src.read(CHUNK):
                dst.write(chunk)

    def _download(
        self, url: str, part: Path, size: int, name: str, progress: Progress | None
    ) -> None:
        last = ""
        truncated = False
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            have = part.stat().st_size if part.exists() else 0
            if have > size:
                part.unlink()
                have = 0
            if have == size and size > 0:
                return
            headers = {"Range": f"bytes={have}-"} if have else {}
            try:
                with self.session.get(
                    url, headers=headers, timeout=self.timeout, stream=True
                ) as response:
                    status = response.status_code
                    if status in (404, 410):
                        raise NotFoundError(name, f"HTTP {status} at {display_url(url)}")
                    if status == 416:
                        part.unlink(missing_ok=True)
                        last = "HTTP 416 on resume"
                        continue
                    if status in RETRY_STATUS:
                        last = f"HTTP {status}"
                        continue
                    if status not in (200, 206):
                        raise MirrorUnreachable(display_url(url), f"HTTP {status}")
                    # Keep what arrived before an early close: our own size check
                    # below tells a truncation, and the next try resumes from there.
                    response.raw.enforce_content_length = False
                    mode = "ab" if status == 206 and have else "wb"
                    if progress and mode == "ab":
                        progress(have)
                    with part.open(mode) as out:
                        for chunk in response.iter_content(CHUNK):
                            out.write(chunk)
                            if progress:
                                progress(len(chunk))
                            if out.tell() > size:
                                break
                got = part.stat().st_size
                if got >= size:
                    return
                truncated = True
                last = f"truncated: got {got} of {size} bytes, the connection closed early"
            except requests.exceptions.ChunkedEncodingError:
                truncated = True
                got = part.stat().st_size if part.exists() else 0
                last = f"truncated: got {got} of {size} bytes, the connection closed early"
            except (requests.ConnectionError, requests.Timeout) as exc:
                last = _reason(exc)
            except requests.RequestException as exc:
                last = _reason(exc)
        attempts = f"after {self.retries + 1} attempts"
        if truncated:
            raise TruncatedDownload(
                name, f"{last} from {display_url(url)} ({attempts}; kept for resume)")
        part.unlink(missing_ok=True)
        raise MirrorUnreachable(display_url(url), f"{last} ({attempts})")

    @staticmethod
    def _verify(part: Path, size: int, sha256: str, name: str) -> None:
        got_size = part.stat().st_size
        if got_size != size:
            part.unlink(missing_ok=True)
            raise IntegrityError(name, f"size {got_size} differs from the signed {size}")
        got = sha256_file(part)
        if got != sha256.lower():
            part.unlink(missing_ok=True)
            raise IntegrityError(name, f"SHA256 {got} differs from the signed {sha256}")


def _reason(exc: Exception) -> str:
    text = display_url(str(exc))
    if "Connection refused" in text:
        return "connection refused"
    if "Name or service not known" in text or "Failed to resolve" in text:
        return "host name does not resolve"
    if isinstance(exc, requests.Timeout):
        return "timed out"
    return text.splitlines()[0][:200] if text else type(exc).__name__


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
