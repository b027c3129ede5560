"""The one console script, `unessential`: gathers the commands of every room."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from archive.urls import mask_passwords
from base import __version__
from base.context import AppContext, pass_app
from base.errors import UnessentialError

if TYPE_CHECKING:
    from unessential.config import Settings

# The commands of every room, imported only when one is run (or its help shown), so that
# `--help`, `--version` and a light command start fast: name -> (module:attribute, the
# line `unessential --help` lists; tests/test_cli.py checks each one loads).
COMMANDS: dict[str, tuple[str, str]] = {
    "mirror": ("archive.cli:mirror", "The upstream Debian mirror."),
    "fetch": ("archive.cli:fetch", "Fetch source or binary packages, each file verified "
                                   "against the signed Release."),
    "catalog": ("archive.catalog.cli:catalog", "The SQL catalog of sources, builds, "
                                               "binaries and publications."),
    "publish": ("archive.publish.cli:publish_command",
                "Publish the catalog's newest builds as a signed APT archive, atomically."),
    "intake": ("archive.intake_cli:intake_command",
               "Take in the uploads of workers: verified, checked against the catalog."),
    "snapshot": ("archive.publish.cli:snapshot_group", "Snapshots of published suites."),
    "serve": ("archive.publish.cli:serve_command",
              "Serve the published archive over HTTP (read-only), for local use and tests."),
    "rewrite": ("rewrite.cli:rewrite_command", "Rewrite binary packages: strip implicit "
                                               "relations, translate maintainer scripts."),
    "survey": ("rewrite.survey_cli:survey_command",
               "Coverage of the rewrite engine over upstream packages."),
    "rebuild": ("worker.farm_cli:rebuild_command",
                "Queue a campaign: one build per source package (a Celery group)."),
    "worker": ("worker.farm_cli:worker_command", "Run a Celery worker that claims and runs "
                                                 "builds until stopped (SIGTERM/Ctrl-C)."),
    "upload-key": ("worker.upload_cli:upload_key_command",
                   "The key this worker signs its uploads with, for the publisher."),
    "status": ("worker.status_cli:status_command", "Show the newest build of each source: "
                                                 "queued / building / done / failed."),
    "logs": ("worker.status_cli:logs_command",
             "Print the build log of the last attempt of SOURCE."),
    "policy": ("recipes.cli:policy",
               "The rewrite policy: which relations are dropped, and why."),
    "key": ("archive.key_cli:key",
            "The archive's OpenPGP signing keys (under <data_dir>/keys, no passphrase)."),
    "bootstrap": ("bootstrap.cli:bootstrap_command", "Install PACKAGES and their dependency "
                                                     "closure (nothing else) into an image."),
    "audit": ("audit.cli:audit_command",
              "Audit what the rebuilds removed, and why; gate images in CI."),
    "scan": ("audit.scan_cli:scan_command",
             "What Syft, Grype and Trivy will see in IMAGE: distribution, packages, "
             "unowned files."),
    "diff": ("audit.cli:diff_command", "Show upstream against ours for a binary (or every "
                                       "binary of a source)."),
    "report": ("audit.report.cli:report_command", "Write a static HTML report of the "
                                                  "catalog: no server, nothing from the "
                                                  "network."),
    "verify": ("audit.verify_cli:verify_command",
               "Check that rewritten packages leave the system Debian's packages leave."),
}


def load_command(name: str) -> click.Command:
    target, summary = COMMANDS[name]
    module, attribute = target.split(":")
    command = getattr(importlib.import_module(module), attribute)
    if not isinstance(command, click.Command):
        raise TypeError(f"{target} is not a click command")
    command.short_help = command.short_help or summary
    return command


class Main(click.Group):
    """Turns an UnessentialError into one line on stderr and its exit code, and loads a
    command of COMMANDS only when it is used.

    A URL password that reached the message anyway is masked there.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except UnessentialError as exc:
            click.echo(f"unessential: {exc.kind} error: {mask_passwords(str(exc))}", err=True)
            sys.exit(exc.exit_code)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            self.add_command(load_command(cmd_name), cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The listing, from COMMANDS' lines: no room is imported to show it."""
        limit = formatter.width - 6 - max(len(name) for name in self.list_commands(ctx))
        rows = []
        for name in self.list_commands(ctx):
            if name in self.commands:
                rows.append((name, self.commands[name].get_short_help_str(limit)))
            else:
                listed = click.Command(name, help=COMMANDS[name][1])
                rows.append((name, listed.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


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
    from unessential.config import load_settings

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
    from base.console import print_json
    from unessential.config import load_settings

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


def main() -> None:
    cli(prog_name="unessential")


if __name__ == "__main__":
    main()
