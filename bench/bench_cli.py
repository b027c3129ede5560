"""Benchmark: how long `unessential` takes to answer, against apt-cache.

Runs each command as a user would (a new process of the installed console script) with
a private data directory holding a small catalog (`--builds` done builds, seeded before
timing), and prints the median wall time of `--repeat` runs, the goal of issue 19 and
the ratio to `apt-cache --version` (what a user of apt would compare with):

  --version, --help        goal <= 0.25 s (nothing but click is imported)
  status                   goal <= 0.5 s on a small catalog (SQLAlchemy, no Alembic
                           when the catalog is up to date, no Celery)
  status --json            the same, as a script reads it

    python bench/bench_cli.py [--repeat 5] [--builds 20]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SCRIPT = Path(sys.executable).parent / "unessential"
GOALS = {"--version": 0.25, "--help": 0.25, "status": 0.5, "status --json": 0.5}


def timed(argv: list[str], env: dict[str, str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def seed_catalog(data_dir: Path, builds: int) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.fixtures.catalog_seed import seed
    from tests.fixtures.debs import make_deb

    debs = [make_deb(data_dir.parent / "debs", f"pkg{i}", "1.0-1ue1", "all")
            for i in range(builds)]
    seed(data_dir, debs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--builds", type=int, default=20)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-cli-"))
    try:
        data = work / "data"
        seed_catalog(data, args.builds)
        env = {k: v for k, v in os.environ.items() if not k.startswith("UNESSENTIAL_")}
        env["UNESSENTIAL_DATA_DIR"] = str(data)
        apt = timed(["apt-cache", "--version"], env, args.repeat)
        print(f"{'command':18} {'median s':>9} {'goal s':>7} {'vs apt-cache':>13}")
        print(f"{'apt-cache --version':18} {apt:9.3f} {'':>7} {1.0:13.1f}")
        for command, goal in GOALS.items():
            seconds = timed([str(SCRIPT), *command.split()], env, args.repeat)
            print(f"{command:18} {seconds:9.3f} {goal:7.2f} {seconds / apt:13.1f}"
                  + ("" if seconds <= goal else "   (above the goal)"))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
