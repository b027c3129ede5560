"""Index writing (archive.publish: packages, sources, contents, release) against
apt-ftparchive on real packages.

apt-ftparchive (apt-utils) is the reference: the same .debs and source package go
through both, and the resulting stanzas must have the same fields and values. Where
we differ on purpose, the test says so:

- apt-ftparchive writes SHA1 and SHA512 per package and Checksums-Sha1 and
  Checksums-Sha512 per source; we write only MD5sum/SHA256 and Files/Checksums-Sha256,
  as Debian's own archive (dak) does, so apt-ftparchive runs here with those hashes
  turned off (its documented APT::FTPArchive::<Index>::<Hash> options).
- apt-ftparchive keeps unknown fields in their control-file order; we sort them by
  name (the output must not depend on the order of a mapping from the catalog). The
  packages here list their unknown fields sorted, so the stanzas match byte for byte.
- apt-ftparchive takes Section/Priority of a source from its override file; we take
  them as arguments. Without an override it writes neither, as we do without them.
- With SHA1/SHA512 turned off, apt-ftparchive copies a control file's own bogus SHA1/
  SHA512/MSDOS-Filename fields into Packages; we drop them (test_dropped_fields).
"""

from __future__ import annotations

import gzip
import lzma
import random
import subprocess
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from itertools import product
from pathlib import Path

import pytest
from debian.debian_support import version_compare

from archive.debfile import data_listing, read_deb
from archive.publish.common import Hashes, compressed, file_hashes, hashes
from archive.publish.contents import contents_entries, contents_index
from archive.publish.packages import PACKAGES_ORDER, packages_index, packages_stanza
from archive.publish.release import ReleaseFields, by_hash_paths, format_date, release_text
from archive.publish.sources import sources_index, sources_stanza
from archive.publish.versions import version_key
from archive.upstream.release import parse_release
from base.deb822 import iter_stanzas, parse_one, split_lines
from tests.fixtures.debs import make_deb, make_source
from tests.fixtures.golden import GOLDEN, assert_golden

GOLDEN_DIR = GOLDEN / "indices"

# apt-ftparchive with only the hashes we write (see the module docstring).
FTPARCHIVE = ["apt-ftparchive",
              "-o", "APT::FTPArchive::Packages::SHA1=false",
              "-o", "APT::FTPArchive::Packages::SHA512=false",
              "-o", "APT::FTPArchive::Sources::SHA1=false",
              "-o", "APT::FTPArchive::Sources::SHA512=false"]

# Every control field apt-ftparchive orders, in reverse (values as base.deb822 reads
# them: continuation lines without their leading space); ours must restore its order.
FULL_FIELDS = {
    "Task": "probe-task", "Tag": "role::program,\nuse::testing",
    "Description-md5": "0123456789abcdef0123456789abcdef",
    "Description": "everything apt-ftparchive knows\nFirst paragraph.\n.\n"
                   "  verbatim line\nLast line.",
    "Homepage": "https://example.invalid/probe", "Enhances": "hello", "Replaces": "old-probe",
    "Breaks": "old-probe (<< 1)", "Conflicts": "other-probe", "Suggests": "alpha",
    "Recommends": "hello", "Depends": "hello (>= 1.0), alpha | beta",
    "Pre-Depends": "alpha", "Provides": "virtual-probe", "Installed-Size": "12",
    "Bugs": "mailto:bugs@example.invalid", "Original-Maintainer": "Upstream <up@example.invalid>",
    "Maintainer": "Test <test@example.invalid>", "Origin": "Example",
    "Source": "probe-src (0.1)", "Section": "admin", "Installer-Menu-Item": "42",
    "Essential": "no", "Important": "no", "Protected": "no", "Build-Essential": "no",
    "Priority": "optional", "Multi-Arch": "foreign", "Auto-Built-Package": "debug-symbols",
    "Built-For-Profiles": "noudeb", "Static-Built-Using": "golang (= 1.19)",
    "Built-Using": "gcc-12 (= 12.2.0-14)", "Kernel-Version": "6.1",
    "Version": "1:2.0-3", "Subarchitecture": "generic", "Architecture": "amd64",
    "Package-Type": "deb", "Package": "probe",
    # unknown to apt-ftparchive: after the known ones (listed sorted, see docstring)
    "Unessential-Recipe": "sha256:0123abcd", "X-Extra": "one\ntwo",
}


