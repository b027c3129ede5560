"""`unessential survey` against a signed fixture archive on 127.0.0.1 (no network).

The archive (tests/fixtures/survey_archive.py) holds tiny .debs whose maintainer
scripts the engine translates, one that a recipe handles, and others it flags with
known idioms; the counts, the idiom groups and their examples, the JSON, the catalog
rows and the report page are checked exactly.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from archive.catalog.db import make_engine, session_factory
from archive.catalog.models import Survey, SurveyLine, SurveyPackage
from archive.upstream.index import BinaryRecord
from audit.report.render import write_report
from base.errors import EXIT_CODES, NotFoundError
from rewrite.survey import (
    FlaggedLine,
    PackageOutcome,
    Refusal,
    ScriptOutcome,
    choose,
    from_stored,
    group_idioms,
    scope_of,
    stored_line,
    totals,
)
from tests.conftest import Workspace
from tests.fixtures.archive import FixtureArchive
from tests.fixtures.keys import ArchiveKey
from tests.fixtures.server import ArchiveServer
from tests.fixtures.survey_archive import build_survey_archive, write_recipes
from unessential.cli import cli

BASE = ["svc-base", "svc-edit", "svc-func", "svc-lib", "svc-touch", "svc-touch-too"]


@dataclass(frozen=True)
class World:
    archive: FixtureArchive
    url: str
    recipes: Path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory,
          keys: dict[str, ArchiveKey]) -> Iterator[World]:
    root = tmp_path_factory.mktemp("survey")
    archive = build_survey_archive(root / "www", keys["archive"], root / "work")
    recipes = write_recipes(root / "recipes")
    with ArchiveServer(archive.root) as server:
        yield World(archive, f"{server.url}/debian", recipes)


@pytest.fixture
def ws(tmp_path: Path, world: World) -> Workspace:
    workspace = Workspace(data_dir=tmp_path / "data", dest=tmp_path / "dest",
                          config=tmp_path / "unessential.toml")
    workspace.write_config(world.url, world.archive.key.public_keyring)
    return workspace


def run(ws: Workspace, *args: str, quiet: bool = True) -> Result:
    return CliRunner().invoke(cli, ["--config", str(ws.config), *(["-q"] if quiet else []),
                                    "survey", *args])


def survey_json(ws: Workspace, world: World, *args: str) -> dict:  # type: ignore[type-arg]
    result = run(ws, *args, "--recipes", str(world.recipes), "--json")
    assert result.exit_code == 0, result.output
    data: dict = json.loads(result.stdout)  # type: ignore[type-arg]
    return data


def catalog_url(ws: Workspace) -> str:
    return f"sqlite:///{ws.data_dir / 'catalog.sqlite'}"


# -- the command -------------------------------------------------------------------------


def test_priority_classes_counts_idioms_and_examples(ws: Workspace, world: World) -> None:
    data = survey_json(ws, world, "--priority", "required,important,standard")
    assert data["scope"] == "priority required,important,standard"
    assert (data["suite"], data["architecture"]) == ("fixture", "amd64")
    assert re.fullmatch(r"[0-9a-f]{64}", data["policy_digest"])
    assert data["totals"] == {"packages": 6, "with_scripts": 6, "scripts": 8, "translated": 3,
                              "by_recipe": 1, "flagged": 4, "flagged_lines": 5, "errors": 0,
                              "coverage": 0.5}
    assert [p["package"] for p in data["packages"]] == BASE
    statuses = {(p["package"], s["script"]): s["status"]
                for p in data["packages"] for s in p["scripts"]}
    assert statuses == {
        ("svc-base", "postinst"): "translated", ("svc-base", "postrm"): "translated",
        ("svc-edit", "postinst"): "recipe",
        ("svc-func", "postinst"): "flagged", ("svc-lib", "postinst"): "flagged",
        ("svc-touch", "postinst"): "flagged",
        ("svc-touch-too", "postinst"): "flagged", ("svc-touch-too", "prerm"): "translated"}
    assert data["idioms"] == [
        {"idiom": "command savelog", "count": 3, "packages": 3,
         "examples": ["svc-lib", "svc-touch", "svc-touch-too"],
         "example": {"package": "svc-lib", "script": "postinst", "line": 4,
                     "text": "savelog /var/lib/svc/lib-stamp"}},
        {"idiom": "call of a function the script defines", "count": 1, "packages": 1,
         "examples": ["svc-func"],
         "example": {"package": "svc-func", "script": "postinst", "line": 3,
                     "text": "setup"}},
        {"idiom": "sources /usr/share/svc/lib.sh", "count": 1, "packages": 1,
         "examples": ["svc-lib"],
         "example": {"package": "svc-lib", "script": "postinst", "line": 3,
                     "text": ". /usr/share/svc/lib.sh"}},
    ]
    scripts = {(p["package"], s["script"]): s for p in data["packages"] for s in p["scripts"]}
    flagged = scripts["svc-touch-too", "postinst"]
    assert flagged["refused"] == [
        {"idiom": "command savelog", "line": 4, "text": "savelog /var/log/svc.log"}]
    assert flagged["problem"] == ("svc-touch-too: postinst:4: command 'savelog' is not in the "
                                  "vocabulary: savelog /var/log/svc.log")
    # the translator stops at the first refusal; the survey finds the lines after it
    assert [(r["line"], r["idiom"]) for r in scripts["svc-lib", "postinst"]["refused"]] == \
        [(3, "sources /usr/share/svc/lib.sh"), (4, "command savelog")]
    assert [(r["line"], r["idiom"]) for r in scripts["svc-func", "postinst"]["refused"]] == \
        [(3, "call of a function the script defines")]
    assert scripts["svc-base", "postinst"]["refused"] == []


def test_survey_is_recorded_in_the_catalog(ws: Workspace, world: World) -> None:
    data = survey_json(ws, world, "--priority", "required,important,standard")
    engine = make_engine(catalog_url(ws))
    try:
        with session_factory(engine)() as session:
            survey = session.scalars(select(Survey)).one()
            assert survey.id == data["survey_id"]
            assert (survey.scope, survey.suite, survey.architecture) == \
                ("priority required,important,standard", "fixture", "amd64")
            assert (survey.packages, survey.with_scripts, survey.scripts, survey.translated,
                    survey.by_recipe, survey.flagged) == (6, 6, 8, 3, 1, 4)
            rows = {(p.package, p.version, p.architecture, p.scripts, p.translated,
                     p.by_recipe, p.flagged) for p in session.scalars(select(SurveyPackage))}
            assert rows == {
                ("svc-base", "1.0-1", "all", 2, 2, 0, 0),
                ("svc-edit", "1.0-1", "all", 1, 0, 1, 0),
                ("svc-func", "1.0-1", "all", 1, 0, 0, 1),
                ("svc-lib", "1.0-1", "all", 1, 0, 0, 1),
                ("svc-touch", "1.0-1", "all", 1, 0, 0, 1),
                ("svc-touch-too", "1.0-1", "all", 2, 1, 0, 1)}
            lines = sorted((r.package, r.script, r.idiom, r.line)
                           for r in session.scalars(select(SurveyLine)))
            assert lines == [
                ("svc-func", "postinst", "call of a function the script defines", "3: setup"),
                ("svc-lib", "postinst", "command savelog", "4: savelog /var/lib/svc/lib-stamp"),
                ("svc-lib", "postinst", "sources /usr/share/svc/lib.sh",
                 "3: . /usr/share/svc/lib.sh"),
                ("svc-touch", "postinst", "command savelog", "3: savelog /var/lib/svc/stamp"),
                ("svc-touch-too", "postinst", "command savelog", "4: savelog /var/log/svc.log")]
    finally:
        engine.dispose()


def test_closure_in_parallel_and_alone_agree(ws: Workspace, world: World) -> None:
    parallel = survey_json(ws, world, "--closure", "svc-edit", "--jobs", "2", "--no-record")
    alone = survey_json(ws, world, "--closure", "svc-edit", "--jobs", "1", "--no-record")
    assert parallel == alone
    assert parallel["scope"] == "closure svc-edit" and parallel["survey_id"] is None
    assert [p["package"] for p in parallel["packages"]] == \
        ["svc-base", "svc-doc", "svc-edit", "svc-touch"]
    assert parallel["totals"] == {"packages": 4, "with_scripts": 3, "scripts": 4,
                                  "translated": 2, "by_recipe": 1, "flagged": 1,
                                  "flagged_lines": 1, "errors": 0, "coverage": 0.75}
    assert not (ws.data_dir / "catalog.sqlite").exists()  # --no-record: no catalog at all


def test_named_packages_and_the_packaged_recipes(ws: Workspace, world: World) -> None:
    """Without the fixture's recipe, svc-edit's sed line is flagged."""
    result = run(ws, "svc-edit", "svc-extra", "--no-record", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["scope"] == "packages svc-edit svc-extra"
    assert [(g["idiom"], g["count"], g["examples"]) for g in data["idioms"]] == [
        ("command savelog", 1, ["svc-extra"]), ("command sed", 1, ["svc-edit"])]
    assert data["totals"]["by_recipe"] == 0 and data["totals"]["flagged"] == 2


def test_whole_suite(ws: Workspace, world: World) -> None:
    data = survey_json(ws, world, "--suite", "--no-record")
    assert data["scope"] == "suite"
    assert data["totals"]["packages"] == 8 and data["totals"]["with_scripts"] == 7
    assert data["idioms"][0]["idiom"] == "command savelog" and data["idioms"][0]["count"] == 4


def test_table_and_progress(ws: Workspace, world: World) -> None:
    result = run(ws, "--priority", "required,important,standard", "--recipes",
                 str(world.recipes), quiet=False)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("survey 1: priority required,important,standard (fixture, amd64)\n")
    assert re.search(r"^  translated by the engine +3 +37\.5%$", out, re.M), out
    assert re.search(r"^  handled by a recipe +1 +12\.5%$", out, re.M), out
    assert re.search(r"^  flagged +4 +50\.0%$", out, re.M), out
    assert re.search(r"^    lines refused in them +5$", out, re.M), out
    assert re.search(r"^ +3 +3  command savelog +svc-lib, svc-touch, svc-touch-too$", out,
                     re.M), out
    assert "e.g. svc-lib postinst:4: savelog /var/lib/svc/lib-stamp" in out
    # not a terminal: plain progress lines on stderr
    assert "survey: 6/6 packages" in result.stderr
    assert "recorded as survey 1" in result.stderr


@pytest.mark.parametrize(("args", "message"), [
    ((), "give package names, --priority CLASSES or --suite"),
    (("--closure",), "give package names, --priority CLASSES or --suite"),
    (("--suite", "svc-base"), "one of them"),
    (("--closure", "--priority", "required"), "--closure needs package names"),
    (("--priority", "required,urgent"), "urgent"),
])
def test_usage_errors(ws: Workspace, args: tuple[str, ...], message: str) -> None:
    result = run(ws, *args)
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_unknown_package_is_one_line_naming_it(ws: Workspace) -> None:
    result = run(ws, "svc-base", "no-such-thing", "nor-this", "--closure")
    assert result.exit_code == EXIT_CODES["not-found"], result.output
    assert result.stderr.strip().splitlines()[-1] == (
        "unessential: not-found error: no-such-thing, nor-this: not in the upstream "
        "Packages index")
    assert not (ws.data_dir / "catalog.sqlite").exists()


def test_help_has_an_example(ws: Workspace) -> None:
    result = CliRunner().invoke(cli, ["survey", "--help"])
    assert result.exit_code == 0
    assert "unessential survey --priority required,important,standard" in result.output


# -- the report page ---------------------------------------------------------------------


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.refs += [value for name, value in attrs if name in ("href", "src") and value]


def test_report_page_latest_survey_and_coverage_over_time(ws: Workspace, world: World,
                                                          tmp_path: Path) -> None:
    survey_json(ws, world, "--priority", "required,important,standard")
    survey_json(ws, world, "--closure", "svc-edit")
    site = tmp_path / "site"
    result = write_report(catalog_url(ws), site)
    assert result.survey
    page = (site / "survey.html").read_text(encoding="utf-8")
    figures = dict(re.findall(r'data-figure="([^"]+)">([^<]*)<', page))
    assert figures == {"packages": "4", "with-scripts": "3", "scripts": "4", "translated": "2",
                       "by-recipe": "1", "flagged": "1", "coverage": "75.0%"}
    assert "Latest survey: closure svc-edit" in page
    assert re.findall(r'data-count="([^"]+)">(\d+)<', page) == [("command savelog", "1")]
    assert "svc-touch postinst:3: savelog /var/lib/svc/stamp" in page
    history = re.findall(r'<tr data-survey="(\d+)">', page)
    assert history == ["1", "2"]
    assert re.findall(r"<td class=\"n\">(\d+\.\d%)</td>", page) == ["50.0%", "75.0%"]
    assert page.count('<svg class="bars"') == 3
    index = (site / "index.html").read_text(encoding="utf-8")
    assert '<a href="survey.html">Survey</a>' in index
    parser = _Refs()
    parser.feed(page)
    for ref in parser.refs:
        assert not re.match(r"^([a-z][a-z0-9+.-]*:|//)", ref, re.I), ref
        assert (site / ref.split("#")[0]).is_file(), ref


def test_report_without_a_survey_has_no_survey_page(ws: Workspace, world: World,
                                                     tmp_path: Path) -> None:
    survey_json(ws, world, "svc-doc", "--no-record")
    site = tmp_path / "site"
    from archive.catalog.db import upgrade

    upgrade(catalog_url(ws))
    assert not write_report(catalog_url(ws), site).survey
    assert not (site / "survey.html").exists()
    assert "survey.html" not in (site / "index.html").read_text(encoding="utf-8")
    engine = make_engine(catalog_url(ws))
    try:
        with session_factory(engine)() as session:
            assert session.scalar(select(func.count(Survey.id))) == 0
    finally:
        engine.dispose()


# -- pure functions ----------------------------------------------------------------------


def _record(name: str, version: str, priority: str = "optional", depends: str = "") -> BinaryRecord:
    fields = {"Package": name, "Version": version}
    if depends:
        fields["Depends"] = depends
    return BinaryRecord(name, version, "all", name, version, f"pool/{name}.deb", 1, "0" * 64,
                        False, priority, fields)  # type: ignore[arg-type]


def test_choose_newest_priorities_closure_and_missing_names() -> None:
    pairs = [("a", _record("one", "1.0", "required", "two")), ("b", _record("one", "2.0")),
             ("a", _record("two", "1.0", "important")), ("a", _record("three", "1.0"))]
    assert [(s, r.package, r.version) for s, r in choose(pairs)] == \
        [("b", "one", "2.0"), ("a", "three", "1.0"), ("a", "two", "1.0")]
    assert [r.package for _, r in choose(pairs, priorities=["important"])] == ["two"]
    assert [r.package for _, r in choose(pairs, names=["three", "two"])] == ["three", "two"]
    pairs[1] = ("b", _record("one", "2.0", depends="two"))
    assert [r.package for _, r in choose(pairs, names=["one"], with_closure=True)] == \
        ["one", "two"]
    with pytest.raises(NotFoundError, match="^four, five: not in the upstream"):
        choose(pairs, names=["one", "four", "five"])
    assert scope_of(["a", "b"], True, []) == "closure a b"
    assert scope_of([], False, ["required"]) == "priority required"
    assert scope_of([], False, []) == "suite"


def test_totals_and_groups() -> None:
    def flagged(script: str, idiom: str, line: int) -> ScriptOutcome:
        return ScriptOutcome(script, "flagged", (Refusal(idiom, line, f"text {line}"),))

    outcomes = [
        PackageOutcome("b", "1", "all", "b", (flagged("postinst", "command savelog", 5),
                                              ScriptOutcome("postrm", "translated"))),
        PackageOutcome("a", "1", "all", "a", (flagged("postinst", "command savelog", 7),
                                              flagged("prerm", "while/until loop", 2))),
        PackageOutcome("c", "1", "all", "c", (ScriptOutcome("postinst", "recipe"),)),
        PackageOutcome("d", "1", "all", "d"),
        PackageOutcome("e", "", "", "", error="format error: bad"),
    ]
    t = totals(outcomes)
    assert (t.packages, t.with_scripts, t.scripts, t.translated, t.by_recipe, t.flagged,
            t.flagged_lines, t.errors) == (5, 3, 5, 1, 1, 3, 3, 1)
    assert t.coverage == 0.4
    groups = group_idioms(outcomes, examples=1)
    assert [(g.idiom, g.count, g.packages, g.examples) for g in groups] == [
        ("command savelog", 2, 2, ("a",)),
        ("package the engine cannot read", 1, 1, ("e",)),
        ("while/until loop", 1, 1, ("a",))]
    assert str(groups[0].example) == "a postinst:7: text 7"
    line = FlaggedLine("a", "postinst", 7, "touch: x")
    assert from_stored("a", "postinst", stored_line(line)) == line
    unreadable = FlaggedLine("e", "", 0, "format error: bad")
    assert from_stored("e", "", stored_line(unreadable)) == unreadable


def _refused(script: str, recipe: str | None = None) -> list[tuple[int, str]]:
    from archive.debfile import ControlMember, DebFile
    from recipes.recipe import parse_recipe
    from rewrite.survey import _refusals

    deb = DebFile({"postinst": ControlMember("postinst", script.encode(), 0o755)},
                  "data.tar.xz", b"", "control.tar.xz")
    parsed = parse_recipe(recipe, "demo.toml") if recipe is not None else None
    return [(r.line, r.idiom) for r in _refusals(deb, "postinst", "demo", parsed)]


def test_refusals_stop_where_skipping_cannot_help() -> None:
    sh = "#!/bin/sh\nset -e\n"
    assert _refused(sh + "savelog /a\nsed -i x /b\nsavelog /a\n") == \
        [(3, "command savelog"), (4, "command sed")]  # the same text counts once
    assert _refused("#!/usr/bin/perl\nprint 1;\n") == [(1, "interpreter perl")]
    assert _refused(sh + "savelog /a\nif then fi\n")[0] == (3, "command savelog")
    assert len(_refused(sh + "if then fi\n")) == 1  # a parse error, found once
    many = sh + "".join(f"savelog /f{i}\n" for i in range(80))
    assert len(_refused(many)) == 50  # MAX_REFUSALS
    # a skipped line that exits is the survey's own doing: not counted
    assert _refused(sh + 'if [ -x /usr/bin/x ]; then\n  frob\n  exit 0\nfi\n') == \
        [(5, "exit inside an if that tests the system")]
    # the recipe's own mappings apply, as in the engine
    assert _refused(sh + "savelog /a\nsed -i x /b\n",
                    '[[lines]]\nscript = "postinst"\nmatch = "savelog /a"\nignore = "x"\n') == \
        [(4, "command sed")]
