"""The rewrite policy, per-source recipes and the TOML position finder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from base.errors import EXIT_CODES, RecipeError
from base.tomlload import key_line
from recipes.actions import VOCABULARY
from recipes.policy import POLICY_FILE, Policy, load_policy, policy_digest
from recipes.recipe import load_recipe, parse_recipe, recipe_digest
from tests.fixtures.golden import assert_golden_json
from unessential.cli import cli

GOLDEN = Path(__file__).parent / "golden" / "recipes"


def golden(name: str, data: object) -> None:
    """Compare with golden file `name`; UPDATE_GOLDEN=1 rewrites it."""
    assert_golden_json(GOLDEN / name, data)


# -- policy ------------------------------------------------------------------------


def test_packaged_policy_is_valid() -> None:
    policy = load_policy()
    assert isinstance(policy, Policy)
    assert policy.fields == ["Pre-Depends", "Depends", "Recommends"]
    assert policy.implicit_essential.priorities == ["required"]
    assert {"libs", "oldlibs"} <= set(policy.keep.sections)
    assert policy.keep.packages == ["base-files"]  # the image identity (os-release)
    only = policy.script_only.packages
    for name in ("debconf", "debconf-2.0", "cdebconf", "adduser", "passwd",
                 "init-system-helpers", "lsb-base", "ucf", "install-info", "perl-base",
                 "dpkg"):
        assert name in only, name
        assert only[name].provides and only[name].why
    assert "python3" not in only and "python3-minimal" not in only
    assert {"adduser", "addgroup", "deluser", "delgroup"} == set(only["adduser"].provides)
    assert load_policy(POLICY_FILE) == policy


def test_policy_digest_is_stable_and_content_based(tmp_path: Path) -> None:
    policy = load_policy()
    assert policy_digest(policy) == policy_digest(load_policy())
    assert len(policy_digest(policy)) == 64
    respelled = tmp_path / "policy.toml"
    respelled.write_text("# a comment changes nothing\n" + POLICY_FILE.read_text())
    assert policy_digest(load_policy(respelled)) == policy_digest(policy)
    changed = tmp_path / "changed.toml"
    changed.write_text(POLICY_FILE.read_text().replace(
        'priorities = ["required"]', 'priorities = ["required", "important"]'))
    assert policy_digest(load_policy(changed)) != policy_digest(policy)


def test_policy_show_json_golden() -> None:
    result = CliRunner().invoke(cli, ["policy", "show", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["digest"] == policy_digest(load_policy())
    reasons = [entry["reason"] for entry in data["classes"]]
    assert reasons == ["implicit-essential", "script-only", "recipe", None]
    golden("policy-show.json", data)


def test_policy_show_text() -> None:
    result = CliRunner().invoke(cli, ["policy", "show"])
    assert result.exit_code == 0, result.output
    assert "policy digest: " in result.output
    assert "adduser: adduser, addgroup, deluser, delgroup" in result.output
    assert "sections: libs, oldlibs" in result.output


@pytest.mark.parametrize(
    ("old", "new", "needle"),
    [
        ('fields = ["Pre-Depends", "Depends", "Recommends"]', 'fields = ["Depends", "Breaks"]',
         "key 'fields': 'Breaks' is not a field"),
        ('priorities = ["required"]', 'priorities = ["requried"]',
         "key 'implicit-essential.priorities': unknown priority 'requried'"),
        ('sections = ["libs", "oldlibs"]', 'sectoins = ["libs"]', "unknown key 'keep.sectoins'"),
        ('[script-only.packages.ucf]\nprovides = ["ucf", "ucfr"]',
         '[script-only.packages.ucf]\nprovides = []',
         "key 'script-only.packages.ucf.provides'"),
        ('packages = ["base-files"]\n', 'packages = ["ucf"]\n',
         "key 'keep.packages': ucf: listed as"),
    ],
)
def test_bad_policy_names_file_line_and_key(tmp_path: Path, old: str, new: str,
                                            needle: str) -> None:
    text = POLICY_FILE.read_text()
    assert old in text
    path = tmp_path / "policy.toml"
    path.write_text(text.replace(old, new))
    first_changed = next(i for i, (a, b) in enumerate(
        zip(text.splitlines(), path.read_text().splitlines(), strict=False), start=1) if a != b)
    with pytest.raises(RecipeError) as caught:
        load_policy(path)
    assert caught.value.subject == f"{path}:{first_changed}"
    assert needle in caught.value.cause
    result = CliRunner().invoke(cli, ["policy", "show", "--file", str(path)])
    assert result.exit_code == EXIT_CODES["recipe"] == 12
    assert result.output.strip().splitlines()[-1].startswith(f"unessential: recipe error: {path}:")


# -- recipes -----------------------------------------------------------------------


def test_ca_certificates_recipe_loads() -> None:
    recipe = load_recipe("ca-certificates")
    assert recipe is not None
    assert recipe.origin.endswith("recipes/ca-certificates.toml")
    assert recipe.debconf_answer("ca-certificates/trust_new_crts") == "yes"
    postinst = recipe.script_override("ca-certificates", "postinst")
    assert postinst is not None and postinst.replaces and postinst.reason
    assert [(a.name, a.on) for a in postinst.built_actions] == [
        ("make-dir", ("configure",)), ("ca-bundle", ("configure",)),
        ("ca-bundle", ("triggered",))]
    assert [a.trust_new for a in postinst.built_actions[1:]] == [True, False]
    assert all(a.script == "postinst" and a.origin.startswith("recipe ca-certificates.toml:")
               for a in postinst.built_actions)
    assert recipe.script_override("ca-certificates", "postrm") is None  # the engine's
    assert recipe.script_override("ca-certificates", "config") is None  # the engine's
    assert recipe.script_override("ca-certificates", "preinst") is None
    override = recipe.binary_override("ca-certificates")
    assert override is not None and "openssl" in override.keep
    assert recipe.binary_override("other") is None
    assert recipe.interpreters("ca-certificates") == {}


def test_no_recipe_and_bad_source_names(tmp_path: Path) -> None:
    assert load_recipe("hello") is None
    assert load_recipe("policy") is None  # the policy file is not a recipe
    assert load_recipe("ca-certificates", tmp_path) is None
    with pytest.raises(RecipeError):
        load_recipe("../etc/passwd")


FULL = """\
[binary.foo]
drop = ["openssl"]
keep = ["debianutils"]
add-depends = ["bar (>= 1.0) | baz"]

