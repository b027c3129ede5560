"""`unessential rewrite` and `policy show` against the fixture mirror (no network).

The universe comes from the fixture archive's Packages index; bad input gives one
clear line, its exit code, and nothing in the output directory.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from click.testing import CliRunner, Result

from base.errors import EXIT_CODES
from tests.conftest import Workspace
from tests.fixtures.shapes import build_shapes
from unessential.cli import cli


def run(ws: Workspace, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(ws.config), "-q", *args])


def last_line(result: Result) -> str:
    return [line for line in result.output.splitlines() if line.strip()][-1]


def make_deb_with_script(folder: Path, script: str) -> Path:
    root = folder / "pkg"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        "Package: odd\nVersion: 1\nArchitecture: all\nMaintainer: T <t@example.invalid>\n"
        "Description: odd\n odd\n")
    (root / "DEBIAN" / "postinst").write_text(script)
    (root / "DEBIAN" / "postinst").chmod(0o755)
    deb = folder / "odd_1_all.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "--build", str(root), str(deb)],
                   check=True, capture_output=True)
    return deb


def test_rewrite_shapes_against_the_fixture_universe(workspace: Workspace, tmp_path: Path) -> None:
    debs = build_shapes(tmp_path / "shapes")
    out = tmp_path / "out"
    result = run(workspace, "rewrite", *map(str, debs.values()), "--out", str(out), "--json")
    assert result.exit_code == 0, result.output
    reports = {r["package"]: r for r in json.loads(result.output)}
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in debs.values())
    user = reports["demo-user"]
    assert {s["script"]: s["status"] for s in user["scripts"]} == \
        {"postinst": "translated", "postrm": "translated"}
    assert "templates" in user["removed_members"]
    text = run(workspace, "rewrite", str(debs["demo-alt"]), "--out", str(out))
    assert "postinst: translated (alternative-install" in text.output


def test_unknown_script_line_is_one_clear_error(workspace: Workspace, tmp_path: Path) -> None:
    deb = make_deb_with_script(tmp_path, "#!/bin/sh\nset -e\nldconfig\nsed -i s/a/b/ /etc/x\n")
    out = tmp_path / "out"
    result = run(workspace, "rewrite", str(deb), "--out", str(out))
    assert result.exit_code == EXIT_CODES["rewrite"], result.output
    line = last_line(result)
    assert line == (f"unessential: rewrite error: {deb}: odd: postinst:4: command 'sed' is "
                    "not in the vocabulary: sed -i s/a/b/ /etc/x")
    assert not out.exists() or not list(out.iterdir())


def test_survey_reports_instead_of_failing(workspace: Workspace, tmp_path: Path) -> None:
    deb = make_deb_with_script(tmp_path, "#!/bin/sh\nfrobnicate --all\n")
    result = run(workspace, "rewrite", str(deb), "--report")
    assert result.exit_code == 0, result.output
    assert "odd: postinst:2: command 'frobnicate' is not in the vocabulary" in result.output
    assert "total (1 packages)" in result.output


def test_broken_recipe_is_one_clear_error(workspace: Workspace, tmp_path: Path) -> None:
    deb = make_deb_with_script(tmp_path, "#!/bin/sh\nsed -i s/a/b/ /etc/x\n")
    recipes = tmp_path / "recipes"
    recipes.mkdir()
    (recipes / "odd.toml").write_text(
        '[[lines]]\nscript = "postinst"\nmatch = "sed .*"\n'
        'actions = [{ action = "frobnicate", on = ["configure"] }]\n')
    out = tmp_path / "out"
    result = run(workspace, "rewrite", str(deb), "--out", str(out), "--recipes", str(recipes))
    assert result.exit_code == EXIT_CODES["recipe"], result.output
    line = last_line(result)
    assert line.startswith(f"unessential: recipe error: {recipes / 'odd.toml'}:4:"), line
    assert "frobnicate" in line
    assert not out.exists()


def test_recipe_mapping_makes_it_pass(workspace: Workspace, tmp_path: Path) -> None:
    deb = make_deb_with_script(tmp_path, "#!/bin/sh\nsed -i s/a/b/ /etc/x\n")
    recipes = tmp_path / "recipes"
    recipes.mkdir()
    (recipes / "odd.toml").write_text(
        '[[lines]]\nscript = "postinst"\nmatch = "sed -i .*"\n'
        'ignore = "edits a file that images do not ship"\n')
    result = run(workspace, "rewrite", str(deb), "--out", str(tmp_path / "out"),
                 "--recipes", str(recipes), "--json")
    assert result.exit_code == 0, result.output
    (report,) = json.loads(result.output)
    (script,) = report["scripts"]
    assert script["dropped"][0]["reason"].startswith("recipe: edits a file")


def test_not_a_deb(workspace: Workspace, tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.deb"
    bogus.write_bytes(b"!<arch>\nnot really")
    result = run(workspace, "rewrite", str(bogus), "--out", str(tmp_path / "out"))
    assert result.exit_code == EXIT_CODES["format"], result.output
    assert str(bogus) in last_line(result)


def test_policy_show(workspace: Workspace) -> None:
    result = run(workspace, "policy", "show")
    assert result.exit_code == 0, result.output
    assert "implicit-essential" in result.output and "script-only" in result.output


def test_kept_script_stays_in_the_package(workspace: Workspace, tmp_path: Path) -> None:
    """A recipe's `keep = true` keeps the script byte for byte, its interpreter added."""
    original = "#!/bin/bash\nset -e\nsed -i s/a/b/ /etc/x\n"
    deb = make_deb_with_script(tmp_path, original)
    recipes = tmp_path / "recipes"
    recipes.mkdir()
    (recipes / "odd.toml").write_text(
        '[scripts.odd.postinst]\nkeep = true\ninterpreter = "bash"\n')
    out = tmp_path / "out"
    result = run(workspace, "rewrite", str(deb), "--out", str(out), "--recipes", str(recipes))
    assert result.exit_code == 0, result.output
    control = tmp_path / "control"
    subprocess.run(["dpkg-deb", "-e", str(out / deb.name), str(control)], check=True)
    assert (control / "postinst").read_text() == original
    assert not (control / "actions").exists()
    fields = (control / "control").read_text()
    assert "Depends: bash" in fields


