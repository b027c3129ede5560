"""Benchmark: a python3 image, `unessential bootstrap` vs mmdebstrap.

Images of python3, each as a directory:

  ours         `unessential bootstrap python3` from an archive published by unessential
               holding the rebuilt closure of python3 (default: this host's publish
               root, as the README's main job leaves it; or --archive DIR)
  ours slim    the same with `--exclude-docs --exclude-charsets` (dpkg path filters)
  minbase      `mmdebstrap --variant=minbase --include=python3` from the host's mirror
               (merged-/usr hook), what a user would otherwise pick for a small image
  essential    `mmdebstrap --variant=essential --include=python3`: the upstream closure
               of python3 plus the Essential set, without apt

For each: image size (bytes of regular files, as `du --apparent-size`; and disk usage
as `du -s`), package count (dpkg-query over the image's status file) and wall time.
Ours is timed cold (an empty cache: every .deb fetched and verified) and warm (the
verified cache of the cold run); mmdebstrap has no cache of its own between runs, so its
one run always downloads (from the same mirror the host uses: read from its APT sources).

    python bench/bench_bootstrap.py [--archive DIR] [--suite stable]

Prints one row per image and the ratios ours / minbase and ours / essential (lower is
better for us); then the compressed image a registry would hold: ours as the OCI
archive `bootstrap python3 ca-certificates --exclude-docs --exclude-charsets` writes
(gzip layer), minbase as its tree in a gzip tar (the same compression level). Run as
root (mmdebstrap's root mode; ours writes owners).
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
from dataclasses import dataclass
from pathlib import Path

from archive.upstream.aptsources import read_apt_sources
from archive.upstream.mirror import host_codename

HOOKS = Path("/usr/share/mmdebstrap/hooks/merged-usr")


@dataclass
class Image:
    label: str
    seconds: float
    packages: int
    apparent: int
    disk: int
    note: str = ""


def measure(root: Path) -> tuple[int, int, int]:
    """(package count, apparent bytes of regular files, disk bytes) of an image."""
    listed = subprocess.run(
        ["dpkg-query", f"--admindir={root / 'var/lib/dpkg'}", "-W", "-f", "${Package}\\n"],
        capture_output=True, text=True, check=True).stdout.split()
    apparent = 0
    for folder, _, files in os.walk(root):
        for name in files:
            info = os.lstat(os.path.join(folder, name))
            if not os.path.islink(os.path.join(folder, name)):
                apparent += info.st_size
    disk = int(subprocess.run(["du", "-sk", "-x", str(root)], capture_output=True, text=True,
                              check=True).stdout.split()[0]) * 1024
    return len(listed), apparent, disk


SLIM = ("--exclude-docs", "--exclude-charsets")


def ours(archive: Path, suite: str, out: Path, data: Path, *extra: str,
         packages: tuple[str, ...] = ("python3",)) -> float:
    env = dict(os.environ, UNESSENTIAL_DATA_DIR=str(data))
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "unessential.cli", "-q", "bootstrap", *packages,
                    "--archive", str(archive), "--suite", suite, "--output", str(out),
                    "--force", "--no-record", *extra], env=env, check=True,
                   capture_output=True)
    return time.perf_counter() - started


def gzip_tar_size(root: Path) -> int:
    """Bytes of the tree as a gzip tar (level 6, what bootstrap's layers use)."""
    tar = subprocess.Popen(["tar", "-C", str(root), "--numeric-owner", "-cf", "-", "."],
                           stdout=subprocess.PIPE)
    zipped = subprocess.run(["gzip", "-6", "-n"], stdin=tar.stdout, capture_output=True,
                            check=True)
    tar.wait()
    return len(zipped.stdout)


def mmdebstrap(variant: str, out: Path, mirror: str, suite: str) -> float:
    started = time.perf_counter()
    subprocess.run(["mmdebstrap", "--quiet", f"--variant={variant}", "--include=python3",
                    f"--hook-dir={HOOKS}", suite, str(out), mirror], check=True,
                   capture_output=True)
    return time.perf_counter() - started


def host_mirror() -> tuple[str, str]:
    entries = read_apt_sources([Path("/etc/apt/sources.list"), Path("/etc/apt/sources.list.d")])
    codename = host_codename() or "bookworm"
    for entry in entries:
        if entry.suite == codename:
            return entry.uri, codename
    raise SystemExit("no APT source for the host's codename")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--archive", type=Path, help="published root (default: the data "
                        "dir's public/)")
    parser.add_argument("--suite", default="stable")
    args = parser.parse_args()
    if args.archive is None:
        from archive.publish.publisher import archive_root
        from archive.publish_settings import PublishTarget
        from unessential.config import load_settings

        settings = load_settings(None).settings
        args.archive = archive_root(PublishTarget(settings.publish, settings.data_dir,
                                                  settings.effective_database_url))
    if not (args.archive / "dists" / args.suite).exists():
        raise SystemExit(f"{args.archive}: no suite {args.suite}; run scripts/main-job.sh "
                         "first (it publishes the rebuilt closure of python3)")
    mirror, codename = host_mirror()
    began = time.perf_counter()
    images: list[Image] = []
    with tempfile.TemporaryDirectory(prefix="bench-bootstrap-") as work:
        top = Path(work)
        cold = ours(args.archive, args.suite, top / "ours", top / "data")
        warm = ours(args.archive, args.suite, top / "ours", top / "data")
        count, apparent, disk = measure(top / "ours")
        images.append(Image("ours (warm)", warm, count, apparent, disk,
                            f"cold (empty cache) {cold:.1f} s"))
        slim = ours(args.archive, args.suite, top / "slim", top / "data", *SLIM)
        count, apparent, disk = measure(top / "slim")
        images.append(Image("ours slim", slim, count, apparent, disk))
        oci = top / "python.oci.tar"
        ours(args.archive, args.suite, oci, top / "data", *SLIM,
             packages=("python3", "ca-certificates"))
        compressed = {"ours slim OCI (python3 ca-certificates)": oci.stat().st_size}
        for variant in ("minbase", "essential"):
            seconds = mmdebstrap(variant, top / variant, mirror, codename)
            count, apparent, disk = measure(top / variant)
            images.append(Image(variant, seconds, count, apparent, disk))
            if variant == "minbase":
                compressed["minbase python3 (gzip tar)"] = gzip_tar_size(top / variant)
            shutil.rmtree(top / variant)
    print(f"python3 images (suite {codename} of the host's mirror; ours from {args.archive})")
    print(f"  {'image':14} {'seconds':>8} {'packages':>9} {'MiB files':>10} {'MiB disk':>9}")
    for image in images:
        print(f"  {image.label:14} {image.seconds:8.1f} {image.packages:9d} "
              f"{image.apparent / 2**20:10.1f} {image.disk / 2**20:9.1f}  {image.note}")
    base, slim_image = images[0], images[1]
    for other in images[2:]:
        print(f"  ours / {other.label:9}  time {base.seconds / other.seconds:5.2f}  "
              f"(cold {cold / other.seconds:4.2f})  packages {base.packages / other.packages:4.2f}"
              f"  size {base.apparent / other.apparent:4.2f}  disk {base.disk / other.disk:4.2f}"
              f"  slim size {slim_image.apparent / other.apparent:4.2f}")
    print("compressed images (bytes)")
    for label, size in compressed.items():
        print(f"  {label:42} {size:>11,d}  {size / 1e6:6.2f} MB")
    first, second = compressed.values()
    print(f"  ours slim OCI / minbase gzip tar: {first / second:4.2f}")
    print(f"  whole run: {time.perf_counter() - began:.0f} s")
    print(json.dumps({"images": {i.label: i.__dict__ for i in images},
                      "compressed": compressed}, sort_keys=True))


if __name__ == "__main__":
    main()
