"""Release files: typed reading and date checks (pure functions)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from archive.digests import RELEASE_DIGEST_FIELDS, is_digest, is_size, shown
from base.deb822 import parse_one, split_lines
from base.errors import FormatError, ReleaseDateError


@dataclass(frozen=True, slots=True)
class IndexFile:
    """One line of the SHA256 field: a path under dists/<suite>/."""

    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Release:
    origin: str
    label: str
    suite: str
    codename: str
    version: str
    date: datetime | None
    valid_until: datetime | None
    architectures: tuple[str, ...]
    components: tuple[str, ...]
    acquire_by_hash: bool
    files: dict[str, IndexFile]

    def index(self, path: str) -> IndexFile | None:
        return self.files.get(path)


def parse_date(value: str, what: str) -> datetime:
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError) as exc:
        raise FormatError(what, f"not an RFC 2822 date: {value!r}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def parse_release(text: str, what: str) -> Release:
    """Parse the (already verified) text of a Release file."""
    try:
        fields = parse_one(text)
    except ValueError as exc:
        raise FormatError(what, f"not a Release file: {exc}") from exc
    if "SHA256" not in fields:
        raise FormatError(what, "Release has no SHA256 field (weak or no hashes)")
    files: dict[str, IndexFile] = {}
    for field_name, algorithm in RELEASE_DIGEST_FIELDS.items():
        for line in split_lines(fields.get(field_name, "")):
            parts = line.split()
            if (len(parts) != 3 or not is_digest(parts[0], algorithm)
                    or not is_size(parts[1])):
                raise FormatError(what, f"bad {field_name} line: {shown(line)}")
            if field_name == "SHA256":
                files[parts[2]] = IndexFile(path=parts[2], size=int(parts[1]),
                                            sha256=parts[0].lower())
    date = parse_date(fields["Date"], f"{what} Date") if fields.get("Date") else None
    valid = fields.get("Valid-Until")
    return Release(
        origin=fields.get("Origin", ""),
        label=fields.get("Label", ""),
        suite=fields.get("Suite", ""),
        codename=fields.get("Codename", ""),
        version=fields.get("Version", ""),
        date=date,
        valid_until=parse_date(valid, f"{what} Valid-Until") if valid else None,
        architectures=tuple(fields.get("Architectures", "").split()),
        components=tuple(fields.get("Components", "").split()),
        acquire_by_hash=fields.get("Acquire-By-Hash", "no").strip().lower() == "yes",
        files=files,
    )


def check_dates(
    release: Release,
    what: str,
    *,
    now: datetime | None = None,
    check_valid_until: bool = True,
    max_skew: int = 600,
) -> None:
    """Refuse a Release that expired or that is dated in the future, as apt does."""
    now = now or datetime.now(UTC)
    if check_valid_until and release.valid_until is not None and release.valid_until < now:
        raise ReleaseDateError(
            what, f"expired: Valid-Until {release.valid_until:%Y-%m-%d %H:%M:%S} UTC is past"
        )
    if release.date is not None and release.date > now + timedelta(seconds=max_skew):
        raise ReleaseDateError(
            what, f"not valid yet: Date {release.date:%Y-%m-%d %H:%M:%S} UTC is in the future"
        )


def check_suite(release: Release, suite: str, what: str) -> None:
    """The Release must be for the suite asked (by Suite or Codename)."""
    names = {release.suite, release.codename} - {""}
    base = suite.split("/")[0]
    if names and suite not in names and base not in names:
        raise FormatError(
            what, f"Release is for {'/'.join(sorted(names))}, not {suite} (wrong suite served)"
        )