def _build_deb(out: Path, fields: dict[str, str], files: dict[str, str],
               links: dict[str, str]) -> Path:
    root = out / f"build-{fields['Package']}"
    (root / "DEBIAN").mkdir(parents=True)
    control = "".join(f"{name}: {value}\n".replace("\n", "\n ")[:-1]
                      for name, value in fields.items())
    (root / "DEBIAN" / "control").write_text(control)
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    for path, target in links.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).symlink_to(target)
    (root / "usr" / "share" / "empty").mkdir(parents=True)
    deb = out / f"{fields['Package']}_{fields['Version'].split(':')[-1]}_amd64.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zxz", "--build", str(root), str(deb)],
                   check=True, capture_output=True)
    return deb


@dataclass(frozen=True)
class Tree:
    root: Path
    debs: list[Path]
    dsc: Path


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Tree:
    root = tmp_path_factory.mktemp("tree")
    hello = root / "pool" / "main" / "h" / "hello"
    alpha = root / "pool" / "main" / "a" / "alpha"
    probe = root / "pool" / "main" / "p" / "probe"
    for folder in (hello, alpha, probe, hello / "i386"):
        folder.mkdir(parents=True)
    extra = "Section: utils\nPriority: optional\nUnessential-Recipe: sha256:feed\n"
    debs = [
        make_deb(hello, "hello", "1.0-1", "amd64", depends="libc6 (>= 2.36)", extra=extra),
        make_deb(hello, "hello", "1.0~rc1-1", "amd64", extra=extra),
        make_deb(hello / "i386", "hello", "1.0-1", "i386", extra=extra),
        make_deb(alpha, "alpha", "2.0", "all", extra="Section: misc\n"),
        _build_deb(probe, FULL_FIELDS,
                   files={"usr/share/doc/hello/hello.txt": "shared path\n",
                          "usr/bin/with space": "x\n",
                          "usr/lib/" + "x" * 48: "56 bytes long\n",
                          "usr/lib/" + "y" * 51: "59 bytes long\n",
                          "usr/lib/" + "z" * 52: "60 bytes long\n",
                          "usr/share/probe/" + "long/" * 12 + "deep.txt": "deep\n"},
                   links={"usr/bin/probe-link": "with space"}),
    ]
    sources = root / "pool" / "main" / "f" / "foo"
    sources.mkdir(parents=True)
    dsc = make_source(sources, "foo", "2.0")
    return Tree(root=root, debs=debs, dsc=dsc)


def _ftparchive(tree: Tree, *args: str) -> str:
    done = subprocess.run([*FTPARCHIVE, *args], cwd=tree.root, check=True,
                          capture_output=True, text=True)
    return done.stdout


def _our_packages(tree: Tree, debs: list[Path] | None = None) -> bytes:
    stanzas = []
    for deb in debs or tree.debs:
        control = parse_one(read_deb(deb).members["control"].data.decode())
        stanzas.append(packages_stanza(control, filename=str(deb.relative_to(tree.root)),
                                       hashes=hashes(deb.read_bytes())))
    return packages_index(stanzas)


def _dsc_files(dsc_path: Path) -> list[tuple[str, Hashes]]:
    """The .dsc first, then its files in the order of its Files field (as apt-ftparchive)."""
    dsc = parse_one(dsc_path.read_text())
    names = [dsc_path.name] + [line.split()[2] for line in split_lines(dsc["Files"])]
    return [(name, file_hashes(dsc_path.parent / name)) for name in names]


