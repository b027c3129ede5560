"""The house's shape holds: rooms import one way, no Celery below the farm, typed code.

The import-linter contracts live in pyproject.toml; a mutated copy of the tree shows
that they do break when a lower room imports a higher one.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
ROOMS = ("base", "unessential", "archive", "recipes", "rewrite", "worker", "bootstrap", "audit")
CELERY_FREE = ("base", "recipes", "archive", "rewrite", "bootstrap")


def tool(name: str) -> str:
    path = BIN / name
    if not path.exists():
        pytest.fail(f"{name} is not installed in the test environment ({path})")
    return str(path)


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=600)


def test_import_contracts_are_kept() -> None:
    result = run(tool("lint-imports"), "--no-cache")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
    assert "Only the farm imports Celery" in result.stdout


def mutated_tree(tmp_path: Path) -> Path:
    """A copy of the rooms' sources and pyproject.toml, to be broken on purpose."""
    copy = tmp_path / "tree"
    copy.mkdir()
    for room in ROOMS:
        shutil.copytree(ROOT / room, copy / room,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "templates",
                                                      "static", "*.toml", "closures"))
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    return copy


@pytest.mark.parametrize(("module", "line", "contract"), [
    ("recipes/policy.py", "import archive.upstream.index", "Rooms depend one way"),
    ("archive/publish/pool.py", "from rewrite import engine", "Rooms depend one way"),
    ("rewrite/render.py", "import worker.pipeline", "Rooms depend one way"),
    ("base/errors.py", "import unessential.config", "Rooms depend one way"),
    ("bootstrap/resolver.py", "import rewrite.relations", "bootstrap uses archive"),
    ("archive/urls.py", "import celery", "Only the farm imports Celery"),
])
def test_a_lower_room_importing_a_higher_one_breaks_a_contract(
        tmp_path: Path, module: str, line: str, contract: str) -> None:
    tree = mutated_tree(tmp_path)
    target = tree / module
    target.write_text(target.read_text() + f"\n{line}  # the mutation\n")
    result = subprocess.run(
        [tool("lint-imports"), "--no-cache"], cwd=tree, capture_output=True, text=True,
        timeout=600, env={"PATH": f"{BIN}:/usr/bin:/bin", "PYTHONPATH": str(tree)})
    assert result.returncode != 0, result.stdout
    broken = result.stdout[result.stdout.index("Broken contracts"):]
    assert contract in broken, result.stdout


def test_importing_the_lower_rooms_loads_no_celery() -> None:
    """Every module of archive, recipes, rewrite, bootstrap (and base): no Celery or kombu."""
    probe = f"""
import importlib, json, pkgutil, sys
loaded = []
for room in {CELERY_FREE!r}:
    package = importlib.import_module(room)
    loaded.append(room)
    for info in pkgutil.walk_packages(package.__path__, room + "."):
        if ".migrations" in info.name:  # Alembic's env.py runs a migration on import
            continue
        importlib.import_module(info.name)
        loaded.append(info.name)
bad = sorted(m for m in sys.modules if m.split(".")[0] in ("celery", "kombu"))
print(json.dumps({{"loaded": loaded, "celery": bad}}))
"""
    result = run(sys.executable, "-c", probe)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["celery"] == [], found["celery"][:10]
    for module in ("rewrite.engine", "rewrite.translate", "bootstrap.installer",
                   "archive.publish.publisher", "recipes.actions", "base.context"):
        assert module in found["loaded"]


def test_the_farm_does_load_celery() -> None:
    """The probe above can see Celery: the farm's app module loads it."""
    result = run(sys.executable, "-c", "import sys, worker.celery_app; "
                 "print('celery' in sys.modules)")
    assert result.stdout.strip() == "True", result.stderr


def test_mypy_is_clean() -> None:
    result = run(tool("mypy"))
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_ruff_is_clean() -> None:
    result = run(tool("ruff"), "check", ".")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_every_package_directory_is_in_the_distribution() -> None:
    """A room's subpackage missing from [tool.setuptools] packages is missing from the
    wheel (a non-editable install, the farm's deployment) though every test passes."""
    import tomllib

    from setuptools import find_packages

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())
                 ["tool"]["setuptools"]["packages"])
    found = {name for name in find_packages(str(ROOT), include=[f"{r}*" for r in ROOMS])
             if name.split(".")[0] in ROOMS}
    assert found - listed == set(), "add to [tool.setuptools] packages"
    assert listed - found == set(), "listed but not a package"
