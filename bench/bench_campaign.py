"""Benchmark: an archive-scale repack campaign on real packages, farm against one process.

The sources of the binaries of Priority required, important and standard of the host's
mirror (amd64, the host's codename; `--sources N` takes the first N by name, 0: all of
them) are repacked, each with every binary it builds for amd64, as one campaign:

  in-process   `worker.pipeline.run_build` in a loop, one process: claim, fetch (from the
               verified cache), rewrite, store, record; the upstream opened once
               (what the farm should cost, per worker)
  farm-1       `unessential rebuild --repack <sources> --wait` with one pre-started
               `unessential worker --concurrency 1`
  farm-2       the same with two workers (the machine has 2 cores)

Embedded default (filesystem queue, SQLite), and with `--farm` Redis + PostgreSQL on
127.0.0.1 (a fresh database per run). Not timed: fetching the indices and every .deb
into a template download cache (each run copies it, so nothing is downloaded but
InRelease), planning and starting the workers (each waited for until ready, then a
warm-up campaign of one source per worker). Then `unessential publish` of the farm-2
catalog, as a separate process (its peak RSS is the publisher's).

Prints binaries per minute of each, the ratio farm-1 / in-process and
farm-2 × 2 / in-process (issue 19's goal: <= 1.2, the wall time of a campaign per worker
within 1.2 of the same work in one process), the failed builds, and the peak RSS of the
workers (the largest process of each) and of the publisher.

    python bench/bench_campaign.py [--sources 40] [--farm]
    python bench/bench_campaign.py --sources 0          # the whole three classes
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from bench_farm import (
    CLI,
    REDIS_URL,
    Workers,
    clean_env,
    forget_redis,
    postgres_database,
)
from bench_reader import upstream_settings

from archive.catalog.db import make_engine, session_factory, upgrade
from archive.settings import UpstreamSettings
from archive.upstream.mirror import Upstream
from base.console import Reporter
from recipes.policy import load_policy
from recipes.recipe import load_recipe
from unessential.config import Settings
from worker.environment import repack_inputs
from worker.pipeline import run_build
from worker.plan import plan
from worker.settings import FarmSettings, WorkerSettings
from worker.upstream_memo import forget

REPO = Path(__file__).resolve().parents[1]
ARCH = "amd64"
CLASSES = ("required", "important", "standard")


@dataclass
class Chosen:
    sources: list[str]  # the campaign
    warmups: list[str]  # one per worker, not in the campaign
    binaries: int  # .debs the campaign repacks
    megabytes: float
    template: Path
    settings: UpstreamSettings


def choose(root: Path, count: int) -> Chosen:
    settings = upstream_settings()[0]
    template = root / "template"
    with Upstream(template, settings, reporter=Reporter(quiet=True)) as upstream:
        records = [record for _, record in upstream.packages(ARCH)]
        # a source with a recipe's patches is built from source, never repacked
        names = sorted(name for name in {r.source for r in records if r.priority in CLASSES}
                       if (recipe := load_recipe(name)) is None or recipe.source is None)
        picked = names if count == 0 else names[:count + 2]
        inputs: dict[str, list] = {}
        for source in picked:
            versions = {r.source_version for r in records if r.source == source}
            version = max(versions, key=lambda v: (len(v), v))
            inputs[source] = repack_inputs(records, source, version, ARCH)
        for chosen in inputs.values():
            for record in chosen:
                upstream.fetch_binary(record.package, record.version, root / "debs",
                                      ARCH if record.architecture != "all" else None)
    shutil.rmtree(root / "debs", ignore_errors=True)
    sources = [s for s in picked if inputs[s]]
    warmups, campaign = sources[:2], sources[2:] if count == 0 else sources[2:count + 2]
    binaries = sum(len(inputs[s]) for s in campaign)
    size = sum(r.size for s in campaign for r in inputs[s]) / 1e6
    return Chosen(campaign, warmups, binaries, size, template, settings)


def fresh(chosen: Chosen, path: Path) -> Path:
    path.mkdir(parents=True)
    shutil.copytree(chosen.template / "cache", path / "cache")
    return path


def in_process(chosen: Chosen, data_dir: Path) -> tuple[float, list[str]]:
    """run_build over the planned campaign, one process, the upstream opened once."""
    forget()
    settings = FarmSettings(worker=WorkerSettings(upstream_ttl=86400),
                            upstream=chosen.settings, data_dir=data_dir,
                            database_url=Settings(data_dir=data_dir).effective_database_url)
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        planned = plan(settings, session_factory(engine), chosen.sources, "repack",
                       "bench", ARCH, Reporter(quiet=True))
    finally:
        engine.dispose()
    failed = []
    start = time.perf_counter()
    for item in planned:
        if item.state != "queued":
            continue
        outcome = run_build(item.build_id, settings, worker="bench:0", task_id="bench")
        if outcome.status != "done":
            failed.append(f"{item.source}: {outcome.detail}")
    return time.perf_counter() - start, failed


def write_config(path: Path, chosen: Chosen, data_dir: Path, database_url: str | None,
                 queue: str | None) -> None:
    up = chosen.settings
    lines = [f'data_dir = "{data_dir}"']
    if database_url:
        lines += [f'database_url = "{database_url}"', f'broker_url = "{REDIS_URL}"']
    lines += ["[upstream]", f'mirror = "{up.mirror}"', f"suites = {json.dumps(up.suites)}",
              'components = ["main"]', f"keyring = {json.dumps([str(k) for k in up.keyring])}",
              f'architectures = ["{ARCH}"]', "apt_sources = []"]
    if queue:
        lines += ["[worker]", f'queue = "{queue}"']
    path.write_text("\n".join(lines) + "\n")


def rebuild(config: Path, names: list[str]) -> tuple[float, list[str]]:
    start = time.perf_counter()
    result = subprocess.run(
        [*CLI, "--config", str(config), "-q", "rebuild", "--repack", *names, "--wait",
         "--json"], capture_output=True, text=True, timeout=7200, cwd=REPO, env=clean_env())
    seconds = time.perf_counter() - start
    if not result.stdout.strip():
        raise RuntimeError(f"rebuild failed ({result.returncode}): {result.stderr[-2000:]}")
    if "started a local worker" in result.stderr:
        raise RuntimeError("rebuild --wait started its own worker: ours were not seen")
    builds = json.loads(result.stdout)["builds"]
    return seconds, sorted(f"{row['source']}: {row['error']}" for row in builds
                           if row["status"] != "done")


def peak_rss_kib(pids: list[int]) -> int:
    """The largest VmHWM of the processes and their children (KiB)."""
    peak = 0
    for pid in pids:
        family = [pid, *_children(pid)]
        for member in family:
            try:
                status = Path(f"/proc/{member}/status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
    return peak


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True,
                         text=True).stdout.split()
    found = [int(p) for p in out]
    return found + [grand for child in found for grand in _children(child)]


def farm_run(chosen: Chosen, root: Path, workers_count: int, farm: bool
             ) -> tuple[float, list[str], int, Path, str | None]:
    with ExitStack() as stack:
        database_url = None
        queue = None
        if farm:
            database_url = stack.enter_context(postgres_database(f"c{workers_count}"))
            queue = f"bench-{uuid.uuid4().hex[:8]}"
            stack.callback(forget_redis, queue)
        data_dir = fresh(chosen, root / "data")
        config = root / "unessential.toml"
        write_config(config, chosen, data_dir, database_url, queue)
        upgrade(Settings(data_dir=data_dir, database_url=database_url).effective_database_url)
        workers = Workers(config, root)
        stack.callback(workers.stop)
        for _ in range(workers_count):
            workers.start()
        rebuild(config, chosen.warmups[:workers_count])
        seconds, failed = rebuild(config, chosen.sources)
        rss = peak_rss_kib([p.pid for p in workers.processes])
        published = None
        if not farm:  # the publisher of the embedded catalog (the farm's is the same code)
            done = subprocess.run(["/usr/bin/time", "-f", "peak-rss-kib %M", *CLI, "--config",
                                   str(config), "-q", "publish", "--sources", "available",
                                   "--json"], capture_output=True, text=True, timeout=3600,
                                  cwd=REPO, env=clean_env())
            kib = next((int(line.split()[1]) for line in done.stderr.splitlines()
                        if line.startswith("peak-rss-kib ")), 0)
            published = f"publish: exit {done.returncode}, peak RSS {kib // 1024} MiB"
        return seconds, failed, rss, config, published


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=40,
                        help="sources in the campaign (first by name; 0: all of them)")
    parser.add_argument("--farm", action="store_true",
                        help="Redis + PostgreSQL on 127.0.0.1 instead of the embedded default")
    args = parser.parse_args()
    load_policy()
    with ExitStack() as stack:
        root = Path(tempfile.mkdtemp(prefix="bench-campaign-"))
        stack.callback(shutil.rmtree, root, ignore_errors=True)
        setup = time.perf_counter()
        chosen = choose(root, args.sources)
        setup = time.perf_counter() - setup
        loop, loop_failed = in_process(chosen, fresh(chosen, root / "loop"))
        runs = {count: farm_run(chosen, root / f"farm-{count}", count, args.farm)
                for count in (1, 2)}
    what = ("farm: Redis + PostgreSQL on 127.0.0.1" if args.farm else
            "embedded default: filesystem queue, SQLite")
    print(f"measured: {what}; {len(chosen.sources)} sources of Priority "
          f"{'/'.join(CLASSES)}, {chosen.binaries} binaries ({chosen.megabytes:.0f} MB of "
          f".debs) repacked for {ARCH}; setup (cache filled) {setup:.0f} s, not timed")
    per_minute = chosen.binaries * 60
    print(f"in-process loop (run_build):   {loop:8.1f} s  {per_minute / loop:7.1f} "
          f"binaries/min  failed {len(loop_failed)}")
    for count, (seconds, failed, rss, _, published) in runs.items():
        print(f"farm, {count} worker(s):           {seconds:8.1f} s  "
              f"{per_minute / seconds:7.1f} binaries/min  failed {len(failed)}  "
              f"worker peak RSS {rss // 1024} MiB" + (f"  ({published})" if published else ""))
    for line in loop_failed:
        print(f"  failed (every run): {line[:200]}")
    one, two = runs[1][0], runs[2][0]
    print(f"ratios (goal <= 1.2): farm-1 / in-process {one / loop:5.2f}   "
          f"farm-2 x 2 / in-process {2 * two / loop:5.2f}   farm-2 / farm-1 {two / one:5.2f}")


if __name__ == "__main__":
    main()