def _our_sources(tree: Tree, **kwargs: str) -> bytes:
    dsc = parse_one(tree.dsc.read_text())
    stanza = sources_stanza(dsc, directory=str(tree.dsc.parent.relative_to(tree.root)),
                            files=_dsc_files(tree.dsc), **kwargs)
    return sources_index([stanza])


def _by(text: str, *names: str) -> dict[tuple[str, ...], dict[str, str]]:
    return {tuple(s[name] for name in names): s for s in iter_stanzas(text)}


# ---------------------------------------------------------------------------------
# Packages


def test_packages_match_apt_ftparchive(tree: Tree) -> None:
    ours = _our_packages(tree).decode()
    theirs = _ftparchive(tree, "packages", "pool")
    key = ("Package", "Version", "Architecture")
    ours_by, theirs_by = _by(ours, *key), _by(theirs, *key)
    assert len(ours_by) == len(tree.debs) == 5
    assert ours_by == theirs_by  # same fields, same values, multi-line ones included
    for package, fields in ours_by.items():  # and in the same order
        assert list(fields) == list(theirs_by[package]), package
    # byte for byte, stanza by stanza (only the order of the stanzas differs)
    assert sorted(ours.split("\n\n")) == sorted(theirs.split("\n\n"))
    probe = ours_by[("probe", "1:2.0-3", "amd64")]
    assert probe["Description"] == FULL_FIELDS["Description"]
    assert list(probe)[-2:] == ["Unessential-Recipe", "X-Extra"]
    assert ours_by[("hello", "1.0-1", "amd64")]["Unessential-Recipe"] == "sha256:feed"


def test_packages_field_order_is_apt_ftparchives(tree: Tree) -> None:
    """The probe package carries every known field, written in reverse order."""
    theirs = _by(_ftparchive(tree, "packages", "pool/main/p"), "Package")[("probe",)]
    known = [name for name in theirs if name in PACKAGES_ORDER]
    assert known == [name for name in PACKAGES_ORDER if name in theirs]
    assert set(PACKAGES_ORDER) - set(theirs) == set()


def test_packages_sorted_by_name_version_architecture(tree: Tree) -> None:
    stanzas = list(iter_stanzas(_our_packages(tree).decode()))
    keys = [(s["Package"], s["Version"], s["Architecture"]) for s in stanzas]
    assert keys == [("alpha", "2.0", "all"), ("hello", "1.0~rc1-1", "amd64"),
                    ("hello", "1.0-1", "amd64"), ("hello", "1.0-1", "i386"),
                    ("probe", "1:2.0-3", "amd64")]
    text = _our_packages(tree).decode()
    assert text.endswith("\n\n") and "\n\n\n" not in text


def test_dropped_fields() -> None:
    control = {"Package": "p", "Version": "1", "Architecture": "all", "Status": "install ok",
               "Conffiles": "\n/etc/p 0123", "SHA1": "bogus", "SHA512": "bogus",
               "Filename": "elsewhere.deb", "MD5sum": "bogus", "MSDOS-Filename": "P.DEB",
               "Description": "d"}
    h = hashes(b"deb")
    stanza = parse_one(packages_stanza(control, filename="pool/main/p/p_1_all.deb", hashes=h))
    assert stanza == {"Package": "p", "Architecture": "all", "Version": "1",
                      "Filename": "pool/main/p/p_1_all.deb", "Size": "3", "MD5sum": h.md5,
                      "SHA256": h.sha256, "Description": "d"}


def test_stanza_does_not_depend_on_mapping_order() -> None:
    fields = dict(FULL_FIELDS)
    h = hashes(b"x")
    first = packages_stanza(fields, filename="pool/p.deb", hashes=h)
    for seed in range(5):
        items = list(fields.items())
        random.Random(seed).shuffle(items)
        assert packages_stanza(dict(items), filename="pool/p.deb", hashes=h) == first


