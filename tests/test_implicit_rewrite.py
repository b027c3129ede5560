"""Implicit uses through the product: rewrite → member and relations → catalog →
published archive → bootstrap lists what its image leaves unsatisfied → audit gate.

A fixture package whose /usr/bin script needs /bin/sh gets `Depends: dash` (reason
implicit-use) under a policy that declares shebang uses, and no relation, only the
report, under the packaged policy (which reports every kind).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from archive.catalog.db import make_engine, session_factory, upgrade
from archive.catalog.models import ImplicitUse
from archive.debfile import read_deb
from archive.implicit import MEMBER, parse_uses
from base.deb822 import parse_one
from base.errors import EXIT_CODES
from bootstrap.installer import present
from recipes.policy import Policy, load_policy
from rewrite.engine import RewriteReport, rewrite
from rewrite.relations import Universe
from tests.conftest import Workspace
from tests.fixtures.catalog_seed import seed
from tests.fixtures.elf import make_elf
from tests.fixtures.implicit import make_package, policy_with, script_package
from unessential.cli import cli
from worker.record import BinaryResult, claim, record_success

EPOCH = "1700000000"
UNIVERSE = Universe(essential=frozenset({"dash", "coreutils", "sed", "perl-base", "grep"}),
                    sections={"dash": "shells", "coreutils": "utils"}, providers={})
DECLARE_SHEBANGS = ('kinds = { shebang = "declare", shell-exec = "report", '
                    'essential-path = "report" }')


def rewritten(deb: Path, out: Path, policy: Policy) -> tuple[RewriteReport, dict[str, str]]:
    report = rewrite(deb, out, universe=UNIVERSE, policy=policy, recipe=None,
                     recipe_digest="test", mtime=0)
    control = parse_one(read_deb(Path(report.output)).members["control"].data.decode())
    return report, control


def test_reported_not_declared_by_the_packaged_policy(tmp_path: Path) -> None:
    deb = script_package(tmp_path)
    report, control = rewritten(deb, tmp_path / "out", load_policy())
    assert "Depends" not in control
    assert not [c for c in report.relations if c.reason == "implicit-use"]
    found = {(u.path, u.needs): (u.kind, u.provider, u.declared) for u in report.implicit_uses}
    assert found[("/usr/bin/shtool", "/bin/sh")] == ("shebang", "dash", False)
    assert found[("/usr/bin/shtool-py", "/usr/bin/env")] == ("shebang", "coreutils", False)
    member = read_deb(Path(report.output)).members[MEMBER]
    assert member.mode == 0o644
    assert parse_uses(member.data.decode()) == report.implicit_uses
    data = report.as_dict()["implicit_uses"]
    assert {"path": "/usr/bin/shtool", "kind": "shebang", "needs": "/bin/sh",
            "evidence": "#!/bin/sh", "provider": "dash", "declared": False} in data


def test_declared_by_a_policy_that_says_so(tmp_path: Path) -> None:
    deb = script_package(tmp_path, control="Depends: libfoo1 (>= 1)\n")
    policy = load_policy(policy_with(tmp_path, DECLARE_SHEBANGS))
    report, control = rewritten(deb, tmp_path / "out", policy)
    assert control["Depends"] == "libfoo1 (>= 1), dash, coreutils"
    added = {c.relation: c for c in report.relations if c.reason == "implicit-use"}
    assert sorted(added) == ["coreutils", "dash"]
    assert added["dash"].field == "Depends" and added["dash"].action == "added"
    assert added["dash"].detail == "/usr/bin/shtool needs /bin/sh (shebang: #!/bin/sh)"
    declared = {(u.path, u.needs): u.declared for u in report.implicit_uses}
    assert declared[("/usr/bin/shtool", "/bin/sh")] is True
    assert declared[("/usr/bin/shtool-py", "/usr/bin/env")] is True
    assert declared[("/usr/bin/shtool-py", "python3")] is False  # no provider known
    assert declared[("/usr/bin/shtool", "/bin/sed")] is False  # essential-path: report
    member = parse_uses(read_deb(Path(report.output)).members[MEMBER].data.decode())
    assert [u.declared for u in member] == [u.declared for u in report.implicit_uses]


def test_a_relation_already_there_is_not_added_twice(tmp_path: Path) -> None:
    deb = script_package(tmp_path, control="Pre-Depends: dash\n")
    report, control = rewritten(deb, tmp_path / "out",
                                load_policy(policy_with(tmp_path, DECLARE_SHEBANGS)))
    # dash is implicit-essential in the universe: dropped, then declared again
    assert [(c.action, c.reason, c.relation) for c in report.relations] == [
        ("dropped", "implicit-essential", "dash"),
        ("added", "implicit-use", "dash"), ("added", "implicit-use", "coreutils")]
    assert control["Depends"] == "dash, coreutils" and "Pre-Depends" not in control


def test_per_program_decision_overrides_the_kind(tmp_path: Path) -> None:
    deb = script_package(tmp_path)
    policy = load_policy(policy_with(
        tmp_path, 'kinds = { shebang = "report", shell-exec = "report", '
        'essential-path = "report" }', '"/usr/bin/xyz" = { provider = "xyz" }\n'))
    policy = policy.model_copy(update={"implicit_use": policy.implicit_use.model_copy(
        update={"programs": {**policy.implicit_use.programs,
                             "/bin/sed": policy.implicit_use.programs["/bin/sed"].model_copy(
                                 update={"decide": "declare"})}})})
    _, control = rewritten(deb, tmp_path / "out", policy)
    assert control["Depends"] == "sed"


def test_a_package_without_uses_gets_no_member(tmp_path: Path) -> None:
    deb = make_package(tmp_path, "plain", {"/usr/share/plain/data": ("x\n", 0o644)})
    report, _ = rewritten(deb, tmp_path / "out", load_policy())
    assert report.implicit_uses == []
    assert MEMBER not in read_deb(Path(report.output)).members


def test_rewrite_cli_reports_uses(workspace: Workspace, tmp_path: Path) -> None:
    deb = script_package(tmp_path)
    args = ["--config", str(workspace.config), "-q", "rewrite", str(deb)]
    result = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert ("  implicit use: /usr/bin/shtool needs /bin/sh [shebang: #!/bin/sh] reported "
            "(provider dash)") in result.output
    result = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "out2"), "--json"])
    assert result.exit_code == 0, result.output
    uses = json.loads(result.output)[0]["implicit_uses"]
    assert {"path": "/usr/bin/shtool-py", "kind": "shebang", "needs": "python3",
            "evidence": "#! /usr/bin/env python3", "provider": None,
            "declared": False} in uses
    table = CliRunner().invoke(cli, [*args, "--report"])
    assert table.exit_code == 0, table.output
    assert "implicit run-time uses of the essential set (6 in 1 packages):" in table.output
    assert "shtool: essential-path 3, shebang 3; needs /bin/grep, /bin/sed, /bin/sh" in \
        table.output


def test_worker_records_implicit_use_rows(tmp_path: Path) -> None:
    deb = script_package(tmp_path)
    report, _ = rewritten(deb, tmp_path / "out", load_policy())
    data = tmp_path / "data"
    data.mkdir()
    build_id = seed(data, [deb])[0]
    url = f"sqlite:///{data / 'catalog.sqlite'}"
    upgrade(url)
    engine = make_engine(url)
    sessions = session_factory(engine)
    try:
        from archive.catalog.models import Build
        with sessions.begin() as session:
            build = session.get(Build, build_id)
            assert build is not None
            build.status = "queued"
            build.binaries = []
        assert claim(sessions, build_id, "w1", "t1", 60).__class__.__name__ == "Claimed"
        record_success(sessions, build_id, "w1", [BinaryResult(
            name=report.package, version=report.version, architecture=report.architecture,
            sha256="0" * 64, size=1, filename="pool/x.deb", relations=[], scripts=[],
            implicit_uses=[(u.path, u.kind, u.needs, u.evidence, u.provider, u.declared)
                           for u in report.implicit_uses])], "log")
        with sessions() as session:
            rows = session.scalars(select(ImplicitUse).order_by(ImplicitUse.id)).all()
            got = [(r.binary.name, r.path, r.kind, r.needs, r.provider, r.declared)
                   for r in rows]
    finally:
        engine.dispose()
    assert ("shtool", "/usr/bin/shtool", "shebang", "/bin/sh", "dash", False) in got
    assert ("shtool", "/usr/bin/shtool-py", "shebang", "python3", None, False) in got
    assert len(got) == len(report.implicit_uses)


# -- bootstrap and the gate -------------------------------------------------------


def run(home: Path, *args: str) -> Result:
    environ = {"UNESSENTIAL_DATA_DIR": str(home / "data"), "SOURCE_DATE_EPOCH": EPOCH}
    return CliRunner(env=environ).invoke(cli, ["-q", *args], catch_exceptions=False)


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A published archive of rewritten packages: `shtool` (a /usr/bin script needing
    /bin/sh, env and python3), `pyrun` (an ELF program calling system()) and
    `minishell`, which ships /usr/bin/sh and /usr/bin/env (merged /usr: /bin/sh)."""
    home = tmp_path_factory.mktemp("implicit-home")
    src = home / "src"
    src.mkdir()
    debs = [
        script_package(src),
        make_package(src, "pyrun", {"/usr/bin/pyrun": (make_elf(["system"]), 0o755),
                                    "/usr/bin/python3": ("#!/usr/bin/pyrun\n", 0o755)}),
        make_package(src, "minishell", {"/usr/bin/sh": (make_elf([]), 0o755),
                                        "/usr/bin/env": (make_elf([]), 0o755)}),
    ]
    policy = load_policy()
    out = home / "out"
    reports = [rewrite(deb, out, universe=UNIVERSE, policy=policy, recipe=None,
                       recipe_digest="test", mtime=0) for deb in debs]
    seed(home / "data", [Path(r.output) for r in reports])
    result = run(home, "publish", "--date", "Tue, 14 Nov 2023 22:13:20 +0000")
    assert result.exit_code == 0, result.output
    yield home


