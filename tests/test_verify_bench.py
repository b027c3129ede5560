"""bench/bench_verify.py runs (tiny: one package of the base, a reinstall)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from archive.upstream.mirror import host_codename

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.network
def test_bench_verify_runs(tmp_path: Path) -> None:
    config = tmp_path / "unessential.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\n[upstream]\n'
                      f'suites = ["{host_codename() or "bookworm"}"]\n')
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_verify.py"), "--count", "1",
         "--roots", "libmd0", "--config", str(config)], cwd=ROOT, capture_output=True,
        text=True, timeout=900, env=dict(os.environ))
    assert result.returncode == 0, (result.stdout[-3000:], result.stderr[-3000:])
    assert "s/package" in result.stdout
