"""`verify` against real systems: fixture packages installed by stock dpkg in a chroot.

Marked `network`: the base chroot is made once per session with mmdebstrap
(--variant=minbase, merged /usr) from the host's mirror. The fixture packages need
nothing but the base. Lossy rewrites come from recipes that replace a script with
`actions = []`; verify must report what they drop with its exact path.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from archive.settings import UpstreamSettings
from archive.upstream.mirror import host_architecture, host_codename, resolve_entries
from audit.verify import install_native
from recipes.expected import load_expected
from recipes.policy import load_policy
from rewrite.relations import Universe
from rewrite.verify.harness import Base, PackageResult, Rewriter, Subject, Verifier
from rewrite.verify.systems import BaseSpec, MirrorEntry, ensure_base, ensure_unpacked
from tests.fixtures import verify_debs

pytestmark = pytest.mark.network


@pytest.fixture(scope="session")
def verify_base(tmp_path_factory: pytest.TempPathFactory) -> Base:
    """One base tree per test session (made with mmdebstrap, about 40 s)."""
    if shutil.which("mmdebstrap") is None:
        pytest.fail("mmdebstrap is not installed (scripts/install.sh installs it)")
    codename = host_codename() or "bookworm"
    entry = next(e for e in resolve_entries(UpstreamSettings()) if e.suite == codename)
    spec = BaseSpec((MirrorEntry(entry.uri, codename, ("main",)),), host_architecture(),
                    tuple(entry.signed_by.keyrings))
    tarball = ensure_base(spec, tmp_path_factory.mktemp("verify-base"))
    return Base(ensure_unpacked(tarball), load_expected())


@pytest.fixture(scope="module")
def debs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path | tuple[Path, Path]]:
    out = tmp_path_factory.mktemp("verify-debs")
    return {
        "ue-eqv": verify_debs.alternative(out, "ue-eqv"),
        "ue-alt": verify_debs.alternative(out, "ue-alt"),
        "ue-user": verify_debs.user(out, "ue-user", "ueuser"),
        "ue-div": verify_debs.diversion(out, "ue-div", "/usr/share/ue-div-target"),
        "ue-conf": verify_debs.conffile_removal(out, "ue-conf", "/etc/ue-conf/old.conf"),
    }


@pytest.fixture(scope="module")
def verifier(tmp_path_factory: pytest.TempPathFactory, verify_base: Base) -> Verifier:
    work = tmp_path_factory.mktemp("verify-work")
    recipes = work / "recipes"
    verify_debs.lossy_recipe(recipes, "ue-user", ["postinst"])
    verify_debs.lossy_recipe(recipes, "ue-alt", ["postinst"])
    verify_debs.lossy_recipe(recipes, "ue-div", ["preinst", "postrm"])
    verify_debs.lossy_recipe(recipes, "ue-conf", ["preinst", "postinst", "postrm"])
    policy = load_policy()
    universe = Universe.from_records([], policy.implicit_essential.priorities)
    rewriter = Rewriter(universe, policy, recipes, work / "out")
    return Verifier(verify_base, rewriter, work / "systems", native=install_native)


def unexpected(result: PackageResult, system: str, scenario: str) -> dict[str, tuple[str, str]]:
    found = [c for c in result.comparisons if (c.system, c.scenario) == (system, scenario)]
    assert found, (system, scenario, result.as_dict())
    return {d.subject: (d.a, d.x) for d in found[0].unexpected}


def test_translated_alternative_is_equivalent(verifier: Verifier, debs: dict) -> None:
    result = verifier.verify(Subject("ue-eqv", [debs["ue-eqv"]]))
    assert result.equivalent, result.as_dict()
    assert {(c.system, c.scenario) for c in result.comparisons} == {
        ("B", "install"), ("C", "install"), ("B", "remove"), ("B", "purge")}
    assert result.as_dict()["expected"]["maintainer-scripts-rewritten"] >= 2


def test_dropped_user_is_reported(verifier: Verifier, debs: dict) -> None:
    result = verifier.verify(Subject("ue-user", [debs["ue-user"]]))
    assert not result.equivalent
    for system in ("B", "C"):
        found = unexpected(result, system, "install")
        a_side, x_side = found["/etc/passwd:ueuser"]
        assert a_side.startswith("ueuser:x:") and x_side == ""
        assert "/etc/group:ueuser" in found and "/etc/shadow:ueuser" in found


def test_dropped_alternative_is_reported(verifier: Verifier, debs: dict) -> None:
    result = verifier.verify(Subject("ue-alt", [debs["ue-alt"]]))
    assert not result.equivalent
    for system in ("B", "C"):
        found = unexpected(result, system, "install")
        assert found["/etc/alternatives/ue-alt"] == (
            "symlink 0777 0:0 -> /usr/bin/ue-alt-real", "")
        assert "/var/lib/dpkg/alternatives/ue-alt" in found
        assert "/usr/bin/ue-alt" in found


def test_dropped_diversion_is_reported(verifier: Verifier, debs: dict) -> None:
    result = verifier.verify(Subject("ue-div", [debs["ue-div"]]))
    found = unexpected(result, "B", "install")
    assert found["/var/lib/dpkg/diversions:/usr/share/ue-div-target"] == (
        "to /usr/share/ue-div-target.distrib by ue-div", "")
    assert "/var/lib/dpkg/diversions:/usr/share/ue-div-target" in unexpected(
        result, "C", "install")


def test_dropped_conffile_removal_is_reported_on_upgrade(verifier: Verifier,
                                                          debs: dict) -> None:
    old, new = debs["ue-conf"]
    result = verifier.verify(Subject("ue-conf", [new], previous=[old]))
    assert not unexpected(result, "B", "install")  # nothing to remove on a fresh install
    found = unexpected(result, "B", "upgrade")
    assert found["/etc/ue-conf/old.conf"][0] == ""  # A removed it, B kept it
    assert found["/etc/ue-conf/old.conf"][1].startswith("file 0644 0:0 12 bytes")
    assert "/var/lib/dpkg/status:ue-conf:Conffiles:/etc/ue-conf/old.conf" in found


def test_a_package_the_engine_refuses_is_not_rewritten(verifier: Verifier,
                                                        tmp_path: Path) -> None:
    """Not a difference and not equivalent: its own status, with the engine's reason."""
    deb = verify_debs.build(tmp_path, "ue-sourced", "1.0", {"/usr/share/ue-sourced/x": "x\n"},
                            {"postinst": ". /usr/share/ue-sourced/lib.sh\n"})
    result = verifier.verify(Subject("ue-sourced", [deb]))
    assert result.status == "not-rewritten" and not result.equivalent
    assert "sources another shell file" in result.refused
    assert result.comparisons == [] and result.errors == []
    assert result.as_dict()["status"] == "not-rewritten"


