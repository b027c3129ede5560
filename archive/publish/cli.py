"""Commands of publishing: publish, snapshot list / rollback, serve."""

from __future__ import annotations

import errno
import functools
import http
import http.server
import os
import socket
import sys
from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from archive.publish.snapshots import Snapshots
from archive.publish_settings import PublishSettings, PublishTarget, parse_duration
from archive.settings import UpstreamSettings
from archive.storage import storage_errors
from base.console import print_json
from base.context import AppContext, pass_app
from base.deb822 import format_stanza
from base.errors import ConfigError


def option_duration(text: str, option: str = "--valid-for") -> timedelta:
    """A duration option, read by the parser of `publish.valid_for` (one syntax)."""
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise ConfigError(option, f"{exc}, got {text!r}") from exc


def _settings(app: AppContext, suite: str | None = None) -> PublishTarget:
    """The publish section, data dir and catalog, with `--suite` validated as
    `publish.suite` is."""
    publish = app.section(PublishSettings)
    if suite is not None:
        try:
            publish = PublishSettings.model_validate(publish.model_dump() | {"suite": suite})
        except ValidationError as exc:
            reason = exc.errors()[0]["msg"].removeprefix("Value error, ")
            raise ConfigError("--suite", f"{reason}, got {suite!r}") from exc
    return PublishTarget(publish, app.data_dir, app.database_url,
                         app.section(UpstreamSettings))


def sources_stanza(root: Path, suite: str, keyring: Path, url: str | None = None) -> str:
    """The APT .sources stanza of the archive at `root` (or served at `url`)."""
    return format_stanza([("Types", "deb"), ("URIs", url or root.resolve().as_uri()),
                          ("Suites", suite), ("Components", "main"),
                          ("Signed-By", str(keyring))])


def _intake_first(app: AppContext, publish: PublishSettings, as_json: bool) -> list[Any]:
    """With uploads and an incoming directory: what arrived is taken in (and each
    refused upload said on stderr) before the catalog is published."""
    if not (publish.uploads and publish.incoming):
        return []
    from archive.intake_cli import run_intake, summary

    results = run_intake(app, publish, publish.incoming)
    for result in results:
        if result.status != "imported":
            click.echo(f"warning: upload {result.changes} refused: {result.detail}", err=True)
    if results and not as_json and not app.quiet:
        click.echo(f"intake: {summary(results)}", err=True)
    return results


@click.command("publish")
@click.option("--suite", help="Suite to publish (default: publish.suite).")
@click.option("--valid-for", help="Set Valid-Until this far ahead, e.g. 7d or 1d12h "
              "(units s, m, h, d, w; positive; default: publish.valid_for, else none).")
@click.option("--date", "date_text", help="The Release Date (RFC 2822; default: now). "
              "The same catalog and Date give byte-identical indices.")
