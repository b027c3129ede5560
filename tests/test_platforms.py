"""Images for several platforms: `bootstrap --platform linux/amd64,linux/arm64` writes one
OCI image index with a manifest per platform (read by skopeo), and an SBOM per platform;
a farm repacks arm64 beside amd64 with one version for both (`rebuild --arch`).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from debian.deb822 import Deb822

from tests.fixtures.archive import FixtureArchive
from tests.fixtures.catalog_seed import seed
from tests.fixtures.debs import make_deb, make_source
from tests.fixtures.keys import ArchiveKey
from tests.fixtures.source_farm import farm_on
from tests.fixtures.source_farm import run as farm
from tests.test_bootstrap import REWRITTEN, boot, build, run

TRIPLET = {"amd64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu"}


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("platforms-home")
    out = home / "debs"
    debs = []
    for arch, triplet in TRIPLET.items():
        debs.append(build(out / arch, "libtool1", {f"/usr/lib/{triplet}/libtool.so.1":
                                                   f"lib for {arch}\n"},
                          control=f"{REWRITTEN}Multi-Arch: same\n", arch=arch))
        debs.append(build(out / arch, "tool", {"/usr/bin/tool": f"tool for {arch}\n"},
                          control=f"{REWRITTEN}Depends: libtool1, tool-data\n", arch=arch))
    debs.append(build(out, "tool-data", {"/usr/share/tool/data": "data\n"}, arch="all",
                      control=REWRITTEN))
    seed(home / "data", debs)
    result = run(home, "publish", "--date", "Tue, 14 Nov 2023 22:13:20 +0000")
    assert result.exit_code == 0, result.output
    yield home


def _skopeo(*args: str) -> dict:
    done = subprocess.run(["skopeo", *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_release_lists_both_architectures(published: Path) -> None:
    release = (published / "data/public/dists/stable/Release").read_text()
    assert "Architectures: amd64 arm64" in release.splitlines()
    arm = (published / "data/public/dists/stable/main/binary-arm64/Packages").read_text()
    assert "Package: tool-data" in arm and "Architecture: arm64" in arm


def test_one_oci_image_for_two_platforms(published: Path, tmp_path: Path) -> None:
    out = tmp_path / "tool.oci.tar"
    result = boot(published, tmp_path, "tool", "--platform", "linux/amd64,linux/arm64",
                  "--no-base", "--output", str(out), "--sbom", "spdx,cyclonedx", "--json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert [p["platform"] for p in info["platforms"]] == ["linux/amd64", "linux/arm64/v8"]
    for platform in info["platforms"]:
        arch = platform["architecture"]
        assert {(p["name"], p["architecture"]) for p in platform["packages"]} == {
            ("tool", arch), ("libtool1", arch), ("tool-data", "all")}
        inspect = _skopeo("inspect", "--override-arch", arch, f"oci-archive:{out}")
        assert inspect["Architecture"] == arch
        bom = json.loads(out.with_name(f"{out.name}.{arch}.cdx.json").read_text())
        purls = [c["purl"] for c in bom["components"] if c["name"] == "tool"]
        assert purls and purls[0].endswith(f"arch={arch}&distro=stable")
        assert out.with_name(f"{out.name}.{arch}.spdx.json").is_file()
    raw = _skopeo("inspect", "--raw", f"oci-archive:{out}")
    assert raw["mediaType"] == "application/vnd.oci.image.index.v1+json"
    assert [m["platform"] for m in raw["manifests"]] == [
        {"architecture": "amd64", "os": "linux"},
        {"architecture": "arm64", "os": "linux", "variant": "v8"}]
    config = _skopeo("inspect", "--config", "--override-arch", "arm64", f"oci-archive:{out}")
    assert (config["architecture"], config["variant"]) == ("arm64", "v8")
    # the layers hold each architecture's files
    layout = tmp_path / "layout"
    layout.mkdir()
    subprocess.run(["tar", "-xf", str(out), "-C", str(layout)], check=True)
    index = json.loads((layout / "index.json").read_text())
    assert index["manifests"][0]["digest"] == info["digest"]
    # the same inputs give the same image
    again = tmp_path / "again.oci.tar"
    result = boot(published, tmp_path, "tool", "--platform", "linux/amd64,linux/arm64",
                  "--no-base", "--output", str(again), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["digest"] == info["digest"]


def test_arm64_alone_and_its_files(published: Path, tmp_path: Path) -> None:
    out = tmp_path / "rootfs"
    result = boot(published, tmp_path, "tool", "--platform", "linux/arm64", "--no-base",
                  "--output", str(out))
    assert result.exit_code == 0, result.output
    assert (out / "usr/bin/tool").read_text() == "tool for arm64\n"
    assert (out / "usr/lib/aarch64-linux-gnu/libtool.so.1").is_file()
    assert not (out / "lib64").exists()  # arm64 has no /lib64 link


@pytest.mark.parametrize(("args", "message"), [
    (("--platform", "linux/amd64,linux/arm64", "--output", "rootfs"), "one OCI image"),
    (("--platform", "windows/amd64", "--output", "x.oci.tar"), "expected linux/ARCH"),
    (("--platform", "linux/sparc", "--output", "x.oci.tar"), "not a platform Debian builds"),
    (("--platform", "linux/arm64", "--arch", "arm64", "--output", "x.oci.tar"),
     "--platform or --arch"),
    (("--sbom", "spdx,swid", "--output", "x.oci.tar"), "'swid': expected spdx or cyclonedx"),
])
def test_bad_platforms_are_refused(published: Path, tmp_path: Path, args: tuple[str, ...],
                                   message: str) -> None:
    fixed = [str(tmp_path / a) if a in ("rootfs", "x.oci.tar") else a for a in args]
    result = boot(published, tmp_path, "tool", *fixed)
    assert result.exit_code == 2 and message in result.output, result.output


# ---------------------------------------------------------------------------------
# the farm: arm64 repacked beside amd64


def _tool_upstream(root: Path, key: ArchiveKey) -> FixtureArchive:
    """Source tool 1.0-1: tool (amd64 and arm64) pins tool-data (all) at its version."""
    archive = FixtureArchive(root=root / "www", key=key, architectures=("amd64", "arm64"))
    work = root / "work"
    pool = archive.repo / "pool" / "main" / "t" / "tool"
    pool.mkdir(parents=True)
    for arch, depends in (("amd64", "tool-data (= 1.0-1)"), ("arm64", "tool-data (= 1.0-1)"),
                          ("all", "")):
        name = "tool-data" if arch == "all" else "tool"
        deb = make_deb(work / arch, name, "1.0-1", arch, depends=depends,
                       extra="Source: tool\nPriority: optional\nSection: misc\n")
        shutil.copy(deb, pool / deb.name)
    dsc = make_source(work, "tool", "1.0", "1")
    for produced in dsc.parent.iterdir():
        if produced.is_file() and produced.name.startswith("tool_"):
            shutil.copy(produced, pool / produced.name)
    archive.write_indices()
    archive.write_release()
    return archive


def test_the_farm_repacks_arm64_beside_amd64_with_one_version(
        tmp_path: Path, keys: dict[str, ArchiveKey]) -> None:
    archive = _tool_upstream(tmp_path / "upstream", keys["archive"])
    with farm_on(tmp_path, archive) as (ws, _):
        done = farm(ws, "rebuild", "--repack", "tool", "--arch", "amd64,arm64", "--wait",
                    "--json")
        assert done.returncode == 0, done.stderr
        assert [b["status"] for b in json.loads(done.stdout)["builds"]] == ["done", "done"]
        again = farm(ws, "rebuild", "--repack", "tool", "--arch", "amd64", "--arch", "arm64",
                     "--wait")
        assert again.returncode == 0 and again.stderr.count("already built") == 2, \
            again.stderr
        refused = farm(ws, "rebuild", "tool", "--arch", "arm64")
        assert refused.returncode == 2 and "--repack" in refused.stderr, refused.stderr
        published = farm(ws, "publish", "--json")
        assert published.returncode == 0, published.stderr
        root = Path(json.loads(published.stdout)["root"]) / "dists/stable"
        assert "Architectures: amd64 arm64" in (root / "Release").read_text().splitlines()
        for arch in ("amd64", "arm64"):
            packages = {p["Package"]: p for p in Deb822.iter_paragraphs(
                (root / f"main/binary-{arch}/Packages").read_text())}
            assert packages["tool"]["Architecture"] == arch
            assert packages["tool"]["Version"] == "1.0-1ue1"
            assert packages["tool"]["Depends"] == "tool-data (= 1.0-1ue1)"
            assert packages["tool-data"]["Version"] == "1.0-1ue1"
        sources = list(Deb822.iter_paragraphs((root / "main/source/Sources").read_text()))
        assert [(s["Package"], s["Version"]) for s in sources] == [("tool", "1.0-1")]
