"""`unessential survey`: how much of the upstream archive the rewrite engine covers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import click

from archive.cli import mirror_option, upstream_settings
from archive.storage import storage_errors
from archive.upstream.index import BinaryRecord
from archive.upstream.mirror import Upstream
from base.console import Advance, Reporter, print_json
from base.context import AppContext, pass_app
from recipes.policy import load_policy, policy_digest
from rewrite.relations import Universe
from rewrite.survey import (
    EXAMPLES,
    PRIORITIES,
    SurveyResult,
    choose,
    record_survey,
    scope_of,
    survey_debs,
)


def priority_classes(ctx: click.Context, param: click.Parameter, value: str | None) -> list[str]:
    if value is None:
        return []
    classes = [v.strip() for v in value.split(",") if v.strip()]
    unknown = [v for v in classes if v not in PRIORITIES]
    if unknown or not classes:
        raise click.BadParameter(f"{', '.join(unknown) or 'nothing'} (expected a comma-"
                                 f"separated list of {', '.join(PRIORITIES)})")
    return list(dict.fromkeys(classes))


@click.command("survey")
@click.argument("names", nargs=-1)
@click.option("--closure", "with_closure", is_flag=True,
              help="Survey the upstream dependency closure of the NAMES.")
@click.option("--priority", "priorities", metavar="CLASSES", callback=priority_classes,
              help="Survey every package of these Priority classes (comma-separated).")
@click.option("--suite", "whole_suite", is_flag=True,
              help="Survey every package of the upstream suites (downloads all of them).")
@click.option("--recipes", "recipes_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Directory of recipes (default: the packaged recipes/).")
@click.option("--policy", "policy_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Policy file (default: the packaged recipes/policy.toml).")
@mirror_option
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Processes analysing packages (default: the cores this process may use).")
@click.option("--examples", type=click.IntRange(min=1), default=EXAMPLES, show_default=True,
              help="Example packages shown per idiom.")
@click.option("--no-record", is_flag=True, help="Do not record the survey in the catalog.")
@click.option("--json", "as_json", is_flag=True, help="Print the survey as JSON.")
@pass_app
def survey_command(
    app: AppContext,
    names: tuple[str, ...],
    with_closure: bool,
    priorities: list[str],
    whole_suite: bool,
    recipes_dir: Path | None,
    policy_file: Path | None,
    mirror_url: str | None,
    jobs: int | None,
    examples: int,
    no_record: bool,
    as_json: bool,
) -> None:
    """Coverage of the rewrite engine over upstream packages.

    For the packages named (or their closure, a Priority class, or the whole suite),
    count the packages, those with maintainer scripts, the scripts, and of these the
    ones the engine translates, those a shipped recipe handles and those it flags.
    Refused lines are grouped by idiom (the construct and the command it names:
    "command touch", "sources /usr/share/foo", "function definition", ...), most
    frequent first, with example packages: the next vocabulary item or recipe to write
    is the top of the list. The translator stops at the first line it refuses; the
    survey skips each refused line in turn (as a recipe's ignore would) to find the
    lines after it. Packages come from the verified upstream (and its download cache);
    the survey is recorded in the catalog (for `unessential report`) unless --no-record.

    \b
    Example:
      unessential survey --closure python3 haproxy --json
      unessential survey --priority required,important,standard
      unessential survey tzdata adduser
      unessential survey --suite          # every package: downloads the whole archive
    """
    chosen_ways = sum((bool(names), bool(priorities), whole_suite))
    if chosen_ways != 1:
        raise click.UsageError("give package names, --priority CLASSES or --suite (one of them)")
    if with_closure and not names:
        raise click.UsageError("--closure needs package names")
    policy = load_policy(policy_file)
    settings = upstream_settings(app, mirror_url)
    reporter = app.reporter()
    scope = scope_of(names, with_closure, priorities)
    with storage_errors(app.data_dir), \
            Upstream(app.data_dir, settings, reporter=reporter) as upstream:
        pairs = upstream.packages()
        chosen = choose(pairs, names=names, with_closure=with_closure, priorities=priorities)
        universe = Universe.from_records([r for _, r in pairs],
                                         policy.implicit_essential.priorities)
        result = SurveyResult(
            scope=scope,
            suite=" ".join(dict.fromkeys(suite.entry.suite for suite, _ in chosen)),
            architecture=upstream.architectures[0], policy_digest=policy_digest(policy),
            examples=examples)
        reporter.log(f"survey of {scope}: {len(chosen)} packages")

        def debs() -> Iterator[tuple[Path, BinaryRecord | None]]:
            for suite, record in chosen:
                yield upstream.deb_path(suite, record), record

        with reporter.task("survey", total=len(chosen), unit="packages") as advance:
            result.outcomes = survey_debs(
                debs(), universe=universe, policy=policy, recipes_dir=recipes_dir,
                jobs=min(jobs or len(os.sched_getaffinity(0)), max(1, len(chosen))),
                advance=_logging(reporter, advance, len(chosen)))
    if not no_record:
        record_survey(app.database_url, result)
        reporter.log(f"recorded as survey {result.survey_id}")
    if as_json:
        print_json(result.as_dict())
    else:
        print_survey(result)


def _logging(reporter: Reporter, advance: Advance, total: int) -> Advance:
    """`advance`, and on a plain output a log line every twentieth of the packages."""
    done = 0
    every = max(1, total // 20)

    def step(n: int) -> None:
        nonlocal done
        advance(n)
        done += n
        if reporter.plain and (done % every == 0 or done == total):
            reporter.log(f"survey: {done}/{total} packages")

    return step


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:5.1f}%" if whole else "    -"


def print_survey(result: SurveyResult) -> None:
    t = result.totals
    recorded = f"survey {result.survey_id}: " if result.survey_id is not None else ""
    click.echo(f"{recorded}{result.scope} ({result.suite or 'no suite'}, "
               f"{result.architecture})")
    rows = [
        ("packages", t.packages, ""),
        ("  with maintainer scripts", t.with_scripts, ""),
        ("scripts", t.scripts, ""),
        ("  translated by the engine", t.translated, _share(t.translated, t.scripts)),
        ("  handled by a recipe", t.by_recipe, _share(t.by_recipe, t.scripts)),
        ("  flagged", t.flagged, _share(t.flagged, t.scripts)),
        ("    lines refused in them", t.flagged_lines, ""),
    ]
    if t.errors:
        rows.append(("packages that cannot be read", t.errors, ""))
    for label, value, share in rows:
        click.echo(f"{label:30} {value:>7}  {share}".rstrip())
    groups = result.idioms
    if not groups:
        return
    click.echo("\nrefused lines by idiom:")
    width = min(max(len(g.idiom) for g in groups), 60)
    click.echo(f"{'lines':>5} {'pkgs':>4}  {'idiom':{width}}  examples")
    for g in groups:
        more = f" (+{g.packages - len(g.examples)})" if g.packages > len(g.examples) else ""
        click.echo(f"{g.count:>5} {g.packages:>4}  {g.idiom:{width}}  "
                   f"{', '.join(g.examples)}{more}")
        click.echo(f"{'':>12}e.g. {g.example}")
