"""The rewritten dependency closure of a workload: what an image of some programs needs
once the engine has dropped implicit-essential and script-only relations.

The upstream closure is computed (Pre-Depends and Depends, first alternative), each
binary of it analysed with its source's recipe (relations rewritten, scripts
translated or flagged), then the closure again over the rewritten relations, until
nothing changes. Its sources are what `rebuild --repack --closure` queues; a flagged
binary is listed with its reason (its build will not produce it).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from archive.upstream.index import BinaryRecord
from archive.upstream.mirror import Suite, Upstream
from recipes.policy import Policy
from recipes.recipe import load_recipe, recipe_digest
from rewrite.closure import closure
from rewrite.engine import RewriteReport, analyse
from rewrite.relations import Universe


@dataclasses.dataclass
class Workload:
    """The rewritten closure of `roots`: its binaries (newest records, with the rewritten
    Pre-Depends and Depends), their sources, and the binaries the engine flags."""

    roots: list[str]
    binaries: list[BinaryRecord]
    flagged: dict[str, str]  # binary -> the engine's reason
    # binary -> its analysis and rewritten control fields (also of binaries that an
    # earlier round reached and a rewritten relation then left out)
    reports: dict[str, RewriteReport] = dataclasses.field(default_factory=dict, repr=False)
    fields: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict, repr=False)

    @property
    def sources(self) -> list[tuple[str, str]]:
        """(source, source version) of every binary, sorted."""
        return sorted({(r.source, r.source_version) for r in self.binaries})


def rewritten_closure(upstream: Upstream, architecture: str, roots: list[str], *,
                      policy: Policy, recipes_dir: Path | None = None,
                      progress: Callable[[str], None] | None = None) -> Workload:
    """The rewritten closure of `roots` from the upstream's newest records (each .deb
    fetched, verified, into the upstream's cache)."""
    pairs = upstream.packages(architecture)
    records = [record for _, record in pairs]
    # each record with the suite it came from, by identity (one version may be listed by
    # two suites, at paths of other mirrors)
    suites: dict[int, Suite] = {id(r): s for s, r in pairs}
    universe = Universe.from_records(records, policy.implicit_essential.priorities)
    rewritten: dict[tuple[str, str], BinaryRecord] = {}
    flagged: dict[str, str] = {}
    reports: dict[str, RewriteReport] = {}
    fields_of: dict[str, dict[str, str]] = {}
    while True:
        current = [rewritten.get((r.package, r.version), r) for r in records]
        wanted = closure(current, roots)
        new = [r for r in wanted if (r.package, r.version) not in rewritten]
        if not new:
            names = {r.package for r in wanted}
            return Workload(list(roots), wanted,
                            {p: flagged[p] for p in sorted(flagged) if p in names},
                            reports, fields_of)
        for record in new:
            if progress is not None:
                progress(f"analyse {record.package} {record.version}")
            suite = suites[id(record)]
            deb = upstream.deb_path(suite, record)
            recipe = load_recipe(record.source, recipes_dir)
            _, fields, report = analyse(deb, universe=universe, policy=policy, recipe=recipe,
                                        recipe_digest=recipe_digest(policy, recipe))
            reports[record.package], fields_of[record.package] = report, fields
            if report.flagged:
                flagged[record.package] = report.flagged[0].problem
            changed = dict(record.fields)
            for name in ("Pre-Depends", "Depends"):
                if fields.get(name):
                    changed[name] = fields[name]
                else:
                    changed.pop(name, None)
            rewritten[(record.package, record.version)] = record._replace(fields=changed)
