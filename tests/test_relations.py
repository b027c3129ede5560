"""Rewriting relation fields: policy classes, recipe overrides, virtual packages."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pytest

from archive.upstream.index import BinaryRecord, parse_packages
from recipes.policy import Policy, load_policy
from recipes.recipe import BinaryOverride
from rewrite.relations import RelationChange, Universe, rewrite_relations
from tests.fixtures.golden import assert_golden_json
from tests.test_formats import slice_of

GOLDEN = Path(__file__).parent / "golden" / "recipes"


def golden(name: str, data: object) -> None:
    """Compare with golden file `name`; UPDATE_GOLDEN=1 rewrites it."""
    assert_golden_json(GOLDEN / name, data)


def record(name: str, *, essential: bool = False, priority: str = "optional",
           section: str = "misc", provides: str = "") -> BinaryRecord:
    fields = {"Package": name, "Version": "1.0", "Architecture": "amd64",
              "Priority": priority, "Section": section}
    if essential:
        fields["Essential"] = "yes"
    if provides:
        fields["Provides"] = provides
    return BinaryRecord(
        package=name, version="1.0", architecture="amd64", source=name, source_version="1.0",
        filename=f"pool/main/{name[0]}/{name}/{name}_1.0_amd64.deb", size=1000,
        sha256="0" * 64, essential=essential, priority=priority, fields=fields,
    )


# A small bookworm-like index.
RECORDS = [
    record("dpkg", essential=True, priority="required", section="admin"),
    record("bash", essential=True, priority="required", section="shells"),
    record("perl-base", essential=True, priority="required", section="perl",
           provides="perlapi-5.36.0"),
    record("libc6", priority="required", section="libs"),
    record("zlib1g", priority="required", section="libs", provides="libz1"),
    record("mawk", priority="required", section="interpreters", provides="awk"),
    record("gawk", section="interpreters", provides="awk"),
    record("debconf", priority="required", section="admin", provides="debconf-2.0"),
    record("cdebconf", section="utils", provides="debconf-2.0"),
    record("adduser", priority="important", section="admin"),
    record("init-system-helpers", section="admin"),
    record("openssl", section="utils"),
    record("libssl3", section="libs"),
    record("libold1", section="non-free/oldlibs"),
    record("tzdata", priority="required", section="localization"),
    record("python3", priority="standard", section="python"),
]


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy()


@pytest.fixture(scope="module")
def universe(policy: Policy) -> Universe:
    return Universe.from_records(RECORDS, policy.implicit_essential.priorities)


def test_universe_from_records(universe: Universe) -> None:
    assert universe.essential == {"dpkg", "bash", "perl-base", "libc6", "zlib1g", "mawk",
                                  "debconf", "tzdata"}
    assert universe.sections["libc6"] == "libs"
    assert universe.sections["libold1"] == "oldlibs"  # component prefix removed
    assert universe.providers["awk"] == {"mawk", "gawk"}
    assert universe.providers["debconf-2.0"] == {"debconf", "cdebconf"}
    assert universe.marks["dpkg"] == "Essential: yes"
    assert universe.marks["libc6"] == "Priority: required"
    assert universe.is_essential("perlapi-5.36.0") and not universe.is_essential("awk")
    assert not universe.is_essential("not-in-index")
    wider = Universe.from_records(RECORDS, ["required", "important"])
    assert "adduser" in wider.essential and "adduser" not in universe.essential


def test_universe_of_a_real_index_slice(policy: Policy) -> None:
    records = parse_packages(slice_of("Packages"), "slice")
    universe = Universe.from_records(records, policy.implicit_essential.priorities)
    implicit = {r.package for r in records if r.essential or r.priority == "required"}
    assert universe.essential == implicit
    assert set(universe.sections) == {r.package for r in records}
    assert all("/" not in section for section in universe.sections.values())


def dropped(changes: list[RelationChange]) -> dict[str, str]:
    return {c.relation: c.reason for c in changes if c.action == "dropped"}


CONTROL = {
    "Package": "foo",
    "Version": "1.0-1",
    "Architecture": "amd64",
    "Maintainer": "Someone <someone@example.org>",
    "Installed-Size": "100",
    "Pre-Depends": "dpkg (>= 1.17.14)",
    "Depends": "libc6 (>= 2.34), debconf (>= 0.5) | debconf-2.0, adduser, openssl",
    "Suggests": "bash, perl-base",
    "Section": "utils",
    "Priority": "optional",
    "Description": "a test package\n with a long description",
}


def test_pre_depends_on_essential_dpkg_is_dropped(universe: Universe, policy: Policy) -> None:
    control = {"Package": "foo", "Pre-Depends": "dpkg (>= 1.17.14)", "Depends": "openssl"}
    out, changes = rewrite_relations(control, universe, policy, None, scripts_translated=False)
    assert out == {"Package": "foo", "Depends": "openssl"}  # empty field removed
    assert changes == [RelationChange(
        field="Pre-Depends", relation="dpkg (>= 1.17.14)", action="dropped",
        reason="implicit-essential", detail="dpkg is Essential: yes in the upstream index")]


def test_script_only_relations_dropped_when_scripts_translated(
    universe: Universe, policy: Policy
) -> None:
    out, changes = rewrite_relations(CONTROL, universe, policy, None, scripts_translated=True)
    assert out["Depends"] == "libc6 (>= 2.34), openssl"
    assert "Pre-Depends" not in out
    assert list(out) == [k for k in CONTROL if k != "Pre-Depends"]  # order untouched
    assert out["Suggests"] == CONTROL["Suggests"]  # not a policy field
    assert out["Description"] == CONTROL["Description"]
    assert dropped(changes) == {
        "dpkg (>= 1.17.14)": "implicit-essential",
        "debconf (>= 0.5) | debconf-2.0": "script-only",
        "adduser": "script-only",
    }
    detail = {c.relation: c.detail for c in changes}
    assert detail["adduser"] == (
        "adduser: used only by maintainer scripts (adduser, addgroup, deluser, delgroup), "
        "all translated")
    assert "debconf: used only by maintainer scripts" in detail["debconf (>= 0.5) | debconf-2.0"]
    assert CONTROL["Pre-Depends"] == "dpkg (>= 1.17.14)"  # the input is not modified


def test_script_only_relations_kept_when_scripts_not_translated(
    universe: Universe, policy: Policy
) -> None:
    out, changes = rewrite_relations(CONTROL, universe, policy, None, scripts_translated=False)
    assert out["Depends"] == CONTROL["Depends"]  # unchanged text, exactly
    assert dropped(changes) == {"dpkg (>= 1.17.14)": "implicit-essential"}


def test_required_library_is_kept_by_its_section(universe: Universe, policy: Policy) -> None:
    assert "libc6" in universe.essential
    control = {"Depends": "libc6 (>= 2.34), zlib1g (>= 1:1.2), libold1, tzdata"}
    out, changes = rewrite_relations(control, universe, policy, None, scripts_translated=True)
    assert out["Depends"] == "libc6 (>= 2.34), zlib1g (>= 1:1.2), libold1"
    assert dropped(changes) == {"tzdata": "implicit-essential"}
    assert changes[0].detail == "tzdata is Priority: required in the upstream index"


def test_recipe_drop_keep_and_add_depends(universe: Universe, policy: Policy) -> None:
    override = BinaryOverride(drop=["openssl"], keep=["adduser"],
                              **{"add-depends": ["foo-data (>= 1.0)", "libc6 (>= 2.34)"]})
    out, changes = rewrite_relations(CONTROL, universe, policy, override, scripts_translated=True)
    assert out["Depends"] == "libc6 (>= 2.34), adduser, foo-data (>= 1.0)"
    assert dropped(changes) == {
        "dpkg (>= 1.17.14)": "implicit-essential",
        "debconf (>= 0.5) | debconf-2.0": "script-only",
        "openssl": "recipe",
    }
    added = [c for c in changes if c.action == "added"]
    assert added == [RelationChange("Depends", "foo-data (>= 1.0)", "added", "recipe",
                                    "added by the recipe (add-depends)")]
    assert next(c for c in changes if c.relation == "openssl").detail == \
        "openssl: dropped by the recipe"


def test_recipe_drop_wins_over_the_policy_keep_rules(universe: Universe, policy: Policy) -> None:
    override = BinaryOverride(drop=["libssl3"])
    out, changes = rewrite_relations({"Depends": "libssl3, libc6"}, universe, policy, override,
                                     scripts_translated=False)
    assert out == {"Depends": "libc6"}
    assert dropped(changes) == {"libssl3": "recipe"}


def test_recipe_keep_wins_over_implicit_essential(universe: Universe, policy: Policy) -> None:
    override = BinaryOverride(keep=["dpkg"])
    out, changes = rewrite_relations(CONTROL, universe, policy, override, scripts_translated=False)
    assert out["Pre-Depends"] == "dpkg (>= 1.17.14)"
    assert changes == []


def test_policy_keep_packages(universe: Universe, policy: Policy) -> None:
    keeping = policy.model_copy(update={"keep": policy.keep.model_copy(
        update={"packages": ["adduser"]})})
    out, _ = rewrite_relations({"Depends": "adduser, tzdata"}, universe, keeping, None, True)
    assert out == {"Depends": "adduser"}


def test_add_depends_creates_the_field_in_place(universe: Universe, policy: Policy) -> None:
    control = {"Package": "foo", "Installed-Size": "1", "Pre-Depends": "dpkg",
               "Section": "misc", "Description": "x"}
    override = BinaryOverride(**{"add-depends": ["openssl | libssl3"]})
    out, changes = rewrite_relations(control, universe, policy, override, False)
    assert list(out.items()) == [("Package", "foo"), ("Installed-Size", "1"),
                                 ("Depends", "openssl | libssl3"), ("Section", "misc"),
                                 ("Description", "x")]
    assert [c.action for c in changes] == ["dropped", "added"]


@pytest.mark.parametrize(
    ("depends", "translated", "kept", "reasons"),
    [
        # every provider of perlapi-5.36.0 (perl-base) is essential
        ("perlapi-5.36.0", False, "", {"perlapi-5.36.0": "implicit-essential"}),
        # awk: mawk is required but gawk is not, so awk is a real need
        ("awk", True, "awk", {}),
        # libz1: provided by a library (Section libs): kept
        ("libz1", True, "libz1", {}),
        # debconf-2.0 is script-only by name
        ("debconf-2.0", True, "", {"debconf-2.0": "script-only"}),
        ("debconf-2.0", False, "debconf-2.0", {}),
        # a name the index does not know is never dropped
        ("not-in-index | dpkg", True, "not-in-index | dpkg", {}),
        # an OR-group mixing essential and script-only goes as script-only
        ("dpkg | init-system-helpers", True, "", {"dpkg | init-system-helpers": "script-only"}),
        ("dpkg | init-system-helpers", False, "dpkg | init-system-helpers", {}),
        # any alternative that must stay keeps the group
        ("debconf | openssl", True, "debconf | openssl", {}),
        # architecture qualifiers are kept in the rendered text
        ("python3:any (>= 3.11), dpkg", True, "python3:any (>= 3.11)",
         {"dpkg": "implicit-essential"}),
    ],
)
def test_virtual_and_alternative_rules(universe: Universe, policy: Policy, depends: str,
                                       translated: bool, kept: str,
                                       reasons: dict[str, str]) -> None:
    out, changes = rewrite_relations({"Depends": depends}, universe, policy, None, translated)
    assert out.get("Depends", "") == kept
    assert dropped(changes) == reasons


def test_virtual_detail(universe: Universe, policy: Policy) -> None:
    _, changes = rewrite_relations({"Depends": "perlapi-5.36.0"}, universe, policy, None, False)
    assert changes[0].detail == (
        "perlapi-5.36.0 is virtual and all its providers (perl-base) are implicit-essential")


def test_recommends_is_rewritten_multiline_fields_parse(universe: Universe,
                                                        policy: Policy) -> None:
    control = {"Depends": "libc6 (>= 2.34),\n openssl", "Recommends": "perl-base, openssl"}
    out, changes = rewrite_relations(control, universe, policy, None, False)
    assert out == {"Depends": "libc6 (>= 2.34),\n openssl", "Recommends": "openssl"}
    assert [(c.field, c.relation) for c in changes] == [("Recommends", "perl-base")]


def test_interpreters_of_kept_scripts(universe: Universe, policy: Policy) -> None:
    control = {"Package": "foo", "Installed-Size": "1", "Depends": "bash (>= 5), openssl",
               "Description": "x"}
    out, changes = rewrite_relations(control, universe, policy, None, False,
                                     interpreters={"postinst": "bash"})
    assert out["Depends"] == "bash (>= 5), openssl"  # kept although Essential
    assert changes == []
    out, changes = rewrite_relations(control, universe, policy, None, False,
                                     interpreters={"preinst": "perl-base"})
    assert list(out) == ["Package", "Installed-Size", "Pre-Depends", "Depends", "Description"]
    assert out["Pre-Depends"] == "perl-base"
    assert [(c.field, c.relation, c.action, c.reason) for c in changes] == [
        ("Depends", "bash (>= 5)", "dropped", "implicit-essential"),
        ("Pre-Depends", "perl-base", "added", "recipe"),
    ]
    assert changes[1].detail == "interpreter of the preinst, kept as is by the recipe"


def test_golden_cases(universe: Universe, policy: Policy) -> None:
    cases = {
        "ca-certificates": (
            {"Package": "ca-certificates",
             "Depends": "openssl (>= 1.1.1), debconf (>= 0.5) | debconf-2.0"},
            BinaryOverride(keep=["openssl"]), True),
        "adduser-user": (CONTROL, None, True),
        "scripts-flagged": (CONTROL, None, False),
        "recipe": (CONTROL, BinaryOverride(drop=["openssl"],
                                           **{"add-depends": ["foo-data (= 1.0-1)"]}), True),
    }
    results = {}
    for name, (control, override, translated) in cases.items():
        out, changes = rewrite_relations(control, universe, policy, override, translated)
        results[name] = {"in": list(control.items()), "out": list(out.items()),
                         "changes": [asdict(c) for c in changes]}
    golden("relations.json", results)
