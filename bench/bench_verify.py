"""Benchmark: wall time per package of `unessential verify` on real packages.

Picks N packages (default 50) of the upstream dependency closure of some roots
(default: python3 ca-certificates openssl bzip2 xz-utils gzip less procps tzdata
adduser, then the closure's names sorted), warms up once (the base chroot is made
with mmdebstrap and cached under the data dir; the .debs enter the verified download
cache), then runs

    unessential verify --json NAME...

as one process and prints seconds per package: the wall time of that run divided by
the packages verified, and the per-package times verify reports (median, max),
separately for packages installed fresh (systems A, B, C and remove, purge, upgrade)
and packages of the base (a reinstall, A and B only). There is no other tool to compare
with: the number to watch is seconds per package against the size of a campaign.

    python bench/bench_verify.py [--count 50] [--roots python3,openssl] [--config FILE]
                                 [--no-native] [--data-dir DIR] [--save FILE]

A smaller run: `--count 10` (about a minute once the base is cached). Needs root and
the host's mirror.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archive.settings import UpstreamSettings  # noqa: E402
from archive.upstream.mirror import Upstream  # noqa: E402
from rewrite.closure import closure  # noqa: E402

DEFAULT_ROOTS = ("python3,ca-certificates,openssl,bzip2,xz-utils,gzip,less,procps,tzdata,"
                 "adduser")


def unessential() -> list[str]:
    exe = Path(sys.executable).with_name("unessential")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "unessential.cli"]


def pick(data_dir: Path, settings: UpstreamSettings, roots: list[str], count: int) -> list[str]:
    with Upstream(data_dir, settings) as upstream:
        records = [record for _, record in upstream.packages()]
    names = list(dict.fromkeys([*roots, *sorted(r.package for r in closure(records, roots))]))
    return names[:count]


def run(argv: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, env=env)
    return time.monotonic() - start, done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument("--roots", default=DEFAULT_ROOTS)
    parser.add_argument("--config", type=Path, help="unessential configuration file")
    parser.add_argument("--data-dir", type=Path, help="data directory (default: config's)")
    parser.add_argument("--no-native", action="store_true", help="compare A with B only")
    parser.add_argument("--save", type=Path, help="write verify's JSON output here")
    args = parser.parse_args()
    env = dict(os.environ)
    base_argv = unessential()
    if args.config:
        base_argv += ["--config", str(args.config)]
        env["UNESSENTIAL_CONFIG"] = str(args.config)
    if args.data_dir:
        env["UNESSENTIAL_DATA_DIR"] = str(args.data_dir)
    shown = subprocess.run([*base_argv, "config", "show", "--json"], capture_output=True,
                           text=True, env=env, check=True)
    config = json.loads(shown.stdout)["settings"]
    data_dir = Path(config["data_dir"])
    settings = UpstreamSettings.model_validate(config.get("upstream") or {})
    names = pick(data_dir, settings, [r for r in args.roots.split(",") if r], args.count)
    extra = ["--no-native"] if args.no_native else []

    warm_seconds, warm = run([*base_argv, "-q", "verify", "--json", *extra, names[0]], env)
    if warm.returncode not in (0, 20):
        sys.exit(f"warm-up failed ({warm.returncode}): {warm.stderr[-2000:]}")
    seconds, done = run([*base_argv, "-q", "verify", "--json", *extra, *names], env)
    if done.returncode not in (0, 20):
        sys.exit(f"verify failed ({done.returncode}): {done.stderr[-2000:]}")
    result = json.loads(done.stdout)
    if args.save:
        args.save.write_text(done.stdout)
    packages = result["packages"]
    in_base = set(result["in_base"])
    fresh = [p["seconds"] for p in packages if p["package"] not in in_base and not p["errors"]]
    base = [p["seconds"] for p in packages if p["package"] in in_base and not p["errors"]]
    refused = [p["package"] for p in packages if p["errors"]]
    equivalent = sum(p["equivalent"] for p in packages)
    print(f"packages: {len(names)} of the closure of {args.roots.replace(',', ' ')} "
          f"(C: {'skipped' if args.no_native else 'bootstrap native install'})")
    print(f"warm-up (base chroot made or reused, 1 package): {warm_seconds:.1f} s")
    print(f"verify {len(names)} packages, one process: {seconds:.1f} s wall, "
          f"{seconds / len(names):.2f} s/package")

    def row(label: str, values: list[float]) -> None:
        if values:
            print(f"  {label:34} {len(values):3}  median {statistics.median(values):6.2f} s"
                  f"  max {max(values):6.2f} s  sum {sum(values):7.1f} s")

    row("fresh install (A, B, C, rm, purge)", fresh)
    row("in the base (reinstall, A and B)", base)
    print(f"  not verified (rewrite refused or fetch failed): {len(refused)}"
          + (f" ({' '.join(refused)})" if refused else ""))
    print(f"equivalent: {equivalent}, with unexpected differences or not verified: "
          f"{len(packages) - equivalent}")


if __name__ == "__main__":
    main()
