"""The `verify` command: Debian's package against our rewrite, system by system."""

from __future__ import annotations

import contextlib
import os
import queue
import tempfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import click

from archive.cli import mirror_option, upstream_settings
from archive.upstream.mirror import Upstream, host_architecture, resolve_entries
from base.console import print_json
from base.context import AppContext, pass_app
from base.errors import NotEquivalent
from recipes.expected import load_expected
from recipes.policy import load_policy
from rewrite.relations import Universe
from rewrite.survey import choose
from rewrite.survey_cli import priority_classes
from rewrite.verify.compare import Comparison
from rewrite.verify.harness import (
    SCENARIOS,
    Base,
    PackageResult,
    Rewriter,
    Subject,
    Verifier,
)
from rewrite.verify.systems import BaseSpec, MirrorEntry, ensure_base, ensure_unpacked

SHOWN = 25  # unexpected differences printed per comparison on the terminal


@click.command("verify")
@click.argument("packages", nargs=-1)
@click.option("--closure", "with_closure", is_flag=True,
              help="Verify every package of the upstream dependency closure of PACKAGES.")
@click.option("--priority", "priorities", metavar="CLASSES", callback=priority_classes,
              help="Verify every package of these Priority classes (comma-separated).")
@click.option("--no-native", is_flag=True,
              help="Skip system C (bootstrap's native install): compare A with B only.")
@click.option("--scenario", "scenarios", multiple=True, type=click.Choice(SCENARIOS),
              help="Scenarios to run (default: all). install is always run; a package "
              "the base has is verified by reinstall only.")
@click.option("--recipes", "recipes_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Directory of recipes (default: the packaged recipes/).")
@click.option("--policy", "policy_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Policy file (default: the packaged recipes/policy.toml).")
@click.option("--expected", "expected_file", type=click.Path(dir_okay=False, path_type=Path),
              help="List of expected differences (default: recipes/expected.toml).")
@click.option("--keep", is_flag=True, help="Keep the systems' trees (under the data dir).")
@click.option("-j", "--jobs", type=click.IntRange(min=1),
              help="Packages verified at once, each in its own systems (default: the cores "
              "this process may use).")