[debconf]
"foo/question" = "yes"
"foo/flag" = true

[[lines]]
script = "postinst"
match = "^foo-update( --all)?$"
actions = [{ action = "ldconfig", on = ["configure"] }]

[[lines]]
binary = "foo-data"
match = "^echo .*$"
ignore = "only prints a message"

[scripts.foo.preinst]
keep = true
interpreter = "bash"
reason = "too clever to translate"

[scripts.foo-data.postrm]
reason = "removes its cache"
actions = [
    { action = "remove-path", on = ["purge"], path = "/var/cache/foo", recursive = "yes" },
]
"""


def test_recipe_schema_and_helpers(tmp_path: Path) -> None:
    recipe = parse_recipe(FULL, "foo.toml")
    override = recipe.binary_override("foo")
    assert override is not None
    assert (override.drop, override.keep, override.add_depends) == (
        ["openssl"], ["debianutils"], ["bar (>= 1.0) | baz"])
    assert recipe.debconf == {"foo/question": "yes", "foo/flag": "true"}
    postinst = recipe.line_mappings_for("foo", "postinst")
    assert len(postinst) == 1 and postinst[0].matches("  foo-update --all ")
    assert not postinst[0].matches("foo-update --none")
    assert postinst[0].built_actions[0].name == "ldconfig"
    assert postinst[0].built_actions[0].origin == "recipe foo.toml:13"
    assert recipe.line_mappings_for("foo", "prerm") == []
    data = recipe.line_mappings_for("foo-data", "prerm")
    assert len(data) == 1 and data[0].ignore and data[0].built_actions == ()
    assert len(recipe.line_mappings_for("foo-data", "postinst")) == 2
    kept = recipe.script_override("foo", "preinst")
    assert kept is not None and kept.keep and not kept.replaces
    assert recipe.interpreters("foo") == {"preinst": "bash"}
    (action,) = recipe.script_override("foo-data", "postrm").built_actions  # type: ignore[union-attr]
    assert action.stanza() == {"Action": "remove-path", "Script": "postrm", "On": "purge",
                               "Path": "/var/cache/foo", "Recursive": "yes"}


def test_recipe_digest() -> None:
    policy = load_policy()
    recipe = parse_recipe(FULL, "foo.toml")
    same = parse_recipe("# reformatted\n" + FULL, "elsewhere/foo.toml")
    assert recipe_digest(policy, recipe) == recipe_digest(policy, same)
    assert recipe_digest(policy, None) != recipe_digest(policy, recipe)
    other = parse_recipe(FULL.replace('"yes"', '"no"'), "foo.toml")
    assert recipe_digest(policy, other) != recipe_digest(policy, recipe)
    assert recipe_digest(policy, load_recipe("ca-certificates")) == recipe_digest(
        policy, load_recipe("ca-certificates"))


BAD_RECIPES = [
    # (recipe text, line, key, words of the problem)
    ('[binary.foo]\ndorp = ["x"]\n', 2, "binary.foo.dorp", "unknown key"),
    ("[[lines]]\nscript = \"postinst\"\nmatch = \"^x$\"\n"
     "actions = [{ action = \"ca-bundel\", on = [\"configure\"] }]\n",
     4, "lines[0].actions[0]", "unknown action 'ca-bundel'"),
    ("[scripts.foo.postinst]\nreason = \"r\"\nactions = [\n"
     "  { action = \"ldconfig\", on = [\"configure\"] },\n"
     "  { action = \"system-user\", on = [\"configure\"], home = \"/x\" },\n]\n",
     5, "scripts.foo.postinst.actions[1]", "missing field(s) Name"),
    ("[scripts.foo.postinst]\nreason = \"r\"\nactions = [{ action = \"ldconfig\" }]\n",
     3, "scripts.foo.postinst.actions[0]", "missing 'on'"),
    ("[scripts.foo.postinst]\nreason = \"r\"\n"
     "actions = [{ action = \"ldconfig\", on = [\"configur\"] }]\n",
     3, "scripts.foo.postinst.actions[0]", "unknown script argument(s) configur"),
    ("[[lines]]\nmatch = \"^x$\"\nignore = \"fine\"\n\n[[lines]]\nmatch = \"^update-(foo$\"\n"
     "ignore = \"why\"\n", 6, "lines[1].match", "not a valid regular expression"),
    ("[[lines]]\nscript = \"postinst\"\nmatch = \"^x$\"\nignore = \"why\"\n"
     "actions = [{ action = \"ldconfig\", on = [\"configure\"] }]\n",
     1, "lines[0]", "exactly one of 'actions' or 'ignore'"),
    ("[[lines]]\nmatch = \"^x$\"\n", 1, "lines[0]", "exactly one of 'actions' or 'ignore'"),
    ("[[lines]]\nmatch = \"^x$\"\nactions = [{ action = \"ldconfig\", on = [\"configure\"] }]\n",
     1, "lines[0]", "must name its 'script'"),
    ('[binary.foo]\nadd-depends = [\n  "bar",\n  "baz (>= 1.0",\n]\n', 4,
     "binary.foo.add-depends[1]", "cannot parse relation"),
    ('[binary.foo]\ndrop = ["x1"]\nkeep = ["x1"]\n', 3, "binary.foo.keep", "both dropped and kept"),
    ('[scripts.foo.postinst]\nkeep = true\ninterpreter = "bash"\nreason = "r"\n'
     'actions = [{ action = "ldconfig", on = ["configure"] }]\n',
     1, "scripts.foo.postinst", "either keep = true or actions"),
    ('[scripts.foo.postinst]\nkeep = true\n', 1, "scripts.foo.postinst", "interpreter"),
    ('[scripts.foo.postinst]\nactions = []\n', 1, "scripts.foo.postinst", "needs a 'reason'"),
    ('[scripts.foo.postinstt]\nkeep = true\ninterpreter = "bash"\n', 1,
     "scripts.foo.postinstt", "unknown maintainer script 'postinstt'"),
    ('[[lines]]\nscript = "triggers"\nmatch = "x"\nignore = "y"\n', 2, "lines[0].script",
     "unknown maintainer script"),
    ('[debconf]\n"foo/a" = "1"\nnoslash = "x"\n', 3, "debconf.noslash", "question name"),
    ('[debconf]\n"foo/a" = 1\n', 2, "debconf.foo/a", "valid string"),
    ('[binary.Foo]\ndrop = ["x1"]\n', 1, "binary.Foo", "not a package name"),
    ('[binary.foo]\ndrop = "openssl"\n', 2, "binary.foo.drop", "valid list"),
    ('[binary.foo]\ndrop = ["openssl"\n', 2, None, "not valid TOML"),
]


@pytest.mark.parametrize(("text", "line", "key", "problem"), BAD_RECIPES,
                         ids=[f"{i}-{case[3][:24]}" for i, case in enumerate(BAD_RECIPES)])
def test_recipe_errors_name_file_line_and_key(tmp_path: Path, text: str, line: int,
                                              key: str | None, problem: str) -> None:
    (tmp_path / "foo.toml").write_text(text)
    with pytest.raises(RecipeError) as caught:
        load_recipe("foo", tmp_path)
    error = caught.value
    assert error.subject == f"{tmp_path / 'foo.toml'}:{line}", str(error)
    if key is not None:
        assert f"'{key}'" in error.cause, str(error)
    assert problem in error.cause, str(error)
    assert "\n" not in str(error)
    assert error.exit_code == 12 and error.kind == "recipe"


def test_every_vocabulary_action_can_be_written_in_a_recipe() -> None:
    entries = []
    # values that pass the checks of recipes.actions (absolute paths, a number, ...)
    samples = {"Kind": "mime", "Priority": "1", "Package": "foo", "Link": "/x", "Path": "/x",
               "Conffile": "/x", "Old": "/x", "New": "/y", "Pathname": "/x", "File": "/x",
               "Source": "/x"}
    of_action = {("system-identity", "Kind"): "machine-id"}  # (a Kind of its own)
    # (an action whose optional fields choose its form: one of them)
    form = {"set-capability": ', remove = "yes"', "remove-found": ', type = "f"'}
    for name, (required, _optional) in sorted(VOCABULARY.items()):
        fields = "".join(f', {key.lower()} = "{of_action.get((name, key), samples.get(key, "x"))}"'
                         for key in required) + form.get(name, "")
        entries.append(f'  {{ action = "{name}", on = ["configure"]{fields} }},')
    text = '[scripts.foo.postinst]\nreason = "all"\nactions = [\n' + "\n".join(entries) + "\n]\n"
    recipe = parse_recipe(text, "foo.toml")
    built = recipe.script_override("foo", "postinst").built_actions  # type: ignore[union-attr]
    assert [a.name for a in built] == sorted(VOCABULARY)


# -- TOML positions ----------------------------------------------------------------


TRICKY = '''\
top = 1 # comment with = sign
[binary.ca-certificates]
drop = [
  "openssl",  # x
  "b",
]
[debconf]
"ca-certificates/trust_new_crts" = "yes"
'x.y'.z = """multi
[notatable]
line = 3
"""

[[lines]]
match = "^a$"
actions = [{ action = "ca-bundle", on = ["configure"] },
   { action = "bad", on = [] }]
[[lines]]
ignore = 'why'
[[lines.sub]]
k = 1
[scripts."ca-certificates".postinst]
keep = true
when = 1979-05-27 07:32:00Z
after = 2
'''


@pytest.mark.parametrize(
    ("loc", "line"),
    [
        (("top",), 1),
        (("binary", "ca-certificates", "drop", 1), 5),
        (("debconf", "ca-certificates/trust_new_crts"), 8),
        (("debconf", "x.y", "z"), 9),
        (("lines", 0, "match"), 15),
        (("lines", 0, "actions", 1, "action"), 17),
        (("lines", 1, "ignore"), 19),
        (("lines", 1, "match"), 18),  # missing: its table
        (("lines", 1, "sub", 0, "k"), 21),
        (("scripts", "ca-certificates", "postinst", "after"), 25),
        (("scripts", "ca-certificates", "postinst", "interpreter"), 22),
        (("binary",), 2),
        (("nowhere",), None),
        ((), None),
    ],
)
def test_key_line(loc: tuple[str | int, ...], line: int | None) -> None:
    assert key_line(TRICKY, loc) == line
