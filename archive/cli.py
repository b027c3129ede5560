"""Commands of the archive room: the upstream mirror and verified fetches."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from archive.settings import UpstreamSettings
from archive.storage import storage_errors
from archive.upstream.mirror import Upstream, resolve_entries
from archive.urls import display_url
from base.console import print_json
from base.context import AppContext, pass_app
from base.errors import ConfigError

mirror_option = click.option(
    "--mirror",
    "mirror_url",
    metavar="URL",
    help="Use this Debian mirror instead of the host's APT sources.",
)


def upstream_settings(app: AppContext, mirror_url: str | None) -> UpstreamSettings:
    settings = app.section(UpstreamSettings)
    if mirror_url:
        try:
            settings = UpstreamSettings.model_validate(
                settings.model_dump() | {"mirror": mirror_url}
            )
        except ValidationError as exc:
            reason = exc.errors()[0]["msg"].removeprefix("Value error, ")
            raise ConfigError("--mirror", f"{reason}, got {display_url(mirror_url)!r}") \
                from exc
    return settings


@click.group()
def mirror() -> None:
    """The upstream Debian mirror.

    \b
    Example:
      unessential mirror show --verify
    """


@mirror.command("show")
@mirror_option
@click.option("--verify", is_flag=True, help="Fetch and verify each suite's Release too.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def mirror_show(app: AppContext, mirror_url: str | None, verify: bool, as_json: bool) -> None:
    """Show the upstream: mirror URIs, suites, components and keyrings.

    Taken from the host's APT sources unless `upstream.mirror` or --mirror is set.

    \b
    Example:
      unessential mirror show --json
    """
    settings = upstream_settings(app, mirror_url)
    rows: list[dict[str, Any]] = []
    if verify:
        with storage_errors(app.data_dir), \
                Upstream(app.data_dir, settings, reporter=app.reporter()) as upstream:
            for suite in upstream.suites():
                rows.append(_row(suite.entry) | {
                    "date": suite.release.date.isoformat() if suite.release.date else None,
                    "valid_until": suite.release.valid_until.isoformat()
                    if suite.release.valid_until else None,
                    "signers": list(suite.signers),
                })
    else:
        rows = [_row(entry) for entry in resolve_entries(settings)]
    if as_json:
        print_json(rows)
        return
    for row in rows:
        click.echo(f"{row['uri']} {row['suite']} {' '.join(row['components'])}")
        click.echo(f"  signed-by: {row['signed_by']}")
        click.echo(f"  from: {row['origin']}")
        if verify:
            click.echo(f"  verified: Date {row['date']}, signed by {', '.join(row['signers'])}")


def _row(entry: object) -> dict[str, object]:
    from archive.upstream.aptsources import SourceEntry

    assert isinstance(entry, SourceEntry)
    return {
        "uri": display_url(entry.uri),  # a password in the mirror URL is never printed
        "suite": entry.suite,
        "components": list(entry.components),
        "signed_by": entry.signed_by.describe(),
        "origin": entry.origin,
    }


@click.command()
@click.argument("packages", nargs=-1, required=True, metavar="NAME[=VERSION]...")
@click.option("--binary", is_flag=True, help="Fetch binary packages (.deb) instead of sources.")
@click.option(
    "--dest",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Directory to put the verified files in.",
)
@click.option("--arch", help="Architecture of binary packages (default: the host's).")
@mirror_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def fetch(
    app: AppContext,
    packages: tuple[str, ...],
    binary: bool,
    dest: Path,
    arch: str | None,
    mirror_url: str | None,
    as_json: bool,
) -> None:
    """Fetch source or binary packages, each file verified against the signed Release.

    Nothing is written to DEST (or to the cache) unless every file verified.

    \b
    Example:
      unessential fetch hello --dest ./src
      unessential fetch --binary ca-certificates --dest ./debs
      unessential fetch hello=2.10-3 --dest ./src --json
    """
    settings = upstream_settings(app, mirror_url)
    reporter = app.reporter()
    results = []
    with storage_errors(app.data_dir), \
            Upstream(app.data_dir, settings, reporter=reporter) as upstream:
        for spec in packages:
            name, _, version = spec.partition("=")
            if binary:
                result = upstream.fetch_binary(name, version or None, dest, arch)
            else:
                result = upstream.fetch_source(name, version or None, dest)
            results.append(result)
    if as_json:
        print_json(
            [
                {
                    "package": r.package,
                    "version": r.version,
                    "kind": r.kind,
                    "suite": r.suite,
                    "files": [{"path": str(p), "sha256": r.sha256[p.name]} for p in r.files],
                }
                for r in results
            ]
        )
        return
    for r in results:
        click.echo(f"{r.package} {r.version} ({r.kind}, {r.suite}): verified")
        for path in r.files:
            click.echo(f"  {path}")
