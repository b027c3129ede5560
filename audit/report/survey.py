"""The survey page of the report: the latest recorded survey (totals, flagged lines by
idiom with counts and example packages) and the coverage of every survey over time.

Two queries, whatever the catalog holds: the surveys (oldest first), then the flagged
lines of the latest one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.catalog.models import Survey, SurveyLine
from audit.report.charts import BAR_AREA, BarChart, bar_chart
from rewrite.survey import EXAMPLES, IdiomGroup, from_stored, group_lines

SURVEY_PAGE = "survey.html"
TOP_IDIOMS = 12  # bars in the idiom chart (the table lists them all)


@dataclass(frozen=True)
class SurveyRow:
    id: int
    created_at: datetime
    scope: str
    suite: str
    architecture: str
    policy_digest: str
    packages: int
    with_scripts: int
    scripts: int
    translated: int
    by_recipe: int
    flagged: int

    @property
    def coverage(self) -> float | None:
        """Share of the scripts translated or handled by a recipe."""
        return (self.translated + self.by_recipe) / self.scripts if self.scripts else None


@dataclass(frozen=True)
class SurveyPage:
    latest: SurveyRow
    idioms: tuple[IdiomGroup, ...]
    history: tuple[SurveyRow, ...]  # every survey, oldest first


def _row(survey: Survey) -> SurveyRow:
    return SurveyRow(survey.id, survey.created_at, survey.scope, survey.suite,
                     survey.architecture, survey.policy_digest, survey.packages,
                     survey.with_scripts, survey.scripts, survey.translated, survey.by_recipe,
                     survey.flagged)


def load_surveys(session: Session, examples: int = EXAMPLES) -> SurveyPage | None:
    """The page's data, or None when no survey was recorded."""
    history = tuple(_row(s) for s in session.scalars(
        select(Survey).order_by(Survey.created_at, Survey.id)))
    if not history:
        return None
    latest = history[-1]
    lines = session.execute(
        select(SurveyLine.idiom, SurveyLine.package, SurveyLine.script, SurveyLine.line)
        .where(SurveyLine.survey_id == latest.id))
    groups = group_lines(((idiom, from_stored(package, script, line))
                          for idiom, package, script, line in lines), examples)
    return SurveyPage(latest, tuple(groups), history)


def percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def survey_charts(page: SurveyPage) -> list[BarChart]:
    """The latest survey's scripts by class, its most frequent idioms, and the coverage
    of each survey over time."""
    t = page.latest
    scripts = bar_chart(f"Maintainer scripts of {t.packages:,} packages", [
        ("translated", t.translated, f"{t.translated:,}", "translated"),
        ("by a recipe", t.by_recipe, f"{t.by_recipe:,}", "recipe"),
        ("flagged", t.flagged, f"{t.flagged:,}", "flagged")])
    idioms = bar_chart("Refused lines, most frequent idioms", [
        (_short(g.idiom), g.count, f"{g.count:,}", "flagged") for g in page.idioms[:TOP_IDIOMS]])
    coverage = bar_chart("Coverage over time (translated + recipe, of all scripts)", [
        (f"#{row.id} {row.created_at:%Y-%m-%d}", round(1000 * (row.coverage or 0)),
         percent(row.coverage), "translated") for row in page.history])
    # on an absolute scale: a full bar is 100 %
    coverage = replace(coverage, bars=tuple(
        replace(bar, width=round(BAR_AREA * bar.value / 1000, 1)) for bar in coverage.bars))
    return [scripts, idioms, coverage] if page.idioms else [scripts, coverage]


def _short(label: str, width: int = 18) -> str:
    return label if len(label) <= width else label[:width - 1] + "…"