def test_bad_values_are_refused() -> None:
    h = hashes(b"x")
    base = {"Package": "p", "Version": "1", "Architecture": "all"}
    with pytest.raises(ValueError, match="empty line"):
        packages_stanza({**base, "Description": "a\n\nb"}, filename="p.deb", hashes=h)
    with pytest.raises(ValueError, match="no Version"):
        packages_stanza({"Package": "p", "Architecture": "all"}, filename="p.deb", hashes=h)
    with pytest.raises(ValueError, match="twice"):
        packages_stanza({**base, "depends": "a", "Depends": "b"}, filename="p.deb", hashes=h)
    for filename in ("/abs.deb", "pool/../x.deb", "pool/a b.deb", "pool/x.deb\n"):
        with pytest.raises(ValueError):
            packages_stanza(base, filename=filename, hashes=h)
    stanza = packages_stanza(base, filename="p.deb", hashes=h)
    with pytest.raises(ValueError, match="two stanzas"):
        packages_index([stanza, stanza])
    with pytest.raises(ValueError, match="one stanza"):
        packages_index([stanza + "\n" + stanza])
    with pytest.raises(ValueError):
        Hashes(size=1, md5=h.sha256, sha1=h.sha1, sha256=h.sha256, sha512=h.sha512)


# ---------------------------------------------------------------------------------
# Sources


def test_sources_match_apt_ftparchive(tree: Tree) -> None:
    ours = _our_sources(tree).decode()
    theirs = _ftparchive(tree, "sources", "pool")
    ours_by, theirs_by = _by(ours, "Package"), _by(theirs, "Package")
    assert ours_by == theirs_by
    assert list(ours_by[("foo",)]) == list(theirs_by[("foo",)])
    foo = ours_by[("foo",)]
    assert "Source" not in foo and foo["Directory"] == "pool/main/f/foo/src-foo"
    assert split_lines(foo["Files"])[0].endswith(" foo_2.0-1.dsc")
    assert len(split_lines(foo["Checksums-Sha256"])) == 3  # the .dsc, orig, debian
    assert "Checksums-Sha1" not in foo


def test_sources_with_section_and_priority_match_an_override(tree: Tree) -> None:
    override = tree.root / "override"
    override.write_text("foo optional misc\n")  # package priority section
    theirs = _by(_ftparchive(tree, "sources", "pool", str(override)), "Package")
    ours = _by(_our_sources(tree, section="misc", priority="optional").decode(), "Package")
    assert ours == theirs
    assert list(ours[("foo",)]) == list(theirs[("foo",)])
    assert ours[("foo",)]["Priority"] == "optional"


def test_sources_need_the_dsc_among_the_files(tree: Tree) -> None:
    dsc = parse_one(tree.dsc.read_text())
    files = _dsc_files(tree.dsc)
    with pytest.raises(ValueError, match=r"\.dsc"):
        sources_stanza(dsc, directory="pool/main/f/foo", files=files[1:])
    with pytest.raises(ValueError, match="twice"):
        sources_stanza(dsc, directory="pool/main/f/foo", files=files + files[:1])


def test_sources_sorted_by_name_and_version() -> None:
    h = hashes(b"dsc")

    def stanza(name: str, version: str) -> str:
        return sources_stanza({"Source": name, "Version": version},
                              directory=f"pool/main/{name[0]}/{name}",
                              files=[(f"{name}_{version}.dsc", h)])

    text = sources_index([stanza("b", "1.0"), stanza("a", "1.0+1"), stanza("a", "1.0~1"),
                          stanza("a", "1.0")]).decode()
    assert [(s["Package"], s["Version"]) for s in iter_stanzas(text)] == [
        ("a", "1.0~1"), ("a", "1.0"), ("a", "1.0+1"), ("b", "1.0")]


# ---------------------------------------------------------------------------------
# Contents


