"""The closed list of expected differences of `unessential verify` (`expected.toml`).

`verify` compares the system a Debian package leaves after dpkg ran its original
maintainer scripts (A) with the systems our rewritten package leaves: installed by
stock dpkg running the rendered sh (B), and by bootstrap applying the actions
natively (C). Each difference it finds is either unexpected (verify fails) or covered
by one reason of this list: an id, a description saying why the difference is
intended, the kinds of difference it covers, the subjects (path globs) and the
systems it applies to. Nothing else can excuse a difference: there are no per-package
exemptions in code.

```toml
[[reason]]
id = "byte-compile-skipped"              # lower case, digits, '-'
description = "..."                      # why this difference is intended
kinds = ["file"]                         # file account account-id alternative
                                         # diversion statoverride status conffile relation
changes = ["missing"]                    # optional: missing / extra / changed (default all)
systems = ["C"]                          # optional: B and/or C (default both)
paths = ["/usr/lib/python3*/**/__pycache__/*"]   # fnmatch globs over the subject

[volatile]                               # paths never looked at (not a system's state)
description = "..."
paths = ["/proc", "/var/log/*"]          # the path or anything below it
```

A subject is a path (`/etc/alternatives/foo`) or a path and a key
(`/etc/passwd:foo`, `/var/lib/dpkg/status:foo:Priority`, `/var/lib/dpkg/diversions:/usr/bin/x`).
A glob's `*` matches any characters, `/` included.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from base.errors import RecipeError
from base.tomlload import load_toml_model

EXPECTED_FILE = Path(__file__).with_name("expected.toml")

Kind = Literal["file", "account", "account-id", "alternative", "diversion", "statoverride",
               "status", "conffile", "relation"]
Change = Literal["missing", "extra", "changed"]
System = Literal["B", "C"]
_ALL_CHANGES: tuple[Change, ...] = ("missing", "extra", "changed")
_ALL_SYSTEMS: tuple[System, ...] = ("B", "C")
KINDS: tuple[str, ...] = Kind.__args__  # type: ignore[attr-defined]
_ID = re.compile(r"[a-z][a-z0-9-]*")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Reason(_Strict):
    """One expected difference: why it is intended, and what it covers."""

    id: str
    description: str = Field(min_length=1)
    kinds: list[Kind] = Field(min_length=1)
    paths: list[str] = Field(min_length=1)
    changes: list[Change] = Field(default_factory=lambda: list(_ALL_CHANGES))
    systems: list[System] = Field(default_factory=lambda: list(_ALL_SYSTEMS))

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not _ID.fullmatch(value):
            raise ValueError(f"expected lower case letters, digits and '-', got {value!r}")
        return value

    @field_validator("paths")
    @classmethod
    def _paths(cls, value: list[str]) -> list[str]:
        for glob in value:
            if not glob.startswith("/"):
                raise ValueError(f"a subject glob starts with '/', got {glob!r}")
        return value

    def covers(self, kind: str, change: str, system: str, subject: str) -> bool:
        return (kind in self.kinds and change in self.changes and system in self.systems
                and any(fnmatch.fnmatchcase(subject, glob) for glob in self.paths))


class Volatile(_Strict):
    """Paths that are no part of a system's state (logs, locks, backups): not compared."""

    description: str = Field(min_length=1)
    paths: list[str] = Field(min_length=1)

    def covers(self, path: str) -> bool:
        return any(path == glob or fnmatch.fnmatchcase(path, glob)
                   or path.startswith(glob.rstrip("/") + "/") for glob in self.paths)


class Expected(_Strict):
    """The whole list, as loaded and checked."""

    reason: list[Reason] = Field(min_length=1)
    volatile: Volatile

    @field_validator("reason")
    @classmethod
    def _unique(cls, value: list[Reason]) -> list[Reason]:
        seen: set[str] = set()
        for item in value:
            if item.id in seen:
                raise ValueError(f"reason id {item.id!r} is listed twice")
            seen.add(item.id)
        return value

    @cached_property
    def by_id(self) -> dict[str, Reason]:
        return {r.id: r for r in self.reason}

    def explain(self, kind: str, change: str, system: str, subject: str) -> str | None:
        """The id of the first reason covering this difference, or None (unexpected)."""
        for item in self.reason:
            if item.covers(kind, change, system, subject):
                return item.id
        return None

    def ids(self) -> Iterable[str]:
        return (r.id for r in self.reason)


def load_expected(path: Path | None = None) -> Expected:
    """Load and validate the list (default: expected.toml next to this module)."""
    return load_toml_model(path or EXPECTED_FILE, Expected, RecipeError)
