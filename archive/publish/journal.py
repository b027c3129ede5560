"""A publish's caches on disk: a JSON map written whole now and then, and a journal of
what was added since, so that a publish that adds one package writes one line.

    <name>          {"form": FORM, "entries": {key: value, ...}}
    <name>.journal  one JSON line [key, value] per entry added since <name> was written

Every entry is valid on its own whenever it is present (its key names its content, or
its value carries what checks it), so a lost, damaged or interleaved journal line, or
a journal lost with its map, only costs the work the entry saved. A line that does not
parse is skipped; an entry of another form (`form`) is never read.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

# the journal is folded into the map when it holds more lines than this share of it
FOLD_SHARE = 4


class JournalMap:
    def __init__(self, path: Path, form: str, valid: Callable[[Any], bool]) -> None:
        self.path = path
        self.journal = path.with_name(path.name + ".journal")
        self.form = form
        self._valid = valid
        self.entries: dict[str, Any] = {}
        self._added: list[tuple[str, Any]] = []
        self._journal_lines = 0
        self._dropped = False
        self._load()

    def _load(self) -> None:
        try:
            loaded = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            loaded = None
        if isinstance(loaded, dict) and loaded.get("form") == self.form:
            entries = loaded.get("entries")
            if isinstance(entries, dict):
                self.entries = entries  # JSON object keys are strings; values checked by get
        else:
            return  # no map of this form: a journal beside it is of an older one
        try:
            with open(self.journal, encoding="utf-8") as stream:
                for line in stream:
                    self._journal_lines += 1
                    try:
                        key, value = json.loads(line)
                    except (ValueError, TypeError):
                        continue
                    if isinstance(key, str):
                        self.entries[key] = value
        except OSError:
            pass

    def get(self, key: str) -> Any:
        """The entry under `key`, None if there is none or it is not of the right shape."""
        value = self.entries.get(key)
        return value if value is not None and self._valid(value) else None

    def put(self, key: str, value: Any) -> None:
        if self.entries.get(key) != value:
            self.entries[key] = value
            self._added.append((key, value))

    def keep_only(self, keys: set[str]) -> None:
        """Forget every entry whose key is not in `keys` (the map is then written whole)."""
        if len(keys) < len(self.entries) and set(self.entries) - keys:
            self.entries = {k: v for k, v in self.entries.items() if k in keys}
            self._dropped = True

    def save(self) -> None:
        """Append what was added to the journal, or write the map whole when entries were
        dropped or the journal grew long (best effort: a cache that cannot be written
        costs work next time, never a wrong result)."""
        if not self._added and not self._dropped:
            return
        lines = self._journal_lines + len(self._added)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self._dropped or not self.path.exists() or lines * FOLD_SHARE > max(
                    len(self.entries), 256):
                self._write_whole()
            else:
                text = "".join(json.dumps([key, value], separators=(",", ":")) + "\n"
                               for key, value in self._added)
                descriptor = os.open(self.journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT,
                                     0o600)
                try:
                    os.write(descriptor, text.encode("utf-8"))
                finally:
                    os.close(descriptor)
                self._journal_lines = lines
        except OSError:
            return
        self._added.clear()
        self._dropped = False

    def _write_whole(self) -> None:
        temp = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        temp.write_text(json.dumps({"form": self.form, "entries": self.entries},
                                   separators=(",", ":")), encoding="utf-8")
        os.chmod(temp, 0o600)
        os.replace(temp, self.path)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.journal)
        self._journal_lines = 0
