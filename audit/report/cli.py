"""`unessential report`: the catalog as a static HTML site."""

from __future__ import annotations

from pathlib import Path

import click

from base.context import AppContext, pass_app


@click.command("report")
@click.option("--output", "-o", "output", required=True,
              type=click.Path(path_type=Path, file_okay=False),
              help="Directory to write (absent, empty, or an earlier report: replaced whole).")
@click.option("--title", default="unessential report", show_default=True,
              help="Title of the pages.")
@pass_app
def report_command(app: AppContext, output: Path, title: str) -> None:
    """Write a static HTML report of the catalog: no server, nothing from the network.

    The summary (packages rebuilt, relations dropped by reason, scripts translated or
    kept, installed size before and after), one page per rebuilt package (relations,
    scripts as shipped and as rewritten, control diff) and one per bootstrapped image
    (package list, why-chains, dependency graph, sizes against the upstream closure).

    \b
    Example:
      unessential report --output report/
      unessential report -o /srv/www/report --title "Example Distro, bookworm"
    """
    from archive.catalog.db import upgrade
    from audit.report.render import write_report

    url = app.database_url
    upgrade(url)
    result = write_report(url, output, title=title)
    app.reporter().log(f"report: {result.packages} package pages, {result.images} image "
                       f"pages in {result.out_dir}")
    click.echo(str(result.index))
