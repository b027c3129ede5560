"""A flagged maintainer script fails only its own binary: the build is done with the
binaries that translate, the flagged one is recorded with its reason (catalog, status,
rebuild's output), and published nowhere. Offline: a two-binary fixture source served
on 127.0.0.1, repacked through the embedded farm."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from archive.catalog.db import make_engine, session_factory
from archive.catalog.models import Build
from base.errors import EXIT_CODES
from tests.conftest import Workspace
from tests.fixtures.archive import FixtureArchive
from tests.fixtures.keys import ArchiveKey
from tests.fixtures.source_farm import farm_on, run, source_archive

CLI = [sys.executable, "-m", "unessential.cli"]
FLAGGED = "#!/bin/sh\nset -e\nperl -e 'print 1'\n"  # perl: not in the vocabulary
PLAIN = '#!/bin/sh\nset -e\nif [ "$1" = configure ]; then mkdir -p /var/lib/split; fi\n'


@pytest.fixture(scope="module")
def split_archive(tmp_path_factory: pytest.TempPathFactory,
                  keys: dict[str, ArchiveKey]) -> FixtureArchive:
    """One source, `split` 1.0-1: libsplit1 (its postinst translates) and split-tools
    (its postinst runs perl)."""
    return source_archive(tmp_path_factory.mktemp("split-archive"), keys["archive"], "split",
                          {"libsplit1": {"postinst": PLAIN}, "split-tools": {"postinst": FLAGGED}})


@pytest.fixture
def farm(tmp_path: Path, split_archive: FixtureArchive) -> Iterator[tuple[Workspace, Path]]:
    with farm_on(tmp_path, split_archive) as made:
        yield made


def builds(ws: Workspace) -> list[tuple[str, list[str], list[tuple[str, str]]]]:
    engine = make_engine(f"sqlite:///{ws.data_dir / 'catalog.sqlite'}")
    try:
        with session_factory(engine).begin() as session:
            return [(b.status, sorted(x.name for x in b.binaries),
                     sorted((f.name, f.problem) for f in b.flagged))
                    for b in session.scalars(select(Build).order_by(Build.id))]
    finally:
        engine.dispose()


def test_a_flagged_binary_is_left_out_and_recorded(farm: tuple[Workspace, Path],
                                                     tmp_path: Path) -> None:
    ws, _ = farm
    result = run(ws, "rebuild", "--repack", "split", "--wait", "--json")
    assert result.returncode == 0, result.stderr
    (build,) = json.loads(result.stdout)["builds"]
    assert build["status"] == "done"
    assert [(f["package"], f["version"]) for f in build["flagged"]] == [
        ("split-tools", "1.0-1")]
    assert "perl" in build["flagged"][0]["problem"]
    ((status, binaries, flagged),) = builds(ws)
    assert (status, binaries) == ("done", ["libsplit1"])
    assert [name for name, _ in flagged] == ["split-tools"]
    status_text = run(ws, "status")
    assert "not produced: split-tools (flagged: " in status_text.stdout
    shown = json.loads(run(ws, "status", "--json").stdout)
    assert shown[0]["flagged"][0]["package"] == "split-tools"
    logs = run(ws, "logs", "split").stdout
    assert "not produced (flagged)" in logs
    published = run(ws, "publish")
    assert published.returncode == 0, published.stderr
    packages = "\n".join(p.read_text() for p in ws.data_dir.rglob("Packages")
                         if p.is_file())
    assert "Package: libsplit1" in packages and "split-tools" not in packages


def test_a_binary_the_recipe_asks_for_fails_the_build(farm: tuple[Workspace, Path]) -> None:
    ws, recipes = farm
    (recipes / "split.toml").write_text('binaries = ["libsplit1", "split-tools"]\n')
    result = run(ws, "rebuild", "--repack", "split", "--wait")
    assert result.returncode == EXIT_CODES["build"], result.stderr
    ((status, binaries, flagged),) = builds(ws)
    assert (status, binaries, flagged) == ("failed", [], [])


def test_rebuild_of_a_closure_queues_its_sources(farm: tuple[Workspace, Path]) -> None:
    ws, _ = farm
    result = run(ws, "rebuild", "--repack", "--closure", "split-tools", "--wait", "--json")
    assert result.returncode == 0, result.stderr
    assert [(b["source"], b["version"], b["status"]) for b in
            json.loads(result.stdout)["builds"]] == [("split", "1.0-1", "done")]
    assert "closure of split-tools: 1 binaries from 1 sources" in result.stderr
    assert "flagged (its build will leave it out): split-tools: " in result.stderr
    missing = run(ws, "rebuild", "--repack", "--closure", "no-such-package")
    assert missing.returncode == EXIT_CODES["not-found"], missing.stderr
    lines = [line for line in missing.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("unessential: not-found error: no-such-package")
    assert "Traceback" not in missing.stderr
