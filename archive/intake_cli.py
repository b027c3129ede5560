"""`unessential intake`: take in the uploads of workers (the publisher's side)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import click

from base.console import print_json
from base.context import AppContext, pass_app
from base.errors import ConfigError

if TYPE_CHECKING:
    from archive.intake import IntakeResult
    from archive.publish_settings import PublishSettings


def run_intake(app: AppContext, publish: PublishSettings, incoming: Path,
               keyrings: tuple[Path, ...] = (),
               worker_keys: Path | None = None) -> list[IntakeResult]:
    """Check the keyrings and directories named, then take in what arrived."""
    from archive.artifacts import ArtifactStore
    from archive.catalog.db import upgrade
    from archive.intake import Acceptance, process_incoming
    from archive.publish_settings import parse_duration

    worker_keys = worker_keys or publish.worker_keys
    for keyring in keyrings:
        if not keyring.is_file():
            raise ConfigError(str(keyring), "no such keyring file")
    if worker_keys is not None and not worker_keys.is_dir():
        raise ConfigError(str(worker_keys), "no such directory of worker keys")
    if not keyrings and worker_keys is None:
        raise ConfigError("intake", "no accepted worker keys: give --keyring or "
                                    "--worker-keys (or set publish.worker_keys)")
    if not incoming.is_dir():
        raise ConfigError(str(incoming), "no such incoming directory")
    upgrade(app.database_url)
    return process_incoming(
        incoming, publish.quarantine or app.data_dir / "quarantine",
        Acceptance(keyrings=keyrings, worker_keys=worker_keys), app.database_url,
        ArtifactStore(app.data_dir / "artifacts"),
        incomplete_after=parse_duration(publish.incomplete_after).total_seconds())


def summary(results: list[IntakeResult]) -> str:
    return (f"{sum(r.status == 'imported' for r in results)} imported, "
            f"{sum(r.status == 'rejected' for r in results)} rejected")


@click.command("intake")
@click.argument("incoming", required=False, type=click.Path(path_type=Path, file_okay=False))
@click.option("--keyring", "keyrings", multiple=True,
              type=click.Path(path_type=Path, dir_okay=False),
              help="Keyring of worker keys accepted from any worker account (repeatable).")
@click.option("--worker-keys", type=click.Path(path_type=Path, file_okay=False),
              help="Directory of <account>.asc: an upload under INCOMING/<account>/ must be "
                   "signed by a key of that file (default: publish.worker_keys).")
@click.option("--quarantine", type=click.Path(path_type=Path, file_okay=False),
              help="Where refused uploads go (default: publish.quarantine, else "
                   "<data_dir>/quarantine).")
@click.option("--json", "as_json", is_flag=True, help="Print one result per upload as JSON.")
@pass_app
def intake_command(app: AppContext, incoming: Path | None, keyrings: tuple[Path, ...],
                   worker_keys: Path | None, quarantine: Path | None, as_json: bool) -> None:
    """Take in the complete uploads under INCOMING (default: publish.incoming;
    `<account>/<build>/*.changes`, as workers PUT them): each is verified (signed by a key
    accepted for that worker account, every file's size and SHA256), checked against the
    catalog's build (identity, files, not imported before), and its files enter the
    artifact store; a refused one is moved to the quarantine (publish.quarantine), as is
    an upload whose .changes never came (publish.incomplete_after). Every upload is a
    catalog row, imported or rejected with its reason. `publish` runs this first when
    publish.uploads and publish.incoming are set.

    \b
    Example:
      unessential intake /srv/incoming --worker-keys /etc/unessential/workers
      unessential intake --json
    """
    from archive.publish_settings import PublishSettings

    publish = app.section(PublishSettings)
    if quarantine is not None:
        publish = publish.model_copy(update={"quarantine": quarantine})
    incoming = incoming or publish.incoming
    if incoming is None:
        raise ConfigError("intake", "no incoming directory: give INCOMING or set "
                                    "publish.incoming")
    results = run_intake(app, publish, incoming, keyrings, worker_keys)
    if as_json:
        print_json([asdict(r) for r in results])
        return
    for result in results:
        why = f" ({result.detail})" if result.detail else ""
        click.echo(f"{result.changes}: {result.status}{why}")
    click.echo(summary(results))
