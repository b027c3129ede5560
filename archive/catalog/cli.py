"""Commands of the catalog: create, upgrade and inspect its schema."""

from __future__ import annotations

import click

from archive.catalog.db import current_revision, display_url, head_revision, upgrade
from base.console import print_json
from base.context import AppContext, pass_app


def _describe(revision: str | None, head: str) -> str:
    if revision is None:
        return f"empty (head is {head})"
    if revision == head:
        return f"revision {revision} (head)"
    return f"revision {revision} (head is {head})"


@click.group()
def catalog() -> None:
    """The SQL catalog of sources, builds, binaries and publications.

    Its URL is `database_url` (default: SQLite under `data_dir`).

    \b
    Example:
      unessential catalog upgrade
    """


@catalog.command("upgrade")
@click.option(
    "--revision", default="head", show_default=True, help="Alembic revision to migrate to."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def catalog_upgrade(app: AppContext, revision: str, as_json: bool) -> None:
    """Create or migrate the catalog's tables; safe to repeat.

    \b
    Example:
      unessential catalog upgrade
      UNESSENTIAL_DATABASE_URL=postgresql+psycopg://archive@db/unessential \\
        unessential catalog upgrade --json
    """
    url = app.database_url
    before = current_revision(url)
    after = upgrade(url, revision)
    head = head_revision()
    shown = display_url(url)
    if as_json:
        print_json(
            {
                "url": shown,
                "previous": before,
                "revision": after,
                "head": head,
                "at_head": after == head,
            }
        )
        return
    was = "" if before == after else f", was {before or 'empty'}"
    click.echo(f"catalog at {shown}: {_describe(after, head)}{was}")


@catalog.command("current")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def catalog_current(app: AppContext, as_json: bool) -> None:
    """Show the catalog's revision and whether it is the newest one.

    A SQLite catalog that does not exist yet is reported as empty, not created.

    \b
    Example:
      unessential catalog current --json
    """
    url = app.database_url
    revision = current_revision(url)
    head = head_revision()
    shown = display_url(url)
    if as_json:
        print_json({"url": shown, "revision": revision, "head": head, "at_head": revision == head})
        return
    click.echo(f"catalog at {shown}: {_describe(revision, head)}")