@click.option("--sources", "sources_mode", type=click.Choice(["required", "available"]),
              help="required: fail when a published binary's source cannot be had; "
                   "available: leave it out of Sources, listed (default: publish.sources).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def publish_command(app: AppContext, suite: str | None, valid_for: str | None,
                    date_text: str | None, sources_mode: str | None, as_json: bool) -> None:
    """Publish the catalog's newest builds as a signed APT archive, atomically.

    Writes a new snapshot beside the served one and switches `dists/<suite>` to it
    with one rename; a failed publish leaves the previous archive served.

    \b
    Every published binary's source is listed in Sources: from this host's cache, else
    fetched from the upstream (verified); one that cannot be had fails the publish,
    unless `--sources available` (or publish.sources) leaves it out (listed in the
    output as missing, with the reason).

    \b
    Example:
      unessential publish --suite stable --valid-for 7d
      unessential publish --sources available --json
    """
    from archive.publish.publisher import archive_root, publish

    settings = _settings(app, suite)
    intake = _intake_first(app, settings.publish, as_json)
    if sources_mode is not None:
        settings = replace(settings, publish=settings.publish.model_copy(
            update={"sources": sources_mode}))
    duration = (option_duration(valid_for) if valid_for is not None
                else settings.publish.valid_for_delta)
    date = None
    if date_text:
        try:
            date = parsedate_to_datetime(date_text).astimezone(UTC)
        except (TypeError, ValueError) as exc:
            raise ConfigError("--date", f"not an RFC 2822 date: {date_text!r}") from exc
    result = publish(settings, date=date, valid_for=duration, reporter=app.reporter())
    root = archive_root(settings)
    keyring = root / "archive-keyring.asc"
    if as_json:
        print_json({"suite": result.suite, "snapshot": result.snapshot, "root": str(root),
                    "release_sha256": result.release_sha256,
                    "fingerprints": result.fingerprints, "packages": result.packages,
                    "sources": result.sources, "new_pool_files": result.new_pool_files,
                    "reused": result.reused, "keyring": str(keyring),
                    "missing_sources": result.missing_sources,
                    "intake": [asdict(r) for r in intake]})
        return
    click.echo(f"published {result.suite}: snapshot {result.snapshot}, {result.packages} "
               f"packages, {result.sources} sources, signed by "
               f"{', '.join(result.fingerprints)}")
    for missing in result.missing_sources:
        click.echo(f"source left out: {missing['source']} {missing['version']}: "
                   f"{missing['problem']}")
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
    """Read-only, confined to the archive root, never anything under `forbidden`.

    A path is served only if its real path (symbolic links resolved) lies in the root
    and not in a forbidden directory (the signing keys); anything else is a 404, a
    path that cannot name a file (a NUL byte, bad encoding) a 400.
    """

    def __init__(self, *args: Any, directory: str, forbidden: tuple[str, ...],
                 **kwargs: Any) -> None:
        self.real_root = os.path.realpath(directory)
        self.forbidden = forbidden
        super().__init__(*args, directory=directory, **kwargs)

    def send_head(self) -> Any:
        try:
            path = self.translate_path(self.path)
            if "\x00" in path:
                raise ValueError("NUL byte in the path")
            real = os.path.realpath(path)
            os.fsencode(real)
        except (ValueError, UnicodeError):
            self.send_error(http.HTTPStatus.BAD_REQUEST, "Bad path")
            return None
        if not _inside(real, self.real_root) or any(_inside(real, f) for f in self.forbidden):
            self.send_error(http.HTTPStatus.NOT_FOUND, "File not found")
            return None
        return super().send_head()

    def log_message(self, format: str, *args: object) -> None:
        message = (format % args).translate(self._control_char_table)  # type: ignore[attr-defined]
        click.echo(f"{self.address_string()} {message}", err=True)


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """One line per failed request (a client that went away, ...), no traceback."""
        exc = sys.exc_info()[1]
        click.echo(f"{client_address[0]} request failed: {type(exc).__name__}: {exc}",
                   err=True)


class _Server6(_Server):
    address_family = socket.AF_INET6


def _listen(bind: str, port: int, handler: Any) -> _Server:
    """A server on bind:port; ConfigError naming --bind or --port if it cannot listen."""
    if not 0 <= port <= 65535:
        raise ConfigError("--port", f"expected a port number from 0 to 65535, got {port}")
    if not bind or any(ord(c) < 33 or ord(c) == 127 for c in bind):
        raise ConfigError("--bind", f"expected an IP address or host name, got {bind!r}")
    server_class = _Server6 if ":" in bind else _Server
    try:
        return server_class((bind, port), handler)
    except socket.gaierror as exc:
        raise ConfigError("--bind", f"not an address of this host: {bind!r} "
                          f"({exc.strerror})") from exc
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError("--port", f"{bind} port {port} is already in use: stop what "
                              "listens there or choose another --port") from exc
        if exc.errno == errno.EACCES:
            raise ConfigError("--port", f"permission denied to listen on port {port} "
                              "(ports below 1024 need root)") from exc
        if exc.errno == errno.EADDRNOTAVAIL:
            raise ConfigError("--bind", f"{bind} is not an address of this host") from exc
        raise ConfigError("--bind", f"cannot listen on {bind} port {port}: "
                          f"{exc.strerror or exc}") from exc
    except (OverflowError, ValueError, UnicodeError) as exc:
        raise ConfigError("--bind", f"cannot listen on {bind!r} port {port}: {exc}") from exc


@click.command("serve")
@click.option("--port", type=int, default=8080, show_default=True,
              help="Port to listen on (0: any free port).")
@click.option("--bind", default="127.0.0.1", show_default=True, help="Address to listen on.")
@pass_app
def serve_command(app: AppContext, port: int, bind: str) -> None:
    """Serve the published archive over HTTP (read-only), for local use and tests.

    Only files under the archive root are served; never the data directory or the
    signing keys, whatever links the root holds.

    \b
    Example:
      unessential serve --port 8080
    """
    from archive.publish.publisher import archive_root

    root = archive_root(_settings(app))
    with storage_errors(root):
        root.mkdir(parents=True, exist_ok=True)
    forbidden = (os.path.realpath(app.data_dir / "keys"),)
    handler = functools.partial(_Handler, directory=str(root), forbidden=forbidden)
    server = _listen(bind, port, handler)
    host = f"[{bind}]" if ":" in bind else bind
    click.echo(f"serving {root} on http://{host}:{server.server_address[1]}/ (Ctrl-C stops)")
    suite = app.section(PublishSettings).suite
    click.echo(sources_stanza(root, suite, root / "archive-keyring.asc",
                              f"http://{host}:{server.server_address[1]}"))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
