"""Path filters (bootstrap/paths.py) against dpkg itself.

Each rule set is given to real dpkg (`dpkg --root R --path-exclude ... -i`) and to the
bootstrap unpacker on the same .deb: both must succeed or fail together, and leave
the same tree. Globs are checked against fnmatch(3) semantics by hand-picked cases.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bootstrap.paths import DOCS, FilterError, PathFilter, dpkg_config, glob_regex, parse_rule
from bootstrap.unpack import PathFilterFailed, unpack_deb

FILES = (
    "usr/bin/tool",
    "usr/lib/x86_64-linux-gnu/libt.so.1",
    "usr/share/doc/tool/README",
    "usr/share/doc/tool/copyright",
    "usr/share/doc/tool/changelog.Debian.gz",
    "usr/share/doc/tool/examples/ex.conf",
    "usr/share/man/man1/tool.1.gz",
    "usr/share/man/de/man1/tool.1.gz",
    "usr/share/info/tool.info.gz",
    "usr/share/locale/de/LC_MESSAGES/tool.mo",
    "usr/share/locale/locale.alias",
    "usr/share/lintian/overrides/tool",
    "usr/share/tool/data[1].txt",
    "usr/share/tool/.hidden",
    "etc/tool.conf",
)
LINKS = {"usr/share/doc/tool-data": "tool", "usr/bin/tool2": "tool"}

RULE_SETS = [
    list(DOCS),
    ["path-exclude=/usr/share/doc/*", "path-include=/usr/share/doc/*/copyright"],
    ["path-exclude=/usr/share/doc/*"],
    ["path-exclude=/usr/share/doc/*", "path-include=/usr/share/doc/tool/copyright"],
    ["path-exclude=/usr/share/doc/*", "path-include=/usr/share/doc/*/examples/*"],
    ["path-exclude=/usr/*", "path-include=/usr/share/doc/*"],
    ["path-exclude=/usr/share/man/*", "path-include=/usr/share/man/man[1-9]/*"],
    ["path-exclude=/usr/share/locale/*", "path-include=/usr/share/locale/locale.alias"],
    ["path-exclude=*.gz"],
    ["path-exclude=/usr/share/tool/data\\[1\\].txt"],
    ["path-exclude=/usr/share/tool/data[!0-9]*", "path-exclude=/usr/share/tool/.h*"],
    ["path-exclude=/usr/share/doc/tool"],
    ["path-exclude=/usr/share/doc/tool/"],
    ["path-exclude=/usr/bin/tool?", "path-exclude=/usr/share/doc/tool-*"],
    ["path-exclude=/usr/share/*", "path-include=/usr/share/doc/*", "path-exclude=*.gz"],
    ["path-include=/usr/share/doc/*", "path-exclude=/usr/share/doc/*/README"],
    ["path-exclude=/usr/share/[[:lower:]]an/*"],
]


def _deb(tmp: Path) -> Path:
    root = tmp / "pkg"
    (root / "DEBIAN").mkdir(parents=True)
    for name in FILES:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(f"{name}\n")
    for name, target in LINKS.items():
        os.symlink(target, root / name)
    (root / "DEBIAN" / "control").write_text(
        "Package: tool\nVersion: 1.0\nArchitecture: all\nMaintainer: T <t@example.invalid>\n"
        "Description: path filter fixture\n")
    deb = tmp / "tool_1.0_all.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", str(root), str(deb)],
                   check=True, capture_output=True)
    return deb


@pytest.fixture(scope="module")
def deb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _deb(tmp_path_factory.mktemp("deb"))


def _tree(root: Path) -> set[str]:
    found = set()
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            rel = os.path.relpath(os.path.join(dirpath, name), root)
            if not rel.startswith("var/lib/dpkg"):
                found.add(rel)
    found.discard("var/lib")
    found.discard("var")
    return found


def _dpkg(deb: Path, root: Path, rules: list[str]) -> tuple[bool, set[str], list[str]]:
    for sub in ("info", "updates"):
        (root / "var/lib/dpkg" / sub).mkdir(parents=True)
    (root / "var/lib/dpkg/status").write_text("")
    run = subprocess.run(["dpkg", f"--root={root}", "--force-script-chrootless",
                          *[f"--{rule}" for rule in rules], "-i", str(deb)],
                         capture_output=True, text=True, env={**os.environ,
                                                             "DEBIAN_FRONTEND": "noninteractive"})
    listed = (root / "var/lib/dpkg/info/tool.list")
    return (run.returncode == 0, _tree(root),
            listed.read_text().splitlines() if listed.exists() else [])


@pytest.mark.parametrize("rules", RULE_SETS, ids=[" ".join(r)[:60] for r in RULE_SETS])
def test_filters_leave_what_dpkg_leaves(deb: Path, tmp_path: Path, rules: list[str]) -> None:
    ok, expected, dpkg_list = _dpkg(deb, tmp_path / "dpkg", rules)
    left_out: list[str] = []
    try:
        kept = unpack_deb(deb, tmp_path / "ours", paths=PathFilter.parse(rules),
                          left_out=left_out)
    except PathFilterFailed as exc:
        assert not ok, f"dpkg unpacked it, we failed: {exc}"
        assert "path filters leave out its directory" in str(exc)
        return
    assert ok, "dpkg failed where we unpacked"
    assert _tree(tmp_path / "ours") == expected
    # dpkg lists every member (filtered ones too); we list those kept, and the others
    # are what we report as left out
    ours = {f.path for f in kept if f.path != "/."}
    assert ours | set(left_out) == set(dpkg_list) - {"/."}
    assert not ours & set(left_out)
    assert {p.lstrip("/") for p in ours} == expected


def test_without_filters_nothing_is_left_out(deb: Path, tmp_path: Path) -> None:
    left_out: list[str] = []
    kept = unpack_deb(deb, tmp_path / "r", left_out=left_out)
    assert not left_out
    assert len([f for f in kept if f.kind == "f"]) == len(FILES)


@pytest.mark.parametrize(("pattern", "path", "match"), [
    ("/usr/*/READ*", "/usr/share/doc/package/README", True),  # dpkg(1)'s example
    ("/usr/share/doc/?", "/usr/share/doc/a", True),
    ("/usr/share/doc/?", "/usr/share/doc/ab", False),
    ("/a?b", "/a/b", True),  # '?' matches '/' (no FNM_PATHNAME)
    ("/usr/.*", "/usr/.hidden", True),  # no FNM_PERIOD
    ("/x/[!a]", "/x/b", True),
    ("/x/[^a]", "/x/a", False),
    ("/x/[]a]", "/x/]", True),
    ("/x/[a-c]", "/x/b", True),
    ("/x/\\*", "/x/*", True),
    ("/x/\\*", "/x/y", False),
    ("/x/[", "/x/[", True),  # an unclosed bracket is a literal
    ("/x/[[:digit:]]", "/x/7", True),
    ("/x/*", "/x/a\nb", True),
])
def test_globs_follow_fnmatch(pattern: str, path: str, match: bool) -> None:
    import re

    assert bool(re.match(glob_regex(pattern), path, re.DOTALL)) is match


@pytest.mark.parametrize("text", [
    "usr/share/doc/*", "path-exclude=usr/share/doc/*", "exclude=/usr/*", "path-include",
    "path-exclude=/x/[[:nope:]]", "path-exclude=/x/[z-a]", "path-exclude=/a\nb",
])
def test_bad_rules_are_refused_with_the_rule(text: str) -> None:
    with pytest.raises(FilterError) as caught:
        parse_rule(text)
    assert repr(text) in str(caught.value)


def test_rules_round_trip_through_the_dpkg_configuration(tmp_path: Path) -> None:
    rules = PathFilter.parse(DOCS)
    text = dpkg_config(rules.rules)
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert PathFilter.parse(lines) == rules
    assert parse_rule("--path-exclude=/usr/share/man/*").pattern == "/usr/share/man/*"


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="ab/*?[]!-\\", max_size=8), st.text(alphabet="ab/", max_size=8))
def test_glob_translation_never_crashes(pattern: str, path: str) -> None:
    import re

    try:
        regex = glob_regex("/" + pattern)
    except FilterError:
        return
    re.match(regex, "/" + path, re.DOTALL)
