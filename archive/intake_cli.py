"""`unessential intake`: take in the uploads of workers (the publisher's side)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import click

from base.console import print_json
from base.context import AppContext, pass_app
from base.errors import ConfigError


@click.command("intake")
@click.argument("incoming", type=click.Path(path_type=Path, file_okay=False))
@click.option("--keyring", "keyrings", multiple=True, required=True,
              type=click.Path(path_type=Path, dir_okay=False),
              help="Keyring of the worker keys whose uploads are accepted (repeatable).")
@click.option("--quarantine", type=click.Path(path_type=Path, file_okay=False),
              help="Where refused uploads go (default: <data_dir>/quarantine).")
@click.option("--json", "as_json", is_flag=True, help="Print one result per upload as JSON.")
@pass_app
def intake_command(app: AppContext, incoming: Path, keyrings: tuple[Path, ...],
                   quarantine: Path | None, as_json: bool) -> None:
    """Take in the complete uploads under INCOMING (`<worker>/<build>/*.changes`, as
    workers PUT them): each is verified (signed by a key of --keyring, every file's size
    and SHA256), checked against the catalog's build (identity, files, not imported
    before), and its files enter the artifact store; a refused one is moved to the
    quarantine. Every upload is a catalog row, imported or rejected with its reason.

    \b
    Example:
      unessential intake /srv/incoming --keyring /etc/unessential/workers.gpg
    """
    from archive.artifacts import ArtifactStore
    from archive.catalog.db import upgrade
    from archive.intake import process_incoming

    for keyring in keyrings:
        if not keyring.is_file():
            raise ConfigError(str(keyring), "no such keyring file")
    if not incoming.is_dir():
        raise ConfigError(str(incoming), "no such incoming directory")
    upgrade(app.database_url)
    results = process_incoming(incoming, quarantine or app.data_dir / "quarantine",
                               list(keyrings), app.database_url,
                               ArtifactStore(app.data_dir / "artifacts"))
    if as_json:
        print_json([asdict(r) for r in results])
        return
    for result in results:
        why = f" ({result.detail})" if result.detail else ""
        click.echo(f"{result.changes}: {result.status}{why}")
    click.echo(f"{sum(r.status == 'imported' for r in results)} imported, "
               f"{sum(r.status == 'rejected' for r in results)} rejected")
