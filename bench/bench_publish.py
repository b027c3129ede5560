"""Benchmark: publish N small packages, ours vs `apt-ftparchive generate` + `release`.

For each size (1,000 and 10,000 by default) the bench makes N tiny, distinct, valid
.debs (one template built by dpkg-deb; each variant gets its own control file and its
own data.tar.gz holding /usr/share/doc/<name>/hello.txt, so Contents lists N paths),
seeds them into a fresh catalog as done builds, each with its own source (a .dsc and
its tarball in the upstream cache), and measures two cases:

  first      the first publish of the N packages into an empty archive
  +1         a publish after adding one more package

Ours: `archive.publish.publisher.publish` in-process (pool copy, per-.deb facts,
Packages{,.gz,.xz}, Contents-amd64{.gz,.xz}, Sources{,.gz,.xz} of the N sources,
Release with by-hash, InRelease and Release.gpg signed by gpg). The signing key is
generated before timing; every publish still starts (and stops) its gpg-agent, which
is part of the signing time.
Our time without signing subtracts the time spent in `SigningKeys` (gpg start-up,
key lookup, clearsign + verify, detached sign + verify, public key export).

apt-ftparchive: a minimal generate config over the same pool (the files our publish
put under <root>/pool, copied into its own archive dir): Packages{,.gz,.xz},
Sources{,.gz,.xz} (the same N sources, from the .dsc files of the pool) and
main/Contents-amd64.gz with cache dbs (what makes it incremental), then
`apt-ftparchive release` for the Release and the by-hash copies (DoByHash); nothing is
signed on its side. For +1
the new .deb is linked into its pool and generate + release run again.

Not timed: making and seeding the packages, key generation, linking the pool.
Each case runs once (a first publish cannot be repeated on the same state).

    python bench/bench_publish.py [--sizes 1000,10000] [--profile]

Prints one row per size and case: ours (with and without signing), apt-ftparchive, the
ratio ours / apt-ftparchive (lower is better for us), and the peak RSS of our publish.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import gzip
import io
import os
import pstats
import resource
import shutil
import string
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archive.debfile import ControlMember, DebFile, deb_bytes, read_deb
from archive.publish.publisher import archive_root, publish
from archive.publish_settings import PublishSettings, PublishTarget
from archive.signing import SigningKeys
from unessential.config import Settings

REPO = Path(__file__).resolve().parent.parent
ARCH = "amd64"
SUITE = "stable"
MTIME = 1_700_000_000
KEY_NAME = "unessential archive signing key"

APT_GENERATE_CONF = """\
Dir {{
  ArchiveDir "{root}";
  CacheDir "{root}/cache";
}};
Default {{
  Packages::Compress ". gzip xz";
  Sources::Compress ". gzip xz";
  Contents::Compress "gzip";
  Packages::Extensions ".deb";
  FileMode 0644;
}};
TreeDefault {{
  Directory "pool/";
  SrcDirectory "pool/";
  Contents "$(DIST)/$(SECTION)/Contents-$(ARCH)";
  BinCacheDB "packages-$(SECTION)-$(ARCH).db";
  SrcCacheDB "sources-$(SECTION).db";
}};
Tree "dists/{suite}" {{
  Sections "main";
  Architectures "{arch} source";
}};
"""


# ---------------------------------------------------------------------------------
# packages


def template_deb(work: Path) -> DebFile:
    """One real package built by dpkg-deb, the template of every variant."""
    root = work / "template"
    (root / "DEBIAN").mkdir(parents=True)
    doc = root / "usr/share/doc/template"
    doc.mkdir(parents=True)
    (doc / "hello.txt").write_text("template\n")
    (root / "DEBIAN/control").write_text(
        f"Package: template\nVersion: 1.0-1\nArchitecture: {ARCH}\n"
        "Maintainer: Bench <bench@example.invalid>\nSection: misc\nPriority: optional\n"
        "Description: tiny bench package\n just for the publish bench\n")
    deb = work / "template.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", str(root),
                    str(deb)], check=True, capture_output=True)
    return read_deb(deb)


def _data_tar_gz(name: str, version: str) -> bytes:
    body = f"{name} {version}\n".encode()
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as tar:
        parts = ["usr", "share", "doc", name]
        for depth in range(len(parts) + 1):
            info = tarfile.TarInfo("./" + "/".join(parts[:depth]))
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, MTIME
            info.uname = info.gname = "root"
            tar.addfile(info)
        info = tarfile.TarInfo(f"./usr/share/doc/{name}/hello.txt")
        info.size, info.mode, info.mtime = len(body), 0o644, MTIME
        info.uname = info.gname = "root"
        tar.addfile(info, io.BytesIO(body))
    return gzip.compress(out.getvalue(), compresslevel=6, mtime=0)


def package_name(index: int) -> str:
    """Spread over the pool's prefix directories as a real archive is."""
    return f"{string.ascii_lowercase[index % 26]}bench{index:05d}"


