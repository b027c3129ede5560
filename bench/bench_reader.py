"""Benchmark: read bookworm main amd64 Packages + Sources, ours vs `apt-get update`.

Both sides read the same lists from the host's mirror into a private directory, once
cold (download) and then warm (lists already there: InRelease checked, indices read).
Ours: `Upstream` verifies InRelease and takes the typed records of both indices from
the parsed-index cache (archive/upstream/parsed.py: keyed by each index's signed
SHA256, authenticated); also without that cache, the verified indices parsed. apt:
`apt-get update` with a private `Dir::*`, which checks InRelease and keeps its binary
cache (pkgcache.bin); also with that cache removed, so that it parses its lists.

    python bench/bench_reader.py [--repeat 3]

Prints one line per measurement and the ratio ours / apt (lower is better for us).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from archive.settings import UpstreamSettings
from archive.upstream.index import parse_packages, parse_sources
from archive.upstream.mirror import DEFAULT_KEYRING, Upstream, host_codename, resolve_entries


def upstream_settings() -> tuple[UpstreamSettings, str, str, Path]:
    host = resolve_entries(UpstreamSettings())
    codename = host_codename() or host[0].suite
    entry = next((e for e in host if e.suite == codename), host[0])
    keyring = entry.signed_by.keyrings[0] if entry.signed_by.keyrings else DEFAULT_KEYRING
    settings = UpstreamSettings(
        mirror=entry.uri, suites=[entry.suite], components=["main"], keyring=[keyring],
        architectures=["amd64"], apt_sources=[],
    )
    return settings, entry.uri, entry.suite, keyring


def ours(data_dir: Path, settings: UpstreamSettings) -> tuple[int, int]:
    """Packages and Sources as every command reads them: InRelease verified, the records
    from the parsed-index cache (a miss: the verified indices parsed, then cached)."""
    with Upstream(data_dir, settings) as upstream:
        packages = upstream.packages("amd64")
        sources = upstream.sources()
    return len(packages), len(sources)


def ours_parse(data_dir: Path, settings: UpstreamSettings) -> tuple[int, int]:
    """The same without the parsed-index cache: the verified indices parsed each time."""
    with Upstream(data_dir, settings) as upstream:
        (suite,) = upstream.suites()
        packages = parse_packages(
            upstream.index_text(suite, "main/binary-amd64/Packages"), "Packages")
        sources = parse_sources(upstream.index_text(suite, "main/source/Sources"), "Sources")
    return len(packages), len(sources)


def apt_dir(root: Path, uri: str, suite: str, keyring: Path) -> list[str]:
    for sub in ("etc/sources.list.d", "etc/apt.conf.d", "etc/preferences.d",
                "state/lists/partial", "cache/archives/partial"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "etc/sources.list.d/bench.sources").write_text(
        f"Types: deb deb-src\nURIs: {uri}\nSuites: {suite}\nComponents: main\n"
        f"Signed-By: {keyring}\n"
    )
    return [
        "apt-get", "-q", "update",
        "-o", "Dir::Etc::SourceList=/dev/null",
        "-o", f"Dir::Etc::SourceParts={root}/etc/sources.list.d",
        "-o", f"Dir::Etc::Parts={root}/etc/apt.conf.d",
        "-o", f"Dir::Etc::PreferencesParts={root}/etc/preferences.d",
        "-o", f"Dir::State={root}/state",
        "-o", f"Dir::Cache={root}/cache",
        "-o", "APT::Architecture=amd64",
        "-o", "APT::Architectures=amd64",
        "-o", "Acquire::Languages=none",
        "-o", "Debug::NoLocking=1",
    ]


def best(repeat: int, run: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not shutil.which("apt-get"):
        raise SystemExit("apt-get is not installed: nothing to compare with")
    settings, uri, suite, keyring = upstream_settings()
    with tempfile.TemporaryDirectory(prefix="bench-reader-") as tmp:
        root = Path(tmp)
        cmd = apt_dir(root / "apt", uri, suite, keyring)

        def apt() -> None:
            subprocess.run(cmd, check=True, capture_output=True)

        start = time.perf_counter()
        counts = ours(root / "ours", settings)
        ours_cold = time.perf_counter() - start
        apt_cold = best(1, apt)
        ours_warm = best(args.repeat, lambda: ours(root / "ours", settings))
        ours_reparse = best(args.repeat, lambda: ours_parse(root / "ours", settings))
        apt_warm = best(args.repeat, apt)

        def apt_reparse() -> None:
            for cache in (root / "apt" / "cache").glob("*.bin"):
                cache.unlink()
            apt()

        apt_parse = best(args.repeat, apt_reparse)
    print(f"lists: {suite} main amd64: {counts[0]} binary and {counts[1]} source stanzas")
    print(f"cold (download + verify + parse): ours {ours_cold:6.2f} s   "
          f"apt-get update {apt_cold:6.2f} s   ratio {ours_cold / apt_cold:5.2f}")
    print(f"warm (verify + parsed cache):      ours {ours_warm:6.2f} s   "
          f"apt-get update {apt_warm:6.2f} s   ratio {ours_warm / apt_warm:5.2f}"
          "   (goal <= 1.5; both keep what they parsed)")
    print(f"warm, both parse their lists:      ours {ours_reparse:6.2f} s   "
          f"apt-get update {apt_parse:6.2f} s   ratio {ours_reparse / apt_parse:5.2f}"
          "   (ours without the parsed cache; apt's pkgcache.bin removed first)")


if __name__ == "__main__":
    main()
