"""The implicit uses of the main job's python3 image, on the host's mirror (`network`).

Issue 14's case: in the python3 image `/usr/bin/pygettext3.11` fails (its
`#! /usr/bin/env python3` needs coreutils' env) and `os.system('true')` returns 127
(python3.11 calls system(), and glibc runs /bin/sh). The real python3.11-minimal and
python3.11 packages are fetched (verified) and rewritten with the packaged recipes and
policy, as the worker does; both uses are found, reported (the policy reports every
kind), written into the packages' `implicit-uses` member, and left unsatisfied by an
image that, like the python3 image, holds no coreutils and no shell.

The data directory (verified indices and .debs) is kept in pytest's cache directory.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from archive.debfile import read_deb
from archive.implicit import MEMBER, parse_uses
from archive.settings import UpstreamSettings
from archive.upstream.mirror import Upstream
from base.console import Reporter
from bootstrap.installer import unsatisfied_uses
from recipes.policy import load_policy
from recipes.recipe import load_recipe, recipe_digest
from rewrite.engine import RewriteReport, rewrite
from rewrite.relations import Universe

pytestmark = pytest.mark.network
PACKAGES = ("python3.11-minimal", "python3.11")


@pytest.fixture(scope="module")
def reports(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory
            ) -> dict[str, RewriteReport]:
    data = Path(pytestconfig.cache.mkdir("unessential-implicit-network"))
    policy = load_policy()
    with Upstream(data, UpstreamSettings(), reporter=Reporter(quiet=True)) as upstream:
        records = [record for _, record in upstream.packages("amd64")]
        newest = {}
        for record in records:
            if record.package in PACKAGES:
                newest[record.package] = record  # the index lists the newest last
        debs = {name: upstream.fetch_binary(name, record.version, data / "debs", "amd64")
                .files[0] for name, record in newest.items()}
    universe = Universe.from_records(records, policy.implicit_essential.priorities)
    out = tmp_path_factory.mktemp("implicit-out")
    result = {}
    for name in PACKAGES:
        recipe = load_recipe(newest[name].source)
        result[name] = rewrite(debs[name], out, universe=universe, policy=policy,
                               recipe=recipe, recipe_digest=recipe_digest(policy, recipe))
    return result


def uses_of(report: RewriteReport) -> dict[tuple[str, str], tuple[str, str | None, bool]]:
    return {(u.path, u.needs): (u.kind, u.provider, u.declared) for u in report.implicit_uses}


def test_pythons_system_needs_the_shell(reports: dict[str, RewriteReport]) -> None:
    found = uses_of(reports["python3.11-minimal"])
    assert found[("/usr/bin/python3.11", "/bin/sh")] == ("shell-exec", "dash", False)
    evidence = {u.path: u.evidence for u in reports["python3.11-minimal"].implicit_uses}
    assert "system" in evidence["/usr/bin/python3.11"]


def test_pygettext_needs_env(reports: dict[str, RewriteReport]) -> None:
    found = uses_of(reports["python3.11"])
    assert found[("/usr/bin/pygettext3.11", "/usr/bin/env")] == ("shebang", "coreutils", False)
    assert found[("/usr/bin/pygettext3.11", "python3")] == ("shebang", None, False)
    # pydoc3.11 runs /usr/bin/python3.11, which python3.11-minimal ships: a use, found,
    # that an image with python3.11-minimal satisfies
    assert found[("/usr/bin/pydoc3.11", "/usr/bin/python3.11")][0] == "shebang"


def test_reported_not_declared(reports: dict[str, RewriteReport]) -> None:
    for report in reports.values():
        assert not [c for c in report.relations if c.reason == "implicit-use"]
        member = read_deb(Path(report.output)).members[MEMBER]
        assert parse_uses(member.data.decode()) == report.implicit_uses


def test_an_image_without_shell_and_env_leaves_both_unsatisfied(
        reports: dict[str, RewriteReport], tmp_path: Path) -> None:
    """What bootstrap lists for the python3 image: the root holds python3 and
    python3.11 (as the image does) but neither /bin/sh nor /usr/bin/env."""
    root = tmp_path / "root"
    (root / "usr/bin").mkdir(parents=True)
    (root / "bin").symlink_to("usr/bin")
    for name in ("python3.11", "python3"):
        (root / "usr/bin" / name).write_bytes(b"\x7fELF")
        (root / "usr/bin" / name).chmod(0o755)
    listed = unsatisfied_uses(root, [(name, report.implicit_uses)
                                     for name, report in reports.items()])
    lines = {(u.package, u.path, u.needs) for u in listed}
    assert ("python3.11-minimal", "/usr/bin/python3.11", "/bin/sh") in lines
    assert ("python3.11", "/usr/bin/pygettext3.11", "/usr/bin/env") in lines
    assert not [u for u in listed if u.needs in ("python3", "/usr/bin/python3.11")]
