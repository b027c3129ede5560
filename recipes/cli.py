"""Commands of the recipes room: the rewrite policy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from base.console import print_json
from recipes.policy import load_policy


@click.group()
def policy() -> None:
    """The rewrite policy: which relations are dropped, and why.

    \b
    Example:
      unessential policy show
    """


@policy.command("show")
@click.option(
    "--file",
    "path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Policy file to show (default: the packaged recipes/policy.toml).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def policy_show(path: Path | None, as_json: bool) -> None:
    """Show the classes of relations, their reason codes and rules, and the digest.

    Implicit-essential packages are computed from the upstream index when packages
    are rewritten, so they are described here, not listed.

    \b
    Example:
      unessential policy show --json
    """
    data = load_policy(path).describe()
    if as_json:
        print_json(data)
        return
    click.echo(f"policy digest: {data['digest']}")
    click.echo(f"rewritten fields: {', '.join(data['fields'])}")
    for entry in data["classes"]:
        click.echo("")
        _show_class(entry)


def _show_class(entry: dict[str, Any]) -> None:
    reason = f"reason code {entry['reason']}" if entry["reason"] else "no reason code"
    click.echo(f"{entry['class']} ({reason}; {entry['effect']})")
    click.echo(click.wrap_text(entry["description"], initial_indent="  ",
                               subsequent_indent="  ", width=88))
    if "criteria" in entry:
        criteria = entry["criteria"]
        click.echo(
            f"  criteria: {criteria['essential']} or Priority: "
            f"{', '.join(criteria['priorities'])}, from {criteria['source']}"
        )
    for package in entry.get("packages", []):
        if isinstance(package, dict):
            click.echo(f"  {package['name']}: {', '.join(package['provides'])}")
            click.echo(click.wrap_text(package["why"], initial_indent="      ",
                                       subsequent_indent="      ", width=88))
    if "sections" in entry:
        click.echo(f"  sections: {', '.join(entry['sections']) or '(none)'}")
        click.echo(f"  packages: {', '.join(entry['packages']) or '(none)'}")
