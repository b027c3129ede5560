"""`unessential rebuild ... --wait` in the embedded default against the host's mirror.

No server: local queue, SQLite catalog, a worker started by the command itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from archive.catalog.db import make_engine, session_factory
from archive.catalog.models import Build

pytestmark = pytest.mark.network
CLI = [sys.executable, "-m", "unessential.cli"]


def rebuild(data: Path, *args: str) -> dict:
    env = dict(os.environ, UNESSENTIAL_DATA_DIR=str(data))
    env.pop("UNESSENTIAL_BROKER_URL", None)
    env.pop("UNESSENTIAL_DATABASE_URL", None)
    result = subprocess.run([*CLI, "-q", "rebuild", *args, "--wait", "--json"], env=env,
                            capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def builds(data: Path) -> list[dict]:
    engine = make_engine(f"sqlite:///{data / 'catalog.sqlite'}")
    try:
        with session_factory(engine).begin() as session:
            return [{
                "source": b.source_package.name, "origin": b.origin, "status": b.status,
                "log": b.log or "", "buildinfo": b.buildinfo,
                "binaries": {
                    x.name: {"sha256": x.sha256, "filename": x.filename,
                             "dropped": [(c.relation, c.reason) for c in x.relation_changes
                                         if c.action == "dropped"]}
                    for x in b.binaries},
            } for b in session.scalars(select(Build).order_by(Build.id))]
    finally:
        engine.dispose()


def test_rebuild_hello_from_source_then_repack(tmp_path: Path) -> None:
    data = tmp_path / "data"
    campaign = rebuild(data, "hello")
    assert [b["status"] for b in campaign["builds"]] == ["done"]
    (hello,) = builds(data)
    assert hello["origin"] == "source-build"
    assert "(builder, no network" in hello["log"] and "dpkg-buildpackage" in hello["log"]
    # the .buildinfo is recorded with the build, as dpkg-buildpackage wrote it
    assert hello["buildinfo"].startswith("Format: ") and "\nSource: hello" in \
        hello["buildinfo"] and "\nInstalled-Build-Depends:" in hello["buildinfo"]
    assert "hello" in hello["binaries"]
    binary = hello["binaries"]["hello"]
    assert binary["filename"].startswith("pool/main/h/hello/hello_")
    artifact = data / "artifacts" / binary["sha256"][:2] / binary["sha256"]
    fields = subprocess.run(["dpkg-deb", "--field", str(artifact)], capture_output=True,
                            text=True, check=True).stdout
    assert "Unessential-Recipe:" in fields and "Depends: libc6" in fields
    # hello declares only libc6 (a library, kept); tar's binaries show what is dropped
    rebuild(data, "--repack", "tar")
    tar = builds(data)[-1]
    assert tar["origin"] == "repack" and tar["status"] == "done" and tar["buildinfo"] is None
    dropped = tar["binaries"]["tar-scripts"]["dropped"]
    assert any(relation.startswith("tar ") and reason == "implicit-essential"
               for relation, reason in dropped)
    # the same request again is a no-op that says so
    again = rebuild(data, "hello")
    assert again["builds"][0]["note"].startswith("already built")
    assert len(builds(data)) == 2
