"""Every benchmark still runs (at a tiny size: what is checked is that it works, not
its numbers, which are never asserted)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def bench(name: str, *args: str, env: dict[str, str] | None = None,
          timeout: int = 600) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, str(ROOT / "bench" / name), *args], cwd=ROOT,
                            capture_output=True, text=True, timeout=timeout,
                            env=dict(os.environ, **(env or {})))
    assert result.returncode == 0, (result.stdout[-3000:], result.stderr[-3000:])
    return result


def test_bench_publish_runs() -> None:
    out = bench("bench_publish.py", "--sizes", "20").stdout
    assert "first" in out and "+1" in out and "apt-ftparchive" in out


def test_bench_farm_runs() -> None:
    out = bench("bench_farm.py", "--packages", "2", "--repeat", "1").stdout
    assert "farm, 1 worker" in out and "worker log errors 0" in out


@pytest.mark.postgres
def test_bench_audit_runs() -> None:
    out = bench("bench_audit.py", "--relations", "200", "--repeat", "1", "--no-explain").stdout
    assert "whole run" in out


@pytest.mark.network
def test_bench_reader_runs() -> None:
    out = bench("bench_reader.py", "--repeat", "1").stdout
    assert "ratio" in out


def test_bench_bootstrap_finds_its_archive(tmp_path: Path) -> None:
    """Without a published archive it says how to make one (the main job), after
    resolving the default archive through the configuration as a user's run does; the
    full comparison with mmdebstrap needs the main job's archive and is run by hand."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_bootstrap.py")], cwd=tmp_path,
        capture_output=True, text=True, timeout=120,
        env=dict(os.environ, UNESSENTIAL_DATA_DIR=str(tmp_path / "data")))
    assert result.returncode != 0
    assert "run scripts/main-job.sh first" in result.stderr, result.stderr[-2000:]
    assert "Traceback" not in result.stderr


def test_bench_cli_runs() -> None:
    out = bench("bench_cli.py", "--repeat", "1", "--builds", "2").stdout
    assert "apt-cache --version" in out and "status --json" in out


@pytest.mark.network
def test_bench_campaign_runs() -> None:
    """The archive-scale campaign bench, on two real sources of the host's mirror."""
    out = bench("bench_campaign.py", "--sources", "2", timeout=1500).stdout
    assert "in-process loop" in out and "farm, 2 worker(s)" in out
    assert "farm-2 x 2 / in-process" in out and "failed 0" in out


@pytest.mark.network
def test_bench_build_backends_runs() -> None:
    if os.geteuid() != 0:
        pytest.skip("the bench creates a user")
    out = bench("bench_build_backends.py", timeout=2400).stdout
    assert "unshare / root: base" in out and "root  " in out
