"""The rewrite policy (`recipes/policy.toml`) as a typed, validated model.

The policy says which relations of a binary package are dropped, in which classes,
each with the reason code the catalog stores: `implicit-essential` (computed from the
upstream Packages index at run time: `Essential: yes` or one of the listed
priorities), `script-only` (named packages that only maintainer scripts need) and the
`keep` rules (library Sections, named packages) that are never dropped. The order in
which they apply is documented at the top of policy.toml and implemented in
`rewrite.relations`.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from base.errors import RecipeError
from base.tomlload import load_toml_model, located_error

POLICY_FILE = Path(__file__).with_name("policy.toml")

RELATION_FIELDS = ("Pre-Depends", "Depends", "Recommends", "Suggests")
PRIORITIES = ("required", "important", "standard", "optional", "extra")
PACKAGE_NAME = re.compile(r"[a-z0-9][a-z0-9+.-]+")

REASON_IMPLICIT = "implicit-essential"
REASON_SCRIPT_ONLY = "script-only"
REASON_RECIPE = "recipe"
#: A Depends added because a file of the package runs a program of the essential set
#: without a relation (a shebang, a shell run by an ELF program, an absolute path in a
#: script) and the policy's [implicit-use] section says to declare it.
REASON_IMPLICIT_USE = "implicit-use"

#: Kinds of implicit run-time use (the catalog's implicit_use.kind check constraint).
IMPLICIT_KINDS = ("shebang", "shell-exec", "essential-path")
#: What the rewrite does with a use: add a Depends on the provider, or only report it.
DECISIONS = ("declare", "report")
#: Where a bare command name (`#!/usr/bin/env python3`) is looked for, in PATH order.
COMMAND_PATH = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")
#: Top-level directories that merged /usr turns into links into /usr.
MERGED_DIRS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32", "libo32")
PROGRAM_PATH = re.compile(r"/[A-Za-z0-9_.+-]+(/[A-Za-z0-9_.+-]+)*")


def check_package_name(name: str) -> str:
    """A Debian package name (policy §5.6.1), or ValueError."""
    if not PACKAGE_NAME.fullmatch(name):
        raise ValueError(
            f"{name!r} is not a package name (lower case letters, digits, + - .; "
            "at least two characters)"
        )
    return name


def canonical_path(path: str) -> str:
    """`path` as merged /usr sees it: /bin/sed and /usr/bin/sed are one program."""
    head, _, rest = path.lstrip("/").partition("/")
    if head in MERGED_DIRS and rest:
        return f"/usr/{head}/{rest}"
    return path


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ImplicitEssential(_Strict):
    """Packages every Debian package may use undeclared, computed from the index."""

    description: str = Field(min_length=1)
    priorities: list[str] = Field(default_factory=lambda: ["required"])

    @field_validator("priorities")
    @classmethod
    def _priorities(cls, value: list[str]) -> list[str]:
        for priority in value:
            if priority not in PRIORITIES:
                raise ValueError(
                    f"unknown priority {priority!r} (known: {', '.join(PRIORITIES)})"
                )
        return value


class ScriptOnlyPackage(_Strict):
    """A package needed only by maintainer scripts, and what it provides to them."""

    provides: list[str] = Field(min_length=1)
    why: str = Field(min_length=1)


class ScriptOnly(_Strict):
    description: str = Field(min_length=1)
    packages: dict[str, ScriptOnlyPackage] = Field(default_factory=dict)

    @field_validator("packages")
    @classmethod
    def _names(cls, value: dict[str, ScriptOnlyPackage]) -> dict[str, ScriptOnlyPackage]:
        for name in value:
            check_package_name(name)
        return value


class RecipeClass(_Strict):
    description: str = Field(min_length=1)


class Keep(_Strict):
    """Relations never dropped: library Sections and named packages."""

    description: str = Field(min_length=1)
    sections: list[str] = Field(default_factory=lambda: ["libs", "oldlibs"])
    packages: list[str] = Field(default_factory=list)

    @field_validator("packages")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        for name in value:
            check_package_name(name)
        return value

    @field_validator("sections")
    @classmethod
    def _sections(cls, value: list[str]) -> list[str]:
        for section in value:
            if not section or "/" in section:
                raise ValueError(f"{section!r}: give a Section without its component prefix")
        return value


class ImplicitProgram(_Strict):
    """A program of the essential set that packages may run undeclared: who ships it,
    and optionally a decision for it that overrides the decision of the use's kind."""

    provider: str
    decide: str | None = None

    @field_validator("provider")
    @classmethod
    def _provider(cls, value: str) -> str:
        return check_package_name(value)

    @field_validator("decide")
    @classmethod
    def _decide(cls, value: str | None) -> str | None:
        if value is not None and value not in DECISIONS:
            raise ValueError(f"unknown decision {value!r} (one of {', '.join(DECISIONS)})")
        return value


def _default_kinds() -> dict[str, str]:
    return dict.fromkeys(IMPLICIT_KINDS, "report")


