"""The packaged recipes against the host's mirror: the python3 closure (marked `network`).

What `rebuild --repack $(grep -v '^#' recipes/closures/python3.txt)` does, without a
Celery campaign: the rewritten dependency closure of python3 is computed (the upstream
closure, each binary analysed with its recipe, relations dropped, closure again until
nothing changes), then each source of `closures/python3.txt` produces the binaries its
recipe names, and each is rewritten as the worker would. Nothing may be flagged, no
binary may keep a relation on an implicit-essential tool (dpkg, perl-base, bash,
coreutils, ...), and the list file must be that closure.

The data directory (verified indices and .debs) is kept in pytest's cache directory,
so a second run downloads only the InRelease files.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from archive.settings import UpstreamSettings
from archive.upstream.index import BinaryRecord
from archive.upstream.mirror import Upstream
from base.console import Reporter
from recipes.policy import Policy, load_policy
from recipes.recipe import load_closure, load_recipe, recipe_digest, split_relations
from rewrite.engine import RewriteReport, rewrite
from rewrite.relations import Universe
from rewrite.workload import rewritten_closure
from worker.pipeline import _chosen_binaries
from worker.record import Claimed

pytestmark = pytest.mark.network
ROOT = "python3"
TOOLS = ("dpkg", "perl-base", "bash", "coreutils", "tar", "debianutils", "sed", "grep")


@dataclasses.dataclass
class Survey:
    data: Path
    records: list[BinaryRecord] = dataclasses.field(repr=False)
    universe: Universe = dataclasses.field(repr=False)
    policy: Policy = dataclasses.field(repr=False)
    # newest records, with the rewritten relation fields
    closure: list[BinaryRecord] = dataclasses.field(repr=False)
    # binary -> its analysis and rewritten control fields (also of binaries that an
    # earlier round reached and a rewritten relation then left out)
    reports: dict[str, RewriteReport] = dataclasses.field(repr=False)
    fields: dict[str, dict[str, str]] = dataclasses.field(repr=False)


@pytest.fixture(scope="module")
def survey(pytestconfig: pytest.Config) -> Survey:
    """The rewritten closure of python3, as `rebuild --closure` computes it."""
    data = Path(pytestconfig.cache.mkdir("unessential-recipes-network"))
    policy = load_policy()
    with Upstream(data, UpstreamSettings(), reporter=Reporter(quiet=True)) as upstream:
        records = [record for _, record in upstream.packages("amd64")]
        workload = rewritten_closure(upstream, "amd64", [ROOT], policy=policy)
    universe = Universe.from_records(records, policy.implicit_essential.priorities)
    return Survey(data, records, universe, policy, workload.binaries, workload.reports,
                  workload.fields)


def fetch(survey: Survey, records: list[BinaryRecord]) -> list[Path]:
    """The verified .debs of `records` (placed when the fetch as a whole succeeded)."""
    dest = survey.data / "debs"
    with Upstream(survey.data, UpstreamSettings(), reporter=Reporter(quiet=True)) as upstream:
        names = [upstream.fetch_binary(r.package, r.version, dest,
                                       r.architecture if r.architecture != "all" else None)
                 .files[0].name for r in records]
    return [dest / name for name in names]


def test_nothing_of_the_python3_closure_is_flagged(survey: Survey) -> None:
    problems = [s.problem for r in survey.closure for s in survey.reports[r.package].flagged]
    assert problems == []
    names = {r.package for r in survey.closure}
    assert {"python3", "python3.11-minimal", "libc6", "readline-common"} <= names
    assert not names & set(TOOLS), "an implicit-essential tool is still in the closure"


def test_no_relation_on_an_implicit_essential_tool(survey: Survey) -> None:
    kept_sections = set(survey.policy.keep.sections)
    tools = {name for name in survey.universe.essential
             if survey.universe.section(name) not in kept_sections
             and name not in survey.policy.keep.packages}
    assert set(TOOLS) <= tools  # the host's index marks them as such
    left = []
    for record in survey.closure:
        fields = survey.fields[record.package]
        for field in survey.policy.fields:
            for group in split_relations(fields.get(field, "")):
                if any(alternative["name"] in tools for alternative in group):
                    names = " | ".join(alternative["name"] for alternative in group)
                    left.append(f"{record.package} {field}: {names}")
    assert left == []


def test_closure_list_is_the_closure_and_recipes_keep_its_binaries(survey: Survey) -> None:
    sources = load_closure(ROOT)
    assert sources == sorted({r.source for r in survey.closure})
    for record in survey.closure:
        recipe = load_recipe(record.source)
        assert recipe is None or recipe.produces(record.package), \
            f"{record.source}'s recipe leaves out {record.package}, which python3 needs"


def test_each_closure_source_repacks(survey: Survey, tmp_path: Path) -> None:
    """The binaries each build of the campaign produces (recipe `binaries`) exist upstream
    and rewrite without a flag, as the worker would write them."""
    versions = {r.source: r.source_version for r in survey.closure}
    chosen: list[BinaryRecord] = []
    for source in load_closure(ROOT):
        records = {r.package: r for r in survey.records
                   if r.source == source and r.source_version == versions[source]}
        got = Claimed(0, source, versions[source], "", "repack", "", "")
        names = _chosen_binaries(sorted(records), load_recipe(source), got, lambda _: None,
                                 built="built upstream for amd64")
        chosen += [records[name] for name in sorted(names)]
    produced = []
    for record, deb in zip(chosen, fetch(survey, chosen), strict=True):
        recipe = load_recipe(record.source)
        report = rewrite(deb, tmp_path / record.source, universe=survey.universe,
                         policy=survey.policy, recipe=recipe,
                         recipe_digest=recipe_digest(survey.policy, recipe))
        assert Path(report.output).is_file() and report.flagged == []
        produced.append(record.package)
    closure_names = {r.package for r in survey.closure}
    assert closure_names <= set(produced)
    # what the campaign produces beyond the closure, on purpose (for other workloads:
    # libstdc++6 for C++ programs such as haproxy; locales for images that need more
    # than C.UTF-8)
    assert set(produced) - closure_names == {"openssl", "libstdc++6", "locales"}
