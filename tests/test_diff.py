"""diff: upstream control and maintainer scripts against ours, from the catalog.

On the audit world of `tests/fixtures/audit_seed.py`, SQLite and PostgreSQL.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path

from click.testing import CliRunner, Result

from archive.catalog.db import make_engine, session_factory
from archive.catalog.models import BinaryPackage, Build, SourcePackage
from audit import queries
from audit.diff import FieldChange, RelationChange, binary_diff, render_text
from base.errors import EXIT_CODES
from tests.fixtures.audit_seed import (
    DEBCONF_DETAIL,
    DEBCONF_GROUP,
    RECIPE,
    AuditSeed,
    binary,
    script_rewrite,
    seed_audit,
)
from unessential.cli import cli

PERL = "perl-base is Essential: yes in the upstream index"


def diffs(url: str, name: str, all_builds: bool = False) -> list:  # type: ignore[type-arg]
    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            return [binary_diff(r)
                    for r in queries.binaries_of(session, name, all_builds=all_builds)]
    finally:
        engine.dispose()


def provenance(key: str) -> list[FieldChange]:
    return [FieldChange("Unessential-Recipe", "added", None, RECIPE),
            FieldChange("Unessential-Original", "added", None, binary(key).original_sha256)]


def expected_diff(package: str, script: str) -> str:
    seeded = script_rewrite(package, script)
    return "".join(difflib.unified_diff(
        seeded.original.splitlines(keepends=True),
        (seeded.rendered or "").splitlines(keepends=True),
        fromfile=f"upstream/{package}/{script}",
        tofile=f"ours/{package}/{script}" if seeded.rendered is not None else "/dev/null"))


def test_control_of_openssl(seeded: AuditSeed) -> None:
    (diff,) = diffs(seeded.url, "openssl")
    assert (diff.binary, diff.version, diff.build_id, diff.control_known) == \
        ("openssl", "3.0.13-1", seeded.builds["openssl"], True)
    assert list(diff.relations) == [
        RelationChange("Depends", "removed", "perl-base (>= 5.32)", "implicit-essential", PERL)]
    assert list(diff.fields) == [FieldChange("Installed-Size", "changed", "2303", "2298"),
                                 *provenance("openssl")]
    assert diff.scripts == ()
    newest, older = diffs(seeded.url, "openssl", all_builds=True)
    assert (newest.version, older.version) == ("3.0.13-1", "3.0.11-1")


def test_control_fields_removed_changed_and_relations_added(seeded: AuditSeed) -> None:
    (sed,) = diffs(seeded.url, "sed")
    assert sed.relations == ()  # its Pre-Depends are libraries: kept
    assert list(sed.fields) == [FieldChange("Essential", "removed", "yes", None),
                                FieldChange("Priority", "changed", "required", "optional"),
                                *provenance("sed")]
    (tzdata,) = diffs(seeded.url, "tzdata")
    assert list(tzdata.relations) == [  # the whole Depends field went
        RelationChange("Depends", "removed", DEBCONF_GROUP, "script-only", DEBCONF_DETAIL)]
    assert tzdata.fields[0] == FieldChange("Priority", "changed", "required", "optional")
    (foo,) = diffs(seeded.url, "foo-tools")
    assert list(foo.relations) == [
        RelationChange("Depends", "removed", "perl-base-foo (>= 1.0)", "recipe",
                       "perl-base-foo: dropped by the recipe"),
        RelationChange("Depends", "added", "perl-base", "recipe",
                       "interpreter of the postinst, kept as is by the recipe")]
    (cron,) = diffs(seeded.url, "cron")
    assert [(r.field, r.change, r.relation, r.reason) for r in cron.relations] == [
        ("Pre-Depends", "removed", "init-system-helpers (>= 1.54~)", "script-only"),
        ("Depends", "removed", "libpam-runtime", "implicit-essential"),
        ("Depends", "removed", "sensible-utils", "implicit-essential"),
        ("Depends", "removed", "adduser", "script-only")]
    assert cron.fields[0] == FieldChange("Priority", "changed", "important", "optional")


def test_scripts(seeded: AuditSeed) -> None:
    (ca,) = diffs(seeded.url, "ca-certificates")
    assert [(s.script, s.status, s.shipped, s.action_names) for s in ca.scripts] == [
        ("postinst", "translated", True, ("ca-bundle",)),
        ("postrm", "translated", True, ("remove-path",)),
        ("config", "translated", False, ())]
    for script in ca.scripts:
        assert script.diff == expected_diff("ca-certificates", script.script)
        assert script.actions == script_rewrite("ca-certificates", script.script).actions
    assert ca.scripts[0].diff.startswith("--- upstream/ca-certificates/postinst\n"
                                         "+++ ours/ca-certificates/postinst\n")
    assert "-        update-ca-certificates\n" in ca.scripts[0].diff
    assert ca.scripts[2].diff.startswith("--- upstream/ca-certificates/config\n+++ /dev/null\n")
    (foo,) = diffs(seeded.url, "foo-tools")
    kept, prerm = foo.scripts
    assert (kept.script, kept.status, kept.shipped, kept.diff) == ("postinst", "kept", True, "")
    assert (prerm.status, prerm.shipped) == ("translated", False)
    assert all(line.startswith(("---", "+++", "@@", "-"))
               for line in prerm.diff.splitlines())  # every line went


def test_render_text(seeded: AuditSeed) -> None:
    (foo,) = diffs(seeded.url, "foo-tools")
    lines = render_text(foo).splitlines()
    assert lines[:6] == [
        f"foo-tools 1.2-1 amd64 (source foo, build {seeded.builds['foo']}, source-build)",
        "control:",
        "  - Depends: perl-base-foo (>= 1.0)  [recipe: perl-base-foo: dropped by the recipe]",
        "  + Depends: perl-base  [recipe: interpreter of the postinst, kept as is by the "
        "recipe]",
        f"  + Unessential-Recipe: {RECIPE}",
        f"  + Unessential-Original: {binary('foo-tools').original_sha256}"]
    assert lines[6] == "postinst: kept (no action)"
    assert lines[7] == "prerm: translated (no action; no script shipped)"
    (libssl,) = diffs(seeded.url, "libssl3")
    assert render_text(libssl).splitlines()[-1] == "scripts: none"


def run(url: str, tmp_path: Path, *args: str) -> Result:
    env = {"UNESSENTIAL_DATABASE_URL": url, "UNESSENTIAL_DATA_DIR": str(tmp_path / "data")}
    return CliRunner(env=env).invoke(cli, ["-q", "diff", *args])


def test_cli(seeded: AuditSeed, tmp_path: Path) -> None:
    result = run(seeded.url, tmp_path, "openssl")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[:3] == [
        f"openssl 3.0.13-1 amd64 (source openssl, build {seeded.builds['openssl']}, "
        "source-build)",
        "control:",
        f"  - Depends: perl-base (>= 5.32)  [implicit-essential: {PERL}]"]
    source = run(seeded.url, tmp_path, "foo")  # not a binary: the source's binaries
    assert [line for line in source.output.splitlines() if line.startswith("foo-")] == [
        f"foo-data 1.2-1 all (source foo, build {seeded.builds['foo']}, source-build)",
        f"foo-tools 1.2-1 amd64 (source foo, build {seeded.builds['foo']}, source-build)"]
    data = json.loads(run(seeded.url, tmp_path, "ca-certificates", "--json").output)
    assert [d["binary"] for d in data] == ["ca-certificates"]
    assert data[0]["relations"] == [{"field": "Depends", "change": "removed",
                                     "relation": DEBCONF_GROUP, "reason": "script-only",
                                     "detail": DEBCONF_DETAIL}]
    assert data[0]["scripts"][0]["diff"] == expected_diff("ca-certificates", "postinst")
    assert data[0]["scripts"][0]["action_names"] == ["ca-bundle"]
    assert run(seeded.url, tmp_path, "no-such-thing").exit_code == EXIT_CODES["not-found"]
    assert run(seeded.url, tmp_path, "Bad_Name").exit_code == 2


def test_binary_recorded_before_revision_0003(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    seed_audit(url)
    engine = make_engine(url)
    try:
        with session_factory(engine).begin() as session:
            source = SourcePackage(name="old", version="1", suite="bookworm", dsc_sha256="0" * 64)
            build = Build(source_package=source, recipe_digest="r", env_digest="e",
                          origin="repack", status="done")
            build.binaries = [BinaryPackage(name="old", version="1", architecture="all",
                                            sha256="1" * 64, size=1, filename="pool/old.deb")]
            session.add(build)
    finally:
        engine.dispose()
    (diff,) = diffs(url, "old")
    assert (diff.control_known, diff.fields, diff.relations) == (False, (), ())
    assert "control: not recorded" in render_text(diff)