@mirror_option
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@pass_app
def verify_command(app: AppContext, packages: tuple[str, ...], with_closure: bool,
                   priorities: list[str], no_native: bool, scenarios: tuple[str, ...],
                   recipes_dir: Path | None,
                   policy_file: Path | None, expected_file: Path | None, keep: bool,
                   jobs: int | None, mirror_url: str | None, as_json: bool) -> None:
    """Check that rewritten packages leave the system Debian's packages leave.

    For each package three systems are built on one base (mmdebstrap minbase, cached
    under the data dir): A, Debian's package and what its closure adds, installed by
    dpkg (original maintainer scripts run); B, the same packages rewritten, installed
    by dpkg (rendered sh run); C, the rewritten packages installed as bootstrap does
    (actions applied, nothing executed). Files, accounts, alternatives, diversions,
    stat overrides and dpkg's status are compared after the install, and for B also
    after remove, purge and an upgrade from the mirror's previous version; a
    package the base already has (Priority required) is verified by a reinstall of
    the same version, for B. Each difference is unexpected, or explained by a
    reason of recipes/expected.toml (counted). A package the engine refuses to
    rewrite (see `unessential survey`) is listed as not rewritten: an error when
    named, counted only when it came with --closure or --priority. Exit status 20
    when any difference is unexpected. Needs root.

    \b
    Example:
      unessential verify tzdata ca-certificates openssh-client
      unessential verify --closure python3 --json
      unessential verify --priority required,important,standard
    """
    if bool(packages) == bool(priorities) or (priorities and with_closure):
        raise click.UsageError("give package names (with --closure or not) or "
                               "--priority CLASSES")
    expected = load_expected(expected_file)
    policy = load_policy(policy_file)
    settings = upstream_settings(app, mirror_url)
    reporter = app.reporter()
    chosen = tuple(scenarios) if scenarios else SCENARIOS
    results: list[PackageResult] = []
    in_base: list[str] = []
    from audit.verify import install_native, plan

    with Upstream(app.data_dir, settings, reporter=reporter) as upstream:
        entries = [e for e in resolve_entries(settings) if "deb" in e.types]
        keyrings = tuple(dict.fromkeys(k for e in entries for k in e.signed_by.keyrings))
        spec = BaseSpec(tuple(MirrorEntry(e.uri, e.suite, e.components) for e in entries),
                        (settings.architectures or [host_architecture()])[0], keyrings)
        tarball = ensure_base(spec, app.data_dir / "verify", reporter.log)
        base = Base(ensure_unpacked(tarball), expected)
        installed = set(base.snapshot.state.status)
        records = [record for _, record in upstream.packages()]
        universe = Universe.from_records(records, policy.implicit_essential.priorities)
        names = list(packages) or [record.package for _, record in choose(
            upstream.packages(), priorities=priorities)]
        found = plan(upstream, names, {n.split(":")[0] for n in installed},
                     with_closure=with_closure, upgrade="upgrade" in chosen)
        in_base = found.in_base
        for name, why in found.unavailable.items():
            reporter.log(f"{name}: not verified: {why}")
            results.append(PackageResult(name, "", errors=[f"not verified: {why}"]))
        for name in in_base:
            reporter.log(f"{name}: in the base system: verified by a reinstall"
                         if "reinstall" in chosen else f"{name}: in the base system: skipped")
        work_root = app.data_dir / "verify" / "work"
        work_root.mkdir(parents=True, exist_ok=True)
        with contextlib.ExitStack() as stack:
            if keep:
                work = tempfile.mkdtemp(dir=work_root)
                reporter.log(f"systems kept under {work}")
            else:
                work = stack.enter_context(tempfile.TemporaryDirectory(dir=work_root))
            workers = min(jobs or len(os.sched_getaffinity(0)), max(1, len(found.subjects)))
            # one verifier per worker: its own systems and rewrites (nothing shared but
            # the read-only base and the download cache)
            idle: queue.SimpleQueue[Verifier] = queue.SimpleQueue()
            for index in range(workers):
                own = Path(work) / f"worker-{index}"
                idle.put(Verifier(base, Rewriter(universe, policy, recipes_dir,
                                                 own / "rewritten"), own / "systems",
                                  native=None if no_native else install_native,
                                  scenarios=chosen, log=lambda _: None, keep=keep))

            def verify_one(subject: Subject) -> PackageResult:
                verifier = idle.get()
                try:
                    return verifier.verify(subject)
                finally:
                    idle.put(verifier)

            done: dict[int, PackageResult] = {}
            with reporter.task("verify", len(found.subjects), unit="packages") as step, \
                    ThreadPoolExecutor(workers, thread_name_prefix="verify") as pool:
                futures = {pool.submit(verify_one, subject): index
                           for index, subject in enumerate(found.subjects)}
                for future in as_completed(futures):
                    result = future.result()
                    done[futures[future]] = result
                    shown = {"equivalent": "equivalent", "different": "DIFFERENT",
                             "not-rewritten": "not rewritten"}[result.status]
                    reporter.log(f"{result.package}: {shown} ({result.seconds:.1f} s)")
                    step(1)
            results += [done[index] for index in sorted(done)]
    named = set(packages)
    refused = [r for r in results if r.status == "not-rewritten"]
    different = [r for r in results if r.status == "different"]
    # a package named on the command line must be rewritten; one a closure or a
    # priority class brought is counted (coverage is the survey's number)
    failed = different + [r for r in refused if r.package in named]
    if as_json:
        print_json({"packages": [r.as_dict() for r in results], "in_base": in_base,
                    "equivalent": sum(r.equivalent for r in results),
                    "different": len(different), "not_rewritten": len(refused)})
    else:
        for result in results:
            _print(result)
        totals: dict[str, int] = {}
        for result in results:
            for comparison in result.comparisons:
                for reason, count in comparison.expected.items():
                    totals[reason] = totals.get(reason, 0) + count
        click.echo(f"\n{len(results)} packages: {sum(r.equivalent for r in results)} "
                   f"equivalent, {len(different)} with unexpected differences"
                   + (f", {len(refused)} not rewritten (the engine refuses them)"
                      if refused else "")
                   + (f" ({len(in_base)} of the base's packages: reinstall only)"
                      if in_base and "reinstall" in chosen else
                      f"; {len(in_base)} in the base, not verified" if in_base else ""))
        for reason, count in sorted(totals.items()):
            click.echo(f"  expected: {reason}: {count}")
    if failed:
        raise NotEquivalent(", ".join(r.package for r in failed[:10])
                            + (" ..." if len(failed) > 10 else ""),
                            "differences no expected reason explains (see above)"
                            if different else "not rewritten: the engine refuses it (see above)")


def _print(result: PackageResult) -> None:
    version = f" {result.version}" if result.version else ""
    if result.equivalent:
        counts = _counts(result.comparisons)
        click.echo(f"{result.package}{version}: equivalent" + (f" ({counts})" if counts else ""))
        for kept in result.kept:
            click.echo(f"  kept as Debian built it (no native install): {kept}")
        return
    if result.status == "not-rewritten":
        click.echo(f"{result.package}{version}: not rewritten: {result.refused}")
        return
    click.echo(f"{result.package}{version}: DIFFERENT")
    for error in result.errors:
        click.echo("  error: " + error.replace("\n", "\n    "))
    for comparison in result.comparisons:
        shown = comparison.unexpected[:SHOWN]
        for item in shown:
            click.echo(f"  A vs {comparison.system} ({comparison.scenario}): {item.kind} "
                       f"{item.change}: {item.subject}")
            click.echo(f"      A: {item.a or '(absent)'}".replace("\n", "\\n"))
            click.echo(f"      {comparison.system}: {item.x or '(absent)'}".replace("\n", "\\n"))
            if item.detail:
                click.echo(f"      ({item.detail})")
        more = len(comparison.unexpected) - len(shown)
        if more:
            click.echo(f"  A vs {comparison.system} ({comparison.scenario}): ... and {more} "
                       "more unexpected differences (--json lists them all)")
    counts = _counts(result.comparisons)
    if counts:
        click.echo(f"  expected: {counts}")


def _counts(comparisons: list[Comparison]) -> str:
    totals: dict[str, int] = {}
    for comparison in comparisons:
        for reason, count in comparison.expected.items():
            totals[reason] = totals.get(reason, 0) + count
    return ", ".join(f"{reason} {count}" for reason, count in sorted(totals.items()))