def boot(home: Path, *args: str) -> Result:
    return run(home, "bootstrap", "--archive", str(home / "data" / "public"), "--no-record",
               *args)


def test_bootstrap_lists_unsatisfied_uses(published: Path, tmp_path: Path) -> None:
    out = tmp_path / "rootfs"
    result = boot(published, "shtool", "pyrun", "--output", str(out), "--json")
    assert result.exit_code == 0, result.output
    listed = {(u["package"], u["path"], u["needs"]) for u in json.loads(result.output)
              ["implicit_uses"]}
    assert listed == {
        ("shtool", "/usr/bin/shtool", "/bin/sh"),
        ("shtool", "/usr/bin/shtool", "/bin/sed"),
        ("shtool", "/usr/bin/shtool", "/usr/bin/perl"),
        ("shtool", "/usr/bin/shtool-py", "/usr/bin/env"),
        ("shtool", "/usr/share/shtool/lib.sh", "/bin/grep"),
        ("pyrun", "/usr/bin/pyrun", "/bin/sh"),
    }  # python3 (env python3) is in the image: pyrun ships it
    status = (out / "var/lib/dpkg/status").read_text()
    assert "Unessential-Unsatisfied-Uses:\n shell-exec /bin/sh /usr/bin/pyrun\n" in status
    text = boot(published, "shtool", "pyrun", "--output", str(tmp_path / "img2"))
    assert text.exit_code == 0, text.output
    assert ("warning: implicit use: pyrun: /usr/bin/pyrun needs /bin/sh, which the image "
            "does not hold (shell-exec: imports system; dash provides it)") in text.output
    assert "implicit uses: 6 unsatisfied in 2 packages" in text.output


