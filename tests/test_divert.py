"""Diversions: the divert action against dpkg-divert itself (the rendered sh runs the real
tool on one root, bootstrap applies the action on another: the same database, the same
files, the same failures), the `diverted` Only-If test, an unpack that honours a
diversion, the database's format, and the engine's reading of dpkg-divert (dash's
prerm: `diverter=$(dpkg-divert --listpackage F)` then `--remove` behind a test of it)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from bootstrap.apply import ActionFailed, Applier
from bootstrap.diversions import (
    Diversion,
    clash,
    diverted_path,
    parse_diversions,
    render_diversions,
)
from bootstrap.unpack import unpack_deb
from recipes.actions import Action, make_action
from rewrite.render import render_script
from rewrite.translate import Untranslatable, translate
from tests.fixtures.onlyif import assert_read_alike

DASH = shutil.which("dash") or "/bin/dash"
DPKG_DIVERT = shutil.which("dpkg-divert")
needs_dpkg = pytest.mark.skipif(DPKG_DIVERT is None, reason="dpkg-divert is not installed")


def _root(path: Path) -> Path:
    (path / "var/lib/dpkg/info").mkdir(parents=True)
    (path / "var/lib/dpkg/status").write_text("")
    (path / "usr/bin").mkdir(parents=True)
    (path / "usr/bin/foo").write_text("foo\n")
    return path


def _table(root: Path) -> dict[str, Diversion]:
    db = root / "var/lib/dpkg/diversions"
    return parse_diversions(db.read_text()) if db.exists() else {}


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in (root / "usr").rglob("*"))


def _shell(root: Path, action: Action, package: str = "foo") -> bool:
    text = render_script(action.script, [action], package=package)
    assert text is not None
    script = root.parent / f"{root.name}.sh"
    script.write_text(text)
    done = subprocess.run([DASH, str(script), action.on[0]], capture_output=True, text=True,
                          timeout=60, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                                           "DPKG_ROOT": str(root)})
    return done.returncode == 0


def _native(root: Path, action: Action, package: str = "foo") -> bool:
    try:
        Applier(root).run(package, action)
    except ActionFailed:
        return False
    return True


def _divert(on: str = "install", **fields: str) -> Action:
    return make_action("divert", "preinst" if on in ("install", "upgrade") else "postrm",
                       [on], fields)


# each step: the action, whether it succeeds
STEPS: dict[str, list[tuple[Action, bool]]] = {
    "add with rename, again, then remove with rename": [
        (_divert(path="/usr/bin/foo", **{"divert-to": "/usr/bin/foo.real"}, rename="yes"),
         True),
        (_divert(path="/usr/bin/foo", **{"divert-to": "/usr/bin/foo.real"}, rename="yes"),
         True),
        (_divert("remove", path="/usr/bin/foo", rename="yes", remove="yes"), True),
    ],
    "the default place, no rename, another package's": [
        (_divert(path="/usr/bin/foo", package="bar"), True),
        (_divert("remove", path="/usr/bin/foo", remove="yes"), False),  # foo's: mismatch
        (_divert("remove", path="/usr/bin/foo", package="bar", remove="yes"), True),
    ],
    "a clash with another place": [
        (_divert(path="/usr/bin/foo", **{"divert-to": "/usr/bin/foo.a"}), True),
        (_divert(path="/usr/bin/foo", **{"divert-to": "/usr/bin/foo.b"}), False),
    ],
    "a path another diversion goes to": [
        (_divert(path="/usr/bin/foo", **{"divert-to": "/usr/bin/foo.real"}), True),
        (_divert(path="/usr/bin/foo.real", **{"divert-to": "/usr/bin/foo.other"}), False),
    ],
    "nothing to remove": [
        (_divert("remove", path="/usr/bin/zzz", remove="yes"), True),
    ],
    "a rename that would overwrite": [
        (_divert(path="/usr/bin/foo", **{"divert-to": "/usr/bin/bar"}, rename="yes"), False),
    ],
}


@needs_dpkg
@pytest.mark.parametrize("name", list(STEPS))
def test_bootstrap_and_dpkg_divert_agree(tmp_path: Path, name: str) -> None:
    shell, native = _root(tmp_path / "shell"), _root(tmp_path / "native")
    if name == "a rename that would overwrite":
        for root in (shell, native):
            (root / "usr/bin/bar").write_text("bar\n")
    for index, (action, succeeds) in enumerate(STEPS[name]):
        assert (_shell(shell, action), _native(native, action)) == (succeeds, succeeds), index
        assert _table(shell) == _table(native), index
        assert _files(shell) == _files(native), index


@needs_dpkg
def test_the_diverted_test_as_rendered_and_as_bootstrap_reads_it(tmp_path: Path) -> None:
    root = _root(tmp_path / "root")
    Applier(root).run("dash", _divert(path="/bin/sh", package="dash"))
    assert_read_alike(root, [("diverted /bin/sh dash", True), ("diverted /bin/sh bash", False),
                           ("diverted /bin/sh", True), ("! diverted /bin/sh", False),
                           ("! diverted /bin/sh bash", True), ("diverted /bin/ls", False),
                           ("! diverted /bin/ls", True)])


def test_the_database_format() -> None:
    text = "/bin/sh\n/bin/sh.distrib\ndash\n/etc/x\n/etc/x.local\n:\n"
    table = parse_diversions(text)
    assert table == {"/bin/sh": ("/bin/sh.distrib", "dash"), "/etc/x": ("/etc/x.local", ":")}
    assert render_diversions(table) == text
    assert diverted_path(table, "/bin/sh", "bash") == "/bin/sh.distrib"
    assert diverted_path(table, "/bin/sh", "dash") == "/bin/sh"  # its own diversion
    assert diverted_path(table, "/etc/x", "any") == "/etc/x.local"  # local: every package
    assert clash(table, "/bin/sh", "/bin/sh.distrib", "dash") == ""
    assert "clashes" in clash(table, "/bin/sh", "/bin/sh.other", "dash")
    assert "clashes" in clash(table, "/bin/ls", "/bin/sh.distrib", "coreutils")
    assert "clashes" in clash(table, "/bin/dash", "/bin/sh", "dash")  # to a diverted path
    for bad, why in [("/bin/sh\n/bin/sh.distrib\n", "triples"),
                     ("bin/sh\n/bin/sh.distrib\ndash\n", "absolute"),
                     ("/bin/sh\n/x\ndash\n/bin/sh\n/y\nbash\n", "twice"),
                     ("/bin/sh\n/x\n\n", "package name")]:
        with pytest.raises(ValueError, match=why):
            parse_diversions(bad)


def test_a_corrupt_database_fails_the_action_with_its_name(tmp_path: Path) -> None:
    root = _root(tmp_path / "root")
    (root / "var/lib/dpkg/diversions").write_text("/bin/sh\n")
    with pytest.raises(ActionFailed, match="diversions"):
        Applier(root).run("dash", _divert(path="/bin/sh"))


def _foo_deb(tmp_path: Path, files: dict[str, str], links: dict[str, str]) -> Path:
    """foo.deb shipping `files` (path -> text) and `links` (hard link -> file)."""
    tree = tmp_path / "pkg"
    (tree / "DEBIAN").mkdir(parents=True)
    for path, text in files.items():
        (tree / path).parent.mkdir(parents=True, exist_ok=True)
        (tree / path).write_text(text)
    for link, target in links.items():
        os.link(tree / target, tree / link)
    (tree / "DEBIAN/control").write_text(
        "Package: foo\nVersion: 1\nArchitecture: all\nMaintainer: T <t@example.invalid>\n"
        "Description: t\n t\n")
    deb = tmp_path / "foo.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "--build", str(tree), str(deb)],
                   check=True, capture_output=True)
    return deb


def test_an_unpack_honours_another_package_s_diversion(tmp_path: Path) -> None:
    deb = _foo_deb(tmp_path, {"usr/bin/foo": "from the package\n",
                              "usr/bin/other": "not diverted\n"}, {})
    root = tmp_path / "root"
    files = unpack_deb(deb, root, diversions={"/usr/bin/foo": "/usr/bin/foo.real"})
    assert (root / "usr/bin/foo.real").read_text() == "from the package\n"
    assert not (root / "usr/bin/foo").exists()
    assert (root / "usr/bin/other").read_text() == "not diverted\n"
    assert "/usr/bin/foo" in [f.path for f in files]  # listed where it was shipped


def test_a_hard_link_to_a_diverted_file_follows_it(tmp_path: Path) -> None:
    """A package's hard link to its own diverted file links to where that file went."""
    deb = _foo_deb(tmp_path, {"usr/bin/foo": "the tool\n"}, {"usr/bin/foo-alias": "usr/bin/foo"})
    root = tmp_path / "root"
    unpack_deb(deb, root, diversions={"/usr/bin/foo": "/usr/bin/foo.real"})
    assert (root / "usr/bin/foo.real").read_text() == "the tool\n"
    assert (root / "usr/bin/foo-alias").stat().st_ino == (root / "usr/bin/foo.real").stat().st_ino


