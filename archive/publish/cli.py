"""Commands of publishing: publish, snapshot list / rollback, serve."""

from __future__ import annotations

import functools
import http.server
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

import click

from archive.publish.snapshots import Snapshots
from unessential.config import Settings
from unessential.console import print_json
from unessential.context import AppContext, pass_app
from unessential.errors import ConfigError


def parse_duration(text: str, what: str = "--valid-for") -> timedelta:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
    try:
        value, unit = int(text[:-1]), text[-1]
        return timedelta(seconds=value * units[unit])
    except (ValueError, KeyError, IndexError) as exc:
        raise ConfigError(what, f"expected a duration like 7d, 12h or 30m, got {text!r}") \
            from exc


def _settings(app: AppContext, suite: str | None) -> Settings:
    settings = app.settings
    if suite:
        settings = settings.model_copy(
            update={"publish": settings.publish.model_copy(update={"suite": suite})})
    return settings


def sources_stanza(root: Path, suite: str, keyring: Path, url: str | None = None) -> str:
    return (f"Types: deb\nURIs: {url or root.resolve().as_uri()}\nSuites: {suite}\n"
            f"Components: main\nSigned-By: {keyring}\n")


@click.command("publish")
@click.option("--suite", help="Suite to publish (default: publish.suite).")
@click.option("--valid-for", help="Set Valid-Until this far ahead, e.g. 7d (default: "
              "publish.valid_for, else none).")
@click.option("--date", "date_text", help="The Release Date (RFC 2822; default: now). "
              "The same catalog and Date give byte-identical indices.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def publish_command(app: AppContext, suite: str | None, valid_for: str | None,
                    date_text: str | None, as_json: bool) -> None:
    """Publish the catalog's newest builds as a signed APT archive, atomically.

    Writes a new snapshot beside the served one and switches `dists/<suite>` to it
    with one rename; a failed publish leaves the previous archive served.

    \b
    Example:
      unessential publish --suite stable --valid-for 7d
    """
    from archive.publish.publisher import archive_root, publish

    settings = _settings(app, suite)
    duration = valid_for or settings.publish.valid_for
    date = None
    if date_text:
        try:
            date = parsedate_to_datetime(date_text).astimezone(UTC)
        except (TypeError, ValueError) as exc:
            raise ConfigError("--date", f"not an RFC 2822 date: {date_text!r}") from exc
    result = publish(settings, date=date,
                     valid_for=parse_duration(duration) if duration else None,
                     reporter=app.reporter())
    root = archive_root(settings)
    keyring = root / "archive-keyring.asc"
    if as_json:
        print_json({"suite": result.suite, "snapshot": result.snapshot, "root": str(root),
                    "release_sha256": result.release_sha256,
                    "fingerprints": result.fingerprints, "packages": result.packages,
                    "sources": result.sources, "new_pool_files": result.new_pool_files,
                    "reused": result.reused, "keyring": str(keyring)})
        return
    click.echo(f"published {result.suite}: snapshot {result.snapshot}, {result.packages} "
               f"packages, {result.sources} sources, signed by "
               f"{', '.join(result.fingerprints)}")
    click.echo("\nTo use it, save the key and this sources stanza (e.g. "
               "/etc/apt/sources.list.d/unessential.sources):\n")
    click.echo(sources_stanza(root, result.suite, keyring))


@click.group("snapshot")
def snapshot_group() -> None:
    """Snapshots of published suites.

    \b
    Example:
      unessential snapshot list --json
    """


@snapshot_group.command("list")
@click.option("--suite", help="Suite (default: publish.suite).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def snapshot_list(app: AppContext, suite: str | None, as_json: bool) -> None:
    """List the snapshots of a suite; the served one is marked.

    \b
    Example:
      unessential snapshot list --suite stable
    """
    from archive.publish.publisher import archive_root

    settings = _settings(app, suite)
    snapshots = Snapshots(archive_root(settings), settings.publish.suite)
    rows = snapshots.info()
    if as_json:
        print_json([{"id": r.id, "date": r.date, "valid_until": r.valid_until,
                     "current": r.current} for r in rows])
        return
    for row in rows:
        click.echo(f"{'*' if row.current else ' '} {row.id}  {row.date}"
                   + (f"  valid until {row.valid_until}" if row.valid_until else ""))


@snapshot_group.command("rollback")
@click.argument("suite", required=False)
@click.option("--to", "target", help="Snapshot id (default: the one before the served one).")
@pass_app
def snapshot_rollback(app: AppContext, suite: str | None, target: str | None) -> None:
    """Serve an earlier snapshot again (its Release is restored byte for byte).

    \b
    Example:
      unessential snapshot rollback stable
    """
    from archive.publish.publisher import archive_root

    settings = _settings(app, suite)
    snapshots = Snapshots(archive_root(settings), settings.publish.suite)
    chosen = snapshots.rollback(target)
    info = next(i for i in snapshots.info() if i.id == chosen)
    click.echo(f"{settings.publish.suite} now serves snapshot {chosen} ({info.date})")
    if info.valid_until:
        try:
            if parsedate_to_datetime(info.valid_until) < datetime.now(UTC):
                click.echo(f"warning: its Valid-Until {info.valid_until} is past: apt will "
                           "refuse it; publish again to re-sign", err=True)
        except (TypeError, ValueError):
            pass


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        click.echo(f"{self.address_string()} {format % args}", err=True)


@click.command("serve")
@click.option("--port", type=int, default=8080, show_default=True)
@click.option("--bind", default="127.0.0.1", show_default=True, help="Address to listen on.")
@pass_app
def serve_command(app: AppContext, port: int, bind: str) -> None:
    """Serve the published archive over HTTP (read-only), for local use and tests.

    \b
    Example:
      unessential serve --port 8080
    """
    from archive.publish.publisher import archive_root

    root = archive_root(app.settings)
    root.mkdir(parents=True, exist_ok=True)
    handler = functools.partial(_Handler, directory=str(root))
    server = http.server.ThreadingHTTPServer((bind, port), handler)
    click.echo(f"serving {root} on http://{bind}:{server.server_address[1]}/ (Ctrl-C stops)")
    click.echo(sources_stanza(root, app.settings.publish.suite, root / "archive-keyring.asc",
                              f"http://{bind}:{server.server_address[1]}"))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
