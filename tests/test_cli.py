"""The console script: help with examples, config show, mirror show, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from base.errors import EXIT_CODES
from tests.conftest import Workspace
from unessential.cli import cli

SCRIPT = Path(sys.executable).parent / "unessential"


def all_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    context = click.Context(group)
    for name in group.list_commands(context):  # the top group loads its commands lazily
        command = group.get_command(context, name)
        assert command is not None, name
        if isinstance(command, click.Group):
            found += all_commands(command, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found


@pytest.mark.parametrize("path", all_commands(cli), ids=lambda p: " ".join(p) or "main")
def test_every_command_has_help_with_an_example(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example:" in result.output
    assert "unessential" in result.output.split("Example:")[1]


def test_commands_load_only_when_used() -> None:
    """Each lazily listed command loads, under its name; `--help` and `--version` import
    no room (they answer in a few hundredths of a second, bench/bench_cli.py)."""
    from unessential.cli import COMMANDS, load_command

    for name in COMMANDS:
        assert load_command(name).name == name
    probe = ("import sys; from unessential.cli import cli\n"
             "for argv in (['--help'], ['--version']):\n"
             "    try: cli(argv)\n"
             "    except SystemExit: pass\n"
             "rooms = ('sqlalchemy', 'celery', 'pydantic', 'rich', 'gnupg', 'requests')\n"
             "print(sorted(m for m in sys.modules if m.split('.')[0] in rooms))")
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True)
    assert run.stdout.strip().endswith("[]"), run.stdout
    assert "upload-key" in run.stdout and "Take in the uploads of workers" in run.stdout


def test_console_script_is_installed() -> None:
    out = subprocess.run([str(SCRIPT), "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("unessential, version ")


def test_config_show_defaults_and_overrides(tmp_path: Path) -> None:
    env = {"UNESSENTIAL_DATA_DIR": str(tmp_path / "d"),
           "UNESSENTIAL_BROKER_URL": "redis://127.0.0.1:6379/0"}
    result = CliRunner(env=env).invoke(cli, ["config", "show", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["settings"]["data_dir"] == str(tmp_path / "d")
    assert data["settings"]["broker_url"] == "redis://127.0.0.1:6379/0"
    assert data["settings"]["effective_database_url"] == \
        f"sqlite:///{tmp_path / 'd' / 'catalog.sqlite'}"
    assert sorted(data["overrides"]) == ["UNESSENTIAL_BROKER_URL", "UNESSENTIAL_DATA_DIR"]
    text = CliRunner(env=env).invoke(cli, ["config", "show"]).output
    assert 'broker_url = "redis://127.0.0.1:6379/0"' in text and "[upstream]" in text


def test_config_show_masks_passwords(tmp_path: Path) -> None:
    env = {"UNESSENTIAL_DATA_DIR": str(tmp_path / "d"),
           "UNESSENTIAL_DATABASE_URL": "postgresql://farm:s3cret@127.0.0.1:5432/catalog",
           "UNESSENTIAL_BROKER_URL": "redis://:t0ken@127.0.0.1:6379/0"}
    for args in (["config", "show"], ["config", "show", "--json"]):
        result = CliRunner(env=env).invoke(cli, args)
        assert result.exit_code == 0, result.output
        assert "s3cret" not in result.output and "t0ken" not in result.output
        assert "postgresql://farm:***@127.0.0.1:5432/catalog" in result.output


def test_config_file_lookup_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "unessential.toml").write_text('data_dir = "/from/cwd"\n')
    named = tmp_path / "named.toml"
    named.write_text('data_dir = "/from/env"\n')
    show = ["config", "show", "--json"]
    assert json.loads(CliRunner().invoke(cli, show).output)["settings"]["data_dir"] == \
        "/from/cwd"
    monkeypatch.setenv("UNESSENTIAL_CONFIG", str(named))
    assert json.loads(CliRunner().invoke(cli, show).output)["settings"]["data_dir"] == \
        "/from/env"
    monkeypatch.setenv("UNESSENTIAL_DATA_DIR", "/from/override")
    assert json.loads(CliRunner().invoke(cli, show).output)["settings"]["data_dir"] == \
        "/from/override"


def test_bad_environment_override_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNESSENTIAL_DATABASE_URL", "not a url")
    result = CliRunner().invoke(cli, ["config", "show"])
    assert result.exit_code == EXIT_CODES["config"]
    line = result.output.strip().splitlines()[-1]
    assert "$UNESSENTIAL_DATABASE_URL" in line and "SQLAlchemy URL" in line
    monkeypatch.setenv("UNESSENTIAL_DATABASE_URL", "sqlite:////tmp/x.sqlite")
    monkeypatch.setenv("UNESSENTIAL_BROKER_URL", "localhost")
    result = CliRunner().invoke(cli, ["config", "show"])
    assert "$UNESSENTIAL_BROKER_URL" in result.output


def test_mirror_show_reads_apt_sources(tmp_path: Path) -> None:
    sources = tmp_path / "sources.list.d"
    sources.mkdir()
    (sources / "a.sources").write_text(
        "Types: deb\nURIs: http://127.0.0.1:9/debian\nSuites: stable stable-updates\n"
        "Components: main\nSigned-By: /usr/share/keyrings/k.gpg\n"
    )
    (sources / "b.list").write_text("deb http://127.0.0.1:9/extra sid main contrib\n")
    config = tmp_path / "c.toml"
    config.write_text(f'[upstream]\napt_sources = ["{sources}"]\n')
    result = CliRunner().invoke(cli, ["--config", str(config), "mirror", "show", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [(r["uri"], r["suite"]) for r in rows] == [
        ("http://127.0.0.1:9/debian", "stable"),
        ("http://127.0.0.1:9/debian", "stable-updates"),
        ("http://127.0.0.1:9/extra", "sid"),
    ]
    assert rows[0]["signed_by"] == "/usr/share/keyrings/k.gpg"
    assert rows[2]["components"] == ["main", "contrib"]
    override = CliRunner().invoke(
        cli, ["--config", str(config), "mirror", "show", "--mirror", "http://127.0.0.1:9/m",
              "--json"])
    rows = json.loads(override.output)
    assert {r["uri"] for r in rows} == {"http://127.0.0.1:9/m"}


def test_no_sources_at_all_is_a_config_error(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[upstream]\napt_sources = []\n")
    result = CliRunner().invoke(cli, ["--config", str(config), "mirror", "show"])
    assert result.exit_code == EXIT_CODES["config"]
    assert "--mirror" in result.output


def test_subprocess_exit_codes_and_plain_progress(workspace: Workspace) -> None:
    env = dict(os.environ)
    ok = subprocess.run(
        [str(SCRIPT), "--config", str(workspace.config), "fetch", "hello",
         "--dest", str(workspace.dest)],
        capture_output=True, text=True, env=env,
    )
    assert ok.returncode == 0, ok.stderr
    assert "hello 1.0-1 (source, fixture): verified" in ok.stdout
    assert "get hello_1.0.orig.tar.gz" in ok.stderr, "plain progress lines when not a tty"
    missing = subprocess.run(
        [str(SCRIPT), "--config", str(workspace.config), "fetch", "--binary", "nope",
         "--dest", str(workspace.dest)],
        capture_output=True, text=True, env=env,
    )
    assert missing.returncode == EXIT_CODES["not-found"]
    assert missing.stderr.strip().splitlines()[-1] == (
        "unessential: not-found error: nope: no binary package (amd64) of that name "
        "in the configured suites"
    )
