"""The implicit-use scanner (archive/implicit.py) and its policy section.

Shebangs (env included), ELF dynamic imports of hand-made files in every class and
byte order (readelf as the oracle) and of real host binaries, essential paths in
shell scripts, whole packages built with dpkg-deb, the `implicit-uses` member, the
[implicit-use] policy with its errors, and hostile ELF input under hypothesis.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive.catalog.models import IMPLICIT_KINDS as CATALOG_KINDS
from archive.debfile import read_deb
from archive.implicit import (
    Finding,
    elf_imports,
    env_command,
    parse_shebang,
    parse_uses,
    scan_deb,
    scan_elf,
    scan_script,
    uses_text,
)
from base.errors import RecipeError
from recipes.policy import IMPLICIT_KINDS, POLICY_FILE, canonical_path, load_policy
from tests.fixtures.elf import make_elf
from tests.fixtures.implicit import make_package, policy_with, script_package

RULES = load_policy().implicit_use


def uses(found: list[Finding]) -> set[tuple[str, str, str]]:
    return {(f.path, f.kind, f.needs) for f in found}


# -- shebangs ---------------------------------------------------------------------


@pytest.mark.parametrize(("line", "expected"), [
    (b"#!/bin/sh\n", ("/bin/sh", ())),
    (b"#! /usr/bin/env python3\n", ("/usr/bin/env", ("python3",))),
    (b"#!/bin/sh -e\necho", ("/bin/sh", ("-e",))),
    (b"#!\t/usr/bin/perl -w", ("/usr/bin/perl", ("-w",))),
    (b"#!python\n", None),
    (b"#!\n", None),
    (b"# !/bin/sh\n", None),
    (b"\x7fELF", None),
])
def test_parse_shebang(line: bytes, expected: object) -> None:
    assert parse_shebang(line) == expected


def test_shebang_reads_only_what_the_kernel_reads() -> None:
    parsed = parse_shebang(b"#!/bin/sh " + b"x" * 1000 + b"\n")
    assert parsed is not None and len(parsed[1][0]) < 256


@pytest.mark.parametrize(("args", "command"), [
    (("python3",), "python3"),
    (("-S", "python3", "-u"), "python3"),
    (("-Spython3 -u",), "python3"),
    (("-i", "LANG=C", "perl"), "perl"),
    (("-u", "HOME", "bash"), "bash"),
    (("/usr/bin/python3",), "/usr/bin/python3"),
    (("-i",), None),
    ((), None),
])
def test_env_command(args: tuple[str, ...], command: str | None) -> None:
    assert env_command(args) == command


def test_env_script_needs_env_and_its_command() -> None:
    found = scan_script("/usr/bin/x", 0o755, b"#! /usr/bin/env python3\n", RULES)
    assert [(f.kind, f.needs, f.evidence) for f in found] == [
        ("shebang", "/usr/bin/env", "#! /usr/bin/env python3"),
        ("shebang", "python3", "#! /usr/bin/env python3")]


def test_shell_script_needs_the_shell_and_essential_paths() -> None:
    text = (b"#!/bin/sh\nset -e\n# /bin/rm in a comment\n/bin/sed -e s/a/b/ x\n"
            b"X=/usr/bin/perl; /bin/sed again; /usr/lib/foo/bin/sed /opt/bin/sed\n"
            b"/usr/bin/not-listed\n")
    found = scan_script("/usr/bin/tool", 0o755, text, RULES)
    assert [(f.kind, f.needs) for f in found] == [
        ("shebang", "/bin/sh"), ("essential-path", "/bin/sed"),
        ("essential-path", "/usr/bin/perl")]
    assert found[1].evidence == "line 4: /bin/sed -e s/a/b/ x"


def test_a_file_that_is_not_executable_has_no_shebang_use() -> None:
    found = scan_script("/usr/share/x/lib.sh", 0o644, b"#!/bin/sh\n/bin/grep x y\n", RULES)
    assert [(f.kind, f.needs) for f in found] == [("essential-path", "/bin/grep")]


def test_a_python_script_is_not_searched_for_paths() -> None:
    found = scan_script("/usr/bin/x", 0o755, b"#!/usr/bin/python3\nos.system('/bin/sed')\n",
                        RULES)
    assert uses(found) == {("/usr/bin/x", "shebang", "/usr/bin/python3")}


def test_evidence_is_short_and_printable() -> None:
    found = scan_script("/usr/bin/x", 0o755, b"#!/bin/sh\n/bin/sed \x1b[31m" + b"y" * 500,
                        RULES)
    evidence = found[1].evidence
    assert len(evidence) <= 120 and "\x1b" not in evidence and "\\x1b" in evidence


# -- ELF --------------------------------------------------------------------------


@pytest.mark.parametrize("bits", [32, 64])
@pytest.mark.parametrize("little", [True, False])
def test_hand_made_elf_imports(bits: int, little: bool, tmp_path: Path) -> None:
    data = make_elf(["system", "popen", "execv"], bits=bits, little=little,
                    defined=["execvp", "my_function"])
    assert elf_imports(data) == {"system", "popen", "execv"}
    if shutil.which("readelf"):  # the oracle agrees on what is imported
        path = tmp_path / "lib.so"
        path.write_bytes(data)
        out = subprocess.run(["readelf", "--dyn-syms", "-W", str(path)], check=True,
                             capture_output=True, text=True).stdout
        undefined = {line.split()[-1] for line in out.splitlines()
                     if " UND " in line and line.split()[-1] != "UND"}
        assert undefined == {"system", "popen", "execv"}


def test_system_or_popen_always_runs_the_shell() -> None:
    found = scan_elf("/usr/bin/x", make_elf(["popen", "system"]))
    assert [(f.kind, f.needs, f.evidence) for f in found] == [
        ("shell-exec", "/bin/sh", "imports system, popen")]


def test_exec_needs_a_shell_string() -> None:
    assert scan_elf("/usr/bin/x", make_elf(["execvp"])) == []
    found = scan_elf("/usr/bin/x", make_elf(["execvp", "posix_spawn"], strings=b"/bin/sh\0"))
    assert [(f.needs, f.evidence) for f in found] == [
        ("/bin/sh", "imports execvp, posix_spawn and holds the string /bin/sh")]
    bash = scan_elf("/usr/bin/x", make_elf(["execl"], strings=b"/bin/bash\0"))
    assert [f.needs for f in bash] == ["/bin/bash"]


def test_defined_functions_are_not_imports() -> None:
    assert scan_elf("/lib/libc.so.6", make_elf([], defined=["system", "popen"],
                                                strings=b"/bin/sh\0")) == []


def test_elf_without_section_headers_or_symbols() -> None:
    data = bytearray(make_elf(["system"]))
    data[0x28:0x30] = b"\0" * 8  # e_shoff = 0
    assert elf_imports(bytes(data)) == frozenset()
    assert elf_imports(b"\x7fELF") is None
    assert elf_imports(b"#!/bin/sh") is None


@pytest.mark.parametrize("path", ["/usr/bin/python3.11", "/usr/bin/ssh", "/usr/bin/less"])
def test_real_host_binaries(path: str) -> None:
    """python3.11 calls system() (os.system): glibc runs /bin/sh."""
    binary = Path(path)
    if not binary.is_file():
        pytest.skip(f"{path} is not installed on this host")
    data = binary.read_bytes()
    imports = elf_imports(data)
    assert imports is not None and "system" in imports
    found = scan_elf(path, data)
    assert [(f.kind, f.needs) for f in found] == [("shell-exec", "/bin/sh")]
    assert found[0].evidence.startswith("imports system")


def test_real_library_without_a_shell_use() -> None:
    libz = next(iter(Path("/usr/lib").glob("*-linux-gnu/libz.so.1")), None)
    if libz is None:
        pytest.skip("no libz on this host")
    imports = elf_imports(libz.read_bytes())
    assert imports and "memcpy" in imports and "system" not in imports


VALID = [make_elf(["system", "execv"], bits=bits, little=little, defined=["x"],
                  strings=b"/bin/sh\0")
         for bits in (32, 64) for little in (True, False)]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(VALID), st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)),
                                        max_size=12), st.integers(0, 400))
def test_mutated_elf_never_crashes(data: bytes, flips: list[tuple[int, int]], cut: int) -> None:
    mutated = bytearray(data)
    for position, value in flips:
        if position < len(mutated):
            mutated[position] = value
    for candidate in (bytes(mutated), bytes(mutated[:cut])):
        result = elf_imports(candidate)
        assert result is None or isinstance(result, frozenset)
        scan_elf("/x", candidate)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.sampled_from([1, 2, 0, 7]), st.sampled_from([1, 2, 9]))
def test_random_elf_bytes_never_crash(tail: bytes, wide: int, order: int) -> None:
    data = b"\x7fELF" + bytes([wide, order, 1]) + tail
    result = elf_imports(data)
    assert result is None or isinstance(result, frozenset)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([(64, True), (32, False)]),
       st.integers(0, 2**64 - 1), st.integers(0, 2**16 - 1), st.integers(0, 2**16 - 1))
def test_huge_header_values_are_refused(shape: tuple[int, bool], shoff: int, shentsize: int,
                                        shnum: int) -> None:
    bits, little = shape
    data = bytearray(make_elf(["system"], bits=bits, little=little))
    end = "<" if little else ">"
    if bits == 64:
        struct.pack_into(end + "Q", data, 0x28, shoff)
        struct.pack_into(end + "HH", data, 0x3A, shentsize, shnum)
    else:
        struct.pack_into(end + "I", data, 0x20, shoff % 2**32)
        struct.pack_into(end + "HH", data, 0x2E, shentsize, shnum)
    result = elf_imports(bytes(data))
    assert result is None or isinstance(result, frozenset)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400), st.sampled_from([0o644, 0o755]))
def test_random_scripts_never_crash(tail: bytes, mode: int) -> None:
    for found in scan_script("/usr/bin/x", mode, b"#!" + tail, RULES):
        assert found.kind in IMPLICIT_KINDS
        assert "\n" not in found.evidence and "\n" not in found.needs
        parse_uses(uses_text([found]))  # what is found can always be written and read


# -- packages ---------------------------------------------------------------------


def test_scan_a_package(tmp_path: Path) -> None:
    deb = script_package(tmp_path)
    scan = scan_deb(read_deb(deb), RULES)
    found = {(f.path, f.kind, f.needs): f.provider for f in scan.uses}
    assert found == {
        ("/usr/bin/shtool", "shebang", "/bin/sh"): "dash",
        ("/usr/bin/shtool", "essential-path", "/bin/sed"): "sed",
        ("/usr/bin/shtool", "essential-path", "/usr/bin/perl"): "perl-base",
        ("/usr/bin/shtool-py", "shebang", "/usr/bin/env"): "coreutils",
        ("/usr/bin/shtool-py", "shebang", "python3"): None,
        ("/usr/share/shtool/lib.sh", "essential-path", "/bin/grep"): "grep",
    }
    assert scan.skipped == []


def test_what_a_package_ships_itself_is_no_implicit_use(tmp_path: Path) -> None:
    deb = make_package(tmp_path, "selfish", {
        "/usr/bin/python3": (make_elf(["system"]), 0o755),
        "/usr/bin/helper": ("#!/usr/bin/env python3\n", 0o755),
        "/usr/bin/runner": ("#!/bin/mysh\n", 0o755),
        "/bin/mysh": (make_elf([]), 0o755),
    })
    found = uses(scan_deb(read_deb(deb), RULES).uses)
    assert found == {("/usr/bin/python3", "shell-exec", "/bin/sh"),
                     ("/usr/bin/helper", "shebang", "/usr/bin/env")}


def test_member_round_trip() -> None:
    found = [Finding("/usr/bin/a b", "shebang", "/bin/sh", "#!/bin/sh", "dash", True),
             Finding("/usr/lib/x.so", "shell-exec", "/bin/sh", "imports system")]
    text = uses_text(found)
    assert "Path: /usr/bin/a b\nKind: shebang\nNeeds: /bin/sh\n" in text
    assert parse_uses(text) == found


@pytest.mark.parametrize(("text", "error"), [
    ("Kind: shebang\nNeeds: /bin/sh\n", "no Path field"),
    ("Path: /x\nKind: other\nNeeds: /bin/sh\n", "unknown Kind"),
    ("Path: x\nKind: shebang\nNeeds: /bin/sh\n", "not absolute"),
    ("Path: /x\nKind: shebang\nNeeds: /bin/sh -e\n", "not a path"),
    ("Path: /x\nKind: shebang\nNeeds: /bin/sh\nDeclared: maybe\n", "Declared"),
])
def test_bad_member(text: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        parse_uses(text)


# -- policy -----------------------------------------------------------------------


def test_kinds_match_the_catalog() -> None:
    assert IMPLICIT_KINDS == CATALOG_KINDS


def test_packaged_policy_reports_every_kind() -> None:
    assert RULES.kinds == dict.fromkeys(IMPLICIT_KINDS, "report")
    assert RULES.provider("/bin/sh") == RULES.provider("/usr/bin/sh") == "dash"
    assert RULES.provider("perl") == "perl-base"  # a bare command, through PATH
    assert RULES.provider("/usr/bin/python3") is None
    assert canonical_path("/sbin/x") == "/usr/sbin/x"
    assert canonical_path("/etc/x") == "/etc/x"


def test_decision_per_kind_and_per_program(tmp_path: Path) -> None:
    path = policy_with(tmp_path, 'kinds = { shebang = "declare", shell-exec = "report", '
                       'essential-path = "report" }',
                       '"/usr/bin/foo" = { provider = "foo", decide = "declare" }\n'
                       '"/usr/bin/bar" = { provider = "bar", decide = "report" }\n')
    rules = load_policy(path).implicit_use
    assert rules.decision("shebang", "/bin/sh") == "declare"
    assert rules.decision("shell-exec", "/bin/sh") == "report"
    assert rules.decision("essential-path", "/usr/bin/foo") == "declare"
    assert rules.decision("shebang", "/bin/bar") == "report"


def test_a_policy_without_the_section_reports(tmp_path: Path) -> None:
    text = POLICY_FILE.read_text()
    path = tmp_path / "policy.toml"
    path.write_text(text[:text.index("[implicit-use]")])
    assert load_policy(path).implicit_use.kinds == dict.fromkeys(IMPLICIT_KINDS, "report")


@pytest.mark.parametrize(("kinds", "programs", "message"), [
    ('kinds = { shebang = "drop", shell-exec = "report", essential-path = "report" }', "",
     "unknown decision 'drop'"),
    ('kinds = { shebang = "report", shell-exec = "report" }', "", "missing: essential-path"),
    ('kinds = { shebang = "report", shell-exec = "report", essential-path = "report", '
     'elf = "report" }', "", "unknown kind 'elf'"),
    ('kinds = { shebang = "report", shell-exec = "report", essential-path = "report" }',
     '"/usr/bin/sh" = { provider = "bash" }\n', "one program with merged /usr"),
    ('kinds = { shebang = "report", shell-exec = "report", essential-path = "report" }',
     '"bin/x" = { provider = "x1" }\n', "not an absolute program path"),
    ('kinds = { shebang = "report", shell-exec = "report", essential-path = "report" }',
     '"/usr/bin/x" = { provider = "X" }\n', "not a package name"),
    ('kinds = { shebang = "report", shell-exec = "report", essential-path = "report" }',
     '"/usr/bin/x" = { provider = "xx", decide = "maybe" }\n', "unknown decision"),
])
def test_policy_errors_name_the_key(tmp_path: Path, kinds: str, programs: str,
                                    message: str) -> None:
    path = policy_with(tmp_path, kinds, programs)
    with pytest.raises(RecipeError) as caught:
        load_policy(path)
    text = str(caught.value)
    assert message in text and "implicit-use" in text and str(path) in text