def test_rewrite_mark_gives_our_versions_and_pins_siblings(workspace: Workspace,
                                                          tmp_path: Path) -> None:
    from tests.fixtures.debs import make_deb

    debs = tmp_path / "debs"
    debs.mkdir()
    made = [make_deb(debs, "twin", "2:1.0-1", depends="twin-data (= 2:1.0-1)",
                     extra="Source: twins\n"),
            make_deb(debs, "twin-data", "2:1.0-1", extra="Source: twins\n")]
    out = tmp_path / "out"
    result = run(workspace, "rewrite", *map(str, made), "--out", str(out), "--mark", "ue3",
                 "--json")
    assert result.exit_code == 0, result.output
    reports = {r["package"]: r for r in json.loads(result.output)}
    assert {(r["version"], r["original_version"]) for r in reports.values()} == {
        ("2:1.0-1ue3", "2:1.0-1")}
    assert sorted(p.name for p in out.iterdir()) == ["twin-data_1.0-1ue3_all.deb",
                                                     "twin_1.0-1ue3_all.deb"]
    fields = subprocess.run(["dpkg-deb", "--field", str(out / "twin_1.0-1ue3_all.deb"),
                             "Source", "Version", "Depends"], capture_output=True, text=True,
                            check=True).stdout
    assert fields.splitlines() == ["Source: twins (2:1.0-1)", "Version: 2:1.0-1ue3",
                                   "Depends: twin-data (= 2:1.0-1ue3)"]
    pinned = [c for c in reports["twin"]["relations"] if c["action"] == "pinned"]
    assert [(c["field"], c["relation"], c["reason"]) for c in pinned] == [
        ("Depends", "twin-data (= 2:1.0-1ue3)", "sibling-version")]
    for bad in ("+ue1", "ue", "ue0", "UE1"):
        refused = run(workspace, "rewrite", str(made[0]), "--out", str(out), "--mark", bad)
        assert refused.exit_code == 2 and "--mark" in refused.output, refused.output