def _actions(text: str, script: str = "postinst") -> list[dict[str, str]]:
    return [a.stanza() for a in translate(text, script, package="dash").actions]


def test_the_engine_reads_dpkg_divert() -> None:
    text = ("#!/bin/sh\nset -e\nif [ \"$1\" = install ]; then\n"
            "  dpkg-divert --package foo --rename --divert /usr/bin/foo.real --add "
            "/usr/bin/foo\nfi\n")
    assert _actions(text, "preinst") == [
        {"Action": "divert", "Script": "preinst", "On": "install", "Path": "/usr/bin/foo",
         "Divert-To": "/usr/bin/foo.real", "Package": "foo", "Rename": "yes", "Remove": "no"}]
    text = "#!/bin/sh\nset -e\n[ \"$1\" = remove ] && dpkg-divert --remove /usr/bin/foo\n"
    assert _actions(text, "postrm") == [
        {"Action": "divert", "Script": "postrm", "On": "remove", "Path": "/usr/bin/foo",
         "Rename": "no", "Remove": "yes"}]


DASH_PRERM = """#!/bin/dash
set -e
remove_divert() {
    diverter=$(dpkg-divert --listpackage $1)
    if [ "$diverter" = "dash" ]; then
        dpkg-divert --package dash --rename --remove $1
    fi
}
if [ "$1" = remove ] || [ "$1" = deconfigure ]; then
    remove_divert /bin/sh
    remove_divert /usr/share/man/man1/sh.1.gz
fi
"""


