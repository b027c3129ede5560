"""Coverage of the rewrite engine over a set of upstream packages (Celery-free).

For each package the engine analyses the .deb as `rewrite` would (nothing written)
and each maintainer script ends up in one of three classes:

- `translated`: by the engine alone (the policy, the template answers);
- `recipe`: a shipped recipe handles it (keeps it, replaces it, maps or ignores some of
  its lines, or answers a debconf question the engine needed);
- `flagged`: the engine refuses a line. The translator stops at the first line it
  refuses; the survey runs it again with that line (and each one found so far)
  skipped, as a recipe's `ignore` would skip it, to find the lines after it too (at
  most `MAX_REFUSALS` per script). Each refused line is kept with its idiom
  (`rewrite.translate.Idiom`: the construct and the command or file it names).

Flagged lines are grouped by idiom, counted, sorted by count and shown with example
packages: the next vocabulary item or recipe to write is the top of that list.
Counting and grouping are pure functions; `survey_debs` runs the analysis in a process
pool; `record_survey` stores a survey in the catalog (tables survey, survey_package,
survey_line).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from debian.debian_support import version_compare

from archive.debfile import DebFile, read_deb
from archive.upstream.index import BinaryRecord
from base.errors import NotFoundError, RecipeError, UnessentialError
from recipes.actions import Action
from recipes.policy import Policy
from recipes.recipe import Recipe, load_recipe, recipe_digest
from rewrite.closure import closure
from rewrite.engine import _answers, _lookup, analyse, printable, read_control, source_of
from rewrite.relations import Universe
from rewrite.translate import MAPPED_EXIT, Idiom, Untranslatable, translate

STATUSES = ("translated", "recipe", "flagged")
PRIORITIES = ("required", "important", "standard", "optional", "extra")
UNREADABLE = "package the engine cannot read"
EXAMPLES = 5
IDIOM_LEN = 255  # survey_line.idiom
TEXT_LEN = 400  # a flagged line as stored and shown
MAX_REFUSALS = 50  # refused lines looked for in one script

S = TypeVar("S")
Advance = Callable[[int], None]


@dataclass(frozen=True)
class Refusal:
    """A line the engine refuses: its idiom, its number and its text (one line)."""

    idiom: str
    line: int
    text: str


@dataclass(frozen=True)
class ScriptOutcome:
    script: str
    status: str  # translated | recipe | flagged
    refused: tuple[Refusal, ...] = ()  # flagged: the lines the engine refuses, in order
    problem: str = ""  # flagged: the engine's own one-line message (its first refusal)


@dataclass(frozen=True)
class PackageOutcome:
    package: str
    version: str
    architecture: str
    source: str
    scripts: tuple[ScriptOutcome, ...] = ()
    error: str = ""  # the package could not be read (its scripts are not counted)

    def count(self, status: str) -> int:
        return sum(s.status == status for s in self.scripts)

    def as_dict(self) -> dict[str, object]:
        return {
            "package": self.package, "version": self.version,
            "architecture": self.architecture, "source": self.source, "error": self.error,
            "scripts": [{"script": s.script, "status": s.status, "problem": s.problem,
                         "refused": [{"idiom": r.idiom, "line": r.line, "text": r.text}
                                     for r in s.refused]}
                        for s in self.scripts],
        }


@dataclass(frozen=True)
class Totals:
    packages: int = 0
    with_scripts: int = 0  # packages with at least one maintainer script
    scripts: int = 0
    translated: int = 0
    by_recipe: int = 0
    flagged: int = 0
    flagged_lines: int = 0  # lines refused in the flagged scripts
    errors: int = 0  # packages that could not be read

    @property
    def coverage(self) -> float | None:
        """Share of the scripts translated by the engine or handled by a recipe."""
        return (self.translated + self.by_recipe) / self.scripts if self.scripts else None

    def as_dict(self) -> dict[str, object]:
        return {"packages": self.packages, "with_scripts": self.with_scripts,
                "scripts": self.scripts, "translated": self.translated,
                "by_recipe": self.by_recipe, "flagged": self.flagged,
                "flagged_lines": self.flagged_lines, "errors": self.errors,
                "coverage": None if self.coverage is None else round(self.coverage, 4)}


@dataclass(frozen=True)
class FlaggedLine:
    package: str
    script: str
    line: int
    text: str

    def __str__(self) -> str:
        where = f"{self.script}:{self.line}" if self.script else "(package)"
        return f"{self.package} {where}: {self.text}"


@dataclass(frozen=True)
class IdiomGroup:
    idiom: str
    count: int  # flagged lines
    packages: int  # distinct packages
    examples: tuple[str, ...]  # example packages (sorted, at most `EXAMPLES`)
    example: FlaggedLine  # one line as written

    def as_dict(self) -> dict[str, object]:
        e = self.example
        return {"idiom": self.idiom, "count": self.count, "packages": self.packages,
                "examples": list(self.examples),
                "example": {"package": e.package, "script": e.script, "line": e.line,
                            "text": e.text}}


def stored_line(line: FlaggedLine) -> str:
    """A flagged line as the catalog keeps it (survey_line.line): `NUMBER: TEXT`."""
    return f"{line.line}: {line.text}" if line.script else line.text


def from_stored(package: str, script: str, stored: str) -> FlaggedLine:
    """The FlaggedLine of a survey_line row (`stored_line` read back)."""
    number, sep, text = stored.partition(": ")
    if script and sep and number.isdigit():
        return FlaggedLine(package, script, int(number), text)
    return FlaggedLine(package, script, 0, stored)


def totals(outcomes: Iterable[PackageOutcome]) -> Totals:
    rows = list(outcomes)
    return Totals(
        packages=len(rows),
        with_scripts=sum(bool(o.scripts) for o in rows),
        scripts=sum(len(o.scripts) for o in rows),
        translated=sum(o.count("translated") for o in rows),
        by_recipe=sum(o.count("recipe") for o in rows),
        flagged=sum(o.count("flagged") for o in rows),
        flagged_lines=sum(len(s.refused) for o in rows for s in o.scripts),
        errors=sum(bool(o.error) for o in rows),
    )


def flagged_lines(outcomes: Iterable[PackageOutcome]) -> list[tuple[str, FlaggedLine]]:
    """(idiom, line) of every refused line, and of every package that cannot be read."""
    out: list[tuple[str, FlaggedLine]] = []
    for o in sorted(outcomes, key=lambda o: (o.package, o.architecture)):
        if o.error:
            out.append((UNREADABLE, FlaggedLine(o.package, "", 0, o.error)))
        out += [(r.idiom, FlaggedLine(o.package, s.script, r.line, r.text))
                for s in o.scripts for r in s.refused]
    return out


def group_idioms(outcomes: Iterable[PackageOutcome], examples: int = EXAMPLES) -> list[IdiomGroup]:
    """Flagged lines by idiom, the most frequent first (then by idiom)."""
    return group_lines(flagged_lines(outcomes), examples)


def group_lines(lines: Iterable[tuple[str, FlaggedLine]],
                examples: int = EXAMPLES) -> list[IdiomGroup]:
    by_idiom: dict[str, list[FlaggedLine]] = {}
    for idiom, line in lines:
        by_idiom.setdefault(idiom, []).append(line)
    groups = []
    for idiom, found in by_idiom.items():
        found.sort(key=lambda f: (f.package, f.script, f.line))
        names = sorted({f.package for f in found})
        groups.append(IdiomGroup(idiom, len(found), len(names), tuple(names[:examples]),
                                 found[0]))
    return sorted(groups, key=lambda g: (-g.count, g.idiom))


# -- which packages --------------------------------------------------------------------


def newest(pairs: Iterable[tuple[S, BinaryRecord]]) -> dict[str, tuple[S, BinaryRecord]]:
    """The newest version of each package name (the first seen of equal versions)."""
    out: dict[str, tuple[S, BinaryRecord]] = {}
    for where, record in pairs:
        old = out.get(record.package)
        if old is None or version_compare(record.version, old[1].version) > 0:
            out[record.package] = (where, record)
    return out


def choose(
    pairs: Sequence[tuple[S, BinaryRecord]],
    *,
    names: Sequence[str] = (),
    with_closure: bool = False,
    priorities: Sequence[str] = (),
) -> list[tuple[S, BinaryRecord]]:
    """The packages a survey covers, sorted by name: `names` (or their closure), the
    packages of the `priorities` classes, or, with neither, every package.

    NotFoundError naming each name the index does not have."""
    latest = newest(pairs)
    if names:
        missing = [name for name in dict.fromkeys(names) if name not in latest]
        if missing:
            raise NotFoundError(", ".join(missing), "not in the upstream Packages index")
        wanted = [r.package for r in closure([r for _, r in pairs], list(names))] \
            if with_closure else list(names)
    elif priorities:
        wanted = [name for name, (_, r) in latest.items() if r.priority in priorities]
    else:
        wanted = list(latest)
    return [latest[name] for name in sorted(set(wanted))]


def scope_of(names: Sequence[str], with_closure: bool, priorities: Sequence[str]) -> str:
    """How a survey chose its packages, as recorded: `closure python3 haproxy`, ..."""
    if names:
        return ("closure " if with_closure else "packages ") + " ".join(names)
    if priorities:
        return "priority " + ",".join(priorities)
    return "suite"


# -- one package -----------------------------------------------------------------------


def classify(path: Path, *, universe: Universe, policy: Policy,
             recipes_dir: Path | None = None) -> PackageOutcome:
    """What becomes of each maintainer script of one .deb (FormatError if unreadable,
    RecipeError if its source's recipe is broken)."""
    deb = read_deb(path)
    control = read_control(path, deb)
    package = control["Package"]
    recipe = load_recipe(source_of(control), recipes_dir)
    _, _, report = analyse(path, universe=universe, policy=policy, recipe=recipe,
                           recipe_digest=recipe_digest(policy, recipe))
    scripts = []
    for script in report.scripts:
        name = script.script
        if script.status == "flagged":
            scripts.append(ScriptOutcome(name, "flagged", _refusals(deb, name, package, recipe),
                                         printable(script.problem)))
        elif script.status == "kept" or (recipe is not None and (
                recipe.script_override(package, name) is not None
                or not _engine_alone(deb, name, package))):
            scripts.append(ScriptOutcome(name, "recipe"))
        else:
            scripts.append(ScriptOutcome(name, "translated"))
    return PackageOutcome(package, report.version, report.architecture, report.source,
                          tuple(scripts))


def _text(deb: DebFile, name: str) -> str:
    return deb.members[name].data.decode("utf-8", "replace")


def _engine_alone(deb: DebFile, name: str, package: str) -> bool:
    """Whether the engine translates the script without the recipe's help."""
    try:
        translate(_text(deb, name), name, package=package, answers=_answers(deb, None))
    except Untranslatable:
        return False
    return True


def _refusals(deb: DebFile, name: str, package: str,
              recipe: Recipe | None) -> tuple[Refusal, ...]:
    """The lines the engine refuses in a flagged script, in the order found.

    The translation is run again as the engine ran it (answers, the recipe's mappings)
    for its Untranslatable; then again with each refused line skipped as a recipe's
    `ignore` would skip it, until it translates, a refusal repeats (a parse error, the
    interpreter line, a statement a skip cannot remove) or `MAX_REFUSALS` are found."""
    text = _text(deb, name)
    lines = text.split("\n")
    mapped = _lookup(recipe, package) if recipe is not None else None
    skipped: set[str] = set()

    def lookup(script: str, line: str) -> tuple[list[Action], str] | None:
        if line in skipped:
            return [], "survey: counted already"
        return mapped(script, line) if mapped is not None else None

    found: list[Refusal] = []
    while len(found) < MAX_REFUSALS:
        try:
            result = translate(text, name, package=package, answers=_answers(deb, recipe),
                               lookup=lookup)
        except Untranslatable as exc:
            source = lines[exc.line - 1].strip() if 0 < exc.line <= len(lines) else ""
            if found and (source in skipped or exc.idiom == MAPPED_EXIT or not source):
                break  # the same line again, or an effect of the skipping itself
            found.append(Refusal(_idiom(exc.idiom), exc.line, _shown(exc.text or source)))
            if not source:
                break
            skipped.add(source)
            continue
        if not found:
            # translated, yet flagged by the engine's check of the whole package: a
            # script that fails on `triggered` while the package has trigger interests
            origin = result.fails.get("triggered", (0, f"{name}:0"))[1]
            number = int(origin.rsplit(":", 1)[1])
            shown = lines[number - 1] if 0 < number <= len(lines) else ""
            found.append(Refusal(
                _idiom(Idiom("script failing on", "triggered, with trigger interests")),
                number, _shown(shown)))
        break
    return tuple(found)


def _idiom(idiom: Idiom) -> str:
    return printable(str(idiom))[:IDIOM_LEN]


def _shown(line: str) -> str:
    text = printable(" ".join(line.split()))
    return text if len(text) <= TEXT_LEN else text[:TEXT_LEN - 3] + "..."


def _outcome(path: Path, record: BinaryRecord | None, universe: Universe, policy: Policy,
             recipes_dir: Path | None) -> PackageOutcome:
    """`classify`, with a package that cannot be read kept as an outcome (a broken
    recipe is raised: the whole survey stops)."""
    try:
        return classify(path, universe=universe, policy=policy, recipes_dir=recipes_dir)
    except RecipeError:
        raise
    except UnessentialError as exc:
        name = record.package if record is not None else path.name
        return PackageOutcome(name, record.version if record else "",
                              record.architecture if record else "",
                              record.source if record else "",
                              error=printable(f"{exc.kind} error: {exc}"))


# -- many packages, in parallel ----------------------------------------------------------


@dataclass
class _Shared:
    universe: Universe | None = None
    policy: Policy | None = None
    recipes_dir: Path | None = None


_SHARED = _Shared()


def _init_worker(universe: Universe, policy: Policy, recipes_dir: Path | None) -> None:
    _SHARED.universe, _SHARED.policy, _SHARED.recipes_dir = universe, policy, recipes_dir


def _in_worker(path: Path, record: BinaryRecord | None) -> PackageOutcome | tuple[str, str]:
    assert _SHARED.universe is not None and _SHARED.policy is not None
    try:
        return _outcome(path, record, _SHARED.universe, _SHARED.policy, _SHARED.recipes_dir)
    except RecipeError as exc:  # errors of ours do not pickle: sent back as their parts
        return exc.subject, exc.cause


def survey_debs(
    debs: Iterable[tuple[Path, BinaryRecord | None]],
    *,
    universe: Universe,
    policy: Policy,
    recipes_dir: Path | None = None,
    jobs: int = 1,
    advance: Advance | None = None,
) -> list[PackageOutcome]:
    """Classify each .deb (the iterable may download them one by one as it is read),
    in `jobs` processes; `advance(1)` after each package. Sorted by package."""
    step = advance or (lambda n: None)
    outcomes: list[PackageOutcome] = []
    if jobs <= 1:
        for path, record in debs:
            outcomes.append(_outcome(path, record, universe, policy, recipes_dir))
            step(1)
        return sorted(outcomes, key=lambda o: (o.package, o.architecture))
    context = multiprocessing.get_context("fork")  # the universe is shared, not pickled
    with ProcessPoolExecutor(jobs, mp_context=context, initializer=_init_worker,
                             initargs=(universe, policy, recipes_dir)) as pool:
        pending: set[Future[PackageOutcome | tuple[str, str]]] = set()

        def collect(done: Iterable[Future[PackageOutcome | tuple[str, str]]]) -> None:
            for future in done:
                result = future.result()
                if isinstance(result, tuple):
                    for other in pending:
                        other.cancel()
                    raise RecipeError(*result)
                outcomes.append(result)
                step(1)

        for path, record in debs:
            pending.add(pool.submit(_in_worker, path, record))
            done, pending = wait(pending, timeout=0)
            collect(done)
            if len(pending) > 4 * jobs:  # downloads ahead of the analysis: let it catch up
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                collect(done)
        done, pending = wait(pending)
        collect(done)
    return sorted(outcomes, key=lambda o: (o.package, o.architecture))


# -- a survey --------------------------------------------------------------------------


@dataclass
class SurveyResult:
    scope: str
    suite: str
    architecture: str
    policy_digest: str
    outcomes: list[PackageOutcome] = field(default_factory=list)
    examples: int = EXAMPLES
    survey_id: int | None = None  # once recorded in the catalog

    @property
    def totals(self) -> Totals:
        return totals(self.outcomes)

    @property
    def idioms(self) -> list[IdiomGroup]:
        return group_idioms(self.outcomes, self.examples)

    def as_dict(self) -> dict[str, object]:
        return {
            "survey_id": self.survey_id, "scope": self.scope, "suite": self.suite,
            "architecture": self.architecture, "policy_digest": self.policy_digest,
            "totals": self.totals.as_dict(),
            "idioms": [g.as_dict() for g in self.idioms],
            "packages": [o.as_dict() for o in self.outcomes],
        }


def record_survey(url: str, result: SurveyResult) -> int:
    """Store a survey, its packages and its flagged lines in the catalog; its id."""
    from archive.catalog.db import catalog_errors, make_engine, session_factory, upgrade
    from archive.catalog.models import Survey, SurveyLine, SurveyPackage

    upgrade(url)
    engine = make_engine(url)
    try:
        with catalog_errors(engine.url), session_factory(engine).begin() as session:
            t = result.totals
            survey = Survey(scope=result.scope, suite=result.suite[:64],
                            architecture=result.architecture, policy_digest=result.policy_digest,
                            packages=t.packages, with_scripts=t.with_scripts, scripts=t.scripts,
                            translated=t.translated, by_recipe=t.by_recipe, flagged=t.flagged)
            survey.package_rows = [
                SurveyPackage(package=o.package, version=o.version,
                              architecture=o.architecture, scripts=len(o.scripts),
                              translated=o.count("translated"), by_recipe=o.count("recipe"),
                              flagged=o.count("flagged"))
                for o in result.outcomes]
            survey.lines = [
                SurveyLine(package=line.package, script=line.script, idiom=idiom,
                           line=stored_line(line))
                for idiom, line in flagged_lines(result.outcomes)]
            session.add(survey)
            session.flush()
            result.survey_id = survey.id
            return survey.id
    finally:
        engine.dispose()
