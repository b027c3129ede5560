"""The recipe key `binaries` (which binaries of a source a build produces), the
packaged recipes of the python3 closure and `closures/python3.txt`. Offline: the
pipeline tests repack a three-binary fixture source served on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from archive.catalog.db import make_engine, session_factory
from archive.catalog.models import Build
from base.errors import EXIT_CODES, RecipeError
from recipes.policy import PACKAGE_NAME, canonical_json, load_policy, policy_digest
from recipes.recipe import (
    RECIPES_DIR,
    RESERVED,
    load_closure,
    load_recipe,
    parse_recipe,
    recipe_digest,
)
from rewrite.translate import translate
from tests.conftest import Workspace
from tests.fixtures.archive import FixtureArchive
from tests.fixtures.keys import ArchiveKey
from tests.fixtures.source_farm import farm_on, run, source_archive
from worker.pipeline import _chosen_binaries, _deb_package
from worker.record import Claimed

CLI = [sys.executable, "-m", "unessential.cli"]
MULTI = ["libmulti1", "multi-bin", "multi-doc"]  # binaries of the fixture source "multi"

# -- loading and validation -----------------------------------------------------------


def test_binaries_loads_and_says_what_is_produced() -> None:
    recipe = parse_recipe('binaries = ["libfoo1", "foo"]\n\n[binary.foo]\nkeep = ["openssl"]\n',
                          "foo.toml")
    assert recipe.binaries == ["libfoo1", "foo"]
    assert recipe.produces("foo") and recipe.produces("libfoo1")
    assert not recipe.produces("foo-doc")
    everything = parse_recipe('[binary.foo]\nkeep = ["openssl"]\n', "foo.toml")
    assert everything.binaries is None and everything.produces("anything")


BAD = [
    # (text, line, key, words of the problem)
    ('binaries = ["libc6", "Bad_Name"]\n', 1, "binaries[1]", "not a package name"),
    ('binaries = [\n  "libc6",\n  "nscd",\n  "libc6",\n]\n', 4, "binaries[2]", "listed twice"),
    ("binaries = []\n", 1, "binaries", "at least one"),
    ('binaries = "libc6"\n', 1, "binaries", "valid list"),
    ("binaries = [1]\n", 1, "binaries[0]", "valid string"),
    ('binaries = ["libc6"]\n\n[scripts.nscd.postinst]\nreason = "r"\nactions = []\n', 3,
     "scripts.nscd", "not in 'binaries'"),
    ('binaries = ["libc6"]\n\n[binary.libc-bin]\nkeep = ["openssl"]\n', 3, "binary.libc-bin",
     "not in 'binaries'"),
    ('binaries = ["libc6"]\n\n[[lines]]\nbinary = "locales"\nmatch = "^x$"\nignore = "y"\n',
     4, "lines[0].binary", "not in 'binaries'"),
]


@pytest.mark.parametrize(("text", "line", "key", "problem"), BAD,
                         ids=[f"{i}-{case[3][:20]}" for i, case in enumerate(BAD)])
def test_bad_binaries_name_file_line_and_key(tmp_path: Path, text: str, line: int, key: str,
                                             problem: str) -> None:
    (tmp_path / "foo.toml").write_text(text)
    with pytest.raises(RecipeError) as caught:
        load_recipe("foo", tmp_path)
    error = caught.value
    assert error.subject == f"{tmp_path / 'foo.toml'}:{line}", str(error)
    assert f"'{key}'" in error.cause, str(error)
    assert problem in error.cause, str(error)
    assert "\n" not in str(error)


def test_binaries_is_part_of_the_digest_and_absent_changes_nothing() -> None:
    policy = load_policy()
    base = '[binary.foo]\nkeep = ["openssl"]\n'
    plain = parse_recipe(base, "foo.toml")
    one = parse_recipe('binaries = ["foo"]\n' + base, "foo.toml")
    two = parse_recipe('binaries = ["foo", "libfoo1"]\n' + base, "foo.toml")
    digests = {recipe_digest(policy, r) for r in (plain, one, two)}
    assert len(digests) == 3
    # a recipe without the key keeps the digest it had before the key existed, so
    # its builds stay current
    for recipe in (plain, load_recipe("ca-certificates")):
        assert recipe is not None
        dumped = recipe.model_dump(mode="json", by_alias=True)
        dumped.pop("binaries")
        dumped.pop("source")  # likewise `[source]` (patches), added later
        before = hashlib.sha256(canonical_json(
            {"policy": policy_digest(policy), "recipe": dumped})).hexdigest()
        assert recipe_digest(policy, recipe) == before


# -- the packaged recipes and the closure list ------------------------------------------


def packaged() -> list[str]:
    return sorted(p.stem for p in RECIPES_DIR.glob("*.toml") if p.stem not in RESERVED)


def test_every_packaged_recipe_loads_and_replacements_say_why() -> None:
    for source in packaged():
        recipe = load_recipe(source)
        assert recipe is not None, source
        for binary, scripts in recipe.scripts.items():
            for script, override in scripts.items():
                assert override.keep or len((override.reason or "").split()) >= 20, \
                    f"{source}: {binary} {script}: say what the script did"


def test_python3_closure_list() -> None:
    sources = load_closure("python3")
    assert sources == sorted(sources) and len(sources) == len(set(sources))
    assert {"glibc", "python3.11", "python3-defaults", "readline", "openssl"} <= set(sources)
    assert not {"dpkg", "tar", "perl", "bash", "coreutils"} & set(sources)
    # every source of the closure that builds several binaries is restricted
    for source in sources:
        recipe = load_recipe(source)
        if source == "media-types":
            assert recipe is None  # one binary, no script: nothing to say
            continue
        assert recipe is not None and recipe.binaries, source
    text = (RECIPES_DIR / "closures" / "python3.txt").read_text()
    assert text.startswith("#") and "derived" in text.lower()


def test_python3_closure_recipes_key_decisions() -> None:
    glibc = load_recipe("glibc")
    assert glibc is not None and glibc.binaries == ["libc6", "locales"]
    # locales' postinst: its two files as the templates' defaults make them
    locales = glibc.script_override("locales", "postinst")
    assert locales is not None
    made = {a.get("Path"): a for a in locales.built_actions}
    assert set(made) == {"/etc/locale.gen", "/etc/default/locale"}
    content = made["/etc/locale.gen"].content  # type: ignore[attr-defined]
    assert len(content) == 506 and content[4:7] == ("", "", "# C.UTF-8 UTF-8")
    preinst = glibc.script_override("libc6", "preinst")
    assert preinst is not None
    assert [(a.name, a.get("Path"), a.get("Target")) for a in preinst.built_actions] == [
        ("make-dir", "/usr/lib64", ""), ("symlink", "/lib64", "usr/lib64")]
    python = load_recipe("python3.11")
    assert python is not None
    postinst = python.script_override("python3.11-minimal", "postinst")
    assert postinst is not None
    assert {(a.name, a.get("Path") or a.get("Package")) for a in postinst.built_actions} >= {
        ("make-dir", "/usr/local/lib/python3.11"),
        ("make-dir", "/usr/local/lib/python3.11/dist-packages"),
        ("python-compile", "libpython3.11-minimal")}
    readline = load_recipe("readline")
    assert readline is not None
    # readline-common's postinst (bookworm's text) is the engine's: no override
    assert readline.script_override("readline-common", "postinst") is None
    (copy,) = translate(
        '#! /bin/sh -e\n\ninstall_from_default() {\n  if [ ! -f $2 ]; then\n'
        '    cp -p $1 $2\n  fi\n}\n\nif [ "$1" = "configure" ] && [ "$2" = "" ]; then\n'
        '  install_from_default /usr/share/readline/inputrc /etc/inputrc\nfi\n',
        "postinst", package="readline-common").actions
    assert (copy.name, copy.get("Source"), copy.get("Path"), copy.on) == (
        "install-config", "/usr/share/readline/inputrc", "/etc/inputrc", ("configure",))
    openssl = load_recipe("openssl")
    assert openssl is not None and openssl.binaries == ["libssl3", "openssl"]


def test_load_closure_errors(tmp_path: Path) -> None:
    (tmp_path / "closures").mkdir()
    (tmp_path / "closures" / "demo.txt").write_text("# header\nglibc\n\nNot_A_Name\n")
    with pytest.raises(RecipeError) as caught:
        load_closure("demo", tmp_path)
    assert caught.value.subject.endswith("demo.txt:4")
    (tmp_path / "closures" / "demo.txt").write_text("glibc  # the C library\nzlib\nglibc\n")
    with pytest.raises(RecipeError, match="listed twice"):
        load_closure("demo", tmp_path)
    (tmp_path / "closures" / "demo.txt").write_text("glibc  # the C library\nzlib\n")
    assert load_closure("demo", tmp_path) == ["glibc", "zlib"]
    with pytest.raises(RecipeError):
        load_closure("missing", tmp_path)
    with pytest.raises(RecipeError):
        load_closure("../demo", tmp_path)
    assert all(PACKAGE_NAME.fullmatch(name) for name in load_closure("python3"))


# -- the pipeline's choice, as for a source build ---------------------------------------


class Lines(list[str]):
    def __call__(self, line: str) -> None:
        self.append(line)


CLAIMED = Claimed(build_id=1, source="multi", version="1.0-1", suite="fixture",
                  origin="source-build", recipe_digest="", env_digest="")


def test_chosen_binaries_of_a_build() -> None:
    built = [Path(f"/x/{name}_1.0-1_amd64.deb") for name in MULTI]
    assert [_deb_package(deb) for deb in built] == MULTI
    log = Lines()
    assert _chosen_binaries(MULTI, None, CLAIMED, log, built="built") == set(MULTI)
    assert log == []
    recipe = parse_recipe('binaries = ["libmulti1"]\n', "multi.toml")
    chosen = _chosen_binaries(MULTI, recipe, CLAIMED, log, built="built")
    assert chosen == {"libmulti1"}
    assert log == ["recipe binaries: producing 1 of 3 binaries of multi (libmulti1)",
                   "skipped (not in the recipe's binaries): multi-bin, multi-doc"]
    wrong = parse_recipe('binaries = ["libmulti1", "libmulti2"]\n', "multi.toml")
    with pytest.raises(RecipeError) as caught:
        _chosen_binaries(MULTI, wrong, CLAIMED, log, built="built")
    assert caught.value.subject == "multi.toml"
    assert "'binaries': libmulti2 not built by multi 1.0-1" in caught.value.cause
    assert "libmulti1, multi-bin, multi-doc" in caught.value.cause


# -- repacks through the embedded farm --------------------------------------------------


@pytest.fixture(scope="module")
def multi_template(tmp_path_factory: pytest.TempPathFactory,
                   keys: dict[str, ArchiveKey]) -> FixtureArchive:
    """One source, `multi` 1.0-1, building three binaries."""
    return source_archive(tmp_path_factory.mktemp("multi-archive"), keys["archive"], "multi",
                          {name: {} for name in MULTI})


@pytest.fixture
def farm(tmp_path: Path, multi_template: FixtureArchive) -> Iterator[tuple[Workspace, Path]]:
    with farm_on(tmp_path, multi_template) as made:
        yield made


def last_build(ws: Workspace) -> tuple[str, str, list[str], str]:
    engine = make_engine(f"sqlite:///{ws.data_dir / 'catalog.sqlite'}")
    try:
        with session_factory(engine).begin() as session:
            build = session.scalars(select(Build).order_by(Build.id.desc())).first()
            assert build is not None
            return (build.status, build.log or "", sorted(b.name for b in build.binaries),
                    build.error or "")
    finally:
        engine.dispose()


def test_repack_produces_only_the_recipe_binaries(farm: tuple[Workspace, Path]) -> None:
    ws, recipes = farm
    everything = run(ws, "rebuild", "--repack", "multi", "--wait", "--json")
    assert everything.returncode == 0, everything.stderr
    status, log, binaries, _ = last_build(ws)
    assert (status, binaries) == ("done", MULTI)
    assert "recipe binaries" not in log
    (recipes / "multi.toml").write_text('binaries = ["libmulti1", "multi-bin"]\n')
    result = run(ws, "rebuild", "--repack", "multi", "--wait", "--json")
    assert result.returncode == 0, result.stderr
    assert [b["status"] for b in json.loads(result.stdout)["builds"]] == ["done"]
    status, log, binaries, _ = last_build(ws)
    assert (status, binaries) == ("done", ["libmulti1", "multi-bin"])
    assert "producing 2 of 3 binaries of multi (libmulti1, multi-bin)" in log
    assert "skipped (not in the recipe's binaries): multi-doc" in log
    assert "fetch multi-doc" not in log and "fetch libmulti1" in log


def test_repack_fails_on_a_binary_the_source_does_not_build(
        farm: tuple[Workspace, Path]) -> None:
    ws, recipes = farm
    (recipes / "multi.toml").write_text('binaries = ["libmulti1", "libmulti2"]\n')
    result = run(ws, "rebuild", "--repack", "multi", "--wait")
    assert result.returncode == EXIT_CODES["build"], result.stderr
    status, log, binaries, error = last_build(ws)
    assert (status, binaries) == ("failed", [])
    assert "multi.toml" in error and "libmulti2 not built upstream for amd64 by multi " \
        "1.0-1" in error, error
    assert "FAILED" in log and "fetch" not in log
