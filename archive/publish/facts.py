"""Per-package facts a publish needs: control fields, size and digests, file list.

The worker records them in the catalog when it stores a .deb (`deb_facts`, then
`catalog_columns`); a publish renders Packages and Contents from those columns
(`from_catalog`) and reads a .deb only for a binary recorded before they existed,
through a cache by SHA256 (`FactCache`), so that it reads each such file once.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from archive.debfile import data_listing, read_deb
from archive.digests import is_digest
from archive.publish.common import Hashes, hashes
from archive.publish.journal import JournalMap
from base.atomic import write_bytes
from base.deb822 import parse_one
from base.errors import FormatError


@dataclass(frozen=True)
class DebFacts:
    control: dict[str, str]
    hashes: Hashes
    paths: list[str]  # files and links in data.tar, without "./"


def deb_facts(path: Path, sha256: str) -> DebFacts:
    """The facts of the .deb at `path`, which must have SHA256 `sha256`."""
    raw = path.read_bytes()
    digest = hashes(raw)
    if digest.sha256 != sha256:
        raise FormatError(str(path), f"SHA256 {digest.sha256} is not the recorded {sha256}")
    deb = read_deb(path)
    try:
        control = parse_one(deb.members["control"].data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise FormatError(str(path), f"control file does not parse: {exc}") from exc
    paths = [p for p, kind, _ in data_listing(deb) if kind != "d" and p not in ("", ".")]
    for member in paths:
        if member.startswith("/") or ".." in member.split("/") or "\n" in member:
            raise FormatError(str(path), f"unsafe path in data.tar: {member!r} (absolute, "
                              "'..' or a newline): refused")
    return DebFacts(control, digest, paths)


def catalog_columns(facts: DebFacts) -> dict[str, str]:
    """The binary_package columns (0010) that keep what `deb_facts` found."""
    return {"md5": facts.hashes.md5, "sha1": facts.hashes.sha1,
            "sha512": facts.hashes.sha512, "contents": "\n".join(facts.paths)}


def from_catalog(control: str | None, size: int, sha256: str, md5: str | None,
                 sha1: str | None, sha512: str | None, contents: str | None
                 ) -> DebFacts | None:
    """The facts the catalog recorded for a binary; None when it recorded them not (a
    build from before 0010) or not in their shape (then the .deb is read instead)."""
    if control is None or contents is None or md5 is None or sha1 is None or sha512 is None:
        return None
    if not (is_digest(md5, "MD5") and is_digest(sha1, "SHA1")
            and is_digest(sha512, "SHA512") and is_digest(sha256, "SHA256")):
        return None
    try:
        fields = parse_one(control)
    except ValueError:
        return None
    paths = contents.split("\n") if contents else []
    if any(p.startswith("/") or ".." in p.split("/") for p in paths):
        return None
    return DebFacts(dict(fields), Hashes(size, md5, sha1, sha256, sha512), paths)


class FactCache:
    def __init__(self, root: Path) -> None:
        self.root = root

    def deb(self, path: Path, sha256: str) -> DebFacts:
        cached = self.root / sha256[:2] / f"{sha256}.json"
        try:
            data = json.loads(cached.read_text())
            return DebFacts(data["control"], Hashes(**data["hashes"]), data["paths"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
        facts = deb_facts(path, sha256)
        cached.parent.mkdir(parents=True, exist_ok=True)
        write_bytes(cached, json.dumps({"control": facts.control,
                                        "hashes": asdict(facts.hashes),
                                        "paths": facts.paths}).encode(), mode=0o600)
        return facts


# What `StanzaCache` entries are made by: a change to how stanzas are rendered (field
# order, dropped fields, ...) must change it, so that no entry of the old form is used.
RENDERING = "1"


class StanzaCache:
    """Rendered index stanzas with what a publish needs beside them (their sort key,
    a binary's section and paths), by a key that names their content (a .deb's SHA256
    and its pool name; a .dsc's SHA256 and its pool directory): rendering one again
    would give the same values. Kept by `archive.publish.journal` (a publish that adds
    a package appends a line); a lost, damaged or older-form file only costs a
    rendering."""

    def __init__(self, path: Path) -> None:
        self._map = JournalMap(path, f"stanzas-{RENDERING}", _strings)

    def get(self, key: str) -> list[str] | None:
        found: list[str] | None = self._map.get(key)
        return found

    def keep(self, key: str, values: list[str]) -> None:
        self._map.put(key, values)

    def save(self, keep: set[str] | None = None) -> None:
        """Write what was rendered (only the keys in `keep`, when given)."""
        if keep is not None:
            self._map.keep_only(keep)
        self._map.save()


def _strings(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)
