"""Pure format functions, against python-debian and against golden files."""

from __future__ import annotations

import lzma
from datetime import UTC, datetime
from pathlib import Path

import pytest
from debian import deb822 as reference

from archive.upstream.aptsources import (
    parse_deb822_sources,
    parse_one_line_sources,
    read_apt_sources,
)
from archive.upstream.index import parse_packages, parse_sources
from archive.upstream.release import check_dates, parse_release
from base.deb822 import iter_stanzas, stanzas_named
from base.errors import ConfigError, FormatError, ReleaseDateError
from tests.fixtures.golden import assert_golden_json

GOLDEN = Path(__file__).parent / "golden"


def slice_of(name: str) -> str:
    """A slice of a real bookworm index (the first stanzas), kept as a golden file."""
    return lzma.decompress((GOLDEN / f"bookworm-{name}-slice.xz").read_bytes()).decode()


def golden(name: str, data: object) -> None:
    """Compare with golden file `name`; UPDATE_GOLDEN=1 rewrites it."""
    assert_golden_json(GOLDEN / name, data)


@pytest.mark.parametrize("name", ["Packages", "Sources"])
def test_fast_reader_agrees_with_python_debian(name: str) -> None:
    text = slice_of(name)
    ours = list(iter_stanzas(text))
    theirs = [dict(p) for p in reference.Deb822.iter_paragraphs(text.splitlines(True))]
    assert len(ours) == len(theirs) > 100
    for mine, ref in zip(ours, theirs, strict=True):
        assert mine.keys() == ref.keys()
        for key in mine:
            assert _lines(mine[key]) == _lines(ref[key]), (mine["Package"], key)


def _lines(value: str) -> list[str]:
    return [line.strip() for line in value.strip().split("\n")]


def test_typed_records_of_real_indices() -> None:
    packages = slice_of("Packages")
    records = parse_packages(packages, "slice")
    assert len(records) == 300
    first = records[0]
    assert first.package and first.filename.startswith("pool/main/")
    assert len(first.sha256) == 64 and first.size > 0
    assert {r.priority for r in records} >= {"optional"}
    (essential,) = parse_packages(
        "Package: e\nVersion: 1\nArchitecture: all\nEssential: yes\nPriority: required\n"
        "Filename: pool/e.deb\nSize: 1\nSHA256: " + "0" * 64 + "\nSource: src (0.9)\n", "x")
    assert essential.essential and essential.priority == "required"
    assert (essential.source, essential.source_version) == ("src", "0.9")
    with_source_version = [r for r in records if r.source_version != r.version]
    assert all(" " not in r.source for r in with_source_version)
    sources = parse_sources(slice_of("Sources"),
                            "slice")
    assert len(sources) == 150
    assert all(any(f.name.endswith(".dsc") for f in s.files) for s in sources)
    assert sources[0].dsc.sha256 and sources[0].directory.startswith("pool/main/")


def test_stanzas_named_finds_exact_names_only() -> None:
    text = slice_of("Packages")
    first = next(iter_stanzas(text))["Package"]
    hits = list(stanzas_named(text, first))
    assert hits and all(h["Package"] == first for h in hits)
    assert list(stanzas_named(text, first[:-1])) == [] or first[:-1] in {
        s["Package"] for s in iter_stanzas(text)
    }
    assert list(stanzas_named("Package: ab\nVersion: 1\n\nPackage: a\nVersion: 2\n", "a")) == [
        {"Package": "a", "Version": "2"}
    ]


def test_missing_field_is_a_format_error() -> None:
    with pytest.raises(FormatError, match="lacks field Filename"):
        parse_packages("Package: x\nVersion: 1\nArchitecture: all\n", "Packages")
    with pytest.raises(FormatError, match="Packages"):
        parse_packages("Package: x\n continuation ok\nno colon here\n", "Packages")


def _entries(entries: list) -> list[dict]:
    return [
        {
            "uri": e.uri, "suite": e.suite, "components": list(e.components),
            "types": list(e.types), "signed_by": e.signed_by.describe(),
            "inline_key": bool(e.signed_by.inline), "architectures": list(e.architectures),
            "origin": e.origin.replace(str(GOLDEN), "GOLDEN"),
        }
        for e in entries
    ]


