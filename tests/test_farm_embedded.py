"""The rebuild farm in the embedded default: local queue, SQLite, a worker started by
`rebuild --wait` itself. Repacks of fixture sources served on 127.0.0.1 (no network).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from archive.catalog.db import make_engine, session_factory
from archive.catalog.models import Build, SourcePackage
from base.errors import EXIT_CODES
from tests.conftest import Workspace
from tests.fixtures.archive import FixtureArchive
from tests.fixtures.keys import ArchiveKey
from tests.fixtures.server import ArchiveServer

NAMES = ["alpha", "bravo", "charlie", "delta", "echo"]
CLI = [sys.executable, "-m", "unessential.cli"]


@pytest.fixture(scope="module")
def farm_template(tmp_path_factory: pytest.TempPathFactory,
                  keys: dict[str, ArchiveKey]) -> FixtureArchive:
    root = tmp_path_factory.mktemp("farm-archive")
    archive = FixtureArchive(root=root / "www", key=keys["archive"])
    archive.build_farm(root / "work", NAMES)
    return archive


@pytest.fixture
def farm(tmp_path: Path, farm_template: FixtureArchive) -> Iterator[tuple[Workspace, Path]]:
    with ArchiveServer(farm_template.root) as server:
        ws = Workspace(data_dir=tmp_path / "data", dest=tmp_path / "dest",
                       config=tmp_path / "unessential.toml")
        ws.write_config(f"{server.url}/debian", farm_template.key.public_keyring)
        recipes = tmp_path / "recipes"
        recipes.mkdir()
        (recipes / "delta.toml").write_text(
            '[binary.delta]\nadd-depends = ["this is not a relation ((("]\n')
        text = ws.config.read_text()
        ws.config.write_text(text + f'\n[worker]\nrecipes_dir = "{recipes}"\n'
                             "heartbeat = 1\nlease = 5\n")
        yield ws, recipes


def run(ws: Workspace, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, "--config", str(ws.config), *args], capture_output=True,
                          text=True, timeout=300, env=dict(os.environ))


def catalog(ws: Workspace) -> list[Build]:
    engine = make_engine(f"sqlite:///{ws.data_dir / 'catalog.sqlite'}")
    try:
        with session_factory(engine).begin() as session:
            builds = list(session.scalars(select(Build).order_by(Build.id)))
            for build in builds:
                _ = build.source_package.name, [
                    (b.name, list(b.relation_changes), list(b.script_rewrites))
                    for b in build.binaries]
            session.expunge_all()
            return builds
    finally:
        engine.dispose()


def test_campaign_with_one_broken_recipe(farm: tuple[Workspace, Path]) -> None:
    ws, _ = farm
    result = run(ws, "rebuild", "--repack", *NAMES, "--wait", "--json")
    assert result.returncode == EXIT_CODES["build"], result.stderr
    assert "1 of 5 builds failed: delta" in result.stderr.strip().splitlines()[-1]
    campaign = json.loads(result.stdout)
    assert {b["source"]: b["status"] for b in campaign["builds"]} == {
        "alpha": "done", "bravo": "done", "charlie": "done", "delta": "failed", "echo": "done"}
    builds = catalog(ws)
    assert len(builds) == 5
    for build in builds:
        assert build.origin == "repack" and build.campaign == campaign["campaign"]
        assert build.finished_at is not None and build.log
        if build.source_package.name == "delta":
            assert build.status == "failed" and build.binaries == []
            assert "delta.toml" in (build.error or "")
            assert "FAILED" in build.log
            continue
        (binary,) = build.binaries
        # our version: Debian's with the mark and the build's counter (rewrite.versions)
        assert build.version_counter == 1
        assert (binary.version, binary.original_version) == ("1.0-1ue1", "1.0-1")
        assert binary.filename == f"pool/main/{binary.name[0]}/{binary.name}/" \
            f"{binary.name}_1.0-1ue1_all.deb"
        assert f"\nSource: {binary.name} (1.0-1)\n" in (binary.control or "")
        assert "\nVersion: 1.0-1ue1\n" in (binary.control or "")
        (change,) = binary.relation_changes
        assert (change.field, change.relation, change.action, change.reason) == \
            ("Depends", "base-thing (>= 1.0)", "dropped", "implicit-essential")
        assert change.relation_name == "base-thing"
        # what the rewrite started from, for `diff` and the size figures
        assert "Depends: base-thing (>= 1.0)" in (binary.original_control or "")
        assert "Unessential-Recipe:" in (binary.control or "")
        assert "base-thing" not in (binary.control or "")
        assert binary.original_sha256 and len(binary.original_sha256) == 64
        assert binary.installed_size == binary.original_installed_size  # no field: None
        artifact = ws.data_dir / "artifacts" / binary.sha256[:2] / binary.sha256
        assert artifact.stat().st_size == binary.size
    # status and logs
    status = json.loads(run(ws, "status", "--json").stdout)
    assert {row["source"]: row["status"] for row in status} == {
        "alpha": "done", "bravo": "done", "charlie": "done", "delta": "failed", "echo": "done"}
    logs = run(ws, "logs", "delta", "--tail", "5")
    assert logs.returncode == 0 and "FAILED" in logs.stdout or "delta.toml" in logs.stdout


def test_repeat_is_a_no_op_that_says_so(farm: tuple[Workspace, Path]) -> None:
    ws, recipes = farm
    (recipes / "delta.toml").unlink()
    first = run(ws, "rebuild", "--repack", "alpha", "bravo", "--wait")
    assert first.returncode == 0, first.stderr
    again = run(ws, "rebuild", "--repack", "alpha", "bravo", "--wait")
    assert again.returncode == 0, again.stderr
    assert again.stderr.count("already built") == 2
    assert len(catalog(ws)) == 2
    # a new recipe is a new build identity: the source is rebuilt
    (recipes / "alpha.toml").write_text('[binary.alpha]\nkeep = ["base-thing"]\n')
    third = run(ws, "rebuild", "--repack", "alpha", "--wait", "--json")
    assert third.returncode == 0, third.stderr
    builds = [b for b in catalog(ws) if b.source_package.name == "alpha"]
    assert [b.status for b in builds] == ["done", "done"]
    assert builds[1].recipe_digest != builds[0].recipe_digest
    assert builds[1].binaries[0].relation_changes == []
    # new bytes of the same upstream version get a new, higher version
    assert [b.version_counter for b in builds] == [1, 2]
    assert [b.binaries[0].version for b in builds] == ["1.0-1ue1", "1.0-1ue2"]


def test_unknown_source_stops_before_queueing(farm: tuple[Workspace, Path]) -> None:
    ws, _ = farm
    result = run(ws, "rebuild", "--repack", "alpha", "no-such-source")
    assert result.returncode == EXIT_CODES["not-found"]
    assert "no-such-source" in result.stderr.strip().splitlines()[-1]
    assert catalog(ws) == [] or all(b.source_package.name != "no-such-source"
                                    for b in catalog(ws))


def test_sources_are_recorded_once(farm: tuple[Workspace, Path]) -> None:
    ws, recipes = farm
    (recipes / "delta.toml").unlink()
    assert run(ws, "rebuild", "--repack", "alpha", "--wait").returncode == 0
    engine = make_engine(f"sqlite:///{ws.data_dir / 'catalog.sqlite'}")
    try:
        with session_factory(engine).begin() as session:
            names = [s.name for s in session.scalars(select(SourcePackage))]
    finally:
        engine.dispose()
    assert names == ["alpha"]


def test_lost_tasks_are_sent_again(farm: tuple[Workspace, Path]) -> None:
    """A queued build whose task was lost, and a build left `building` by a dead worker
    (its heartbeat stale), are finished by the next `rebuild` of the same sources."""
    import shutil
    from datetime import UTC, datetime, timedelta

    ws, recipes = farm
    (recipes / "delta.toml").unlink()
    queued = run(ws, "rebuild", "--repack", "alpha", "bravo")
    assert queued.returncode == 0, queued.stderr
    shutil.rmtree(ws.data_dir / "queue" / "messages")  # the queue is wiped: tasks lost
    engine = make_engine(f"sqlite:///{ws.data_dir / 'catalog.sqlite'}")
    try:
        with session_factory(engine).begin() as session:
            bravo = next(b for b in session.scalars(select(Build))
                         if b.source_package.name == "bravo")
            bravo.status = "building"
            bravo.worker = "dead-host:1"
            bravo.heartbeat_at = datetime.now(UTC) - timedelta(minutes=10)
    finally:
        engine.dispose()
    again = run(ws, "rebuild", "--repack", "alpha", "bravo", "--wait")
    assert again.returncode == 0, again.stderr
    assert "still queued, task re-sent" in again.stderr
    assert "stale build taken over" in again.stderr
    builds = catalog(ws)
    assert [(b.source_package.name, b.status) for b in builds] == [
        ("alpha", "done"), ("bravo", "done")]
    assert builds[1].worker != "dead-host:1"
