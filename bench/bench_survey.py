"""Benchmark: wall time per package of `unessential survey` on real packages.

The first N packages (by name, default 50) of the Priority classes required,
important and standard of the host's mirror are surveyed by the command, as a user
runs it (`unessential -q survey NAMES... --no-record --json`), three times:

- cold: a fresh data directory (Release, Packages and every .deb downloaded, verified);
- warm: the same data directory again (everything from the verified cache), with the
  default process pool (one process per core) and with `--jobs 1`;

and, against the tool a user had before, `unessential rewrite DEBS... --report` over
the same cached .debs (sequential, no idioms, no catalog). The analysis alone is also
timed in-process (`rewrite.survey.survey_debs` on the cached .debs, one process and a
pool), without the start-up of the command and the reading of the indices.

The baseline a user without unessential has: extract every package's maintainer
scripts with stock dpkg, `dpkg-deb -e DEB DIR` once per .deb (sequential, as a shell
loop does) from the same verified cache, into a temporary directory (best of
`--repeat`). It only gets the scripts out (no reading of them); the ratio survey /
dpkg-deb -e says what the survey's analysis (and its command's fixed cost) costs on
top of looking at the scripts at all.

    python bench/bench_survey.py [--packages 50] [--repeat 3] [--data-dir DIR]

Prints seconds per package for each, and the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from archive.settings import UpstreamSettings
from archive.upstream.mirror import Upstream
from base.console import Reporter
from recipes.policy import load_policy
from rewrite.relations import Universe
from rewrite.survey import choose, survey_debs

CLI = [sys.executable, "-m", "unessential.cli"]
PRIORITIES = ["required", "important", "standard"]


def command(data_dir: Path, *args: str) -> tuple[float, str]:
    env = dict(os.environ, UNESSENTIAL_DATA_DIR=str(data_dir))
    start = time.perf_counter()
    done = subprocess.run([*CLI, "-q", *args], env=env, capture_output=True, text=True)
    took = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"bench_survey: {' '.join(args[:3])} ...: exit {done.returncode}: "
                 f"{done.stderr.strip()[-2000:]}")
    return took, done.stdout


def best(repeat: int, data_dir: Path, *args: str) -> tuple[float, str]:
    runs = [command(data_dir, *args) for _ in range(repeat)]
    return min(runs, key=lambda run: run[0])


def extract_scripts(repeat: int, debs: list[Path]) -> float:
    """`dpkg-deb -e` of each .deb into a fresh directory, one process each: best of
    `repeat` (the directory's removal is not timed)."""
    times = []
    for _ in range(repeat):
        target = Path(tempfile.mkdtemp(prefix="bench-survey-dpkg-deb-"))
        try:
            start = time.perf_counter()
            for index, deb in enumerate(debs):
                subprocess.run(["dpkg-deb", "-e", str(deb), str(target / f"{index:04d}")],
                               check=True, capture_output=True)
            times.append(time.perf_counter() - start)
        finally:
            shutil.rmtree(target, ignore_errors=True)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--packages", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3, help="warm runs: best of")
    parser.add_argument("--data-dir", type=Path, help="default: a temporary directory")
    options = parser.parse_args()
    data_dir = options.data_dir or Path(tempfile.mkdtemp(prefix="bench-survey-"))
    fresh = options.data_dir is None or not options.data_dir.exists()
    try:
        run(options, data_dir, fresh)
    finally:
        if options.data_dir is None:
            shutil.rmtree(data_dir, ignore_errors=True)


def run(options: argparse.Namespace, data_dir: Path, fresh: bool) -> None:
    # which packages: the first N of the classes (reading the indices is not timed)
    listing = data_dir.parent / f".{data_dir.name}-listing"
    with Upstream(listing, UpstreamSettings(), reporter=Reporter(quiet=True)) as upstream:
        pairs = upstream.packages()
    shutil.rmtree(listing, ignore_errors=True)
    names = [r.package for _, r in choose(pairs, priorities=PRIORITIES)][:options.packages]
    n = len(names)
    survey = ["survey", *names, "--no-record", "--json"]
    cores = os.cpu_count() or 1

    cold, out = command(data_dir, *survey)
    label = "cold (fresh data dir)" if fresh else "first run (given data dir)"
    totals = json.loads(out)["totals"]
    warm, _ = best(options.repeat, data_dir, *survey)
    warm_one, _ = best(options.repeat, data_dir, *survey, "--jobs", "1")

    # the cached .debs, for the old survey and the in-process analysis
    with Upstream(data_dir, UpstreamSettings(), reporter=Reporter(quiet=True)) as upstream:
        pairs = upstream.packages()
        chosen = choose(pairs, names=names)
        debs = [(upstream.deb_path(suite, record), record) for suite, record in chosen]
    policy = load_policy()
    universe = Universe.from_records([r for _, r in pairs], policy.implicit_essential.priorities)
    report, _ = best(options.repeat, data_dir, "rewrite", *(str(p) for p, _ in debs), "--report")
    stock = extract_scripts(options.repeat, [path for path, _ in debs])
    inproc: dict[int, float] = {}
    for jobs in sorted({1, cores}):
        times = []
        for _ in range(options.repeat):
            start = time.perf_counter()
            survey_debs(debs, universe=universe, policy=policy, jobs=jobs)
            times.append(time.perf_counter() - start)
        inproc[jobs] = min(times)

    print(f"packages: the first {n} (by name) of Priority {','.join(PRIORITIES)} on the "
          f"host's mirror; {cores} cores")
    print(f"  surveyed: {totals['with_scripts']} with maintainer scripts, {totals['scripts']} "
          f"scripts: {totals['translated']} translated, {totals['by_recipe']} recipe, "
          f"{totals['flagged']} flagged")
    rows = [(f"survey command, {label}", cold, ""),
            (f"survey command, warm, {cores} processes", warm, f"  (best of {options.repeat})"),
            ("survey command, warm, --jobs 1", warm_one, ""),
            ("rewrite DEBS --report, warm (before)", report, ""),
            ("dpkg-deb -e of each .deb (baseline)", stock, ""),
            *((f"analysis in-process, {jobs} process(es)", took, "")
              for jobs, took in inproc.items())]
    for name, took, note in rows:
        print(f"{name + ':':44} {took:7.2f} s  {took / n:.4f} s/package{note}")
    print(f"ratios: warm / rewrite --report {warm / report:.2f}   warm {cores} processes / "
          f"--jobs 1 {warm / warm_one:.2f}   cold / warm {cold / warm:.2f}")
    print(f"ratios to dpkg-deb -e (baseline): survey warm / dpkg-deb -e {warm / stock:.2f}   "
          f"survey warm --jobs 1 / dpkg-deb -e {warm_one / stock:.2f}   analysis in-process, "
          f"1 process / dpkg-deb -e {inproc[1] / stock:.2f}")


if __name__ == "__main__":
    main()
