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


def check_package_name(name: str) -> str:
    """A Debian package name (policy §5.6.1), or ValueError."""
    if not PACKAGE_NAME.fullmatch(name):
        raise ValueError(
            f"{name!r} is not a package name (lower case letters, digits, + - .; "
            "at least two characters)"
        )
    return name


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


class Policy(_Strict):
    """The whole policy file."""

    fields: list[str] = Field(default_factory=lambda: ["Pre-Depends", "Depends", "Recommends"])
    implicit_essential: ImplicitEssential = Field(alias="implicit-essential")
    script_only: ScriptOnly = Field(alias="script-only")
    recipe: RecipeClass
    keep: Keep

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