def test_a_removal_behind_a_test_of_the_diverter() -> None:
    assert _actions(DASH_PRERM, "prerm") == [
        {"Action": "divert", "Script": "prerm", "On": "remove deconfigure",
         "Only-If": f"diverted {path} dash", "Path": path, "Package": "dash",
         "Rename": "yes", "Remove": "yes"}
        for path in ("/bin/sh", "/usr/share/man/man1/sh.1.gz")]


@pytest.mark.parametrize(("test", "only_if"), [
    ('[ -z "$d" ]', "! diverted /bin/sh"),
    ('[ -n "$d" ]', "diverted /bin/sh"),
    ('[ "$d" != bash ]', "! diverted /bin/sh bash"),
    ('! [ "$d" = bash ]', "! diverted /bin/sh bash"),
])
def test_every_test_of_the_diverter(test: str, only_if: str) -> None:
    text = (f"#!/bin/sh\nset -e\nd=$(dpkg-divert --listpackage /bin/sh)\nif {test}; then\n"
            "  dpkg-divert --package dash --no-rename --divert /bin/sh.distrib --add /bin/sh\n"
            "fi\n")
    assert [a.get("Only-If") for a in _actions(text)] == [only_if]


@pytest.mark.parametrize("text", [
    "dpkg-divert --local --divert /usr/bin/foo.real /usr/bin/foo",  # the administrator's
    "dpkg-divert --package foo --add /usr/bin/a /usr/bin/b",
    "dpkg-divert --package foo --add --remove /usr/bin/a",
    "dpkg-divert --list",
    # a diversion read, then changed, then tested
    'd=$(dpkg-divert --listpackage /bin/sh)\ndpkg-divert --package x --add /bin/sh\n'
    'if [ "$d" = x ]; then dpkg-divert --package x --remove /bin/sh; fi',
    # LOCAL: not a package
    'd=$(dpkg-divert --listpackage /bin/sh)\n'
    'if [ "$d" = LOCAL ]; then dpkg-divert --package x --remove /bin/sh; fi',
])
def test_other_forms_are_refused(text: str) -> None:
    with pytest.raises(Untranslatable):
        translate(f"#!/bin/sh\nset -e\n{text}\n", "postinst", package="foo")
