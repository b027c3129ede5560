"""Rewriting the relation fields of a binary package's control file (pure, no I/O).

`rewrite_relations` applies the policy (`recipes/policy.toml`) and the binary's recipe
override to each field the policy names (Pre-Depends, Depends, Recommends). Each
OR-group (`a | b`) is decided as a whole, first rule that applies:

1. kept if the recipe keeps any alternative (or it is the interpreter of a script
   the recipe keeps as is);
2. dropped, reason `recipe`, if the recipe drops any alternative;
3. kept if any alternative is in the policy's keep rules: a named package, or a
   target whose Section (e.g. `libs`) is kept; a virtual target through any provider;
4. dropped, reason `implicit-essential`, if every alternative is implicit-essential
   (`Essential: yes` or a policy priority in the upstream index; a virtual target
   when all of its providers are);
5. dropped, reason `script-only`, if every alternative is script-only or
   implicit-essential and every maintainer script of the binary was translated;
6. kept otherwise (including anything not in the index, or not parseable).

Then the recipe's `add-depends` (and the interpreters of kept scripts, if not already
there) are added with reason `recipe`; the rewrite engine adds, with reason
`implicit-use` (`add_implicit_use`), the providers of the implicit run-time uses the
policy's [implicit-use] section says to declare. A field that loses all its groups is removed;
an unchanged field keeps its exact text; other fields and their order are untouched.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from debian.deb822 import PkgRelation

from archive.upstream.index import BinaryRecord
from recipes.policy import (
    REASON_IMPLICIT,
    REASON_IMPLICIT_USE,
    REASON_RECIPE,
    REASON_SCRIPT_ONLY,
    Policy,
)
from recipes.recipe import BinaryOverride, Relation, split_relations

# Where a new relation field goes: after the last of these that is present.
_BEFORE: dict[str, tuple[str, ...]] = {
    "Pre-Depends": ("Package", "Source", "Version", "Architecture", "Essential",
                    "Maintainer", "Installed-Size"),
}
_BEFORE["Depends"] = (*_BEFORE["Pre-Depends"], "Pre-Depends")


@dataclass(frozen=True)
class Universe:
    """What the upstream index says about the packages relations may name.

    `essential`: names that are implicit-essential; `sections`: every real package's
    Section (component prefix removed; "" if it has none); `providers`: virtual name ->
    the real packages that provide it; `marks`: why a name is essential, for reports.
    """

    essential: frozenset[str]
    sections: dict[str, str]
    providers: dict[str, frozenset[str]]
    marks: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_records(cls, records: Iterable[BinaryRecord], priorities: Iterable[str]) -> Universe:
        """Build it from Packages records; `priorities` come from the policy."""
        wanted = frozenset(priorities)
        essential: set[str] = set()
        marks: dict[str, str] = {}
        sections: dict[str, str] = {}
        providers: dict[str, set[str]] = {}
        for record in records:
            name = record.package
            section = record.fields.get("Section", "")
            sections.setdefault(name, section.rpartition("/")[2])
            if record.essential:
                essential.add(name)
                marks[name] = "Essential: yes"
            elif record.priority in wanted:
                essential.add(name)
                marks.setdefault(name, f"Priority: {record.priority}")
            for group in split_relations(record.fields.get("Provides", "")):
                for alternative in group:
                    providers.setdefault(alternative["name"], set()).add(name)
        return cls(
            essential=frozenset(essential),
            sections=sections,
            providers={k: frozenset(v) for k, v in providers.items()},
            marks=marks,
        )

    def is_real(self, name: str) -> bool:
        return name in self.sections or name in self.essential

    def is_virtual(self, name: str) -> bool:
        return not self.is_real(name) and bool(self.providers.get(name))

    def is_essential(self, name: str) -> bool:
        """Essential or required; a virtual name if all its providers are."""
        if self.is_real(name):
            return name in self.essential
        found = self.providers.get(name, frozenset())
        return bool(found) and found <= self.essential

    def section(self, name: str) -> str:
        return self.sections.get(name, "")


@dataclass(frozen=True)
class RelationChange:
    """One relation dropped from or added to a control field, and why."""

    field: str
    relation: str
    action: str  # "dropped" or "added"
    reason: str  # "implicit-essential", "script-only", "recipe" or "implicit-use"
    detail: str


def rewrite_relations(
    control: Mapping[str, str],
    universe: Universe,
    policy: Policy,
    override: BinaryOverride | None,
    scripts_translated: bool,
    *,
    interpreters: Mapping[str, str] | None = None,
) -> tuple[dict[str, str], list[RelationChange]]:
    """The control fields with relations rewritten, and the list of changes.

    `scripts_translated`: every maintainer script of the binary was translated (none
    kept as is, none flagged), so script-only relations may go. `interpreters`:
    script name -> interpreter relation of the scripts a recipe keeps as is
    (`Recipe.interpreters(binary)`); they are kept, or added (to Pre-Depends for the
    preinst, which runs before Depends are installed; to Depends otherwise).
    """
    interpreters = dict(interpreters or {})
    keep_names = set(override.keep if override else ())
    for relation in interpreters.values():
        keep_names.update(alt["name"] for group in split_relations(relation) for alt in group)
    decide = _Decider(universe, policy, override, keep_names, scripts_translated)

    out = dict(control)
    changes: list[RelationChange] = []
    for name in policy.fields:
        if name not in out:
            continue
        groups = split_relations(out[name])
        kept = []
        for group in groups:
            verdict = decide(group)
            if verdict is None:
                kept.append(group)
            else:
                reason, detail = verdict
                changes.append(RelationChange(name, _render([group]), "dropped", reason, detail))
        if len(kept) != len(groups):
            _set(out, name, kept)

    additions: list[tuple[str, str, str]] = []  # field, relation, detail
    for relation in override.add_depends if override else ():
        additions.append(("Depends", relation, "added by the recipe (add-depends)"))
    for script, relation in sorted(interpreters.items()):
        target = "Pre-Depends" if script == "preinst" else "Depends"
        names = {alt["name"] for group in split_relations(relation) for alt in group}
        present = any(
            alt["name"] in names
            for fname in ("Pre-Depends", target)
            for group in split_relations(out.get(fname, ""))
            for alt in group
        )
        if not present:
            additions.append(
                (target, relation, f"interpreter of the {script}, kept as is by the recipe")
            )
    for name, relation, detail in additions:
        groups = split_relations(out.get(name, ""))
        rendered = {_render([g]) for g in groups}
        new = [g for g in split_relations(relation) if _render([g]) not in rendered]
        if not new:
            continue
        _set(out, name, groups + new)
        for group in new:
            changes.append(RelationChange(name, _render([group]), "added", REASON_RECIPE, detail))
    return out, changes


def names_in(control: Mapping[str, str]) -> set[str]:
    """Every package named by Pre-Depends or Depends (any alternative)."""
    return {alt["name"] for fname in ("Pre-Depends", "Depends")
            for group in split_relations(control.get(fname, "")) for alt in group}


def add_implicit_use(control: dict[str, str], provider: str, detail: str) -> RelationChange | None:
    """Add `Depends: provider` (reason implicit-use) unless Pre-Depends or Depends
    already name it; the change, or None."""
    if provider in names_in(control):
        return None
    groups = split_relations(control.get("Depends", ""))
    _set(control, "Depends", groups + split_relations(provider))
    return RelationChange("Depends", provider, "added", REASON_IMPLICIT_USE, detail)


class _Decider:
    """Decides one OR-group: None to keep it, or (reason, detail) to drop it."""

    def __init__(
        self,
        universe: Universe,
        policy: Policy,
        override: BinaryOverride | None,
        keep_names: set[str],
        scripts_translated: bool,
    ) -> None:
        self.universe = universe
        self.policy = policy
        self.drop_names = set(override.drop if override else ())
        self.keep_names = keep_names
        self.scripts_translated = scripts_translated

    def __call__(self, group: list[Relation]) -> tuple[str, str] | None:
        names = [alternative["name"] for alternative in group]
        if any(name in self.keep_names for name in names):
            return None
        dropped = [name for name in names if name in self.drop_names]
        if dropped:
            return REASON_RECIPE, f"{dropped[0]}: dropped by the recipe"
        if any(self._policy_keeps(name) for name in names):
            return None
        if all(self.universe.is_essential(name) for name in names):
            return REASON_IMPLICIT, "; ".join(self._essential_detail(name) for name in names)
        if self.scripts_translated and all(
            self._script_only(name) or self.universe.is_essential(name) for name in names
        ):
            return REASON_SCRIPT_ONLY, "; ".join(self._script_detail(name) for name in names)
        return None

    def _policy_keeps(self, name: str) -> bool:
        keep = self.policy.keep
        if name in keep.packages:
            return True
        targets = self._targets(name)
        return any(
            target in keep.packages or self.universe.section(target) in keep.sections
            for target in targets
        )

    def _targets(self, name: str) -> frozenset[str]:
        """The real packages a name stands for: itself, or a virtual name's providers."""
        if self.universe.is_real(name):
            return frozenset({name})
        return self.universe.providers.get(name, frozenset())

    def _script_only(self, name: str) -> bool:
        if self.policy.is_script_only(name):
            return True
        if not self.universe.is_virtual(name):
            return False
        return all(
            self.policy.is_script_only(p) or self.universe.is_essential(p)
            for p in self.universe.providers[name]
        )

    def _essential_detail(self, name: str) -> str:
        if self.universe.is_real(name):
            mark = self.universe.marks.get(name, "implicit-essential")
            return f"{name} is {mark} in the upstream index"
        providers = ", ".join(sorted(self.universe.providers.get(name, ())))
        return f"{name} is virtual and all its providers ({providers}) are implicit-essential"

    def _script_detail(self, name: str) -> str:
        entry = self.policy.script_only.packages.get(name)
        if entry is not None:
            return (
                f"{name}: used only by maintainer scripts ({', '.join(entry.provides)}), "
                "all translated"
            )
        if self.universe.is_virtual(name):
            providers = ", ".join(sorted(self.universe.providers[name]))
            return (
                f"{name}: virtual, every provider ({providers}) is script-only or "
                "implicit-essential, all scripts translated"
            )
        return self._essential_detail(name)


def render_groups(groups: list[list[Relation]]) -> str:
    """A relation field's text from OR-groups (python-debian's writer)."""
    return str(PkgRelation.str(groups))


_render = render_groups


def _set(control: dict[str, str], name: str, groups: list[list[Relation]]) -> None:
    """Set (or remove, if empty) a relation field, placing a new one conventionally."""
    if not groups:
        control.pop(name, None)
        return
    value = _render(groups)
    if name in control:
        control[name] = value
        return
    after = _BEFORE.get(name, ())
    keys = list(control)
    position = len(keys)
    present = [i for i, key in enumerate(keys) if key in after]
    if present:
        position = present[-1] + 1
    items = list(control.items())
    items.insert(position, (name, value))
    control.clear()
    control.update(items)