class ImplicitUseRules(_Strict):
    """Run-time uses of the essential set found in a package's files (`archive.implicit`):
    what the rewrite does with each kind, and which package provides each program."""

    description: str = Field(
        default="Run-time uses of the essential set that Debian lets packages leave "
        "undeclared.", min_length=1)
    kinds: dict[str, str] = Field(default_factory=_default_kinds)
    programs: dict[str, ImplicitProgram] = Field(default_factory=dict)

    @field_validator("kinds")
    @classmethod
    def _kinds(cls, value: dict[str, str]) -> dict[str, str]:
        for kind, decision in value.items():
            if kind not in IMPLICIT_KINDS:
                raise ValueError(f"unknown kind {kind!r} (one of {', '.join(IMPLICIT_KINDS)})")
            if decision not in DECISIONS:
                raise ValueError(f"{kind}: unknown decision {decision!r} "
                                 f"(one of {', '.join(DECISIONS)})")
        missing = [kind for kind in IMPLICIT_KINDS if kind not in value]
        if missing:
            raise ValueError(f"give a decision for every kind (missing: {', '.join(missing)})")
        return value

    @field_validator("programs")
    @classmethod
    def _programs(cls, value: dict[str, ImplicitProgram]) -> dict[str, ImplicitProgram]:
        seen: dict[str, str] = {}
        for path in value:
            if not PROGRAM_PATH.fullmatch(path) or any(
                    part in (".", "..") for part in path.split("/")):
                raise ValueError(f"{path!r} is not an absolute program path (like /bin/sh)")
            canonical = canonical_path(path)
            if canonical in seen:
                raise ValueError(f"{path!r} and {seen[canonical]!r} are one program with "
                                 "merged /usr: list it once")
            seen[canonical] = path
        return value

    def program(self, needs: str) -> ImplicitProgram | None:
        """The entry for what a use needs: a path (merged /usr aliases are one), or a bare
        command name, looked up in PATH order."""
        if "/" in needs:
            wanted = {canonical_path(needs)}
        else:
            wanted = {canonical_path(f"{folder}/{needs}") for folder in COMMAND_PATH}
        for path, entry in self.programs.items():
            if canonical_path(path) in wanted:
                return entry
        return None

    def provider(self, needs: str) -> str | None:
        entry = self.program(needs)
        return entry.provider if entry is not None else None

    def decision(self, kind: str, needs: str) -> str:
        """"declare" or "report" for a use of `kind` that needs `needs`."""
        entry = self.program(needs)
        if entry is not None and entry.decide is not None:
            return entry.decide
        return self.kinds.get(kind, "report")


class Policy(_Strict):
    """The whole policy file."""

    fields: list[str] = Field(default_factory=lambda: ["Pre-Depends", "Depends", "Recommends"])
    implicit_essential: ImplicitEssential = Field(alias="implicit-essential")
    script_only: ScriptOnly = Field(alias="script-only")
    recipe: RecipeClass
    keep: Keep
    implicit_use: ImplicitUseRules = Field(default_factory=ImplicitUseRules, alias="implicit-use")

    @field_validator("fields")
    @classmethod
    def _fields(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("name at least one relation field")
        for name in value:
            if name not in RELATION_FIELDS:
                raise ValueError(
                    f"{name!r} is not a field that may be rewritten "
                    f"(one of {', '.join(RELATION_FIELDS)})"
                )
        if len(set(value)) != len(value):
            raise ValueError("a field is listed twice")
        return value

    def is_script_only(self, name: str) -> bool:
        return name in self.script_only.packages

    def describe(self) -> dict[str, Any]:
        """What `policy show` prints: classes, reason codes, rules and the digest."""
        return {
            "digest": policy_digest(self),
            "fields": list(self.fields),
            "classes": [
                {
                    "class": REASON_IMPLICIT,
                    "reason": REASON_IMPLICIT,
                    "effect": "drop",
                    "description": self.implicit_essential.description,
                    "criteria": {
                        "essential": "Essential: yes",
                        "priorities": list(self.implicit_essential.priorities),
                        "source": "the upstream Packages index, at run time",
                    },
                },
                {
                    "class": REASON_SCRIPT_ONLY,
                    "reason": REASON_SCRIPT_ONLY,
                    "effect": "drop when every maintainer script was translated",
                    "description": self.script_only.description,
                    "packages": [
                        {"name": name, "provides": list(entry.provides), "why": entry.why}
                        for name, entry in sorted(self.script_only.packages.items())
                    ],
                },
                {
                    "class": REASON_RECIPE,
                    "reason": REASON_RECIPE,
                    "effect": "drop or add, as recipes/<source>.toml says",
                    "description": self.recipe.description,
                },
                {
                    "class": "keep",
                    "reason": None,
                    "effect": "never dropped",
                    "description": self.keep.description,
                    "sections": list(self.keep.sections),
                    "packages": list(self.keep.packages),
                },
            ],
            "implicit-use": {
                "reason": REASON_IMPLICIT_USE,
                "effect": "per kind (or per program): declare adds a Depends on the "
                "program's provider, report only records the use",
                "description": self.implicit_use.description,
                "kinds": dict(self.implicit_use.kinds),
                "programs": [
                    {"path": path, "provider": entry.provider, "decide": entry.decide}
                    for path, entry in sorted(self.implicit_use.programs.items())
                ],
            },
        }


def load_policy(path: Path | None = None) -> Policy:
    """Load and validate the policy (default: policy.toml next to this module)."""
    path = path or POLICY_FILE
    policy = load_toml_model(path, Policy, RecipeError)
    both = sorted(set(policy.script_only.packages) & set(policy.keep.packages))
    if both:
        raise located_error(
            RecipeError, path.read_text(encoding="utf-8"), str(path), ("keep", "packages"),
            f"{', '.join(both)}: listed as script-only too",
        )
    return policy


def canonical_json(data: Any) -> bytes:
    """A stable serialisation for digests: sorted keys, no whitespace, UTF-8."""
    return json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")


def policy_digest(policy: Policy) -> str:
    """sha256 of the canonical JSON of the policy (what changes, not how it is spelled)."""
    return hashlib.sha256(
        canonical_json(policy.model_dump(mode="json", by_alias=True))
    ).hexdigest()