def test_deb822_sources_golden() -> None:
    text = (GOLDEN / "debian.sources").read_text()
    entries = parse_deb822_sources(text, "debian.sources")
    golden("debian.sources.json", _entries(entries))
    inline = entries[-1].signed_by.inline
    assert inline is not None and "\n\nmDM" in inline  # " ." became an empty line


def test_one_line_sources_golden() -> None:
    text = (GOLDEN / "sources.list").read_text()
    golden("sources.list.json", _entries(parse_one_line_sources(text, "sources.list")))


def test_read_apt_sources_merges_deb_and_deb_src(tmp_path: Path) -> None:
    (tmp_path / "a.list").write_text((GOLDEN / "sources.list").read_text())
    (tmp_path / "b.sources").write_text((GOLDEN / "debian.sources").read_text())
    (tmp_path / "c.list.disabled").write_text("garbage\n")
    entries = read_apt_sources([tmp_path])
    bookworm = [e for e in entries if e.suite == "bookworm"
                and e.uri.startswith("http://mirror.")]
    assert len(bookworm) == 1
    assert bookworm[0].types == ("deb", "deb-src")
    assert "contrib" in bookworm[0].components and "non-free-firmware" in bookworm[0].components


def test_bad_sources_name_the_file_and_line() -> None:
    with pytest.raises(ConfigError, match=r"x.list:2: not a sources.list line"):
        parse_one_line_sources("deb http://a/ b c\ndeb-foo http://x\n", "x.list")
    with pytest.raises(ConfigError, match=r"y.sources \(stanza 1\): missing field URIs"):
        parse_deb822_sources("Types: deb\nSuites: a\n", "y.sources")
    with pytest.raises(ConfigError, match="Signed-By"):
        parse_one_line_sources("deb [signed-by=relative.gpg] http://a b c\n", "z.list")


RELEASE = """\
Origin: Debian
Label: Debian
Suite: stable
Codename: bookworm
Date: Sat, 10 Jun 2023 08:53:32 UTC
Valid-Until: Sat, 17 Jun 2023 08:53:32 UTC
Acquire-By-Hash: yes
Architectures: amd64 arm64
Components: main contrib
MD5Sum:
 0ed6d4c8891eb86358b94bb35d9e4da4  1484322 contrib/Contents-all
SHA256:
 3957f28db16e3f28c7b34ae84f1c929c567de6970f3f1b95dac9b498dd80fe63   738242 contrib/Contents-all
 fa07db62b48a0f9848538c437cfa8aef500bd6570830a5c508d87eeb99d1a50d 11 main/binary-amd64/Packages
"""


def test_release_golden() -> None:
    release = parse_release(RELEASE, "Release")
    golden("release.json", {
        "origin": release.origin, "suite": release.suite, "codename": release.codename,
        "date": release.date, "valid_until": release.valid_until,
        "acquire_by_hash": release.acquire_by_hash, "architectures": release.architectures,
        "components": release.components,
        "files": {k: [v.size, v.sha256] for k, v in release.files.items()},
    })


def test_release_dates() -> None:
    release = parse_release(RELEASE, "Release")
    check_dates(release, "R", now=datetime(2023, 6, 12, tzinfo=UTC))
    with pytest.raises(ReleaseDateError, match="R: expired: Valid-Until 2023-06-17"):
        check_dates(release, "R", now=datetime(2023, 6, 18, tzinfo=UTC))
    check_dates(release, "R", now=datetime(2023, 6, 18, tzinfo=UTC), check_valid_until=False)
    with pytest.raises(ReleaseDateError, match="in the future"):
        check_dates(release, "R", now=datetime(2023, 6, 9, tzinfo=UTC))


def test_release_without_sha256_is_refused() -> None:
    with pytest.raises(FormatError, match="no SHA256"):
        parse_release("Origin: x\nMD5Sum:\n 00 1 a\n", "Release")
    with pytest.raises(FormatError, match="bad SHA256 line"):
        parse_release("Origin: x\nSHA256:\n zz 1 a\n", "Release")