def test_uses_the_image_satisfies_are_not_listed(published: Path, tmp_path: Path) -> None:
    out = tmp_path / "rootfs"
    result = boot(published, "pyrun", "minishell", "--output", str(out), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["implicit_uses"] == []
    assert present(out, "/bin/sh") and present(out, "python3")
    assert not present(out, "/bin/sed") and not present(out, "perl")


def test_presence_is_judged_inside_the_image(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "usr/bin").mkdir(parents=True)
    (root / "bin").symlink_to("usr/bin")
    (root / "usr/bin/escape").symlink_to("/usr/bin/env")  # the host's env, not the image's
    (root / "usr/bin/data").write_text("x")  # not executable
    assert os.path.exists("/usr/bin/env")
    assert not present(root, "/usr/bin/escape")
    assert not present(root, "/usr/bin/env")
    assert not present(root, "/bin/data")


def test_audit_gate_fails_on_unsatisfied_uses(published: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    assert boot(published, "pyrun", "--output", str(bad)).exit_code == 0
    result = run(published, "audit", "--fail-on", "implicit-use", str(bad))
    assert result.exit_code == EXIT_CODES["policy"], result.output
    assert f"{bad}: pyrun 1.0: /usr/bin/pyrun needs /bin/sh (shell-exec), not in the image" \
        in result.output
    as_json = run(published, "audit", "--fail-on", "implicit-use", str(bad), "--json")
    assert as_json.exit_code == EXIT_CODES["policy"]
    data = json.loads(as_json.stdout)
    assert data["passed"] is False
    assert data["images"][0]["uses"] == [{"package": "pyrun", "version": "1.0",
                                          "kind": "shell-exec", "needs": "/bin/sh",
                                          "path": "/usr/bin/pyrun"}]
    tar = tmp_path / "bad.oci.tar"
    assert boot(published, "pyrun", "--output", str(tar)).exit_code == 0
    assert run(published, "audit", "--fail-on", "implicit-use",
               str(tar)).exit_code == EXIT_CODES["policy"]
    good = tmp_path / "good"
    assert boot(published, "pyrun", "minishell", "--output", str(good)).exit_code == 0
    result = run(published, "audit", "--fail-on", "implicit-use", str(good))
    assert result.exit_code == 0, result.output
    assert "2 packages, no unsatisfied implicit use" in result.output
