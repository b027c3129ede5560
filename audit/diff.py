"""`diff`: a binary's upstream control and maintainer scripts against ours.

From the catalog alone (`binary_package.original_control` / `control`,
`script_rewrite.original` / `rendered` / `actions`): the control fields added,
removed and changed; the relation fields OR-group by OR-group, each removed or added
group with the reason the rewrite recorded; and each maintainer script as a unified
diff of the shipped original against the POSIX sh we ship (or nothing, when its
actions need no script), with the actions it became.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from audit.queries import BinaryReport, RelationRow, ScriptRow
from base.deb822 import parse_one

RELATION_FIELDS = ("Pre-Depends", "Depends", "Recommends", "Suggests", "Enhances", "Breaks",
                   "Conflicts", "Replaces", "Provides", "Built-Using")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class FieldChange:
    """A control field (not a relation field) that differs: added, removed or changed."""

    field: str
    change: str  # added | removed | changed
    before: str | None
    after: str | None


@dataclass(frozen=True)
class RelationChange:
    """One OR-group of a relation field removed or added, and the recorded reason."""

    field: str
    change: str  # removed | added
    relation: str
    reason: str | None  # implicit-essential | script-only | recipe, if recorded
    detail: str | None


@dataclass(frozen=True)
class ScriptDiff:
    """One maintainer script: status, unified diff (original → ours) and its actions."""

    script: str
    status: str  # translated | kept
    shipped: bool  # we ship a script (rendered sh, or the original if kept)
    diff: str
    action_names: tuple[str, ...]
    actions: str


@dataclass(frozen=True)
class BinaryDiff:
    """Upstream against ours for one binary."""

    source: str
    binary: str
    version: str
    architecture: str
    build_id: int
    origin: str
    original_sha256: str | None
    sha256: str
    fields: tuple[FieldChange, ...]
    relations: tuple[RelationChange, ...]
    scripts: tuple[ScriptDiff, ...]
    control_known: bool  # both control texts are in the catalog (revision 0003 and later)


def _fields(text: str | None) -> dict[str, str]:
    if not text:
        return {}
    try:
        return dict(parse_one(text))
    except ValueError:
        return {}


def _groups(value: str) -> list[str]:
    return [group.strip() for group in value.split(",") if group.strip()]


def _key(relation: str) -> str:
    return _SPACE.sub("", relation)


def control_changes(before: dict[str, str],
                    after: dict[str, str]) -> list[FieldChange]:
    """Fields that differ (relation fields left out), upstream order then new fields."""
    out = []
    for name in [*before, *(k for k in after if k not in before)]:
        if name in RELATION_FIELDS:
            continue
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        change = "added" if old is None else "removed" if new is None else "changed"
        out.append(FieldChange(name, change, old, new))
    return out


def relation_changes(before: dict[str, str], after: dict[str, str],
                     recorded: tuple[RelationRow, ...]) -> list[RelationChange]:
    """OR-groups removed from or added to each relation field, with recorded reasons."""
    reasons = {(r.field, _key(r.relation)): r for r in recorded}
    out = []
    for name in RELATION_FIELDS:
        old = _groups(before.get(name, ""))
        new = _groups(after.get(name, ""))
        new_keys = {_key(g) for g in new}
        old_keys = {_key(g) for g in old}
        for change, groups, other in (("removed", old, new_keys), ("added", new, old_keys)):
            for group in groups:
                if _key(group) in other:
                    continue
                row = reasons.get((name, _key(group)))
                out.append(RelationChange(name, change, group, row.reason if row else None,
                                          row.detail if row else None))
    return out


def script_diff(binary: str, script: ScriptRow) -> ScriptDiff:
    """The unified diff of one script, original against what we ship."""
    ours = script.rendered
    lines = difflib.unified_diff(
        script.original.splitlines(keepends=True),
        (ours or "").splitlines(keepends=True),
        fromfile=f"upstream/{binary}/{script.script}",
        tofile=f"ours/{binary}/{script.script}" if ours is not None else "/dev/null",
    )
    text = "".join(line if line.endswith("\n") else line + "\n" for line in lines)
    return ScriptDiff(script.script, script.status, ours is not None, text,
                      script.action_names, script.actions)


def binary_diff(report: BinaryReport) -> BinaryDiff:
    """Upstream against ours for one binary of the catalog."""
    before = _fields(report.original_control)
    after = _fields(report.control)
    known = bool(before) and bool(after)
    return BinaryDiff(
        source=report.source, binary=report.binary, version=report.version,
        architecture=report.architecture, build_id=report.build_id, origin=report.origin,
        original_sha256=report.original_sha256, sha256=report.sha256,
        fields=tuple(control_changes(before, after)) if known else (),
        relations=tuple(relation_changes(before, after, report.relations)) if known else (),
        scripts=tuple(script_diff(report.binary, s) for s in report.scripts),
        control_known=known)


def render_text(diff: BinaryDiff) -> str:
    """The diff as a terminal shows it."""
    lines = [f"{diff.binary} {diff.version} {diff.architecture} (source {diff.source}, "
             f"build {diff.build_id}, {diff.origin})"]
    if not diff.control_known:
        lines.append("control: not recorded (built before catalog revision 0003)")
    else:
        lines.append("control:" if diff.fields or diff.relations else "control: unchanged")
        for change in diff.relations:
            sign = "-" if change.change == "removed" else "+"
            why = f"  [{change.reason}: {change.detail}]" if change.reason else ""
            lines.append(f"  {sign} {change.field}: {change.relation}{why}")
        for field in diff.fields:
            if field.change == "changed":
                lines.append(f"  ~ {field.field}: {_short(field.before)} -> {_short(field.after)}")
            elif field.change == "added":
                lines.append(f"  + {field.field}: {_short(field.after)}")
            else:
                lines.append(f"  - {field.field}: {_short(field.before)}")
    if not diff.scripts:
        lines.append("scripts: none")
    for script in diff.scripts:
        became = ", ".join(script.action_names) or "no action"
        shipped = "" if script.shipped else "; no script shipped"
        lines.append(f"{script.script}: {script.status} ({became}{shipped})")
        if script.diff:
            lines += ["  " + line for line in script.diff.rstrip("\n").split("\n")]
        if script.actions.strip():
            lines.append("  actions:")
            lines += ["    " + line for line in script.actions.rstrip("\n").split("\n")]
    return "\n".join(lines)


def _short(value: str | None) -> str:
    text = (value or "").split("\n", 1)
    return text[0] + (" ..." if len(text) > 1 else "")
