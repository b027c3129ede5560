"""Per-package facts a publish needs, computed once per file and cached by SHA256.

The control fields, hashes and file list of a .deb never change for a given SHA256, so
a publish after adding one package reads one .deb, not the whole pool.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from archive.debfile import data_listing, read_deb
from archive.publish.common import Hashes, hashes
from base.atomic import write_bytes
from base.deb822 import parse_one
from base.errors import FormatError


@dataclass(frozen=True)
class DebFacts:
    control: dict[str, str]
    hashes: Hashes
    paths: list[str]  # files and links in data.tar, without "./"


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
        facts = DebFacts(control, digest, paths)
        cached.parent.mkdir(parents=True, exist_ok=True)
        write_bytes(cached, json.dumps({"control": control, "hashes": asdict(digest),
                                        "paths": paths}).encode(), mode=0o600)
        return facts
