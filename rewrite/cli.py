"""Commands of the rewrite room: the rewrite engine on .debs and surveys."""

from __future__ import annotations

import re
from pathlib import Path

import click

from archive.cli import mirror_option, upstream_settings
from archive.upstream.mirror import Upstream
from base.console import print_json
from base.context import AppContext, pass_app
from base.errors import RewriteError
from recipes.policy import Policy, load_policy
from recipes.recipe import load_recipe, recipe_digest
from rewrite.closure import closure
from rewrite.engine import (
    RewriteReport,
    analyse,
    printable,
    read_control,
    rewrite,
    source_date_epoch,
    source_of,
)
from rewrite.relations import Universe
from rewrite.versions import mark_versions


def _source_of(path: Path) -> str:
    """The source package of a .deb (its control file checked: FormatError otherwise)."""
    return source_of(read_control(path))


@click.command("rewrite")
@click.argument("debs", nargs=-1, type=click.Path(path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Directory for the rewritten .debs.")
@click.option("--closure", "closure_of", is_flag=True,
              help="Treat the arguments as package names: survey their upstream closure.")
@click.option("--report", is_flag=True, help="Survey only: print what each script becomes.")
@click.option("--recipes", "recipes_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Directory of recipes (default: the packaged recipes/).")
@click.option("--policy", "policy_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Policy file (default: the packaged recipes/policy.toml).")
@click.option("--mark", "mark", metavar="LETTERS+N",
              help="Give each rewritten binary our version, Debian's with this mark "
                   "appended (ue1: 1.0-1 -> 1.0-1ue1); relations between the .debs given "
                   "that pin each other's exact version follow.")
@mirror_option
@click.option("--json", "as_json", is_flag=True, help="Print the change reports as JSON.")
@pass_app
def rewrite_command(
    app: AppContext,
    debs: tuple[Path, ...],
    out_dir: Path | None,
    closure_of: bool,
    report: bool,
    recipes_dir: Path | None,
    policy_file: Path | None,
    mark: str | None,
    mirror_url: str | None,
    as_json: bool,
) -> None:
    """Rewrite binary packages: strip implicit relations, translate maintainer scripts.

    Which relations are implicit is computed from the upstream Packages index of the
    configured mirror (Essential/Priority), so the upstream must be reachable or cached.

    \b
    Example:
      unessential rewrite ./debs/ca-certificates_*.deb --out ./out
      unessential rewrite ./debs/python3*.deb --out ./out --mark ue1
      unessential rewrite --closure python3 openssl tzdata --report
    """
    if not debs:
        raise click.UsageError("give .deb files, or package names with --closure")
    if not closure_of and not report and out_dir is None:
        raise click.UsageError("--out DIR is required to write rewritten packages")
    parsed_mark = _parse_mark(mark) if mark is not None else None
    if parsed_mark is not None and (closure_of or report):
        raise click.UsageError("--mark applies to rewritten packages (--out), not to a survey")
    if out_dir is not None and not (closure_of or report):
        source_date_epoch()  # a bad SOURCE_DATE_EPOCH fails before any work
        for deb in debs:
            if deb.is_file() and out_dir.resolve() == deb.resolve().parent:
                raise RewriteError(printable(str(deb)), "--out is the directory of this "
                                   ".deb: the rewritten package would replace it (choose "
                                   "another directory)")
    policy = load_policy(policy_file)
    settings = upstream_settings(app, mirror_url)
    reporter = app.reporter()
    with Upstream(app.data_dir, settings, reporter=reporter) as upstream:
        records = [record for _, record in upstream.packages()]
        universe = Universe.from_records(records, policy.implicit_essential.priorities)
        if closure_of:
            wanted = closure(records, list(str(d) for d in debs))
            reporter.log(f"closure of {' '.join(str(d) for d in debs)}: {len(wanted)} packages")
            paths = []
            cache = app.data_dir / "debs"
            for record in wanted:
                result = upstream.fetch_binary(record.package, record.version, cache,
                                               record.architecture
                                               if record.architecture != "all" else None)
                paths.append(result.files[0])
        else:
            paths = list(debs)
    versions = None
    if parsed_mark is not None:
        for path in paths:
            if not path.is_file():
                raise RewriteError(printable(str(path)), "no such .deb file")
        versions = mark_versions(paths, *parsed_mark)
    reports = _run(paths, out_dir, universe, policy, recipes_dir, survey=report or closure_of,
                   versions=versions)
    if as_json:
        print_json([r.as_dict() for r in reports])
    elif report or closure_of:
        _print_table(reports)
    else:
        for r in reports:
            _print_one(r)


def _parse_mark(text: str) -> tuple[str, int]:
    match = re.fullmatch(r"([a-z]{1,16})([1-9][0-9]{0,8})", text)
    if match is None:
        raise click.BadParameter(f"{text!r}: expected lower-case letters and a counter, "
                                 "e.g. ue1 (see rewrite.versions)", param_hint="--mark")
    return match.group(1), int(match.group(2))


def _run(
    paths: list[Path],
    out_dir: Path | None,
    universe: Universe,
    policy: Policy,
    recipes_dir: Path | None,
    *,
    survey: bool,
    versions: dict[str, tuple[str, str]] | None = None,
) -> list[RewriteReport]:
    reports = []
    for path in paths:
        if not path.is_file():
            raise RewriteError(printable(str(path)), "no such .deb file")
        source = _source_of(path)
        recipe = load_recipe(source, recipes_dir)
        digest = recipe_digest(policy, recipe)
        if survey:
            _, _, result = analyse(path, universe=universe, policy=policy, recipe=recipe,
                                   recipe_digest=digest)
        else:
            assert out_dir is not None
            result = rewrite(path, out_dir, universe=universe, policy=policy, recipe=recipe,
                             recipe_digest=digest, versions=versions)
        reports.append(result)
    return reports


def _print_one(report: RewriteReport) -> None:
    click.echo(printable(f"{report.package} {report.version}: {report.output}"))
    for change in report.relations:
        click.echo(f"  {change.action} {change.field}: {change.relation}  [{change.reason}]")
    for script in report.scripts:
        names = ", ".join(a.name for a in script.actions) or "no actions"
        click.echo(f"  {script.script}: {script.status} ({names}; "
                   f"{len(script.dropped)} lines dropped with a reason)")
    _print_uses(report)


def _print_uses(report: RewriteReport) -> None:
    """The implicit run-time uses of the essential set found in the package's files."""
    for use in report.implicit_uses:
        state = f"declared ({use.provider})" if use.declared else \
            f"reported{f' (provider {use.provider})' if use.provider else ''}"
        click.echo(printable(f"  implicit use: {use.path} needs {use.needs} [{use.kind}: "
                             f"{use.evidence}] {state}"))
    for note in report.unscanned:
        click.echo(printable(f"  not scanned: {note}"))


def _print_table(reports: list[RewriteReport]) -> None:
    header = f"{'package':32} {'scripts':>7} {'translated':>10} {'kept':>4} {'flagged':>7}  " \
             f"{'dropped relations':>17}"
    click.echo(header)
    click.echo("-" * len(header))
    totals = [0, 0, 0, 0, 0]
    problems: list[str] = []
    for r in reports:
        counts = [
            len(r.scripts),
            sum(s.status == "translated" for s in r.scripts),
            sum(s.status == "kept" for s in r.scripts),
            len(r.flagged),
            sum(c.action == "dropped" for c in r.relations),
        ]
        totals = [a + b for a, b in zip(totals, counts, strict=True)]
        click.echo(f"{r.package:32} {counts[0]:>7} {counts[1]:>10} {counts[2]:>4} "
                   f"{counts[3]:>7}  {counts[4]:>17}")
        problems += [s.problem for s in r.flagged]
    click.echo("-" * len(header))
    click.echo(f"{'total (' + str(len(reports)) + ' packages)':32} {totals[0]:>7} "
               f"{totals[1]:>10} {totals[2]:>4} {totals[3]:>7}  {totals[4]:>17}")
    if problems:
        click.echo("\nflagged (each needs a recipe):")
        for problem in problems:
            click.echo(f"  {problem}")
    using = [r for r in reports if r.implicit_uses]
    if using:
        total = sum(len(r.implicit_uses) for r in using)
        click.echo(f"\nimplicit run-time uses of the essential set ({total} in "
                   f"{len(using)} packages):")
        for r in using:
            kinds: dict[str, int] = {}
            for use in r.implicit_uses:
                kinds[use.kind] = kinds.get(use.kind, 0) + 1
            needs = ", ".join(sorted({use.needs for use in r.implicit_uses}))
            shown = ", ".join(f"{kind} {count}" for kind, count in sorted(kinds.items()))
            click.echo(printable(f"  {r.package}: {shown}; needs {needs}"))
