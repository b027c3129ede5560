"""What became of each maintainer script: its actions, and the lines dropped."""

from __future__ import annotations

from dataclasses import dataclass, field

from recipes.actions.model import Action


@dataclass
class Dropped:
    """A script line that needs nothing in a container, and why."""

    what: str
    reason: str
    origin: str = ""


@dataclass
class ScriptReport:
    """What became of one maintainer script."""

    script: str
    original_sha256: str
    status: str  # "translated", "kept" (recipe: keep as is), "flagged" (unknown line)
    actions: list[Action] = field(default_factory=list)
    dropped: list[Dropped] = field(default_factory=list)
    problem: str = ""
    # script argument -> (exit status, origin) where the script fails (rendered as is)
    fails: dict[str, tuple[int, str]] = field(default_factory=dict)
