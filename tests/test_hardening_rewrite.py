"""Issue 12, rewrite engine: exit respected, names validated where they enter, one-line
errors instead of tracebacks.

Packages are built by hand (tests/fixtures/handdeb.py) so that they can hold what
dpkg-deb refuses (bad names, two control stanzas). Rendered scripts are run with dash
beside the original script, for every argument dpkg may give, against a fake root.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from base.deb822 import iter_stanzas
from base.errors import EXIT_CODES, FormatError, RecipeError, RewriteError
from recipes.actions import ActionError, action_from_stanza, make_action
from recipes.policy import load_policy
from recipes.recipe import parse_recipe
from rewrite.engine import RewriteReport, rewrite
from rewrite.relations import Universe
from rewrite.render import render_script
from rewrite.translate import SCRIPT_PHASES, Untranslatable, translate
from rewrite.translate import Result as Translated
from tests.conftest import Workspace
from tests.fixtures.handdeb import hand_deb
from unessential.cli import cli

DASH = shutil.which("dash")
needs_dash = pytest.mark.skipif(DASH is None, reason="needs dash")

CONTROL = ("Package: odd\nVersion: 1\nArchitecture: all\n"
           "Maintainer: T <t@example.invalid>\nDescription: odd\n odd\n")


# -- helpers ---------------------------------------------------------------------------
def make_deb(folder: Path, scripts: dict[str, str] | None = None, *,
             control: str = CONTROL, members: dict[str, bytes] | None = None,
             name: str = "odd_1_all.deb") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    extra = {script: text.encode() for script, text in (scripts or {}).items()}
    return hand_deb(folder / name, [], control_text=control, members={**extra, **(members or {})})


def engine(deb: Path, out: Path) -> RewriteReport:
    policy = load_policy(None)
    universe = Universe.from_records([], policy.implicit_essential.priorities)
    return rewrite(deb, out, universe=universe, policy=policy, recipe=None, recipe_digest="t")


def run_cli(ws: Workspace, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, ["--config", str(ws.config), "-q", *args], env=env)


def assert_one_line_error(result: Result, kind: str) -> str:
    assert result.exit_code == EXIT_CODES[kind], result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"unessential: {kind} error: "), lines[0]
    raw = [char for char in result.output if char != "\n" and (ord(char) < 32 or ord(char) == 127)]
    assert not raw, result.output  # (click strips ANSI sequences itself, not the others)
    return lines[0]


def phases_of(text: str, script: str) -> dict[str, tuple[str, ...]]:
    result = translate(text, script, package="odd")
    return {a.get("Path"): a.on for a in result.actions}


# The original runs with shims that put its paths under $ROOT; the rendered script
# puts them under $DPKG_ROOT. Both see the same fake root.
SHIMS = """\
mkdir() { [ "$1" = -p ] && shift; command mkdir -p -- "$ROOT$1"; }
rm() { [ "$1" = -rf ] && shift; command rm -rf -- "$ROOT$1"; }
"""
START = ("v/a", "v/b", "v/c")


def run_in_root(text: str, arg: str, root: Path) -> tuple[int, list[str]]:
    if root.exists():
        shutil.rmtree(root)
    for entry in START:
        (root / entry).mkdir(parents=True)
    path = root.parent / "script.sh"
    path.write_text(text)
    assert DASH is not None
    done = subprocess.run([DASH, str(path), arg], capture_output=True, text=True, timeout=30,
                          cwd=root.parent,
                          env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                               "ROOT": str(root), "DPKG_ROOT": str(root)})
    found = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
    return done.returncode, found


def original_with_shims(text: str) -> str:
    first, _, rest = text.partition("\n")
    return f"{first}\n{SHIMS}{rest}"


def assert_same_behaviour(text: str, script: str, tmp: Path,
                          result: Translated | None = None) -> None:
    """The rendered script does what the original does, for every argument of `script`."""
    result = result or translate(text, script, package="odd")
    rendered = render_script(script, result.actions, package="odd",
                             fails={p: code for p, (code, _) in result.fails.items()})
    rendered = rendered or "#!/bin/sh\nexit 0\n"
    for arg in SCRIPT_PHASES[script]:
        want = run_in_root(original_with_shims(text), arg, tmp / "root")
        got = run_in_root(rendered, arg, tmp / "root")
        assert got == want, (arg, text, rendered)


# -- 1. exit ends its branch -------------------------------------------------------------
PURGE_OR_EXIT = '#!/bin/sh\nset -e\n[ "$1" = purge ] || exit 0\nrm -rf /var/lib/xx\n'
IF_NOT_PURGE = ('#!/bin/sh\nset -e\nif [ "$1" != purge ]; then\n    exit 0\nfi\n'
                'rm -rf /var/lib/xx\n')


@pytest.mark.parametrize("text", [PURGE_OR_EXIT, IF_NOT_PURGE,
                                  '#!/bin/sh\n[ "$1" != "purge" ] && exit 0\nrm -rf /var/lib/xx\n',
                                  '#!/bin/sh\ncase "$1" in\n  purge) ;;\n  *) exit 0 ;;\nesac\n'
                                  'rm -rf /var/lib/xx\n',
                                  '#!/bin/sh\ntest "x$1" = xpurge || { echo bye; exit 0; }\n'
                                  'rm -rf /var/lib/xx\n'])
def test_purge_only_removal_stays_purge_only(text: str) -> None:
    assert phases_of(text, "postrm") == {"/var/lib/xx": ("purge",)}


@needs_dash
@pytest.mark.parametrize("text", [PURGE_OR_EXIT, IF_NOT_PURGE])
def test_rendered_purge_guard_behaves_like_the_original(text: str, tmp_path: Path) -> None:
    text = text.replace("/var/lib/xx", "/v/a")
    assert_same_behaviour(text, "postrm", tmp_path)


@pytest.mark.parametrize(("text", "dropped"), [
    ("#!/bin/sh\nexit 0\nrm -rf /usr/share/doc\n", ("rm -rf /usr/share/doc", "postrm:3")),
    ("#!/bin/sh\nexit 0; rm -rf /usr/share/doc\n",
     ("exit 0; rm -rf /usr/share/doc", "postrm:2")),
], ids=["next-line", "same-line"])
def test_code_after_exit_0_is_dead_not_active(tmp_path: Path, text: str,
                                              dropped: tuple[str, str]) -> None:
    result = translate(text, "postrm", package="odd")
    assert result.actions == []
    assert [(d.what, d.origin) for d in result.dropped] == [dropped]
    assert "unreachable" in result.dropped[0].reason
    report = engine(make_deb(tmp_path, {"postrm": text}), tmp_path / "out")
    (script,) = report.scripts
    assert script.actions == []
    out = (tmp_path / "out" / "odd_1_all.deb").read_bytes()
    assert b"/usr/share/doc" not in out


def test_exit_in_one_case_branch_only_ends_that_branch() -> None:
    text = ('#!/bin/sh\ncase "$1" in\n    remove) exit 0 ;;\nesac\nrm -rf /var/lib/a\n'
            'if [ "$1" = purge ]; then\n    rm -rf /var/lib/b\n    exit 0\nfi\nrm -rf /var/lib/c\n')
    assert phases_of(text, "postrm") == {
        "/var/lib/a": ("purge", "upgrade", "failed-upgrade", "abort-install", "abort-upgrade",
                       "disappear"),
        "/var/lib/b": ("purge",),
        "/var/lib/c": ("upgrade", "failed-upgrade", "abort-install", "abort-upgrade",
                       "disappear"),
    }


def test_phase_test_or_command_runs_only_where_the_test_fails() -> None:
    text = '#!/bin/sh\n[ "$1" = purge ] || rm -rf /var/lib/a\n[ "$1" = configure ] && rm /x\n'
    on = phases_of(text, "postrm")
    assert on == {"/var/lib/a": ("remove", "upgrade", "failed-upgrade", "abort-install",
                                 "abort-upgrade", "disappear")}  # and /x never (not postrm)


def test_nonzero_exit_fails_there_and_is_rendered(tmp_path: Path) -> None:
    text = ('#!/bin/sh\nset -e\nrm -rf /v/a\nif [ "$1" = upgrade ]; then\n    exit 3\nfi\n'
            'case "$1" in\n    remove|purge) rm -rf /v/b ;;\n'
            '    *) echo "postrm called with unknown argument" >&2; exit 1 ;;\nesac\n')
    result = translate(text, "postrm", package="odd")
    assert {p: code for p, (code, _) in result.fails.items()} == {
        "upgrade": 3, "failed-upgrade": 1, "abort-install": 1, "abort-upgrade": 1,
        "disappear": 1}
    assert result.fails["upgrade"][1] == "postrm:5"
    if DASH:
        assert_same_behaviour(text, "postrm", tmp_path, result)
    report = engine(make_deb(tmp_path / "deb", {"postrm": text}), tmp_path / "out")
    assert report.as_dict()["scripts"][0]["fails"]["upgrade"] == {"exit": 3, "origin": "postrm:5"}


@pytest.mark.parametrize(("script", "text", "line"), [
    ("postinst", "#!/bin/sh\nldconfig\nexit 1\n", 3),
    ("preinst", '#!/bin/sh\n[ "$1" = upgrade ] || exit 2\n', 2),
    ("postinst", '#!/bin/sh\ncase "$1" in\n  remove) ;;\n  *) exit 1 ;;\nesac\n', 4),
])
def test_failing_on_install_or_configure_is_refused(script: str, text: str, line: int,
                                                     tmp_path: Path) -> None:
    with pytest.raises(Untranslatable, match="could never be installed") as info:
        translate(text, script, package="odd")
    assert info.value.line == line
    with pytest.raises(RewriteError, match=rf"odd: {script}:{line}: the script fails"):
        engine(make_deb(tmp_path, {script: text}), tmp_path / "out")


def test_failing_on_triggered_is_refused_only_with_trigger_interests(tmp_path: Path) -> None:
    text = '#!/bin/sh\ncase "$1" in\n  configure) ldconfig ;;\n  *) exit 1 ;;\nesac\n'
    report = engine(make_deb(tmp_path / "a", {"postinst": text}), tmp_path / "out-a")
    assert set(report.scripts[0].fails) == {"abort-upgrade", "abort-remove",
                                             "abort-deconfigure", "triggered", "reconfigure"}
    with pytest.raises(RewriteError, match="odd: postinst:4: the script fails .* triggered"):
        engine(make_deb(tmp_path / "b", {"postinst": text},
                        members={"triggers": b"interest /usr/lib/odd\n"}), tmp_path / "out-b")


@pytest.mark.parametrize(("text", "line"), [
    ('#!/bin/sh\ncommand -v foo >/dev/null || exit 0\nrm -rf /var/lib/xx\n', 2),
    ('#!/bin/sh\nif which foo >/dev/null; then\n    exit 0\nfi\nrm -rf /var/lib/xx\n', 3),
    ('#!/bin/sh\n[ -n "$2" ] && exit 0\nrm -rf /var/lib/xx\n', 2),
    ('#!/bin/sh\nif dpkg --compare-versions "$2" lt 2; then\n  rm -rf /a\nelse\n  exit 0\nfi\n', 5),
    ('#!/bin/sh\n[ "$1" = purge ] && [ -e /etc/x ] && exit 0\nrm -rf /var/lib/xx\n', 2),
    ('#!/bin/sh\n( exit 0 )\nrm -rf /var/lib/xx\n', 2),
    ('#!/bin/sh\nexit $RET\n', 2),
    ('#!/bin/sh\nwhich odd >/dev/null\ncase "$1" in\n  purge) exit ;;\nesac\n', 4),
    ('#!/bin/sh\nset -e\nwhich odd >/dev/null\n', 3),
    ('#!/bin/sh\nset -e\n[ "$1" = purge ] || [ -e /x ]\n', 3),
    ('#!/bin/sh\n[ "$1" = purge ] && [ -e /x ]\n', 2),
    ('#!/bin/sh\ncase "$1" in\n  purge) [ -e /x ] ;;\nesac\nexit\n', 5),
])
def test_exit_that_cannot_be_modelled_exactly_is_refused(text: str, line: int,
                                                         tmp_path: Path) -> None:
    with pytest.raises(Untranslatable) as info:
        translate(text, "postrm", package="odd")
    assert info.value.line == line, info.value
    with pytest.raises(RewriteError, match=rf"odd: postrm:{line}: "):
        engine(make_deb(tmp_path, {"postrm": text}), tmp_path / "out")


def test_an_exit_behind_a_test_of_a_path_conditions_what_follows() -> None:
    """What follows runs only where the exit's test failed: it carries the test, which
    nothing before it changes (its own removal comes after its test)."""
    result = translate('#!/bin/sh\nif [ -d /var/lib/xx/keep ]; then\n    exit 0\nfi\n'
                       'rm -rf /var/lib/xx\n', "postrm", package="odd")
    assert [(a.name, a.only_if) for a in result.actions] == [
        ("remove-path", ("! -d /var/lib/xx/keep",))]


def test_bare_exit_takes_the_status_before_it() -> None:
    after_command = translate("#!/bin/sh\nldconfig\nexit\nrm -rf /a\n", "postrm", package="odd")
    assert after_command.fails == {} and after_command.actions[0].name == "ldconfig"
    after_failed_test = translate('#!/bin/sh\n[ "$1" = purge ] || exit\n', "postrm",
                                  package="odd")
    assert set(after_failed_test.fails) == set(SCRIPT_PHASES["postrm"]) - {"purge"}


@pytest.mark.parametrize(("script", "text", "fails"), [
    # the script ends with the status of its last command
    ("preinst", '#!/bin/sh\nrm -rf /v/a\n[ "$1" = install ] && true\n',
     {"upgrade", "abort-upgrade"}),
    # under set -e, a test that fails as the last of its list ends the script
    ("postrm", '#!/bin/sh\nset -e\n[ "$1" = purge ] || [ "$1" = remove ]\nrm -rf /v/a\n',
     {"upgrade", "failed-upgrade", "abort-install", "abort-upgrade", "disappear"}),
    ("postrm", '#!/bin/sh -e\n[ "$1" = purge ] || [ "$1" = remove ]\nrm -rf /v/a\nexit 0\n',
     {"upgrade", "failed-upgrade", "abort-install", "abort-upgrade", "disappear"}),
    # ... but not one that is not the last, nor a negated one
    ("postrm", '#!/bin/sh\nset -e\n[ "$1" = purge ] && rm -rf /v/a\n! [ "$1" = purge ]\n'
     'rm -rf /v/b\nexit 0\n', set()),
])
def test_exit_status_and_set_e_are_followed(script: str, text: str, fails: set[str],
                                            tmp_path: Path) -> None:
    result = translate(text, script, package="odd")
    assert set(result.fails) == fails
    if DASH:
        assert_same_behaviour(text.replace("#!/bin/sh -e\n", "#!/bin/sh\nset -e\n"), script,
                              tmp_path)


def test_set_e_inside_a_block_or_a_list_is_refused() -> None:
    with pytest.raises(Untranslatable, match="set -e or \\+e inside a block"):
        translate('#!/bin/sh\nif [ "$1" = purge ]; then\n  set -e\nfi\n', "postrm",
                  package="odd")
    with pytest.raises(Untranslatable, match="in a && or \\|\\| list"):
        translate('#!/bin/sh\n[ "$1" = purge ] && set -e\n', "postrm", package="odd")


def test_error_propagation_exit_is_not_a_branch() -> None:
    text = ('#!/bin/sh\nset -e\nif [ "$1" = configure ]; then\n'
            '    if [ -x /etc/init.d/odd ]; then\n        invoke-rc.d odd start || exit 1\n'
            '    fi\n    ldconfig || exit 1\nfi\n')
    result = translate(text, "postinst", package="odd")
    assert [(a.name, a.on) for a in result.actions] == [("ldconfig", ("configure",))]
    assert result.fails == {}


def test_recipe_mapping_over_an_exit_is_refused() -> None:
    def lookup(script: str, line: str) -> tuple[list, str] | None:
        return ([], "ignored") if line.startswith("[") else None

    with pytest.raises(Untranslatable, match="recipe mapping covers a line that exits"):
        translate(PURGE_OR_EXIT, "postrm", package="odd", lookup=lookup)


def test_recipe_mapped_actions_keep_to_the_arguments_that_reach_them() -> None:
    def lookup(script: str, line: str) -> tuple[list, str] | None:
        if line.startswith("frob"):
            return [make_action("ldconfig", "postrm", ["remove", "purge"])], ""
        return None

    text = '#!/bin/sh\n[ "$1" = purge ] || exit 0\nfrob --all\n'
    result = translate(text, "postrm", package="odd", lookup=lookup)
    assert [a.on for a in result.actions] == [("purge",)]


# -- 2. names and paths validated where they enter ---------------------------------------
def stanza(action: str, script: str = "postinst", on: str = "configure", **fields: str
           ) -> dict[str, str]:
    return {"Action": action, "Script": script, "On": on, **fields}


BAD_STANZAS = [
    stanza("alternative-install", Name="/tmp/ESCAPE", Link="/usr/bin/x",
           Path="/usr/share/doc/x/f", Priority="10"),
    stanza("alternative-install", Name="../x", Link="/usr/bin/x", Path="/usr/bin/y",
           Priority="10"),
    stanza("alternative-install", Name="..", Link="/usr/bin/x", Path="/usr/bin/y", Priority="1"),
    stanza("alternative-install", Name="a b", Link="/usr/bin/x", Path="/usr/bin/y", Priority="1"),
    stanza("alternative-install", Name="x", Link="usr/bin/x", Path="/usr/bin/y", Priority="1"),
    stanza("alternative-install", Name="x", Link="/usr/bin/x", Path="/usr/../../y", Priority="1"),
    stanza("alternative-install", Name="x", Link="/usr/bin/x", Path="/usr/bin/y", Priority="abc"),
    stanza("alternative-install", Name="x", Link="/usr/bin/x", Path="/usr/bin/y", Priority="1",
           Slaves="\n/usr/bin/z ../z /usr/bin/w"),
    stanza("alternative-remove", script="prerm", on="remove", Name="a/b", Path="/usr/bin/y"),
    stanza("system-user", Name="bad user"),
    stanza("system-user", Name="Root"),
    stanza("system-user", Name="a" * 33),
    stanza("system-user", Name="../../etc/x"),
    stanza("system-user", Name="app", Gecos="x:0:0"),
    stanza("system-user", Name="app", Gecos="x\nroot::0:0::/:/bin/sh"),
    stanza("system-user", Name="app", Home="home/app"),
    stanza("system-user", Name="app", Home="/home/../../tmp"),
    stanza("system-user", Name="app", Shell="/bin/sh:x"),
    stanza("system-user", Name="app", Group="g:x:0:evil"),
    stanza("system-group", Name="g:x:0:evil"),
    stanza("user-in-group", User="app", Group="a\x1bb"),
    stanza("make-dir", Path="relative/dir"),
    stanza("make-dir", Path="/var/lib/../../../tmp"),
    stanza("make-dir", Path="/var/lib/x", Mode="u+s"),
    stanza("remove-path", script="postrm", on="purge", Path="/../etc"),
    stanza("set-owner", Path="/x", Owner="a.b"),
    stanza("symlink", Path="../x", Target="/etc/passwd"),
    stanza("install-config", Source="/usr/share/x", Path="/etc/../../x"),
]


@pytest.mark.parametrize("fields", BAD_STANZAS, ids=lambda f: f"{f['Action']}-{len(str(f))}")
def test_actions_file_refuses_unsafe_values(fields: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        action_from_stanza(fields)
    with pytest.raises(ActionError):
        action_from_stanza(fields)


def test_actions_file_accepts_sane_values() -> None:
    good = [
        stanza("alternative-install", Name="x-www-browser", Link="/usr/bin/x-www-browser",
               Path="/usr/bin/firefox", Priority="-10",
               Slaves="\n/usr/share/man/man1/x.1.gz x.1.gz /usr/share/man/man1/f.1.gz\n."),
        stanza("system-user", Name="_apt", Home="/nonexistent", Shell="/usr/sbin/nologin",
               Gecos="APT sandbox user,,,", Group="nogroup"),
        stanza("system-user", Name="machine$"),
        stanza("set-owner", Path="/var/lib/x", Owner="0", Group="adm", Mode="0750"),
        stanza("symlink", Path="/usr/bin/x", Target="../lib/x/x"),
        stanza("remove-path", script="postrm", on="purge", Path="/var/log/x/*.log"),
        stanza("tmpfiles", Config="x.conf"),
        stanza("python-clean", script="prerm", on="remove", Package="python3-apt:amd64"),
    ]
    for fields in good:
        action_from_stanza(fields)


def test_debhelper_python_clean_with_an_architecture_qualifier() -> None:
    text = ('#!/bin/sh\nset -e\nif command -v py3clean >/dev/null 2>&1; then\n'
            '\tpy3clean -p python3-apt:amd64\nelse\n\tdpkg -L python3-apt:amd64 | '
            'sed -En -e \'/^.*\\/(.*)\\.py$/s,,rm "\\1.pyc",p\' | sh\nfi\n')
    result = translate(text, "prerm", package="python3-apt")
    assert [(a.name, a.get("Package")) for a in result.actions] == \
        [("python-clean", "python3-apt:amd64")]


def test_translator_refuses_an_alternative_that_escapes_the_image(tmp_path: Path) -> None:
    text = ("#!/bin/sh\nset -e\n"
            "update-alternatives --install /usr/bin/x /tmp/ESCAPE /usr/share/doc/x/f 10\n")
    with pytest.raises(Untranslatable, match="not a plain name") as info:
        translate(text, "postinst", package="odd")
    assert info.value.line == 3
    with pytest.raises(RewriteError, match=r"odd: postinst:3: action alternative-install: Name"):
        engine(make_deb(tmp_path, {"postinst": text}), tmp_path / "out")
    assert not (tmp_path / "out" / "odd_1_all.deb").exists()


RECIPE_VALUES = [
    ('[scripts.odd.postinst]\nreason = "r"\nactions = [{ action = "alternative-install", '
     'on = ["configure"], name = "../x", link = "/usr/bin/x", path = "/usr/bin/y", '
     'priority = 1 }]\n', 3),
    ('[scripts.odd.postinst]\nreason = "r"\nactions = [{ action = "system-user", '
     'on = ["configure"], name = "bad user" }]\n', 3),
    ('[scripts.odd.postinst]\nreason = "r"\nactions = [{ action = "system-user", '
     'on = ["configure"], name = "app", gecos = "x:0:0" }]\n', 3),
    ('[[lines]]\nscript = "postinst"\nmatch = "frob"\nactions = [{ action = "make-dir", '
     'on = ["configure"], path = "relative/dir" }]\n', 4),
    ('[[lines]]\nscript = "postinst"\nmatch = "frob"\nactions = [{ action = '
     '"alternative-install", on = ["configure"], name = "x", link = "/usr/bin/x", '
     'path = "/usr/bin/y", priority = "abc" }]\n', 4),
]


@pytest.mark.parametrize(("text", "line"), RECIPE_VALUES)
def test_recipe_values_are_recipe_errors(text: str, line: int) -> None:
    with pytest.raises(RecipeError) as info:
        parse_recipe(text, "recipes/odd.toml")
    assert info.value.subject == f"recipes/odd.toml:{line}"
    assert info.value.cause.startswith("key '") and "actions[0]': action " in info.value.cause


# -- 3. one-line errors through the CLI ------------------------------------------------
SCRIPT_ERRORS = {
    "bad-user": "#!/bin/sh\nadduser --system 'bad user'\n",
    "gecos": "#!/bin/sh\nadduser --system --gecos 'x:0:0' app\n",
    "relative-mkdir": "#!/bin/sh\nmkdir -p relative/dir\n",
    "priority": "#!/bin/sh\nupdate-alternatives --install /usr/bin/x x /usr/bin/y abc\n",
    "shebang": '#!/bin/sh "\nldconfig\n',
    "for-backslash": "#!/bin/sh\nfor f in 'a\\1'; do chown $f /x; done\n",
    "nested-if": "#!/bin/sh\n" + "if true; then\n" * 3000 + "ldconfig\n" + "fi\n" * 3000,
    "chown-dot-colon": "#!/bin/sh\nchown a.b:c /var/lib/x\n",
    "escape-in-line": "#!/bin/sh\nfrob \x1b]0;title\x07 \x08\x08\n",
}


@pytest.mark.parametrize("name", sorted(SCRIPT_ERRORS))
def test_script_errors_are_one_line(name: str, workspace: Workspace, tmp_path: Path) -> None:
    deb = make_deb(tmp_path / "in", {"postinst": SCRIPT_ERRORS[name]})
    result = run_cli(workspace, "rewrite", str(deb), "--out", str(tmp_path / "out"))
    line = assert_one_line_error(result, "rewrite")
    assert f"{deb}: odd: postinst:" in line
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_loop_value_with_backslash_is_used_as_is() -> None:
    result = translate("#!/bin/sh\nfor f in 'a\\1'; do rm /x/$f; done\n", "postrm",
                       package="odd")
    assert [a.get("Path") for a in result.actions] == ["/x/a\\1"]


CONTROL_ERRORS = {
    "injection": CONTROL.replace("Package: odd", "Package: odd;$(touch /tmp/pwned)"),
    "escape": CONTROL.replace("Package: odd", "Package: od\x1b]0;x\x07\x08d"),
    "uppercase": CONTROL.replace("Package: odd", "Package: Odd"),
    "two-stanzas": CONTROL + "\nPackage: other\nVersion: 1\n",
    "not-deb822": "this is not\na control file\n",
    "no-package": CONTROL.replace("Package: odd\n", ""),
    "bad-source": CONTROL + "Source: ../../x\n",
    "bad-version": CONTROL.replace("Version: 1", "Version: 1\x1b[0m"),
    # values the deb822 writer cannot write back
    "carriage-return": CONTROL + "X-Odd: a\rb\n",
    "field-twice": CONTROL + "description: again\n",
}


@pytest.mark.parametrize("name", sorted(CONTROL_ERRORS))
@pytest.mark.parametrize("with_script", [False, True], ids=["no-scripts", "scripts"])
def test_bad_control_files_are_format_errors(name: str, with_script: bool,
                                             workspace: Workspace, tmp_path: Path) -> None:
    scripts = {"postinst": "#!/bin/sh\nldconfig\n"} if with_script else {}
    deb = make_deb(tmp_path / "in", scripts, control=CONTROL_ERRORS[name])
    out = tmp_path / "out"
    result = run_cli(workspace, "rewrite", str(deb), "--out", str(out))
    line = assert_one_line_error(result, "format")
    assert line.startswith(f"unessential: format error: {deb}: ")
    assert not out.exists() or not list(out.iterdir())
    with pytest.raises(FormatError):
        engine(deb, tmp_path / "out2")


def test_blank_continuation_line_of_the_control_file_is_written_as_a_dot(tmp_path: Path) -> None:
    control = CONTROL.replace("Version: 1\n", "Version: 1\nX-Odd: a\n \n b\n")
    report = engine(make_deb(tmp_path / "in", control=control), tmp_path / "out")
    from archive.debfile import read_deb

    text = read_deb(Path(report.output)).members["control"].data.decode()
    assert text.startswith("Package: odd\nVersion: 1\nX-Odd: a\n .\n b\nArchitecture: all\n")
    assert text.endswith("Description: odd\n odd\nUnessential-Recipe: t\n"
                         f"Unessential-Original: {report.input_sha256}\n")


def test_control_characters_are_escaped_in_messages(workspace: Workspace,
                                                    tmp_path: Path) -> None:
    deb = make_deb(tmp_path / "in", control=CONTROL_ERRORS["escape"])
    result = run_cli(workspace, "rewrite", str(deb), "--out", str(tmp_path / "out"))
    line = assert_one_line_error(result, "format")
    assert "od\\x1b]0;x\\x07\\x08d" in line


@pytest.mark.parametrize("value", ["abc", "-5", "1e9", " 12 3"])
def test_bad_source_date_epoch_is_one_line(value: str, workspace: Workspace,
                                           tmp_path: Path) -> None:
    deb = make_deb(tmp_path / "in", {"postinst": "#!/bin/sh\nldconfig\n"})
    out = tmp_path / "out"
    result = run_cli(workspace, "rewrite", str(deb), "--out", str(out),
                     env={"SOURCE_DATE_EPOCH": value})
    line = assert_one_line_error(result, "rewrite")
    assert "SOURCE_DATE_EPOCH" in line
    assert not out.exists()


def test_good_source_date_epoch_is_used(workspace: Workspace, tmp_path: Path) -> None:
    deb = make_deb(tmp_path / "in", {"postinst": "#!/bin/sh\nldconfig\n"})
    result = run_cli(workspace, "rewrite", str(deb), "--out", str(tmp_path / "out"),
                     env={"SOURCE_DATE_EPOCH": "1700000000"})
    assert result.exit_code == 0, result.output


def test_out_equal_to_the_input_directory_is_refused(workspace: Workspace,
                                                     tmp_path: Path) -> None:
    deb = make_deb(tmp_path / "in", {"postinst": "#!/bin/sh\nldconfig\n"})
    before = deb.read_bytes()
    for out in (deb.parent, tmp_path / "in" / "." / ""):
        result = run_cli(workspace, "rewrite", str(deb), "--out", str(out))
        line = assert_one_line_error(result, "rewrite")
        assert "replace" in line
        assert deb.read_bytes() == before
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "in")
    with pytest.raises(RewriteError, match="would replace it"):
        engine(deb, link)
    assert deb.read_bytes() == before


def test_recipe_values_are_recipe_errors_through_the_cli(workspace: Workspace,
                                                         tmp_path: Path) -> None:
    deb = make_deb(tmp_path / "in", {"postinst": "#!/bin/sh\nfrob\n"})
    for index, (text, line_number) in enumerate(RECIPE_VALUES):
        recipes = tmp_path / f"recipes{index}"
        recipes.mkdir()
        (recipes / "odd.toml").write_text(text)
        result = run_cli(workspace, "rewrite", str(deb), "--out", str(tmp_path / "out"),
                         "--recipes", str(recipes))
        line = assert_one_line_error(result, "recipe")
        assert line.startswith(f"unessential: recipe error: {recipes / 'odd.toml'}:"
                               f"{line_number}: key '"), line
        assert "actions[0]': action " in line


@pytest.mark.parametrize(("spec", "owner", "group"), [
    ("a:b", "a", "b"), ("a.b", "a", "b"), ("a", "a", ""), (":b", "", "b"), ("0:0", "0", "0"),
])
def test_chown_owner_and_group_as_chown_reads_them(spec: str, owner: str, group: str) -> None:
    result = translate(f"#!/bin/sh\nchown {spec} /var/lib/x\n", "postinst", package="odd")
    (action,) = result.actions
    assert (action.get("Owner"), action.get("Group")) == (owner, group)


@pytest.mark.parametrize("spec", ["a.b:c", "a:b:c", "a:", "Bad:x", "a:g x"])
def test_chown_with_bad_names_is_refused(spec: str) -> None:
    with pytest.raises(Untranslatable):
        translate(f"#!/bin/sh\nchown '{spec}' /var/lib/x\n", "postinst", package="odd")


def test_translated_package_writes_valid_actions_file(tmp_path: Path) -> None:
    text = ('#!/bin/sh\nset -e\nif [ "$1" = configure ]; then\n'
            '    adduser --system --group --home /var/lib/app --gecos "App,,," app\n'
            '    chown app:app /var/lib/app\nfi\n')
    report = engine(make_deb(tmp_path, {"postinst": text}), tmp_path / "out")
    assert report.output
    from archive.debfile import read_deb

    member = read_deb(Path(report.output)).members["actions"]
    actions = [action_from_stanza(s) for s in iter_stanzas(member.data.decode())]
    assert [a.name for a in actions] == ["system-group", "system-user", "set-owner"]