def test_contents_match_apt_ftparchive(tree: Tree) -> None:
    """With bare package names (apt-ftparchive writes no section) the bytes are equal."""
    entries = []
    for deb in tree.debs:
        read = read_deb(deb)
        name = parse_one(read.members["control"].data.decode())["Package"]
        entries += contents_entries(data_listing(read), name)
    ours = contents_index(entries)
    theirs = _ftparchive(tree, "contents", "pool").encode()
    assert ours == theirs
    assert b"usr/share/doc/hello/hello.txt\t\t\t\t    hello,probe\n" in ours
    assert b"usr/share/empty" not in ours  # no directories


def test_contents_golden() -> None:
    entries = [
        ("./usr/bin/hello", "utils/hello"),
        ("usr/share/doc/hello/copyright", "utils/hello"),
        ("usr/share/doc/hello/copyright", "contrib/misc/hello-extra"),
        ("usr/share/doc/hello/copyright", "utils/hello"),
        ("usr/lib/x86_64-linux-gnu/libexample-with-a-very-long-name.so.1.2.3", "libs/libex1"),
        ("usr/share/with space/file", "misc/spaced"),
        ("usr/bin/\u00e9t\u00e9", "misc/accent"),
    ]
    assert_golden(GOLDEN_DIR / "Contents-amd64", contents_index(entries).decode())
    assert contents_index(reversed(entries)) == contents_index(entries)
    assert contents_index([]) == b""
    for bad in [("a\nb", "misc/x"), ("/abs", "misc/x"), ("ok", "two words"), ("ok", "a,b")]:
        with pytest.raises(ValueError):
            contents_index([bad])


# ---------------------------------------------------------------------------------
# Release and by-hash


def _release_fields(**changes: object) -> ReleaseFields:
    fields = ReleaseFields(
        origin="Unessential", label="Unessential", suite="stable", codename="trixie",
        date=datetime(2026, 7, 11, 10, 16, 37, tzinfo=UTC),
        valid_until=datetime(2026, 7, 18, 10, 16, 37, tzinfo=UTC),
        architectures=("amd64", "arm64"), components=("main",),
        description="Unessential test archive",
        signed_by="0123456789ABCDEF0123456789ABCDEF01234567",
    )
    return replace(fields, **changes)  # type: ignore[arg-type]


def _release_files() -> dict[str, Hashes]:
    # Stand-ins for the compressed files: a golden file must not depend on the zlib and
    # liblzma versions of the machine.
    files: dict[str, Hashes] = {}
    for path in ("main/binary-amd64/Packages", "main/binary-arm64/Packages",
                 "main/source/Sources", "main/Contents-amd64"):
        for suffix in ("", ".gz", ".xz"):
            files[path + suffix] = hashes(f"{path}{suffix}\n".encode() * len(path + suffix))
    files["main/binary-arm64/Packages"] = hashes(b"")
    return files


def test_release_golden() -> None:
    text = release_text(_release_fields(), _release_files())
    assert_golden(GOLDEN_DIR / "Release", text)
    assert text.startswith("Origin: Unessential\nLabel: Unessential\nSuite: stable\n"
                           "Codename: trixie\nDate: Sat, 11 Jul 2026 10:16:37 UTC\n"
                           "Valid-Until: Sat, 18 Jul 2026 10:16:37 UTC\n")


def test_release_round_trips_through_parse_release() -> None:
    files = _release_files()
    text = release_text(_release_fields(), files)
    parsed = parse_release(text, "Release")
    assert parsed.date == datetime(2026, 7, 11, 10, 16, 37, tzinfo=UTC)
    assert parsed.valid_until == datetime(2026, 7, 18, 10, 16, 37, tzinfo=UTC)
    assert parsed.acquire_by_hash is True
    assert (parsed.suite, parsed.codename) == ("stable", "trixie")
    assert parsed.architectures == ("amd64", "arm64") and parsed.components == ("main",)
    assert {p: (f.size, f.sha256) for p, f in parsed.files.items()} == {
        p: (h.size, h.sha256) for p, h in files.items()}
    fields = parse_one(text)
    for name, attribute in (("MD5Sum", "md5"), ("SHA512", "sha512")):
        listed = {line.split()[2]: (line.split()[0], int(line.split()[1]))
                  for line in split_lines(fields[name])}
        assert listed == {p: (getattr(h, attribute), h.size) for p, h in files.items()}
    assert fields["Signed-By"] == "0123456789ABCDEF0123456789ABCDEF01234567"

    bare = release_text(_release_fields(valid_until=None, acquire_by_hash=False,
                                        description="", signed_by=""), files)
    parsed = parse_release(bare, "Release")
    assert parsed.valid_until is None and parsed.acquire_by_hash is False
    assert "Description" not in bare and "Signed-By" not in bare


