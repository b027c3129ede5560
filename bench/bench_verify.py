"""Benchmark: wall time per package of `unessential verify` on real packages, against
the stock install a user does by hand to check one package.

Picks N packages (default 50) of the upstream dependency closure of some roots
(default: python3 ca-certificates openssl bzip2 xz-utils gzip less procps tzdata
adduser, then the closure's names sorted), warms up once (the base chroot is made
with mmdebstrap and cached under the data dir; the .debs enter the verified download
cache), then runs

    unessential verify --json NAME...

as one process and prints seconds per package: the wall time of that run divided by
the packages verified, and the per-package times verify reports (median, max),
separately for packages installed fresh (systems A, B, C and remove, purge, upgrade)
and packages of the base (a reinstall, A and B only).

The baseline is what a user does by hand to check one package without unessential:
install Debian's package with its closure into a fresh copy of the same base with
stock tools. For the first K packages verify verified (default 10, `--baseline K`,
0 to skip), the bench takes verify's own cached base tree (`ensure_base` +
`ensure_unpacked`, the same tarball key as verify), a fresh overlay of it per package
and verify's install helper: `apt-get install` (the chroot's apt, which orders the
.debs and runs dpkg) of the same .debs from the verified download cache that verify's
plan installs in system A, or `dpkg --install` of the same version for a package the
base has; the overlay is then removed. It prints seconds per package of that stock
install and the ratio verify / stock install on the same packages ("verify costs N
stock installs per package"), and against the whole run's wall time per package
(which also holds the command's fixed start-up: indices, base snapshot).

    python bench/bench_verify.py [--count 50] [--roots python3,openssl] [--config FILE]
                                 [--no-native] [--data-dir DIR] [--save FILE]
                                 [--baseline 10]

A smaller run: `--count 10` (about a minute once the base is cached). Needs root and
the host's mirror.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archive.settings import UpstreamSettings  # noqa: E402
from archive.upstream.mirror import (  # noqa: E402
    Upstream,
    host_architecture,
    resolve_entries,
)
from audit.verify import plan  # noqa: E402
from rewrite.closure import closure  # noqa: E402
from rewrite.verify.harness import Subject  # noqa: E402
from rewrite.verify.snapshot import STATUS, status_stanzas  # noqa: E402
from rewrite.verify.systems import (  # noqa: E402
    BaseSpec,
    Layers,
    MirrorEntry,
    apt_install,
    dpkg_install,
    ensure_base,
    ensure_unpacked,
    remove_system,
)

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


def stock_subjects(data_dir: Path, settings: UpstreamSettings,
                   names: list[str]) -> tuple[Path, list[Subject]]:
    """verify's base tree (the same cached tarball: same spec as the command builds) and
    what verify installs in system A for `names`: Debian's .debs of each package and of
    what its closure adds to the base, from the verified download cache."""
    entries = [e for e in resolve_entries(settings) if "deb" in e.types]
    keyrings = tuple(dict.fromkeys(k for e in entries for k in e.signed_by.keyrings))
    spec = BaseSpec(tuple(MirrorEntry(e.uri, e.suite, e.components) for e in entries),
                    (settings.architectures or [host_architecture()])[0], keyrings)
    root = ensure_unpacked(ensure_base(spec, data_dir / "verify"))
    status = (root / STATUS.lstrip("/")).read_text()
    base_packages = {name.split(":")[0] for name in status_stanzas(status)}
    with Upstream(data_dir, settings) as upstream:
        found = plan(upstream, names, base_packages, with_closure=False, upgrade=False)
    return root, found.subjects


def stock_install(root: Path, work: Path, subject: Subject) -> tuple[float, bool]:
    """One check by hand: a fresh overlay of the base, Debian's .debs installed with the
    chroot's apt (dpkg --install for a package of the base), the overlay removed."""
    start = time.monotonic()
    layers = Layers(root, work / "upper", work / "work", work / "merged")
    try:
        layers.create()
        step = (dpkg_install if subject.in_base else apt_install)(layers, subject.debs)
    finally:
        remove_system(work)
    return time.monotonic() - start, step.returncode == 0


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
    parser.add_argument("--baseline", type=int, default=10, metavar="K",
                        help="stock installs timed on the first K packages verify "
                        "verified (0: no baseline)")
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
    verified = [p for p in packages if not p["errors"] and p.get("status") != "not-rewritten"]
    fresh = [p["seconds"] for p in verified if p["package"] not in in_base]
    base = [p["seconds"] for p in verified if p["package"] in in_base]
    refused = [p["package"] for p in packages if p not in verified]
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
    if args.baseline > 0 and verified:
        baseline(data_dir, settings, verified[:args.baseline], seconds / len(names))


def baseline(data_dir: Path, settings: UpstreamSettings, sample: list[dict[str, Any]],
             whole: float) -> None:
    """Time the stock install of each package of `sample` and print the ratios."""
    by_name = {p["package"]: p for p in sample}
    root, subjects = stock_subjects(data_dir, settings, list(by_name))
    work = Path(tempfile.mkdtemp(prefix="bench-stock-", dir=data_dir / "verify"))
    stock: list[tuple[Subject, float]] = []
    failed: list[str] = []
    try:
        for subject in subjects:
            took, ok = stock_install(root, work / "system", subject)
            stock.append((subject, took))
            if not ok:
                failed.append(subject.package)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if not stock:
        print("baseline: none of the sample could be planned")
        return
    ours = sum(by_name[s.package]["seconds"] for s, _ in stock)
    theirs = sum(took for _, took in stock)
    n = len(stock)
    in_base = sum(s.in_base for s, _ in stock)
    print(f"baseline: a stock install by hand of each of the first {n} verified packages "
          f"(a sample; --baseline K): a fresh overlay of the same base, apt-get install of "
          f"Debian's .debs of the package and its closure from the verified cache "
          f"(dpkg -i for a package of the base: {in_base})"
          + (f"; install failed: {' '.join(failed)}" if failed else ""))
    print(f"  stock install                        {n:3}  {theirs:7.1f} s  "
          f"{theirs / n:6.2f} s/package")
    print(f"  verify, the same packages (its own)  {n:3}  {ours:7.1f} s  "
          f"{ours / n:6.2f} s/package")
    print(f"ratio verify / stock install: {ours / theirs:.2f} on the same packages (verify "
          f"costs {ours / theirs:.1f} stock installs per package); whole run "
          f"{whole:.2f} s/package / {theirs / n:.2f} = {whole / (theirs / n):.2f}")


if __name__ == "__main__":
    main()