def make_variant(template: DebFile, out_dir: Path, index: int) -> Path:
    """A distinct package: its own control file and data.tar.gz, the template's rest."""
    name, version = package_name(index), f"1.{index}-1"
    control = template.members["control"].data.decode()
    control = control.replace("Package: template\n", f"Package: {name}\n")
    control = control.replace("Version: 1.0-1\n", f"Version: {version}\n")
    members = dict(template.members)
    members["control"] = ControlMember("control", control.encode(), 0o644)
    deb = DebFile(members=members, data_name="data.tar.gz",
                  data=_data_tar_gz(name, version), control_name="control.tar.gz")
    path = out_dir / f"{name}_{version}_{ARCH}.deb"
    path.write_bytes(deb_bytes(deb, mtime=MTIME, compression="gz"))
    return path


def seed_catalog(data_dir: Path, debs: list[Path]) -> None:
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from tests.fixtures.catalog_seed import seed

    seed(data_dir, debs)


# ---------------------------------------------------------------------------------
# measuring


class SigningClock:
    """Time spent in the SigningKeys calls `publish` makes (outermost calls only)."""

    METHODS = ("__init__", "ensure_default", "clearsign", "detach_sign", "export_public",
               "stop_agent")

    def __init__(self) -> None:
        self.seconds = 0.0
        self._depth = 0

    @contextmanager
    def installed(self) -> Iterator[SigningClock]:
        originals = {name: getattr(SigningKeys, name) for name in self.METHODS}
        for name, method in originals.items():
            setattr(SigningKeys, name, self._wrap(method))
        try:
            yield self
        finally:
            for name, method in originals.items():
                setattr(SigningKeys, name, method)

    def _wrap(self, method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def timed(*args: Any, **kwargs: Any) -> Any:
            self._depth += 1
            start = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self.seconds += time.perf_counter() - start
        return timed


def reset_peak_rss() -> bool:
    """Reset this process's peak RSS (Linux: clear_refs 5); False if not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _status_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def peak_rss_mib(reset: bool) -> float:
    """Peak RSS since the reset (VmHWM); without a reset, of the whole process."""
    if reset:
        return _status_mib("VmHWM")
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class Ours:
    seconds: float
    signing: float
    peak_mib: float
    start_mib: float  # RSS of the bench process when the publish started
    packages: int
    new_pool_files: int


def run_ours(settings: PublishTarget, profile: cProfile.Profile | None = None) -> Ours:
    clock = SigningClock()
    reset = reset_peak_rss()
    start_mib = _status_mib("VmRSS")
    with clock.installed():
        start = time.perf_counter()
        if profile is not None:
            profile.enable()
        result = publish(settings)
        if profile is not None:
            profile.disable()
        seconds = time.perf_counter() - start
    return Ours(seconds, clock.seconds, peak_rss_mib(reset), start_mib, result.packages,
                result.new_pool_files)


def apt_setup(root: Path) -> Path:
    (root / "cache").mkdir(parents=True)
    (root / "dists" / SUITE / "main" / f"binary-{ARCH}").mkdir(parents=True)
    (root / "dists" / SUITE / "main" / "source").mkdir(parents=True)
    conf = root / "generate.conf"
    conf.write_text(APT_GENERATE_CONF.format(root=root, suite=SUITE, arch=ARCH))
    return conf


def run_apt(root: Path, conf: Path) -> float:
    dist = root / "dists" / SUITE
    release_options = [
        "-o", "APT::FTPArchive::Release::Origin=unessential",
        "-o", "APT::FTPArchive::Release::Label=unessential",
        "-o", f"APT::FTPArchive::Release::Suite={SUITE}",
        "-o", f"APT::FTPArchive::Release::Codename={SUITE}",
        "-o", f"APT::FTPArchive::Release::Architectures={ARCH}",
        "-o", "APT::FTPArchive::Release::Components=main",
        "-o", "APT::FTPArchive::Release::Acquire-By-Hash=yes",
        "-o", "APT::FTPArchive::DoByHash=true",  # by-hash copies, made by `release`
    ]
    start = time.perf_counter()
    subprocess.run(["apt-ftparchive", "-q", "generate", str(conf)], check=True,
                   capture_output=True)
    (dist / "Release").unlink(missing_ok=True)
    with open(dist / "Release.new", "wb") as out:
        subprocess.run(["apt-ftparchive", *release_options, "release", f"dists/{SUITE}"],
                       cwd=root, check=True, stdout=out, stderr=subprocess.PIPE)
    os.replace(dist / "Release.new", dist / "Release")
    return time.perf_counter() - start


def link_pool(source: Path, target: Path) -> None:
    """Copy the files of our pool that apt-ftparchive's archive dir has not yet (.debs,
    .dsc files, tarballs) into it. Copies, not hard links: a new link to a file changes
    its ctime, which our publish takes (rightly) for a pool file to read again."""
    for path in (source / "pool").rglob("*"):
        copy = target / path.relative_to(source)
        if path.is_file() and not copy.exists():
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, copy)


def apt_packages(root: Path, index: str = f"binary-{ARCH}/Packages") -> int:
    text = (root / "dists" / SUITE / "main" / index).read_text()
    return text.count("\nPackage: ") + text.startswith("Package: ")


# ---------------------------------------------------------------------------------
# the run


@dataclass
class Row:
    size: int
    case: str
    ours: Ours
    apt: float


def bench_size(size: int, work: Path, template: DebFile,
               profiles: dict[str, cProfile.Profile] | None,
               ) -> tuple[list[Row], dict[str, float]]:
    setup: dict[str, float] = {}
    debs_dir = work / "debs"
    debs_dir.mkdir()
    start = time.perf_counter()
    debs = [make_variant(template, debs_dir, i) for i in range(size + 1)]
    setup["make"] = time.perf_counter() - start
    extra = debs.pop()
    data_dir = work / "data"
    start = time.perf_counter()
    seed_catalog(data_dir, debs)
    setup["seed"] = time.perf_counter() - start
    settings = PublishTarget(PublishSettings(), data_dir,
                             Settings(data_dir=data_dir).effective_database_url)
    keys = SigningKeys(data_dir / "keys")
    start = time.perf_counter()
    keys.ensure_default(KEY_NAME)
    setup["key"] = time.perf_counter() - start
    apt_root = work / "apt"
    conf = apt_setup(apt_root)
    pool = archive_root(settings)
    rows = []
    try:
        first = run_ours(settings, profiles and profiles["first"])
        link_pool(pool, apt_root)
        apt_first = run_apt(apt_root, conf)
        check(first, apt_root, size)
        rows.append(Row(size, "first", first, apt_first))

        seed_catalog(data_dir, [extra])
        again = run_ours(settings, profiles and profiles["+1"])
        link_pool(pool, apt_root)
        apt_again = run_apt(apt_root, conf)
        check(again, apt_root, size + 1)
        rows.append(Row(size, "+1", again, apt_again))
    finally:
        keys.stop_agent()
    return rows, setup


def check(ours: Ours, apt_root: Path, expected: int) -> None:
    got = (ours.packages, apt_packages(apt_root))
    if got != (expected, expected):
        raise SystemExit(f"expected {expected} packages, got ours {got[0]}, "
                         f"apt-ftparchive {got[1]}")
    sources = apt_packages(apt_root, "source/Sources")
    if sources != expected:
        raise SystemExit(f"expected {expected} sources from apt-ftparchive, got {sources}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000",
                        help="comma-separated package counts (default 1000,10000)")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile our publishes of the largest size; top functions "
                             "by cumulative and by own time to stderr")
    args = parser.parse_args()
    sizes = [int(part) for part in args.sizes.split(",") if part.strip()]
    for tool in ("apt-ftparchive", "dpkg-deb", "gpg"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is not installed")
    rows: list[Row] = []
    setups = []
    profiles = {"first": cProfile.Profile(), "+1": cProfile.Profile()} if args.profile else None
    total = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-publish-") as tmp:
        template = template_deb(Path(tmp))
        for size in sizes:
            work = Path(tmp) / str(size)
            work.mkdir()
            size_rows, setup = bench_size(
                size, work, template, profiles if size == max(sizes) else None)
            rows += size_rows
            setups.append((size, setup))
            shutil.rmtree(work)
    total = time.perf_counter() - total
    print("packages: tiny distinct amd64 .debs (control.tar.gz + data.tar.gz, one file "
          "each), pool and catalog seeded by the bench")
    print(f"{'size':>6}  {'case':<5}  {'ours s':>7}  {'unsigned':>8}  "
          f"{'apt-ftparchive s':>16}  {'ratio':>6}  {'unsigned':>8}  peak RSS (at start)")
    for row in rows:
        unsigned = row.ours.seconds - row.ours.signing
        print(f"{row.size:>6}  {row.case:<5}  {row.ours.seconds:>7.2f}  {unsigned:>8.2f}  "
              f"{row.apt:>16.2f}  {row.ours.seconds / row.apt:>6.2f}  "
              f"{unsigned / row.apt:>8.2f}  {row.ours.peak_mib:>4.0f} MiB "
              f"({row.ours.start_mib:.0f} MiB)")
    print("ours: publish() in-process, including gpg signing (InRelease + Release.gpg, "
          "each verified); unsigned = ours minus the time in SigningKeys calls")
    print("apt-ftparchive: generate (cache db) + release (by-hash), unsigned")
    print("peak RSS: of the bench process during our publish (VmHWM reset before it); "
          "at start: its RSS when the publish began")
    for size, setup in setups:
        print(f"setup, not timed ({size}): make {setup['make']:.1f} s, "
              f"seed {setup['seed']:.1f} s, key {setup['key']:.1f} s")
    print(f"whole run: {total:.0f} s")
    for case, profile in (profiles or {}).items():
        print(f"--- profile of our publish, {max(sizes)} packages, case {case}",
              file=sys.stderr)
        stats = pstats.Stats(profile, stream=sys.stderr)
        stats.sort_stats("cumulative").print_stats(20)
        stats.sort_stats("tottime").print_stats(10)


if __name__ == "__main__":
    main()