def test_release_matches_apt_ftparchive(tmp_path: Path) -> None:
    """Same header values and hash lines (alignment included) as apt-ftparchive release.

    apt-ftparchive 2.6 ignores its documented Valid-Until option (it only derives one
    from ValidTime and the clock, not from Date), so Valid-Until is left out here and
    checked by the round trip through parse_release.
    """
    suite = tmp_path / "dists" / "stable"
    files: dict[str, Hashes] = {}
    for path, data in (("main/binary-amd64/Packages", b"Package: a\nVersion: 1\n\n" * 40),
                       ("main/source/Sources", b"Package: s\nVersion: 1\n\n")):
        for suffix, blob in compressed(data).items():
            (suite / (path + suffix)).parent.mkdir(parents=True, exist_ok=True)
            (suite / (path + suffix)).write_bytes(blob)
            files[path + suffix] = hashes(blob)
    fields = _release_fields()
    ours = parse_one(release_text(fields, files))
    options = {"Origin": fields.origin, "Label": fields.label, "Suite": fields.suite,
               "Codename": fields.codename, "Date": format_date(fields.date),
               "Architectures": "amd64 arm64", "Components": "main",
               "Description": fields.description, "Acquire-By-Hash": "yes",
               "Signed-By": fields.signed_by}
    command = ["apt-ftparchive", "-o", "APT::FTPArchive::Release::SHA1=false"]
    for name, value in options.items():
        command += ["-o", f"APT::FTPArchive::Release::{name}={value}"]
    done = subprocess.run([*command, "release", "."], cwd=suite, check=True,
                          capture_output=True, text=True)
    theirs = parse_one(done.stdout)
    assert ours.pop("Valid-Until") == "Sat, 18 Jul 2026 10:16:37 UTC"
    assert set(ours) == set(theirs)
    for name in ours:
        if name in ("MD5Sum", "SHA256", "SHA512"):
            assert sorted(ours[name].split("\n")) == sorted(theirs[name].split("\n")), name
        else:
            assert ours[name] == theirs[name], name


def test_release_dates_and_refusals() -> None:
    east = timezone(timedelta(hours=2))
    assert format_date(datetime(2026, 1, 5, 1, 2, 3, 999999, tzinfo=east)) == \
        "Sun, 04 Jan 2026 23:02:03 UTC"
    with pytest.raises(ValueError, match="time zone"):
        release_text(_release_fields(date=datetime(2026, 7, 11)), {})
    with pytest.raises(ValueError, match="Valid-Until"):
        release_text(_release_fields(valid_until=datetime(2026, 7, 1, tzinfo=UTC)), {})
    with pytest.raises(ValueError, match="Signed-By"):
        release_text(_release_fields(signed_by="ABCD"), {})
    with pytest.raises(ValueError):
        release_text(_release_fields(suite="a b"), {})
    with pytest.raises(ValueError):
        release_text(_release_fields(architectures=()), {})
    with pytest.raises(ValueError):
        release_text(_release_fields(), {"../Packages": hashes(b"")})
    with pytest.raises(ValueError, match="Signed-By"):  # apt refuses a "!" suffix
        release_text(_release_fields(signed_by="0123456789ABCDEF0123456789ABCDEF01234567!"),
                     {})
    # apt reads white space as commas and refuses an empty item: "A, B" would be refused
    two = "0123456789abcdef0123456789abcdef01234567, 89ABCDEF0123456789ABCDEF0123456789ABCDEF"
    text = release_text(_release_fields(signed_by=two), {})
    assert ("Signed-By: 0123456789ABCDEF0123456789ABCDEF01234567,"
            "89ABCDEF0123456789ABCDEF0123456789ABCDEF\n") in text


