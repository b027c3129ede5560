"""Commands of the audit: `audit` (queries and the CI policy gate) and `diff`."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from sqlalchemy.orm import Session

from archive.catalog.db import (
    catalog_errors,
    current_revision,
    head_revision,
    make_engine,
    session_factory,
    upgrade,
)
from archive.cli import mirror_option, upstream_settings
from audit import queries
from audit.diff import BinaryDiff, binary_diff, render_text
from audit.gate import (
    GATE_IMPLICIT_USE,
    GATES,
    GateResult,
    UsesResult,
    check_image,
    check_implicit_uses,
    image_architecture,
    installed_packages,
)
from audit.image import read_statuses
from audit.output import csv_text, table
from base.console import print_json
from base.context import AppContext, pass_app
from base.errors import NotFoundError, PolicyGateFailed
from recipes.policy import (
    REASON_IMPLICIT,
    REASON_IMPLICIT_USE,
    REASON_RECIPE,
    REASON_SCRIPT_ONLY,
    load_policy,
)

REASONS = (REASON_IMPLICIT, REASON_SCRIPT_ONLY, REASON_RECIPE, REASON_IMPLICIT_USE)
RELATION_COLUMNS = tuple(f.name for f in dataclasses.fields(queries.RelationRow))
PACKAGE_COLUMNS = ("binary", "version", "architecture", "kind", "name", "value", "action",
                   "reason", "detail")
GATE_COLUMNS = ("image", "package", "version", "architecture", "why")
USE_COLUMNS = ("image", "package", "version", "kind", "needs", "path")


@contextmanager
def catalog_session(app: AppContext) -> Iterator[Session]:
    """A read session on the configured catalog (migrated first if it is behind)."""
    url = app.database_url
    if current_revision(url) != head_revision():
        upgrade(url)
    engine = make_engine(url)
    try:
        with catalog_errors(engine.url), session_factory(engine)() as session:
            yield session
    finally:
        engine.dispose()


def emit(columns: Sequence[str], rows: Callable[[], Sequence[Sequence[Any]]],
         data: Callable[[], Any], *, as_json: bool, as_csv: bool, empty: str) -> None:
    """Print JSON (`data()`), CSV or an aligned table of `rows()` (`empty` if none)."""
    if as_json:
        print_json(data())
        return
    table_rows = rows()
    if as_csv:
        click.echo(csv_text(columns, table_rows), nl=False)
    elif table_rows:
        click.echo(table(columns, table_rows))
    else:
        click.echo(empty)


def _relation_tuple(row: queries.RelationRow) -> tuple[Any, ...]:
    return tuple(getattr(row, name) for name in RELATION_COLUMNS)


# -- audit ----------------------------------------------------------------------------


@click.command("audit")
@click.option("--dropped", "dropped_name", metavar="PACKAGE",
              help="Every binary that lost a relation on PACKAGE (any alternative), and why.")
@click.option("--package", "package_name", metavar="BINARY",
              help="What BINARY lost and gained, and what became of its maintainer scripts.")
@click.option("--reason", type=click.Choice(REASONS),
              help="Every relation change with this reason (alone, or to filter --dropped).")
@click.option("--summary", "show_summary", is_flag=True,
              help="Totals: binaries, relations by reason, scripts, sizes (the default).")
@click.option("--fail-on", "gate", type=click.Choice(GATES),
              help="Policy gate for CI: exit 18 if IMAGE holds an implicit-essential package "
              "(essential-in-image), or a file that runs a program the image lacks "
              "(implicit-use, as bootstrap recorded it).")
@click.argument("image", required=False, type=click.Path(path_type=Path))
@click.option("--all-builds", is_flag=True,
              help="Every done build, not only the newest done build of each source.")
@click.option("--no-upstream", is_flag=True,
              help="Gate: judge by the image's own dpkg status only (offline).")
@mirror_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV (with a header row).")
@pass_app
def audit_command(app: AppContext, dropped_name: str | None, package_name: str | None,
                  reason: str | None, show_summary: bool, gate: str | None,
                  image: Path | None, all_builds: bool, no_upstream: bool,
                  mirror_url: str | None, as_json: bool, as_csv: bool) -> None:
    """Audit what the rebuilds removed, and why; gate images in CI.

    Queries read the catalog (by default the current builds: the newest successful
    build of each source). `--fail-on essential-in-image IMAGE` reads the dpkg status
    of IMAGE (a root directory, a rootfs tar, an OCI layout tar or directory, a
    docker-archive tar), never unpacking it, and fails (exit code 18) if it holds a
    package of the implicit-essential class: Essential: yes, or Priority: required,
    in the upstream index or in the image's own status, unless the policy keeps it
    (libraries). One line per offending package, and why. `--fail-on implicit-use
    IMAGE` fails if bootstrap recorded, in the image's status, a file that runs a
    program of the essential set the image does not hold (one line per use).

    \b
    Example:
      unessential audit --dropped perl-base
      unessential audit --package ca-certificates
      unessential audit --reason script-only --json
      unessential audit --fail-on essential-in-image python.oci.tar
      unessential audit --fail-on implicit-use python.oci.tar
    """
    if as_json and as_csv:
        raise click.UsageError("give --json or --csv, not both")
    if gate is not None:
        if image is None:
            raise click.UsageError(f"--fail-on {gate} needs an IMAGE")
        if dropped_name or package_name or reason or show_summary or all_builds:
            raise click.UsageError("--fail-on takes only an IMAGE (and --no-upstream, --mirror)")
        if gate == GATE_IMPLICIT_USE:
            _uses_gate(image, as_json, as_csv)
        else:
            _gate(app, image, no_upstream, mirror_url, as_json, as_csv)
        return
    if image is not None:
        raise click.UsageError(f"IMAGE is only for --fail-on ({', '.join(GATES)})")
    chosen = sum(bool(x) for x in (dropped_name, package_name, show_summary)) + \
        bool(reason and not dropped_name)
    if chosen > 1:
        raise click.UsageError("choose one of --dropped, --package, --reason, --summary")
    for name in (dropped_name, package_name):
        if name is not None:
            _check_name(name)
    with catalog_session(app) as session:
        if dropped_name:
            rows = queries.dropped(session, dropped_name, all_builds=all_builds)
            rows = [r for r in rows if reason is None or r.reason == reason]
            _print_relations(rows, as_json, as_csv,
                             f"no binary lost a relation on {dropped_name}")
        elif reason:
            rows = queries.by_reason(session, reason, all_builds=all_builds)
            _print_relations(rows, as_json, as_csv, f"no relation change with reason {reason}")
        elif package_name:
            reports = queries.package(session, package_name, all_builds=all_builds)
            if not reports:
                raise NotFoundError(package_name, "no such binary in the catalog's "
                                    + ("builds" if all_builds else "current builds"))
            _print_package(reports, as_json, as_csv)
        else:
            _print_summary(queries.summary(session, all_builds=all_builds), as_json, as_csv)


def _check_name(name: str) -> None:
    try:
        queries.check_name(name)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


def _print_relations(rows: list[queries.RelationRow], as_json: bool, as_csv: bool,
                     empty: str) -> None:
    emit(RELATION_COLUMNS, lambda: [_relation_tuple(r) for r in rows],
         lambda: [dict(zip(RELATION_COLUMNS, _relation_tuple(r), strict=True)) for r in rows],
         as_json=as_json, as_csv=as_csv, empty=empty)


def package_data(report: queries.BinaryReport) -> dict[str, Any]:
    """A binary report as JSON: everything but the control and script texts."""
    data = dataclasses.asdict(report)
    for key in ("original_control", "control"):
        data.pop(key)
    data["relations"] = [dataclasses.asdict(r) for r in report.relations]
    data["scripts"] = [{"script": s.script, "status": s.status,
                        "original_sha256": s.original_sha256, "actions": list(s.action_names),
                        "shipped": s.rendered is not None} for s in report.scripts]
    return data


def package_rows(reports: list[queries.BinaryReport]) -> list[tuple[Any, ...]]:
    """One row per relation change and per script (PACKAGE_COLUMNS)."""
    rows: list[tuple[Any, ...]] = []
    for r in reports:
        ident = (r.binary, r.version, r.architecture)
        rows += [(*ident, "relation", c.field, c.relation, c.action, c.reason, c.detail)
                 for c in r.relations]
        rows += [(*ident, "script", s.script, s.status, "", "",
                  " ".join(s.action_names) or ("" if s.rendered is not None
                                               else "no script shipped"))
                 for s in r.scripts]
    return rows


def _print_package(reports: list[queries.BinaryReport], as_json: bool, as_csv: bool) -> None:
    if as_json or as_csv:
        emit(PACKAGE_COLUMNS, lambda: package_rows(reports),
             lambda: [package_data(r) for r in reports], as_json=as_json, as_csv=as_csv,
             empty="")
        return
    for number, r in enumerate(reports):
        if number:
            click.echo()
        sizes = ""
        if r.installed_size is not None and r.original_installed_size is not None:
            sizes = f", Installed-Size {r.original_installed_size} -> {r.installed_size} KiB"
        click.echo(f"{r.binary} {r.version} {r.architecture} (source {r.source} "
                   f"{r.source_version}, build {r.build_id}, {r.origin}{sizes})")
        if r.relations:
            click.echo(table(("field", "relation", "action", "reason", "detail"),
                             [(c.field, c.relation, c.action, c.reason, c.detail)
                              for c in r.relations]))
        else:
            click.echo("no relation changed")
        if r.scripts:
            click.echo(table(("script", "status", "actions", "shipped"),
                             [(s.script, s.status, " ".join(s.action_names) or "-",
                               "yes" if s.rendered is not None else "no")
                              for s in r.scripts]))
        else:
            click.echo("no maintainer script")


def summary_data(summary: queries.Summary) -> dict[str, Any]:
    data = dataclasses.asdict(summary)
    data["relations_dropped"] = summary.relations_dropped
    return data


def summary_rows(summary: queries.Summary) -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = [("sources", summary.sources),
                                   ("binaries", summary.binaries),
                                   ("failed builds", summary.failed_builds),
                                   ("relations dropped", summary.relations_dropped)]
    rows += [(f"  dropped: {reason}", n) for reason, n in summary.dropped.items()]
    rows += [(f"  added: {reason}", n) for reason, n in summary.added.items()]
    rows += [("scripts translated", summary.scripts_translated),
             ("scripts kept", summary.scripts_kept),
             ("installed size before (KiB)", summary.installed_size_before),
             ("installed size after (KiB)", summary.installed_size_after),
             ("binaries with both sizes", summary.sized_binaries)]
    return rows


def _print_summary(summary: queries.Summary, as_json: bool, as_csv: bool) -> None:
    rows = summary_rows(summary)
    if as_csv:
        rows = [(name.strip(), value) for name, value in rows]
    emit(("metric", "value"), lambda: rows, lambda: summary_data(summary), as_json=as_json,
         as_csv=as_csv, empty="")


# -- the gate -------------------------------------------------------------------------


def _gate(app: AppContext, image: Path, no_upstream: bool, mirror_url: str | None,
          as_json: bool, as_csv: bool) -> None:
    statuses = read_statuses(image)
    policy = load_policy()
    records = None
    if not no_upstream:
        packages = [p for s in statuses for p in installed_packages(s.text, s.label)]
        records = _upstream_records(app, mirror_url, image_architecture(packages))
    results = [check_image(status, policy, records) for status in statuses]
    offenders = [o for result in results for o in result.offenders]
    rows = [(o.image, o.name, o.version, o.architecture, o.why) for o in offenders]
    if as_json:
        print_json({"gate": "essential-in-image", "passed": not offenders,
                    "images": [_result_data(r) for r in results]})
    elif as_csv:
        click.echo(csv_text(GATE_COLUMNS, rows), nl=False)
    else:
        for offender in offenders:
            click.echo(offender.line())
        if not offenders:
            for result in results:
                click.echo(f"{result.image}: {result.packages} packages, none of the "
                           "implicit-essential class")
    if offenders:
        names = ", ".join(sorted({o.name for o in offenders}))
        raise PolicyGateFailed(str(image), f"{len(offenders)} package(s) of the "
                               f"implicit-essential class: {names}")


def _uses_gate(image: Path, as_json: bool, as_csv: bool) -> None:
    results = [check_implicit_uses(status) for status in read_statuses(image)]
    uses = [use for result in results for use in result.uses]
    if as_json:
        print_json({"gate": GATE_IMPLICIT_USE, "passed": not uses,
                    "images": [_uses_data(r) for r in results]})
    elif as_csv:
        click.echo(csv_text(USE_COLUMNS, [(u.image, u.package, u.version, u.kind, u.needs,
                                           u.path) for u in uses]), nl=False)
    else:
        for use in uses:
            click.echo(use.line())
        if not uses:
            for result in results:
                click.echo(f"{result.image}: {result.packages} packages, no unsatisfied "
                           "implicit use")
    if uses:
        needs = ", ".join(sorted({u.needs for u in uses}))
        raise PolicyGateFailed(str(image), f"{len(uses)} unsatisfied implicit use(s) of "
                               f"{needs}")


def _uses_data(result: UsesResult) -> dict[str, Any]:
    return {"image": result.image, "format": result.format, "packages": result.packages,
            "uses": [{"package": u.package, "version": u.version, "kind": u.kind,
                      "needs": u.needs, "path": u.path} for u in result.uses]}


def _result_data(result: GateResult) -> dict[str, Any]:
    return {"image": result.image, "format": result.format, "packages": result.packages,
            "upstream": result.upstream,
            "offenders": [{"package": o.name, "version": o.version,
                           "architecture": o.architecture, "mark": o.mark, "where": o.where,
                           "why": o.why} for o in result.offenders]}


def _upstream_records(app: AppContext, mirror_url: str | None, arch: str | None) -> list[Any]:
    from archive.upstream.mirror import Upstream

    settings = upstream_settings(app, mirror_url)
    with Upstream(app.data_dir, settings, reporter=app.reporter()) as upstream:
        records = [record for _, record in upstream.packages(arch)]
    if not records:
        raise NotFoundError(f"upstream Packages ({arch or 'default architecture'})",
                            "empty or missing: pass --no-upstream to judge by the image alone")
    return records


# -- diff -----------------------------------------------------------------------------


@click.command("diff")
@click.argument("name")
@click.option("--all-builds", is_flag=True,
              help="Every done build, not only the newest done build of each source.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def diff_command(app: AppContext, name: str, all_builds: bool, as_json: bool) -> None:
    """Show upstream against ours for a binary (or every binary of a source).

    From the catalog: control fields added, removed and changed; relations removed and
    added, OR-group by OR-group, with the reason recorded by the rewrite; each
    maintainer script as a unified diff of the original against the POSIX sh we ship,
    and the actions it became. NAME is a binary package, or else a source package.

    \b
    Example:
      unessential diff openssl
      unessential diff ca-certificates --json
    """
    _check_name(name)
    with catalog_session(app) as session:
        reports = queries.binaries_of(session, name, all_builds=all_builds)
    if not reports:
        raise NotFoundError(name, "no such binary or source in the catalog's "
                            + ("builds" if all_builds else "current builds"))
    diffs = [binary_diff(r) for r in reports]
    if as_json:
        print_json([diff_data(d) for d in diffs])
        return
    click.echo("\n\n".join(render_text(d) for d in diffs))


def diff_data(diff: BinaryDiff) -> dict[str, Any]:
    return dataclasses.asdict(diff)
