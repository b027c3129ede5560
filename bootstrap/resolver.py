"""Dependency resolver over an archive's Packages (pure).

Semantics are those of apt on a system with nothing installed, except that nothing is
implied by Essential or Priority: the closure holds what the roots need and no more.

- The candidate of each name is its highest version among the records of the requested
  architecture or "all" (a root `name=version` pins that name to that version).
- A relation `name (op v)` is satisfied by the candidate `name` when its version matches,
  or by a package that Provides `name`: an unversioned Provides satisfies only unversioned
  relations, a versioned Provides `name (= v)` is checked against the relation.
- Relations are followed depth first, in the order apt's `MarkInstall` follows them: the
  Pre-Depends then Depends of a package just chosen are settled before the next relation
  of the package that pulled it in. The order matters: a later group `a | b` may already
  be satisfied by what an earlier one pulled in.
- A group `a | b` already satisfied by the closure needs nothing more. Otherwise its
  options are tried in order: for each alternative, the real package of that name first,
  then its providers ranked as apt ranks them (`CompareProviders`): Essential first, then
  Important/Protected, then by Priority (required, important, standard, optional, extra;
  no Priority at all ranks first, as in apt), then the name apt's cache created last
  first (its package ID: the order names are first mentioned in the Packages records, by
  their own stanza or by a relation or Provides of an earlier one). Ranking by Essential
  or Priority is only a tie-break among providers: it never adds a package to the
  closure. An option that conflicts with the closure is skipped; when a later relation
  cannot be satisfied, the search goes back to the most recent choice and takes its next
  option (bounded).
- Conflicts and Breaks apply in both directions and respect versions; a package never
  conflicts with itself (`Conflicts: x` together with `Provides: x`).
- Architecture qualifiers: `:any` and the native architecture are accepted; another
  qualifier cannot be satisfied. `[arch]` restrictions (source relations) are ignored.
"""

from __future__ import annotations

import heapq
import re
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from debian.deb822 import PkgRelation
from debian.debian_support import version_compare

from archive.upstream.index import BinaryRecord

MAX_BACKTRACKS = 10_000

_CONFLICT_FIELDS = ("Conflicts", "Breaks")
# The fields whose names apt's cache generator meets, in its order (debListParser::NewVersion)
_MENTION_FIELDS = ("Pre-Depends", "Depends", "Conflicts", "Breaks", "Recommends", "Suggests",
                   "Replaces", "Enhances", "Provides")
_PROVIDED_NAME = re.compile(r"(?:^|[,|])\s*([a-zA-Z0-9][a-zA-Z0-9+.\-]*)")
_MENTION = re.compile(r"(?:^|[,|])\s*([a-z0-9][a-z0-9+.\-]*)(:[a-z0-9-]+)?")
# apt's pkgCache::State::VerPriority; a record without Priority ranks 0, an unknown word 5
_PRIORITY_RANK = {"required": 1, "important": 2, "standard": 3, "optional": 4, "extra": 5}