def test_by_hash_paths_cover_every_release_hash() -> None:
    h = hashes(b"Package: a\n\n")
    assert by_hash_paths("main/binary-amd64/Packages.xz", h) == [
        f"main/binary-amd64/by-hash/MD5Sum/{h.md5}",
        f"main/binary-amd64/by-hash/SHA256/{h.sha256}",
        f"main/binary-amd64/by-hash/SHA512/{h.sha512}",
    ]
    assert by_hash_paths("Contents-amd64.gz", h)[1] == f"by-hash/SHA256/{h.sha256}"
    # apt asks for the strongest hash the Release lists: SHA512 must have its copy
    release = parse_one(release_text(_release_fields(), {"main/source/Sources": h}))
    strongest = [name for name in ("SHA512", "SHA256", "MD5Sum") if name in release][0]
    assert any(f"/by-hash/{strongest}/" in p for p in by_hash_paths("main/source/Sources", h))
    with pytest.raises(ValueError):
        by_hash_paths("/main/Packages", h)


# ---------------------------------------------------------------------------------
# compression, determinism, version order


def test_compressed_is_deterministic_and_decompresses() -> None:
    data = b"Package: a\nVersion: 1\n\n" * 1000
    first, second = compressed(data), compressed(bytes(data))
    assert first == second and list(first) == ["", ".gz", ".xz"]
    assert gzip.decompress(first[".gz"]) == data and lzma.decompress(first[".xz"]) == data
    header = first[".gz"][:10]
    assert header[:3] == b"\x1f\x8b\x08" and header[3] == 0  # no name, no extra fields
    assert header[4:8] == b"\0\0\0\0"  # mtime 0
    assert first[".xz"][:6] == b"\xfd7zXZ\x00"


def test_same_input_same_bytes(tree: Tree) -> None:
    shuffled = list(reversed(tree.debs))
    first = _our_packages(tree)
    second = _our_packages(tree, shuffled)
    assert first == second
    assert compressed(first) == compressed(second)
    assert _our_sources(tree) == _our_sources(tree)
    text = release_text(_release_fields(), _release_files())
    assert text == release_text(_release_fields(), dict(reversed(_release_files().items())))


VERSIONS = ["1.0", "1.0-0", "1.0~rc1", "1.0~", "1.0a", "1.0.0", "1:0.9", "0:1.0", "1.0-1",
            "1.0-1~bpo12+1", "1.0-1+b1", "1.0+dfsg", "1.0-1.1", "2", "10", "1.a", "1.a0",
            "1~~", "1~~a", "1~", "1", "0", "0~", "1-a-b", "1.001", "1.1", "2:1", "1.0-0~",
            "3.0.2-1+deb12u1", "3.0.11-1~deb12u2", "1.2.3+git20240101.abcdef-1", "A", "a",
            "1.0+", "1.0.", "1.0~~~"]


def test_version_key_orders_like_dpkg() -> None:
    for a, b in product(VERSIONS, VERSIONS):
        expected = version_compare(a, b)
        got = (version_key(a) > version_key(b)) - (version_key(a) < version_key(b))
        assert got == (expected > 0) - (expected < 0), (a, b)
    for bad in ("", "a:1", "1.0-", "-1"):
        with pytest.raises(ValueError):
            version_key(bad)


def test_version_key_agrees_with_dpkg_itself() -> None:
    ordered = sorted(VERSIONS[:12], key=version_key)
    for lower, higher in zip(ordered, ordered[1:], strict=False):
        subprocess.run(["dpkg", "--compare-versions", lower, "le", higher], check=True)
