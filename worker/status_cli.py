"""Commands that read the catalog's builds: status, logs. Light on imports (no Celery,
no rewrite engine) so that they answer fast."""

from __future__ import annotations

from typing import Any

import click

from archive.catalog.db import make_engine, session_factory, upgrade
from archive.catalog.models import Build
from base.console import print_json
from base.context import AppContext, pass_app
from base.errors import NotFoundError
from worker.record import latest_builds


def flagged_of(build: Build | None) -> list[dict[str, str]]:
    """The binaries of a build not produced (a flagged maintainer script), by name."""
    return [{"package": f.name, "version": f.version, "architecture": f.architecture,
             "problem": f.problem}
            for f in sorted(build.flagged if build else [], key=lambda f: f.name)]



@click.command("status")
@click.argument("sources", nargs=-1)
@click.option("--campaign", help="Every build of this campaign.")
@click.option("--outdated", is_flag=True,
              help="Compare our newest done builds with the upstream's Sources (every "
                   "configured suite) and list the sources the upstream moved past.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def status_command(app: AppContext, sources: tuple[str, ...], campaign: str | None,
                   outdated: bool, as_json: bool) -> None:
    """Show the newest build of each source: queued / building / done / failed.

    With --outdated: the sources whose upstream version is higher than the one our
    newest build was made from (a security update, a new revision, a binNMU'd source),
    ours against the upstream's and its suite; `rebuild --outdated` rebuilds them.

    \b
    Example:
      unessential status
      unessential status hello --json
      unessential status --outdated --json
    """
    if outdated:
        if campaign:
            raise click.UsageError("--outdated and --campaign cannot be combined")
        from worker.farm_cli import _status_outdated

        _status_outdated(app, list(sources), as_json)
        return
    engine = make_engine(app.database_url)
    upgrade(app.database_url)
    try:
        with session_factory(engine).begin() as session:
            builds = latest_builds(session, list(sources) or None, campaign)
            rows: list[dict[str, Any]] = [{
                "build_id": b.id, "source": b.source_package.name,
                "version": b.source_package.version, "origin": b.origin, "status": b.status,
                "worker": b.worker, "campaign": b.campaign,
                "started_at": b.started_at.isoformat() if b.started_at else None,
                "finished_at": b.finished_at.isoformat() if b.finished_at else None,
                "binaries": len(b.binaries), "error": b.error,
                "flagged": flagged_of(b),
            } for b in builds]
    finally:
        engine.dispose()
    if as_json:
        print_json(rows)
        return
    if not rows:
        click.echo("no builds")
        return
    click.echo(f"{'build':>6}  {'source':24} {'version':20} {'origin':12} {'status':9} binaries")
    for row in rows:
        click.echo(f"{row['build_id']:>6}  {row['source']:24} {row['version']:20} "
                   f"{row['origin']:12} {row['status']:9} {row['binaries']}"
                   + (f"  {row['error']}" if row["error"] else ""))
        for flagged in row["flagged"]:
            click.echo(f"{'':8}not produced: {flagged['package']} (flagged: "
                       f"{flagged['problem']})")


@click.command("logs")
@click.argument("source")
@click.option("--build", "build_id", type=int, help="A given build (default: the newest).")
@click.option("--tail", type=int, help="Only the last N lines.")
@pass_app
def logs_command(app: AppContext, source: str, build_id: int | None, tail: int | None) -> None:
    """Print the build log of the last attempt of SOURCE.

    \b
    Example:
      unessential logs hello --tail 50
    """
    engine = make_engine(app.database_url)
    try:
        with session_factory(engine).begin() as session:
            if build_id is not None:
                build = session.get(Build, build_id)
                builds = [build] if build and build.source_package.name == source else []
            else:
                builds = latest_builds(session, [source])
            if not builds:
                raise NotFoundError(source, "no build of that source in the catalog")
            text = builds[-1].log or f"(no log yet: build {builds[-1].id} is "\
                f"{builds[-1].status})\n"
    finally:
        engine.dispose()
    lines = text.splitlines()
    click.echo("\n".join(lines[-tail:] if tail else lines))