class ResolveError(Exception):
    """The roots cannot be resolved; `chain` lists the relations that led there."""

    def __init__(self, message: str, chain: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.chain: list[str] = list(chain)


@dataclass(frozen=True)
class Resolution:
    packages: list[BinaryRecord]
    why: dict[str, list[str]]


@dataclass(frozen=True, slots=True)
class Atom:
    name: str
    op: str | None = None
    version: str | None = None
    archqual: str | None = None

    def __str__(self) -> str:
        text = self.name if self.archqual is None else f"{self.name}:{self.archqual}"
        if self.op is not None:
            text += f" ({self.op} {self.version})"
        return text


Group = tuple[Atom, ...]


def group_text(group: Group) -> str:
    return " | ".join(str(atom) for atom in group)


def version_matches(version: str, op: str | None, wanted: str | None) -> bool:
    """Whether `version` satisfies the constraint `op wanted` (None: any version)."""
    if op is None or wanted is None:
        return True
    cmp = version_compare(version, wanted)
    if op == "<<":
        return cmp < 0
    if op in ("<=", "<"):
        return cmp <= 0
    if op == "=":
        return cmp == 0
    if op in (">=", ">"):
        return cmp >= 0
    if op == ">>":
        return cmp > 0
    raise ValueError(f"unknown relation operator {op!r}")


def parse_groups(text: str) -> tuple[Group, ...]:
    """Parse a relation field into groups of alternatives."""
    if not text.strip():
        return ()
    groups: list[Group] = []
    for alternatives in PkgRelation.parse_relations(text):
        atoms = []
        for rel in alternatives:
            constraint = rel.get("version")
            op, version = constraint if constraint else (None, None)
            atoms.append(Atom(rel["name"], op, version, rel.get("archqual")))
        if atoms:
            groups.append(tuple(atoms))
    return tuple(groups)


def parse_root(root: str) -> Atom:
    name, sep, version = root.partition("=")
    name = name.strip()
    if sep:
        return Atom(name, "=", version.strip())
    return Atom(name)


@dataclass(frozen=True, slots=True)
class _Obligation:
    owner: str | None  # None for a root
    field: str
    group: Group
    optional: bool
    chain: tuple[str, ...]  # how the owner was reached

    def step(self) -> str:
        if self.owner is None:
            return group_text(self.group)
        return f"{self.owner} {self.field} {group_text(self.group)}"


@dataclass
class _State:
    selected: dict[str, BinaryRecord] = field(default_factory=dict)
    # virtual name -> providers in the closure, with the provided version (or None)
    provided: dict[str, tuple[tuple[BinaryRecord, str | None], ...]] = field(default_factory=dict)
    # target name -> conflicts declared by packages of the closure on that name
    conflicts_on: dict[str, tuple[tuple[BinaryRecord, str, Atom], ...]] = field(
        default_factory=dict
    )
    chains: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def copy(self) -> _State:
        return _State(
            dict(self.selected), dict(self.provided), dict(self.conflicts_on), dict(self.chains)
        )


@dataclass
class _Choice:
    state: _State
    pos: int
    tail: list[_Obligation]  # agenda[pos:] when the choice was made (the head never changes)
    obligation: _Obligation
    options: list[BinaryRecord]
    index: int


class _Universe:
    def __init__(self, records: Iterable[BinaryRecord], arch: str, pins: dict[str, str]) -> None:
        self.arch = arch
        candidates: dict[str, BinaryRecord] = {}
        pinned: dict[str, BinaryRecord] = {}
        self.records: list[BinaryRecord] = []
        self._mention: dict[str, int] | None = None
        for record in records:
            if record.architecture not in (arch, "all"):
                continue
            self.records.append(record)
            pin = pins.get(record.package)
            if pin is not None and version_compare(record.version, pin) == 0:
                pinned[record.package] = record
            best = candidates.get(record.package)
            if best is None or version_compare(record.version, best.version) > 0:
                candidates[record.package] = record
        candidates.update(pinned)
        self.candidates = candidates
        self._relations: dict[tuple[str, str], tuple[Group, ...]] = {}
        # provided name -> candidates whose Provides names it: a cheap scan of the text;
        # the field is parsed when that name is asked for (`providers`)
        self._maybe_providers: dict[str, list[BinaryRecord]] = {}
        for name in sorted(candidates):
            record = candidates[name]
            text = record.fields.get("Provides")
            if text:
                for provided in dict.fromkeys(_PROVIDED_NAME.findall(text)):
                    self._maybe_providers.setdefault(provided, []).append(record)
        self._providers: dict[str, list[tuple[BinaryRecord, str | None]]] = {}

    def relations(self, record: BinaryRecord, fieldname: str) -> tuple[Group, ...]:
        key = (record.package, fieldname)
        groups = self._relations.get(key)
        if groups is None:
            groups = parse_groups(record.fields.get(fieldname, ""))
            self._relations[key] = groups
        return groups

    def provides(self, record: BinaryRecord) -> list[tuple[str, str | None]]:
        result = []
        for group in self.relations(record, "Provides"):
            for atom in group:
                result.append((atom.name, atom.version if atom.op == "=" else None))
        return result

    def providers(self, name: str) -> list[tuple[BinaryRecord, str | None]]:
        """Candidates that provide `name` (by package name), with the provided version."""
        found = self._providers.get(name)
        if found is None:
            found = [
                (record, version)
                for record in self._maybe_providers.get(name, ())
                for provided, version in self.provides(record)
                if provided == name
            ]
            self._providers[name] = found
        return found

    def qualifier_ok(self, atom: Atom) -> bool:
        return atom.archqual in (None, "any", "native", self.arch)

    def mention_order(self) -> dict[str, int]:
        """Where apt's cache would create each native package: first mention, in order.

        apt creates a package when it first meets its name: its own stanza, or a relation
        or Provides of an earlier stanza (`name:any` is another package and is skipped).
        Computed on first use only: it reads every record.
        """
        if self._mention is None:
            order: dict[str, int] = {}
            native = (None, ":native", f":{self.arch}")
            for record in self.records:
                order.setdefault(record.package, len(order))
                for fieldname in _MENTION_FIELDS:
                    text = record.fields.get(fieldname)
                    if text:
                        for match in _MENTION.finditer(text):
                            if match[2] in native:
                                order.setdefault(match[1], len(order))
            self._mention = order
        return self._mention

    def rank_providers(self, providers: list[BinaryRecord]) -> list[BinaryRecord]:
        """Providers of one name in apt's order of preference (see the module text)."""
        if len(providers) < 2:
            return providers

        def fixed(record: BinaryRecord) -> tuple[bool, bool, int]:
            important = any(
                record.fields.get(name, "").strip().lower() == "yes"
                for name in ("Important", "Protected")
            )
            priority = record.fields.get("Priority")
            rank = 0 if priority is None else _PRIORITY_RANK.get(priority.strip().lower(), 5)
            return (not record.essential, not important, rank)

        keys = {record.package: fixed(record) for record in providers}
        if len(set(keys.values())) == len(keys):
            return sorted(providers, key=lambda record: keys[record.package])
        mention = self.mention_order()
        return sorted(
            providers, key=lambda record: (keys[record.package], -mention.get(record.package, -1))
        )


def _provide_matches(provided_version: str | None, atom: Atom) -> bool:
    if atom.op is None:
        return True
    return provided_version is not None and version_matches(provided_version, atom.op, atom.version)


class _Solver:
    def __init__(self, universe: _Universe, with_recommends: bool) -> None:
        self.u = universe
        self.dep_fields = ("Pre-Depends", "Depends") + (("Recommends",) if with_recommends else ())

    # -- queries on a state -------------------------------------------------

    def satisfiers(self, state: _State, group: Group) -> list[BinaryRecord]:
        found: dict[str, BinaryRecord] = {}
        for atom in group:
            if not self.u.qualifier_ok(atom):
                continue
            real = state.selected.get(atom.name)
            if real is not None and version_matches(real.version, atom.op, atom.version):
                found.setdefault(real.package, real)
            for provider, version in state.provided.get(atom.name, ()):
                if _provide_matches(version, atom):
                    found.setdefault(provider.package, provider)
        return list(found.values())

    def options(self, group: Group) -> tuple[list[BinaryRecord], list[str]]:
        options: dict[str, BinaryRecord] = {}
        causes: list[str] = []
        for atom in group:
            if not self.u.qualifier_ok(atom):
                causes.append(f"{atom}: architecture qualifier does not match {self.u.arch}")
                continue
            found = False
            real = self.u.candidates.get(atom.name)
            if real is not None and version_matches(real.version, atom.op, atom.version):
                options.setdefault(real.package, real)
                found = True
            providers = self.u.providers(atom.name)
            matching = [
                provider
                for provider, version in providers
                if provider.package != atom.name and _provide_matches(version, atom)
            ]
            for provider in self.u.rank_providers(matching):
                options.setdefault(provider.package, provider)
                found = True
            if found:
                continue
            if real is not None:
                cause = f"available {real.version}"
            elif providers:
                names = ", ".join(sorted({p.package for p, _ in providers}))
                cause = f"{atom.name} is provided by {names}, none matching {atom}"
            else:
                cause = f"{atom.name} is not available"
            causes.append(f"{atom}: {cause}" if len(group) > 1 else cause)
        return list(options.values()), causes

    def clash(self, state: _State, record: BinaryRecord) -> str | None:
        """Why `record` cannot join the closure, or None."""
        for fieldname in _CONFLICT_FIELDS:
            for group in self.u.relations(record, fieldname):
                for atom in group:
                    other = state.selected.get(atom.name)
                    if (
                        other is not None
                        and other.package != record.package
                        and version_matches(other.version, atom.op, atom.version)
                    ):
                        return (
                            f"{record.package} {record.version} {fieldname} {atom}"
                            f" ({other.package} {other.version} is in the closure)"
                        )
                    for provider, version in state.provided.get(atom.name, ()):
                        if provider.package != record.package and _provide_matches(version, atom):
                            return (
                                f"{record.package} {record.version} {fieldname} {atom}"
                                f" ({provider.package} provides it in the closure)"
                            )
        targets: list[tuple[str, str | None]] = [(record.package, record.version)]
        targets += self.u.provides(record)
        for index, (name, version) in enumerate(targets):
            for owner, fieldname, atom in state.conflicts_on.get(name, ()):
                if owner.package == record.package:
                    continue
                if index == 0:
                    hit = version_matches(record.version, atom.op, atom.version)
                else:
                    hit = _provide_matches(version, atom)
                if hit:
                    return (
                        f"{owner.package} {owner.version} {fieldname} {atom}"
                        f" (against {record.package} {record.version})"
                    )
        return None

    # -- changes ------------------------------------------------------------

    def add(
        self,
        state: _State,
        record: BinaryRecord,
        chain: tuple[str, ...],
    ) -> list[_Obligation]:
        """Put `record` in the closure; its dependency relations, in order, to settle."""
        state.selected[record.package] = record
        state.chains[record.package] = chain
        for name, version in self.u.provides(record):
            state.provided[name] = state.provided.get(name, ()) + ((record, version),)
        for fieldname in _CONFLICT_FIELDS:
            for group in self.u.relations(record, fieldname):
                for atom in group:
                    entry = (record, fieldname, atom)
                    state.conflicts_on[atom.name] = state.conflicts_on.get(atom.name, ()) + (entry,)
        return [
            _Obligation(record.package, fieldname, group, fieldname == "Recommends", chain)
            for fieldname in self.dep_fields
            for group in self.u.relations(record, fieldname)
        ]

    def first_fit(
        self, state: _State, options: list[BinaryRecord], start: int, causes: list[str]
    ) -> int | None:
        for index in range(start, len(options)):
            why_not = self.clash(state, options[index])
            if why_not is None:
                return index
            causes.append(why_not)
        return None

    # -- search -------------------------------------------------------------

    def solve(self, roots: Sequence[str]) -> _State:
        state = _State()
        agenda: list[_Obligation] = [
            _Obligation(None, "root", (parse_root(root),), False, ()) for root in roots
        ]
        choices: list[_Choice] = []
        first_failure: ResolveError | None = None
        backtracks = 0
        pos = 0

        def take(ob: _Obligation, options: list[BinaryRecord], index: int) -> None:
            # depth first: the relations of the chosen package come right after this one
            if index < len(options) - 1:
                choices.append(_Choice(state.copy(), pos, agenda[pos:], ob, options, index))
            record = options[index]
            step = ob.step()
            if record.package not in {atom.name for atom in ob.group}:
                step += f" (provided by {record.package})"
            agenda[pos + 1 : pos + 1] = self.add(state, record, ob.chain + (step,))

        while pos < len(agenda):
            ob = agenda[pos]
            if self.satisfiers(state, ob.group):
                pos += 1
                continue
            options, causes = self.options(ob.group)
            index = self.first_fit(state, options, 0, causes)
            if index is not None:
                take(ob, options, index)
                pos += 1
                continue
            if ob.optional:
                pos += 1
                continue
            if first_failure is None:
                cause = "; ".join(causes) or "nothing satisfies it"
                who = ob.owner if ob.owner is not None else group_text(ob.group)
                first_failure = ResolveError(
                    f"{who}: cannot satisfy {ob.step()}: {cause}",
                    [*ob.chain, ob.step(), f"no candidate: {cause}"],
                )
            while True:
                if not choices:
                    raise first_failure
                backtracks += 1
                if backtracks > MAX_BACKTRACKS:
                    raise ResolveError(
                        f"{first_failure.message} (search gave up after"
                        f" {MAX_BACKTRACKS} backtracks)",
                        first_failure.chain,
                    )
                choice = choices.pop()
                state = choice.state
                pos = choice.pos
                agenda[pos:] = choice.tail
                index = self.first_fit(state, choice.options, choice.index + 1, [])
                if index is not None:
                    take(choice.obligation, choice.options, index)
                    pos += 1
                    break
        return state

    # -- results ------------------------------------------------------------

    def why(self, state: _State, roots: Sequence[str]) -> dict[str, list[str]]:
        """Shortest chain from a root to each package of the closure (breadth first)."""
        why: dict[str, list[str]] = {}
        queue: deque[str] = deque()
        for root in roots:
            atom = parse_root(root)
            for record in self.satisfiers(state, (atom,)):
                if record.package in why:
                    continue
                step = (
                    root
                    if record.package == atom.name
                    else f"{root} (provided by {record.package})"
                )
                why[record.package] = [step]
                queue.append(record.package)
        while queue:
            name = queue.popleft()
            record = state.selected[name]
            for fieldname in self.dep_fields:
                for group in self.u.relations(record, fieldname):
                    names = {atom.name for atom in group}
                    for other in self.satisfiers(state, group):
                        if other.package in why:
                            continue
                        step = f"{name} {fieldname} {group_text(group)}"
                        if other.package not in names:
                            step += f" (provided by {other.package})"
                        why[other.package] = [*why[name], step]
                        queue.append(other.package)
        return why

    def install_order(self, state: _State) -> list[BinaryRecord]:
        """Topological order over Pre-Depends; ties (and cycles) broken by name."""
        before: dict[str, set[str]] = {name: set() for name in state.selected}
        after: dict[str, set[str]] = {name: set() for name in state.selected}
        for name, record in state.selected.items():
            for group in self.u.relations(record, "Pre-Depends"):
                for other in self.satisfiers(state, group):
                    if other.package != name:
                        before[name].add(other.package)
                        after[other.package].add(name)
        pending = {name: len(deps) for name, deps in before.items()}
        ready = [name for name, count in pending.items() if count == 0]
        heapq.heapify(ready)
        order: list[str] = []
        while pending:
            if not ready:  # a Pre-Depends cycle: break it at the lowest name
                ready = [min(pending)]
            name = heapq.heappop(ready)
            if name not in pending:
                continue
            del pending[name]
            order.append(name)
            for dependent in sorted(after[name]):
                if dependent in pending:
                    pending[dependent] -= 1
                    if pending[dependent] == 0:
                        heapq.heappush(ready, dependent)
        return [state.selected[name] for name in order]


def resolve(
    records: Iterable[BinaryRecord],
    roots: Sequence[str],
    *,
    arch: str,
    with_recommends: bool = False,
) -> Resolution:
    """The dependency closure of `roots` (`name` or `name=version`) for `arch`."""
    pins: dict[str, str] = {}
    for atom in map(parse_root, roots):
        if atom.version is not None:
            pins[atom.name] = atom.version
    universe = _Universe(records, arch, pins)
    solver = _Solver(universe, with_recommends)
    state = solver.solve(roots)
    return Resolution(packages=solver.install_order(state), why=solver.why(state, roots))


def why(resolution: Resolution, name: str) -> list[str]:
    """The shortest chain of relations that pulls `name` from a root (for `--why`)."""
    try:
        return list(resolution.why[name])
    except KeyError:
        raise ResolveError(f"{name}: not in the closure", [name]) from None
