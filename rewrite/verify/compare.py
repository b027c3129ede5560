"""Compare two snapshots of one package's installation (pure).

`compare(a, x, base, system=...)` lists every `Difference` between the reference
system A (Debian's package, original scripts run by dpkg) and a system X built from
our rewritten package (B: rendered sh run by dpkg; C: actions applied by bootstrap).
The base snapshot only says, for a message, whether A created, changed or removed a
path. `classify` then explains each difference by a reason of `recipes/expected.toml`
or leaves it unexpected.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from recipes.expected import Expected
from rewrite.verify.snapshot import ALTERNATIVES, STATUS, STRUCTURED, Entry, Snapshot

#: dpkg status fields compared (relation fields apart, see RELATION_FIELDS)
STATUS_FIELDS = ("Status", "Version", "Architecture", "Essential", "Priority", "Provides",
                 "Conflicts", "Breaks", "Replaces")
RELATION_FIELDS = ("Pre-Depends", "Depends", "Recommends")


@dataclass(frozen=True)
class Difference:
    kind: str  # file account alternative diversion statoverride status conffile relation
    change: str  # missing (in A, not in X), extra (in X, not in A), changed
    subject: str  # a path, or path:key
    a: str  # A's side, described ("" when absent)
    x: str  # the other side, described ("" when absent)
    detail: str = ""  # what differs (mode, owner, content...) and what the base had
    reason: str | None = None  # the id of the expected reason, None when unexpected

    def as_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "change": self.change, "subject": self.subject,
                "a": self.a, "x": self.x, "detail": self.detail, "reason": self.reason}


@dataclass
class Comparison:
    """The differences between A and one other system, classified."""

    system: str  # B or C
    scenario: str  # install, upgrade, remove, purge
    differences: list[Difference] = field(default_factory=list)

    @property
    def unexpected(self) -> list[Difference]:
        return [d for d in self.differences if d.reason is None]

    @property
    def expected(self) -> Counter[str]:
        return Counter(d.reason for d in self.differences if d.reason is not None)

    def as_dict(self) -> dict[str, object]:
        return {"system": self.system, "scenario": self.scenario,
                "equivalent": not self.unexpected,
                "expected": dict(sorted(self.expected.items())),
                "unexpected": [d.as_dict() for d in self.unexpected]}


def _kind_of_path(path: str) -> str:
    if path.startswith(("/etc/alternatives/", ALTERNATIVES + "/")):
        return "alternative"
    return "file"


def _origin(path: str, a: Entry | None, base: Mapping[str, Entry]) -> str:
    """How A came to hold `path` relative to the base: created, changed, removed, as is."""
    before = base.get(path)
    if a is None:
        return "A removed it (the base had it)" if before is not None else ""
    if before is None:
        return "A created it"
    return "the base had it as is" if not before.differs(a) else "A changed it"


def compare_trees(a: Mapping[str, Entry], x: Mapping[str, Entry],
                  base: Mapping[str, Entry]) -> list[Difference]:
    out = []
    for path in sorted(set(a) | set(x)):
        if path in STRUCTURED or path.startswith(ALTERNATIVES + "/"):
            continue  # compared as structured state
        left, right = a.get(path), x.get(path)
        if left is not None and right is not None:
            what = left.differs(right)
            if not what:
                continue
            out.append(Difference(_kind_of_path(path), "changed", path, left.describe(),
                                  right.describe(),
                                  f"{', '.join(what)} differ; {_origin(path, left, base)}"))
        elif left is not None:
            out.append(Difference(_kind_of_path(path), "missing", path, left.describe(), "",
                                  _origin(path, left, base)))
        elif right is not None:
            out.append(Difference(_kind_of_path(path), "extra", path, "", right.describe(),
                                  _origin(path, None, base) or "not in A"))
    return out


def _compare_maps(kind: str, where: str, a: Mapping[str, str], x: Mapping[str, str],
                  label: str = "") -> list[Difference]:
    out = []
    for key in sorted(set(a) | set(x)):
        left, right = a.get(key), x.get(key)
        if left == right:
            continue
        change = "missing" if right is None else "extra" if left is None else "changed"
        out.append(Difference(kind, change, f"{where}:{key}", left or "", right or "",
                              f"{label} {key}".strip()))
    return out


_SPACE = re.compile(r"\s+")


def _relations(value: str) -> list[str]:
    return [_SPACE.sub(" ", r.strip()) for r in value.replace("\n", " ").split(",") if r.strip()]


def _conffiles(value: str) -> dict[str, str]:
    out = {}
    for line in value.splitlines():
        words = line.split()
        if len(words) >= 2:
            out[words[0]] = " ".join(words[1:])
    return out


RelationChanges = Mapping[str, Iterable[tuple[str, str, str]]]  # package -> (field, rel, action)


def compare_status(a: Mapping[str, Mapping[str, str]], x: Mapping[str, Mapping[str, str]],
                   rewritten: RelationChanges) -> list[Difference]:
    out: list[Difference] = []
    for package in sorted(set(a) | set(x)):
        left, right = a.get(package), x.get(package)
        subject = f"{STATUS}:{package}"
        if left is None or right is None:
            shown = f"{(left or right or {}).get('Version', '')} " \
                    f"{(left or right or {}).get('Status', '')}".strip()
            out.append(Difference("status", "missing" if right is None else "extra", subject,
                                  shown if left else "", shown if right else "",
                                  "package in one system's dpkg status only"))
            continue
        for name in STATUS_FIELDS:
            if left.get(name) != right.get(name):
                change = "missing" if name not in right else "extra" if name not in left \
                    else "changed"
                out.append(Difference("status", change, f"{subject}:{name}",
                                      left.get(name, ""), right.get(name, ""), name))
        left_conf = _conffiles(left.get("Conffiles", ""))
        right_conf = _conffiles(right.get("Conffiles", ""))
        out += _compare_maps("conffile", f"{subject}:Conffiles", left_conf, right_conf,
                             "conffile")
        changes = list(rewritten.get(package.split(":")[0], ()))
        for name in RELATION_FIELDS:
            dropped = {_SPACE.sub(" ", r) for f, r, act in changes
                       if f == name and act == "dropped"}
            added = {_SPACE.sub(" ", r) for f, r, act in changes if f == name and act == "added"}
            lrel = _relations(left.get(name, ""))
            rrel = _relations(right.get(name, ""))
            for rel in lrel:
                if rel in rrel:
                    continue
                kind = "relation" if rel in dropped else "status"
                out.append(Difference(kind, "missing", f"{subject}:{name}", rel, "",
                                      "dropped by the rewrite" if kind == "relation"
                                      else f"{name} relation"))
            for rel in rrel:
                if rel in lrel:
                    continue
                kind = "relation" if rel in added else "status"
                out.append(Difference(kind, "extra", f"{subject}:{name}", "", rel,
                                      "added by the rewrite" if kind == "relation"
                                      else f"{name} relation"))
    return out


def compare(a: Snapshot, x: Snapshot, base: Snapshot, *,
            rewritten: RelationChanges | None = None) -> list[Difference]:
    """Every difference between snapshot `a` and snapshot `x` (unclassified)."""
    out = compare_trees(a.tree, x.tree, base.tree)
    renumbered = dynamic_renumbering(a.state.accounts, x.state.accounts)
    for path in sorted(set(a.state.accounts) | set(x.state.accounts)):
        out += [replace(d, kind="account-id") if d.subject in renumbered else d
                for d in _compare_maps("account", path, a.state.accounts.get(path, {}),
                                       x.state.accounts.get(path, {}), "entry")]
    out += _compare_maps("diversion", "/var/lib/dpkg/diversions", a.state.diversions,
                         x.state.diversions, "diversion of")
    out += _compare_maps("statoverride", "/var/lib/dpkg/statoverride", a.state.statoverrides,
                         x.state.statoverrides, "stat override of")
    for name in sorted(set(a.state.alternatives) | set(x.state.alternatives)):
        left, right = a.state.alternatives.get(name), x.state.alternatives.get(name)
        if left != right:
            change = "missing" if right is None else "extra" if left is None else "changed"
            out.append(Difference("alternative", change, f"{ALTERNATIVES}/{name}",
                                  left or "", right or "", f"alternative {name}"))
    out += compare_status(a.state.status, x.state.status, rewritten or {})
    return out


DYNAMIC_IDS = range(100, 1000)  # adduser --system, systemd-sysusers: the free ones


def dynamic_renumbering(a: Mapping[str, Mapping[str, str]],
                        x: Mapping[str, Mapping[str, str]]) -> set[str]:
    """The account entries (`/etc/passwd:NAME` subjects) that differ only by a system id
    the system chose (100..999 on both sides), where one id of X stands for one id of A
    throughout /etc/passwd and /etc/group: the same accounts, numbered in another order
    (apt configures packages in another order when relations change). Empty if any
    such difference is not part of one consistent renumbering."""
    uids: dict[str, str] = {}
    gids: dict[str, str] = {}
    found: set[str] = set()
    pairs: list[tuple[str, list[str], list[str]]] = []
    for path, ids in (("/etc/passwd", (2, 3)), ("/etc/group", (2,))):
        for name in sorted(set(a.get(path, {})) & set(x.get(path, {}))):
            left, right = a[path][name].split(":"), x[path][name].split(":")
            if left == right:  # (its ids stand for themselves)
                pairs.append((path, left, right))
                continue
            if len(left) != len(right) or any(
                    left[i] != right[i] for i in range(len(left)) if i not in ids):
                continue
            pairs.append((path, left, right))
            found.add(f"{path}:{name}")
    for path, left, right in pairs:
        for index in ((2, 3) if path == "/etc/passwd" else (2,)):
            if len(left) <= index:
                continue
            table = uids if path == "/etc/passwd" and index == 2 else gids
            dynamic = all(v.isdigit() and int(v) in DYNAMIC_IDS
                          for v in (left[index], right[index]))
            if left[index] == right[index] and not dynamic:
                continue
            if not dynamic:
                return set()
            if table.setdefault(right[index], left[index]) != left[index]:
                return set()
    for table in (uids, gids):
        if len(set(table.values())) != len(table):
            return set()
    return found


def classify(differences: Iterable[Difference], expected: Expected, system: str) -> \
        list[Difference]:
    """The differences with the id of the reason that explains each (None: unexpected)."""
    out = []
    for item in differences:
        reason = expected.explain(item.kind, item.change, system, item.subject)
        out.append(Difference(item.kind, item.change, item.subject, item.a, item.x,
                              item.detail, reason))
    return out
