"""Write the static HTML report: index.html, packages/<name>.html, images/<id>.html.

The pages need no server, no JavaScript and nothing from the network: one stylesheet
beside them, charts and graphs as inline SVG, and a Content-Security-Policy that lets a
browser load nothing but files of the report. Output is deterministic (sorted, no
clock) and appears whole: it is written to a directory beside `out_dir` and switched in
by rename.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from audit.report.charts import BarChart, bar_chart
from audit.report.data import BinaryRow, ImageRow, ReportData, Summary, load_report
from audit.report.graph import layout
from audit.report.output import replace_dir, staging_dir
from audit.report.survey import SURVEY_PAGE, SurveyPage, load_surveys, percent, survey_charts
from base import __version__

DEFAULT_TITLE = "unessential report"
STYLESHEET = "style.css"


@dataclass(frozen=True)
class ReportResult:
    out_dir: Path
    index: Path
    packages: int  # package pages written
    images: int  # image pages written
    survey: bool = False  # the survey page was written (a survey is recorded)


def environment() -> Environment:
    env = Environment(loader=PackageLoader("audit.report", "templates"), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                      keep_trailing_newline=True)
    env.filters.update(num=number, kib=kib, ratio=ratio, slug=slug, percent=percent)
    env.globals.update(package_href=package_href, image_href=image_href, version=__version__,
                       has_survey=False)
    return env


def number(value: int | None) -> str:
    return "n/a" if value is None else f"{value:,}"


def kib(value: int | None) -> str:
    """'12,345 KiB (12.1 MiB)'; the exact KiB first."""
    if value is None:
        return "n/a"
    text = f"{value:,} KiB"
    return f"{text} ({value / 1024:.1f} MiB)" if value >= 1024 else text


def ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "other"


def package_href(name: str) -> str:
    """Relative to the report root."""
    return f"packages/{quote(name, safe='')}.html"


def image_href(image_id: int) -> str:
    return f"images/{image_id}.html"


def summary_charts(summary: Summary) -> list[BarChart]:
    reasons = [(reason, count, number(count), f"reason-{slug(reason)}")
               for reason, count in sorted(summary.dropped_by_reason.items(),
                                           key=lambda item: (-item[1], item[0]))]
    if summary.added:
        reasons.append(("added (recipe)", summary.added, number(summary.added), "added"))
    return [
        bar_chart("Relations dropped, by reason (and added)", reasons),
        bar_chart("Maintainer scripts", [
            ("translated", summary.scripts_translated, number(summary.scripts_translated),
             "translated"),
            ("kept as shipped", summary.scripts_kept, number(summary.scripts_kept), "kept")]),
        bar_chart(f"Installed size of {summary.sized_binaries} rebuilt binaries", [
            ("upstream", summary.installed_before, kib(summary.installed_before), "upstream"),
            ("rebuilt", summary.installed_after, kib(summary.installed_after), "ours")]),
    ]


def image_chart(image: ImageRow) -> BarChart | None:
    if image.upstream_installed_size is None:
        return None
    return bar_chart("Installed size", [
        (f"upstream ({number(image.upstream_count)} pkgs)", image.upstream_installed_size,
         kib(image.upstream_installed_size), "upstream"),
        (f"ours ({len(image.packages)} pkgs)", image.installed_size, kib(image.installed_size),
         "ours")])


def control_diff(binary: BinaryRow) -> list[tuple[str, str]]:
    """The control file's unified diff as (css class, line); empty if unknown or unchanged."""
    if binary.original_control is None or binary.control is None:
        return []
    lines = difflib.unified_diff(binary.original_control.splitlines(),
                                 binary.control.splitlines(), "upstream", "rebuilt",
                                 lineterm="", n=1)
    kinds = {"+": "add", "-": "del", "@": "hunk"}
    return [(kinds.get(line[:1], "ctx") if not line.startswith(("+++", "---")) else "file",
             line) for line in lines]


def render_pages(data: ReportData, title: str,
                 survey: SurveyPage | None = None) -> Iterator[tuple[str, str]]:
    """(relative path, HTML) of every page, in a fixed order."""
    env = environment()
    env.globals["has_survey"] = survey is not None
    if survey is not None:
        yield SURVEY_PAGE, env.get_template("survey.html.j2").render(
            title=title, root="", survey=survey, charts=survey_charts(survey))
    yield "index.html", env.get_template("index.html.j2").render(
        title=title, root="", data=data, summary=data.summary,
        charts=summary_charts(data.summary))
    by_name: dict[str, list[BinaryRow]] = {}
    for binary in data.binaries:
        by_name.setdefault(binary.name, []).append(binary)
    page = env.get_template("package.html.j2")
    for name, binaries in sorted(by_name.items()):
        yield package_href(name), page.render(
            title=title, root="../", name=name, binaries=binaries,
            diffs=[control_diff(b) for b in binaries])
    page = env.get_template("image.html.j2")
    rebuilt = data.binary_names()
    for image in data.images:
        graph = layout({p.name: p.depends for p in image.packages},
                       {p.name: p.why for p in image.packages})
        yield image_href(image.id), page.render(
            title=title, root="../", image=image, graph=graph, chart=image_chart(image),
            rebuilt=rebuilt, packages={p.name: p for p in image.packages})


def write_report(source: Session | str | URL, out_dir: Path, *,
                 title: str = DEFAULT_TITLE) -> ReportResult:
    """Render the catalog (a session, or a database URL) as a static site in `out_dir`.

    `out_dir` must be absent, empty, or a report written before (it is replaced whole).
    """
    with _session(source) as session:
        data = load_report(session)
        survey = load_surveys(session)
    stylesheet = files("audit.report").joinpath("static", STYLESHEET).read_text("utf-8")
    with staging_dir(out_dir) as stage:
        (stage / STYLESHEET).write_text(stylesheet, encoding="utf-8")
        for relative, html in render_pages(data, title, survey):
            target = stage / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(html, encoding="utf-8")
        replace_dir(stage, out_dir)
    return ReportResult(out_dir, out_dir / "index.html",
                        len({b.name for b in data.binaries}), len(data.images),
                        survey is not None)


@contextmanager
def _session(source: Session | str | URL) -> Iterator[Session]:
    if isinstance(source, Session):
        yield source
        return
    from archive.catalog.db import catalog_errors, make_engine, session_factory

    engine = make_engine(source)
    try:
        with catalog_errors(engine.url), session_factory(engine)() as session:
            yield session
    finally:
        engine.dispose()
