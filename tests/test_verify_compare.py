"""The pure parts of `verify`: snapshots of overlays, comparison, the expected list."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from archive.upstream.index import BinaryRecord
from audit.verify import _siblings
from base.errors import RecipeError
from recipes.expected import load_expected
from rewrite.verify.compare import classify, compare, dynamic_renumbering
from rewrite.verify.snapshot import account_lines, snapshot, walk
from unessential.cli import cli


def test_the_expected_list_loads_and_is_closed(tmp_path: Path) -> None:
    expected = load_expected()
    ids = list(expected.ids())
    assert len(ids) == len(set(ids)) >= 8
    assert expected.explain("file", "changed", "B", "/var/lib/dpkg/info/x.postinst") \
        == "maintainer-scripts-rewritten"
    assert expected.explain("file", "missing", "B", "/etc/alternatives/x") is None
    assert expected.volatile.covers("/var/log/dpkg.log")
    bad = tmp_path / "expected.toml"
    bad.write_text('[volatile]\ndescription = "x"\npaths = ["/proc"]\n\n[[reason]]\n'
                   'id = "x"\ndescription = "y"\nkinds = ["files"]\npaths = ["/etc"]\n')
    with pytest.raises(RecipeError, match="expected.toml:.*kinds"):
        load_expected(bad)


def test_shadow_dates_are_ignored() -> None:
    lines = account_lines("/etc/shadow", "u:!:19700:0:99999:7:::\n")
    assert lines == {"u": "u:!::0:99999:7:::"}
    assert account_lines("/etc/passwd", "u:x:1:1::/:/bin/sh\n")["u"] == "u:x:1:1::/:/bin/sh"


def _tree(root: Path, files: dict[str, str]) -> None:
    for path, text in files.items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)


def test_overlay_snapshot_and_comparison(tmp_path: Path) -> None:
    base_root = tmp_path / "base"
    _tree(base_root, {"/etc/passwd": "root:x:0:0:root:/root:/bin/sh\n",
                      "/etc/keep": "k\n", "/etc/gone": "g\n",
                      "/var/lib/dpkg/status": "Package: base\nStatus: install ok installed\n"
                                              "Version: 1\n"})
    skip = lambda path: path.startswith("/proc")  # noqa: E731
    tree = walk(base_root, skip)
    base = snapshot(base_root, tree, None, skip)
    upper_a = tmp_path / "a"
    _tree(upper_a, {"/etc/passwd": "root:x:0:0:root:/root:/bin/sh\nsvc:x:999:999::/:/x\n",
                    "/etc/new": "n\n",
                    "/var/lib/dpkg/status": "Package: base\nStatus: install ok installed\n"
                                            "Version: 1\n\nPackage: p\nStatus: install ok "
                                            "installed\nVersion: 2\nPriority: required\n"
                                            "Depends: dpkg (>= 1.19)\n"})
    os.mknod(upper_a / "etc" / "gone", 0o600 | 0o020000, os.makedev(0, 0))  # a whiteout
    upper_b = tmp_path / "b"
    _tree(upper_b, {"/var/lib/dpkg/status": "Package: base\nStatus: install ok installed\n"
                                            "Version: 1\n\nPackage: p\nStatus: install ok "
                                            "installed\nVersion: 2\nPriority: optional\n"})
    a = snapshot(base_root, tree, upper_a, skip)
    b = snapshot(base_root, tree, upper_b, skip)
    assert "/etc/gone" not in a.tree and "/etc/new" in a.tree
    found = compare(a, b, base, rewritten={"p": [("Depends", "dpkg (>= 1.19)", "dropped")]})
    classified = classify(found, load_expected(), "B")
    by_subject = {d.subject: d for d in classified}
    assert by_subject["/etc/passwd:svc"].change == "missing"
    assert by_subject["/etc/passwd:svc"].reason is None
    assert by_subject["/etc/new"].detail == "A created it"
    assert by_subject["/etc/gone"].change == "extra"  # A removed it, B kept the base's
    assert by_subject["/var/lib/dpkg/status:p:Priority"].reason == "control-rewritten"
    assert by_subject["/var/lib/dpkg/status:p:Depends"].reason == "relations-rewritten"


def test_verify_help_has_an_example() -> None:
    result = CliRunner().invoke(cli, ["verify", "--help"])
    assert result.exit_code == 0
    assert "unessential verify --closure python3 --json" in result.output


def test_overlay_whiteout_and_opaque_directories(tmp_path: Path) -> None:
    """A whited-out directory takes its subtree with it; an opaque directory hides the
    base's children but keeps its own."""
    base_root = tmp_path / "base"
    _tree(base_root, {"/a/one": "1", "/a/sub/two": "2", "/b/old": "o", "/c/x": "x"})
    skip = lambda path: False  # noqa: E731
    tree = walk(base_root, skip)
    upper = tmp_path / "upper"
    (upper / "b").mkdir(parents=True)
    (upper / "b" / "new").write_text("n")
    try:
        os.setxattr(upper / "b", "trusted.overlay.opaque", b"y")
    except OSError:
        pytest.skip("no trusted.* extended attributes here (needs root)")
    os.mknod(upper / "a", 0o600 | 0o020000, os.makedev(0, 0))
    result = snapshot(base_root, tree, upper, skip).tree
    assert not any(path == "/a" or path.startswith("/a/") for path in result)
    assert "/b/new" in result and "/b/old" not in result
    assert "/c/x" in result


