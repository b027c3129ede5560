"""Issue 12: generated maintainer scripts and control files fed to the rewrite engine.

The only acceptable outcomes are a rewritten package or an UnessentialError (one line,
its exit code): never another exception. The actions of a rewritten package pass the
checks of `recipes.actions` and, checked here independently, name nothing outside the
image: absolute paths without '..', plain alternative and account names. Its rendered
scripts parse as sh. A second property runs scripts of a smaller grammar (tests of $1,
case, exit, mkdir/rm) and their rendered form with dash, for every argument dpkg may
give: where the engine translates a script, the two do the same.

Bounded: a fixed number of examples, no example database (nothing is written to the
work tree), well under a minute in all.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive.debfile import read_deb
from base.deb822 import iter_stanzas
from base.errors import UnessentialError
from recipes.actions import ACCOUNT_NAME, action_from_stanza
from rewrite.translate import SCRIPT_PHASES, Untranslatable, translate
from tests.test_hardening_rewrite import CONTROL, assert_same_behaviour, engine, make_deb

DASH = shutil.which("dash")
FUZZ = settings(max_examples=200, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# -- a grammar of maintainer-script fragments --------------------------------------------
PHASES = sorted({p for phases in SCRIPT_PHASES.values() for p in phases} | {"bogus"})
PATHS = ["/var/lib/odd", "/var/cache/odd/*", "relative/dir", "/var/../etc", "/usr/share/doc",
         "/etc", "/", "'/with space'", '"/q\'uote"', "$DIR", "/tmp/$(id)", "/a/b/..",
         "/x/./y", "${DPKG_ROOT}/var/lib/odd", "/var/lib/\\x"]
NAMES = ["odd", "_odd", "bad user", "Root", "x" * 40, "svc$", "../x", "/tmp/ESCAPE", ".", "..",
         "'a:b'", "g:x:0:evil", "'tab\there'", "9lives", "-dash"]
PRIORITIES = ["10", "-5", "abc", "1e3", "99999999999", ""]
MODES = ["0755", "755", "u+s", "4755", "0999", "-R"]


def pick(options: list[str]) -> st.SearchStrategy[str]:
    return st.sampled_from(options)


def command() -> st.SearchStrategy[str]:
    path, name = pick(PATHS), pick(NAMES)
    return st.one_of(
        st.just("ldconfig"),
        st.just("set -e"),
        st.just("true"),
        st.just(". /usr/share/debconf/confmodule"),
        st.builds(lambda q: f"db_get odd/{q}", pick(["question", "missing"])),
        st.builds(lambda m: f'echo "{m}" >&2', st.text(max_size=8)),
        st.builds(lambda n, p: f"adduser --system --group --home {p} --gecos 'x:0' {n}", name,
                  path),
        st.builds(lambda n: f"adduser --system --quiet {n}", name),
        st.builds(lambda n, g: f"adduser --quiet {n} {g}", name, name),
        st.builds(lambda n: f"addgroup --system {n}", name),
        st.builds(lambda n, a, b: f"useradd -r -d {a} -s {b} {n}", name, path, path),
        st.builds(lambda a, n, b, p: f"update-alternatives --install {a} {n} {b} {p}",
                  path, name, path, pick(PRIORITIES)),
        st.builds(lambda a, n, b, c, p: f"update-alternatives --install /usr/bin/x x {a} {p} "
                  f"--slave {b} {n} {c}", path, name, path, path, pick(PRIORITIES)),
        st.builds(lambda n, p: f"update-alternatives --remove {n} {p}", name, path),
        st.builds(lambda p: f"mkdir -p {p}", path),
        st.builds(lambda m, p: f"mkdir -m {m} {p}", pick(MODES), path),
        st.builds(lambda p: f"rm -rf {p}", path),
        st.builds(lambda p: f"rmdir {p}", path),
        st.builds(lambda o, p: f"chown {o} {p}", pick(["odd:odd", "a.b:c", "a.b", ":g", "0:0",
                                                       "odd:", "Bad:x"]), path),
        st.builds(lambda m, p: f"chmod {m} {p}", pick(MODES), path),
        st.builds(lambda a, b: f"ln -s {a} {b}", path, path),
        st.builds(lambda p: f'dpkg-maintscript-helper rm_conffile {p} 1.0~ -- "$@"', path),
        st.builds(lambda a, b: f'dpkg-maintscript-helper symlink_to_dir {a} {b} 2~ odd -- "$@"',
                  path, path),
        st.builds(lambda n: f"dpkg-statoverride --update --add odd odd 0750 {n}", path),
        st.builds(lambda n: f"dpkg-trigger --no-await {n}", name),
        st.builds(lambda p: f"py3compile -p odd {p}", path),
        st.builds(lambda p: f"install-info --quiet {p}", path),
        st.builds(lambda p: f"ucf /usr/share/odd/conf {p}", path),
        st.just("deb-systemd-helper unmask 'odd.service' >/dev/null || true"),
        st.just("invoke-rc.d odd start || exit 1"),
        st.builds(lambda c: f"exit {c}", pick(["", "0", "1", "3", "256", "$?", "x", "0 1"])),
        st.builds(lambda t: f"frob {t}", st.text(max_size=10)),
        # this stop's vocabulary: temporary files, find -delete, cp -f, fixed gids,
        # shadowconfig, setcap, computed output
        st.just("tmp=$(mktemp)"),
        st.just('rm -f "$tmp"'),
        st.builds(lambda p, t: f"find {p} -maxdepth 1 -type {t} -delete", path,
                  pick(["f", "l", "d", "x"])),
        st.builds(lambda p: f"find {p} -type f -print0 | xargs -0r rm -f", path),
        st.builds(lambda a, b: f"cp -f {a} {b}", path, path),
        st.builds(lambda n, g: f"groupadd -g {g} {n}", name, pick(["42", "0", "70000", "x"])),
        st.just("shadowconfig on"),
        st.builds(lambda c, p: f"setcap {c} {p}", pick(["cap_net_raw+ep", "bogus", "-r"]),
                  path),
        st.builds(lambda p: f'x=$(echo {p}/$((1+2))); mkdir -p "$x"', path),
        st.builds(lambda p: f"for i in $(seq 3); do rmdir {p}.$i; done", path),
        st.builds(lambda p: f"V={p}; mkdir -p ${{V%/*}}", path),
    )


def condition() -> st.SearchStrategy[str]:
    phase = pick(PHASES)
    simple = st.one_of(
        st.builds(lambda p: f'[ "$1" = "{p}" ]', phase),
        st.builds(lambda p: f'[ "$1" != {p} ]', phase),
        st.builds(lambda p: f'test "x$1" = "x{p}"', phase),
        st.builds(lambda a, b: f'[ "$1" = {a} -o "$1" = {b} ]', phase, phase),
        st.just("[ -x /usr/bin/odd ]"),
        st.just("which odd >/dev/null 2>&1"),
        st.just("command -v odd >/dev/null"),
        st.just('[ -n "$2" ]'),
        st.just('[ -z "$2" ]'),
        st.just('dpkg --compare-versions "$2" lt 1.0'),
        st.just("[ -d /run/systemd/system ]"),
        st.just("getent passwd odd >/dev/null"),
        st.just('[ "$RET" = true ]'),
        st.just('[ "$FOO" = bar ]'),
        st.just('test "${2+set}" = set'),
        st.just('[ "$5" != removing ]'),
        st.just('dpkg --compare-versions "" ge 1:1.0'),
    )
    return st.one_of(simple, st.builds(lambda c: f"! {c}", simple),
                     st.builds(lambda a, o, b: f"{a} {o} {b}", simple, pick(["&&", "||"]), simple))


def statements(leaf: st.SearchStrategy[str], cond: st.SearchStrategy[str],
               phases: list[str]) -> st.SearchStrategy[str]:
    """Statements built recursively from `leaf` commands and `cond` tests."""

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        block = st.lists(inner, min_size=1, max_size=3).map("\n".join)
        pattern = st.lists(pick([*phases, "*", "abort-*", "configure|upgrade"]), min_size=1,
                           max_size=2).map("|".join)
        return st.one_of(
            st.builds(lambda c, b: f"if {c}; then\n{b}\nfi", cond, block),
            st.builds(lambda c, b, e: f"if {c}; then\n{b}\nelse\n{e}\nfi", cond, block, block),
            st.builds(lambda c, b, d, e: f"if {c}; then\n{b}\nelif {d}; then\n{e}\nfi",
                      cond, block, cond, block),
            st.builds(lambda items: 'case "$1" in\n' + "".join(
                f"    {p})\n{b}\n    ;;\n" for p, b in items) + "esac",
                st.lists(st.tuples(pattern, block), min_size=1, max_size=3)),
            st.builds(lambda c, o, b: f"{c} {o} {b}", cond, pick(["&&", "||"]), inner),
            st.builds(lambda c, b: f"{c} || {{\n{b}\n}}", cond, block),
            st.builds(lambda b: f"for d in one two; do\n{b}\ndone", block),
            st.builds(lambda b: f"(\n{b}\n)", block),
        )

    return st.recursive(leaf, extend, max_leaves=8)


NOISE = st.one_of(
    st.text(max_size=12),
    st.binary(max_size=8).map(lambda b: b.decode("latin-1")),
    pick(["'", '"', "`", "$(", "${", "\\", "<<EOF", "#", ";;", "fi", "done", "}", ")", "f()",
          "while true; do :; done", "\x00", "\x1b[2J", "\r", "é"]),
)
SHEBANGS = ["#!/bin/sh", "#!/bin/sh -e", "#!/bin/bash", "#! /bin/sh", '#!/bin/sh "', "",
            "#!/usr/bin/perl", "#!"]


STATEMENTS = statements(command(), condition(), PHASES)


@st.composite
def maintainer_script(draw: st.DrawFn) -> tuple[str, str]:
    script = draw(pick(list(SCRIPT_PHASES)))
    lines = draw(st.lists(st.one_of(STATEMENTS, STATEMENTS, STATEMENTS, STATEMENTS, NOISE),
                          min_size=1, max_size=6))
    errexit = draw(pick(["set -e\n", "", "set +e\n"]))
    return script, draw(pick(SHEBANGS)) + "\n" + errexit + "\n".join(lines) + "\n"


PACKAGE_NAMES = ["odd", "odd-bin", "lib+x.y", "a", "Odd", "odd;$(id)", "../../x", "od\x1bd",
                 "-odd", "odd name", ""]


@st.composite
def control_file(draw: st.DrawFn) -> str:
    kind = draw(pick(["plain", "plain", "plain", "two", "garbage", "fields"]))
    name = draw(st.one_of(pick(PACKAGE_NAMES), st.text(max_size=6)))
    text = CONTROL.replace("Package: odd", f"Package: {name}")
    if kind == "two":
        text += "\nPackage: other\nVersion: 1\n"
    elif kind == "garbage":
        text = draw(st.text(max_size=40))
    elif kind == "fields":
        key = draw(pick(["Source", "Version", "Architecture", "Depends", "Essential",
                         "Priority", "X-Odd", " Lead", "#c", "Pre-Depends"]))
        value = draw(st.one_of(st.text(max_size=12), pick(["odd (1.0)", "x (", "yes", "1:2-3",
                                                            "required", "libc6 (>= 2.36)"])))
        text = text.replace("Version: 1\n", f"Version: 1\n{key}: {value}\n")
    return text


# -- independent checks of what comes out -----------------------------------------------
PATH_FIELDS = {"Path", "Link", "Home", "Shell", "Conffile", "Old", "New", "Pathname", "File",
               "Source"}
NAME_FIELDS = {("alternative-install", "Name"), ("alternative-remove", "Name")}
ACCOUNT_FIELDS = {("system-user", "Name"), ("system-group", "Name"), ("remove-user", "Name"),
                  ("remove-group", "Name"), ("user-in-group", "User"), ("user-in-group", "Group")}


def inside_image(path: str) -> bool:
    return path.startswith("/") and ".." not in path.split("/")


def check_output(path: Path) -> None:
    deb = read_deb(path)
    member = deb.members.get("actions")
    if member is not None:
        text = member.data.decode("utf-8")
        for stanza in iter_stanzas(text):
            action = action_from_stanza(stanza)  # the shared checks (ValueError if not)
            for key, value in stanza.items():
                assert not any(ord(c) < 32 and c != "\n" for c in value), (key, value)
                if key in PATH_FIELDS and not (action.name == "alternative-remove" and
                                               value == "*"):
                    assert inside_image(value), (action.name, key, value)
                if (action.name, key) in NAME_FIELDS:
                    assert "/" not in value and value not in (".", "..") and value.strip() == value
                if (action.name, key) in ACCOUNT_FIELDS:
                    assert ACCOUNT_NAME.fullmatch(value) and len(value) <= 32, value
            for line in action.get("Slaves").split("\n"):
                words = line.split()
                if len(words) == 3:
                    assert inside_image(words[0]) and inside_image(words[2])
                    assert "/" not in words[1]
    for name in ("preinst", "postinst", "prerm", "postrm"):
        script = deb.members.get(name)
        if script is not None and DASH is not None:
            done = subprocess.run([DASH, "-n"], input=script.data, capture_output=True,
                                  timeout=30)
            assert done.returncode == 0, (name, done.stderr)


def outcome(control: str, scripts: dict[str, str]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        deb = make_deb(base / "in", scripts, control=control)
        try:
            report = engine(deb, base / "out")
        except UnessentialError as exc:
            message = str(exc)
            assert "\n" not in message and not any(ord(c) < 32 for c in message), message
            return
        check_output(Path(report.output))


# -- properties ------------------------------------------------------------------------
@FUZZ
@given(maintainer_script())
def test_generated_scripts_rewrite_or_fail_cleanly(generated: tuple[str, str]) -> None:
    script, text = generated
    outcome(CONTROL, {script: text})


@FUZZ
@given(control_file(), st.booleans())
def test_generated_control_files_rewrite_or_fail_cleanly(control: str, script: bool) -> None:
    outcome(control, {"postinst": "#!/bin/sh\nset -e\nldconfig\n"} if script else {})


# The smaller grammar: only what the engine models exactly, so that the rendered script
# can be compared with the original.
def exact_command() -> st.SearchStrategy[str]:
    return st.one_of(
        st.builds(lambda d: f"mkdir -p /d/{d}", pick(["a", "b", "c"])),
        st.builds(lambda d: f"rm -rf /v/{d}", pick(["a", "b", "c"])),
        st.builds(lambda c: f"exit {c}".rstrip(), pick(["", "0", "0", "1", "2"])),
        st.just("true"),
        st.just("echo hello"),
    )


def exact_condition(phases: list[str]) -> st.SearchStrategy[str]:
    phase = pick(phases)
    simple = st.one_of(
        st.builds(lambda p: f'[ "$1" = "{p}" ]', phase),
        st.builds(lambda p: f'[ "$1" != {p} ]', phase),
        st.builds(lambda a, b: f'[ "$1" = {a} -o "$1" = {b} ]', phase, phase),
    )
    return st.one_of(simple, st.builds(lambda c: f"! {c}", simple),
                     st.builds(lambda a, o, b: f"{a} {o} {b}", simple, pick(["&&", "||"]), simple))


EXACT = {script: statements(exact_command(), exact_condition(list(SCRIPT_PHASES[script])),
                            list(SCRIPT_PHASES[script]))
         for script in ("preinst", "postinst", "prerm", "postrm")}


@st.composite
def exact_script(draw: st.DrawFn) -> tuple[str, str]:
    script = draw(pick(sorted(EXACT)))
    body = draw(st.lists(EXACT[script], min_size=1, max_size=5))
    errexit = draw(pick(["set -e\n", ""]))
    return script, "#!/bin/sh\n" + errexit + "\n".join(body) + "\n"


@pytest.mark.skipif(DASH is None, reason="needs dash")
@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(exact_script())
def test_rendered_scripts_behave_like_the_original(generated: tuple[str, str]) -> None:
    behaves_like_the_original(generated)  # or refused (a subshell exit, a failure ...)


def behaves_like_the_original(generated: tuple[str, str]) -> None:
    """The rendered script does what the original does (run by dash), or the engine
    refuses the script (never guessed)."""
    script, text = generated
    try:
        result = translate(text, script, package="odd")
    except Untranslatable:
        return
    with tempfile.TemporaryDirectory() as folder:
        assert_same_behaviour(text, script, Path(folder), result)


# -- functions: the body walked at each call, positional parameters bound ---------------
def function_leaf() -> st.SearchStrategy[str]:
    return st.one_of(exact_command(),
                     st.builds(lambda c: f"return {c}".rstrip(), pick(["", "0", "1"])))


FUNCTION_BODY = {script: statements(function_leaf(),
                                    exact_condition(list(SCRIPT_PHASES[script])),
                                    list(SCRIPT_PHASES[script]))
                 for script in ("preinst", "postinst", "prerm", "postrm")}


@st.composite
def function_script(draw: st.DrawFn) -> tuple[str, str]:
    script = draw(pick(sorted(EXACT)))
    body = draw(st.lists(FUNCTION_BODY[script], min_size=1, max_size=4))
    calls = draw(st.lists(pick(['f "$1"', 'f "$@"', 'f "$1" extra', "f",
                                'true && f "$1"', 'f "$1" || exit 3']), min_size=1, max_size=2))
    rest = draw(st.lists(EXACT[script], max_size=2))
    errexit = draw(pick(["set -e\n", ""]))
    return script, ("#!/bin/sh\n" + errexit + "f() {\n" + "\n".join(body) + "\n}\n"
                    + "\n".join([*calls, *rest]) + "\n")


@pytest.mark.skipif(DASH is None, reason="needs dash")
@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(function_script())
def test_rendered_functions_behave_like_the_original(generated: tuple[str, str]) -> None:
    behaves_like_the_original(generated)


# -- variables: constants followed where they are known ----------------------------------
def variable_leaf() -> st.SearchStrategy[str]:
    return st.one_of(exact_command(), st.just('mkdir -p "$D"'), st.just("rm -rf $D/x"),
                     st.builds(lambda v: f"D={v}", pick(["/d/a", "/d/b", "/d/c"])),
                     st.just("unset D"), st.just("export D=/d/b"))


def variable_condition(phases: list[str]) -> st.SearchStrategy[str]:
    return st.one_of(exact_condition(phases),
                     st.builds(lambda v: f'[ "$D" = {v} ]', pick(["/d/a", "/d/b"])),
                     st.builds(lambda o: f'[ {o} "$D" ]', pick(["-z", "-n"])),
                     st.just('[ "${D:-/d/a}" != /d/b ]'))


VARIABLE = {script: statements(variable_leaf(), variable_condition(list(SCRIPT_PHASES[script])),
                               list(SCRIPT_PHASES[script]))
            for script in ("preinst", "postinst", "prerm", "postrm")}


@st.composite
def variable_script(draw: st.DrawFn) -> tuple[str, str]:
    script = draw(pick(sorted(VARIABLE)))
    first = draw(pick(["D=/d/a\n", "D=/d/c\n", ""]))
    body = draw(st.lists(VARIABLE[script], min_size=1, max_size=5))
    function = draw(pick(["", 'g() {\n  local D=/d/b\n  mkdir -p "$D"\n}\ng\n',
                          'g() {\n  D=$1\n}\ng /d/b\n']))
    tail = draw(st.lists(VARIABLE[script], max_size=2))
    errexit = draw(pick(["set -e\n", ""]))
    return script, ("#!/bin/sh\n" + errexit + first + "\n".join(body) + "\n" + function
                    + "\n".join(tail) + "\n")


@pytest.mark.skipif(DASH is None, reason="needs dash")
@settings(max_examples=80, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(variable_script())
def test_rendered_variables_behave_like_the_original(generated: tuple[str, str]) -> None:
    behaves_like_the_original(generated)
