"""The one console script, `unessential`: gathers the commands of every room."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from archive.catalog.cli import catalog
from archive.cli import fetch, mirror
from archive.intake_cli import intake_command
from archive.key_cli import key as key_group
from archive.publish.cli import publish_command, serve_command, snapshot_group
from archive.urls import mask_passwords
from audit.cli import audit_command, diff_command
from audit.report.cli import report_command
from audit.scan_cli import scan_command
from audit.verify_cli import verify_command
from base import __version__
from base.console import print_json
from base.context import AppContext, pass_app
from base.errors import UnessentialError
from bootstrap.cli import bootstrap_command
from recipes.cli import policy
from rewrite.cli import rewrite_command
from rewrite.survey_cli import survey_command
from unessential.config import Settings, load_settings
from worker.farm_cli import logs_command, rebuild_command, status_command, worker_command
from worker.upload_cli import upload_key_command


class Main(click.Group):
    """Turns an UnessentialError into one line on stderr and its exit code.

    A URL password that reached the message anyway is masked there.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except UnessentialError as exc:
            click.echo(f"unessential: {exc.kind} error: {mask_passwords(str(exc))}", err=True)
            sys.exit(exc.exit_code)


@click.group(cls=Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="Configuration file (default: $UNESSENTIAL_CONFIG, ./unessential.toml, user config).",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress output.")
@click.version_option(__version__, prog_name="unessential")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, quiet: bool) -> None:
    """Debian without the essential set: rebuild, publish, bootstrap, audit.

    \b
    Example:
      unessential mirror show
      unessential fetch hello --dest ./src
    """
    ctx.obj = AppContext(config_path=config_path, quiet=quiet, loader=_load)


def _load(path: Path | None) -> Settings:
    return load_settings(path).settings


@cli.group()
def config() -> None:
    """Inspect the configuration.

    \b
    Example:
      unessential config show --json
    """


@config.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def config_show(app: AppContext, as_json: bool) -> None:
    """Print the effective configuration (file, then environment overrides).

    \b
    Example:
      UNESSENTIAL_DATA_DIR=/srv/unessential unessential config show
    """
    loaded = load_settings(app.config_path)
    data = loaded.settings.model_dump(mode="json")
    data["effective_database_url"] = loaded.settings.effective_database_url
    from archive.catalog.db import display_url  # passwords in URLs are never printed

    for key in ("database_url", "effective_database_url", "broker_url"):
        if data.get(key):
            data[key] = display_url(data[key])
    upstream = data.get("upstream") or {}
    if upstream.get("mirror"):
        upstream["mirror"] = mask_passwords(upstream["mirror"])
    if as_json:
        print_json(
            {"source": str(loaded.source) if loaded.source else None,
             "overrides": loaded.overrides, "settings": data}
        )
        return
    click.echo(f"# source: {loaded.source or '(defaults)'}")
    if loaded.overrides:
        click.echo(f"# overridden by: {', '.join(loaded.overrides)}")
    click.echo(_to_toml(data))


def _to_toml(data: dict[str, Any]) -> str:
    """Render the (flat, two-level) settings as TOML."""
    lines: list[str] = []
    tables: list[tuple[str, dict[str, Any]]] = []
    for key, value in data.items():
        if isinstance(value, dict):
            tables.append((key, value))
        elif value is not None:
            lines.append(f"{key} = {_toml_value(value)}")
        else:
            lines.append(f"# {key} = (unset)")
    for name, table in tables:
        lines.append(f"\n[{name}]")
        for key, value in table.items():
            if value is None:
                lines.append(f"# {key} = (unset)")
            else:
                lines.append(f"{key} = {_toml_value(value)}")
    return "\n".join(lines)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


cli.add_command(mirror)
cli.add_command(fetch)
cli.add_command(catalog)
cli.add_command(publish_command)
cli.add_command(intake_command)
cli.add_command(snapshot_group)
cli.add_command(serve_command)
cli.add_command(rewrite_command)
cli.add_command(survey_command)
cli.add_command(rebuild_command)
cli.add_command(worker_command)
cli.add_command(upload_key_command)
cli.add_command(status_command)
cli.add_command(logs_command)
cli.add_command(policy)
cli.add_command(key_group)
cli.add_command(bootstrap_command)
cli.add_command(audit_command)
cli.add_command(scan_command)
cli.add_command(diff_command)
cli.add_command(report_command)
cli.add_command(verify_command)


def main() -> None:
    cli(prog_name="unessential")


if __name__ == "__main__":
    main()