def _record(package: str, version: str, source: str, source_version: str = "") -> BinaryRecord:
    return BinaryRecord(package, version, "amd64", source, source_version or version,
                        f"pool/{package}_{version}.deb", 1, "0" * 64, False, "optional", {})


def test_the_previous_release_brings_its_pinned_siblings() -> None:
    """python3.11-minimal's previous version depends on libpython3.11-minimal of that
    version: the upgrade's first install takes the siblings' previous versions too."""
    records = [_record(p, v, "python3.11") for v in ("3.11.2-6+deb12u8", "3.11.2-6+deb12u9")
               for p in ("python3.11-minimal", "libpython3.11-minimal")]
    records += [_record("libc6", "2.36-9", "glibc"), _record("libc6", "2.36-8", "glibc"),
                _record("libpython3.11-minimal", "3.11.2-6+deb12u7", "python3.11")]
    new = [r for r in records if r.version.endswith("u9") or r.version == "2.36-9"]
    target = next(r for r in new if r.package == "python3.11-minimal")
    previous = next(r for r in records if r.package == "python3.11-minimal"
                    and r.version.endswith("u8"))
    by_package: dict[str, list[BinaryRecord]] = {}
    for record in records:
        by_package.setdefault(record.package, []).append(record)
    siblings = _siblings(by_package, new, target, previous)
    assert [(r.package, r.version) for r in siblings] == [
        ("libpython3.11-minimal", "3.11.2-6+deb12u8")]  # not glibc's, not u7


def test_verify_needs_names_or_a_priority() -> None:
    runner = CliRunner()
    for args in ([], ["--priority", "required", "python3"],
                 ["--priority", "standard", "--closure"], ["--priority", "often"],
                 ["-j", "0", "python3"]):
        result = runner.invoke(cli, ["verify", *args])
        assert result.exit_code == 2, (args, result.output)
    assert "--priority required,important,standard" in runner.invoke(
        cli, ["verify", "--help"]).output


def _accounts(passwd: str, group: str) -> dict[str, dict[str, str]]:
    return {"/etc/passwd": account_lines("/etc/passwd", passwd),
            "/etc/group": account_lines("/etc/group", group)}


def test_system_ids_given_in_another_order_are_one_renumbering() -> None:
    """systemd-timesyncd's accounts when apt configures it before systemd: the same
    accounts, their free ids taken in another order (dynamic-ids-order); anything else
    that differs stays an account difference."""
    a = _accounts("systemd-network:x:998:998:N:/:/usr/sbin/nologin\n"
                  "systemd-timesync:x:997:997:T:/:/usr/sbin/nologin\n",
                  "systemd-journal:x:999:\nsystemd-network:x:998:\nsystemd-timesync:x:997:\n")
    x = _accounts("systemd-network:x:997:997:N:/:/usr/sbin/nologin\n"
                  "systemd-timesync:x:999:999:T:/:/usr/sbin/nologin\n",
                  "systemd-journal:x:998:\nsystemd-network:x:997:\nsystemd-timesync:x:999:\n")
    assert dynamic_renumbering(a, x) == {
        "/etc/passwd:systemd-network", "/etc/passwd:systemd-timesync",
        "/etc/group:systemd-journal", "/etc/group:systemd-network",
        "/etc/group:systemd-timesync"}
    # not one renumbering: two ids of X stand for one of A
    clash = _accounts("u:x:998:998::/:/bin/false\nv:x:999:999::/:/bin/false\n", "")
    assert dynamic_renumbering(
        _accounts("u:x:998:998::/:/bin/false\nv:x:998:998::/:/bin/false\n", ""), clash) == set()
    # an id outside 100..999 (a fixed one) is a real difference
    assert dynamic_renumbering(_accounts("", "shadow:x:42:\n"),
                               _accounts("", "shadow:x:999:\n")) == set()
    # another field differs: not a renumbering
    assert dynamic_renumbering(_accounts("u:x:998:998::/:/bin/false\n", ""),
                               _accounts("u:x:997:997::/home:/bin/false\n", "")) == set()
    expected = load_expected()
    assert any("account-id" in r.kinds for r in expected.reason)