def test_a_refused_package_of_the_closure_is_kept_as_debian_built_it(
        verifier: Verifier, tmp_path: Path) -> None:
    """The package verified translates, one its closure brings does not: that one is
    installed as Debian built it in B (its own script runs there as in A), no native
    install (bootstrap installs rewritten packages only), and the result says so."""
    dep = verify_debs.build(tmp_path, "ue-kept", "1.0",
                            {"/usr/share/ue-kept/lib.sh": ":\n"},
                            {"postinst": ". /usr/share/ue-kept/lib.sh\n"
                                         "mkdir -p /var/lib/ue-kept\n"})
    main = verify_debs.build(tmp_path, "ue-main", "1.0", {"/usr/share/ue-main/x": "x\n"},
                             {"postinst": 'if [ "$1" = configure ]; then\n'
                                          "  mkdir -p /var/lib/ue-main\nfi\n"})
    result = verifier.verify(Subject("ue-main", [main, dep]))
    assert result.status == "equivalent" and result.equivalent, result.as_dict()
    assert len(result.kept) == 1 and result.kept[0].startswith("ue-kept: ")
    assert "sources another shell file" in result.kept[0]
    assert ("C", "install") not in {(c.system, c.scenario) for c in result.comparisons}
    assert ("B", "install") in {(c.system, c.scenario) for c in result.comparisons}
    assert result.as_dict()["kept"] == result.kept
