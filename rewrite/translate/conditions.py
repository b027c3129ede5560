"""Conditions (`if`, `&&`, `||` operands): where they hold, for which script arguments.

A test of `$1` or of a debconf answer has a known value; a test of the system (a tool
or file present, an upgrade, an init system) has not: the walk decides what to make
of each kind (`Cond.kind`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace

from debian.debian_support import version_compare

from rewrite.shell import (
    AndOr,
    Command,
    Function,
    Group,
    If,
    Node,
    Pipeline,
    ShellSyntaxError,
    parse,
)
from rewrite.translate.contents import grep_test, size_test
from rewrite.translate.context import (
    Ctx,
    Idiom,
    Unmodelled,
    Untranslatable,
    idiom_of,
    quiet,
    system_value,
    word_value,
)
from rewrite.translate.debconf import db_get
from rewrite.translate.effects import affects
from rewrite.translate.overrides import override_test
from rewrite.translate.substitutions import substitutions
from rewrite.translate.systemd import INIT_PATHS, INIT_REASON, INIT_TOOLS

GUARD_TOOLS = {"which", "type"}
FRESH_INSTALL = "fresh install"  # the reason of a test that holds on a fresh install
# the relations of `dpkg --compare-versions V OP X` that hold where V is empty (a fresh
# install's $2): dpkg takes the empty version as the earliest, except in the -nl forms
# (`<` and `>` are dpkg's obsolete spellings of <= and >=)
HOLD_WHEN_EMPTY = frozenset({"lt", "le", "ne", "<<", "<=", "<", "gt-nl", "ge-nl"})
# the script arguments where $2 is empty when the package is installed fresh or removed
# (where it is set, it names a version: an upgrade)
EMPTY_VERSION = {"preinst": frozenset({"install"}),
                 "postinst": frozenset({"configure", "abort-remove"}),
                 "prerm": frozenset({"remove"}),
                 "postrm": frozenset({"remove", "purge", "abort-install"})}
# commands that only read the system: as a condition (alone or piped into each other,
# `getent group shadow | grep -q ...`), a test of the system whose value is not known
QUERY_TOOLS = {"grep", "egrep", "fgrep", "cmp", "getcap", "aa-enabled", "ischroot",
               "pidof", "id", "dpkg-divert", "dpkg-query", "getent", "dpkg-statoverride",
               "mountpoint"}
# paths of the running kernel (procfs, sysfs): never tests of the image's files
KERNEL_PATHS = ("/proc/", "/sys/")
RANDOM_UUID = "/proc/sys/kernel/random/uuid"  # (a new UUID at each read)
_QUERY_OPTIONS = {"dpkg-divert": {"--list", "--listpackage", "--truename"},
                  "dpkg-query": {"-W", "--show", "-s", "--status", "-L", "--listfiles"},
                  "dpkg-statoverride": {"--list"}}


# what a command substitution in a predicate may run (read, print, compute)
READERS = QUERY_TOOLS | {"stat", "readlink", "realpath", "md5sum", "sha1sum", "sha256sum",
                         "cut", "head", "tail", "tr", "wc", "sort", "uniq", "basename",
                         "dirname", "uname", "cat", "ls", "mountpoint", "date", "whoami",
                         "printf", "echo", "test", "[", "true", "false", "ischroot",
                         "systemd-detect-virt"}
_STATUS = {"[", "test", "echo", "printf", "return", "true", "false", ":"}


def is_predicate(name: str, defs: Mapping[str, Function],
                 seen: frozenset[str] = frozenset()) -> bool:
    """Whether the function `name` only reads the system and returns a status (udev's
    `chrooted`, usrmerge's `is_mountpoint`): tests, queries, messages, returns, calls of
    such functions, command substitutions of commands that only read; no exit, no
    assignment, no file written."""
    if name in seen or name not in defs:
        return False
    body = defs[name].body
    return _reads_only(body, defs, seen | {name}) and _asks(body, defs)


def _asks(node: Node, defs: Mapping[str, Function]) -> bool:
    """Whether a body that only reads asks the system something (a test, a query, a
    command substitution, a call): one that only returns has a known status (walked as
    a call)."""
    if isinstance(node, Command):
        return node.name in ("[", "test") or is_query(node) or node.name in defs or \
            any("$(" in w.raw for w in node.words)
    if isinstance(node, AndOr):
        return any(_asks(p, defs) for p in (node.first, *(p for _, p in node.rest)))
    if isinstance(node, Pipeline):
        return any(_asks(c, defs) for c in node.commands)
    if isinstance(node, If):
        return any(_asks(n, defs) for cond, body in node.branches for n in (*cond, *body)) \
            or any(_asks(n, defs) for n in node.orelse or [])
    if isinstance(node, Group):
        return any(_asks(n, defs) for n in node.body)
    return False


def _reads_only(node: Node, defs: Mapping[str, Function], seen: frozenset[str]) -> bool:
    if isinstance(node, Command):
        if not node.words or not quiet(node) or node.heredoc is not None:
            return False
        if not all(_substitutions_read(w.raw) for w in node.words):
            return False
        if node.name in defs:
            return is_predicate(node.name, defs, seen)
        return node.name in _STATUS or is_query(node)
    if isinstance(node, AndOr):
        return all(_reads_only(p, defs, seen) for p in (node.first, *(p for _, p in node.rest)))
    if isinstance(node, Pipeline):
        return all(_reads_only(c, defs, seen) for c in node.commands)
    if isinstance(node, If):
        return all(_reads_only(n, defs, seen) for cond, body in node.branches
                   for n in (*cond, *body)) and \
            all(_reads_only(n, defs, seen) for n in node.orelse or [])
    if isinstance(node, Group):
        return node.heredoc is None and all(_reads_only(n, defs, seen) for n in node.body)
    return False


def _substitutions_read(raw: str) -> bool:
    """Every `$( ... )` of a word runs only commands that read (no backquotes)."""
    if "`" in raw:
        return False
    for text in substitutions(raw):
        try:
            inner = parse(text)
        except ShellSyntaxError:
            return False
        if not all(_reads_text(n) for n in inner):
            return False
    return True


def _reads_text(node: Node) -> bool:
    if isinstance(node, AndOr):
        return all(_reads_text(p) for p in (node.first, *(p for _, p in node.rest)))
    if isinstance(node, Pipeline):
        return all(isinstance(c, Command) and _reader(c)
                   and "$(" not in c.text() and "`" not in c.text() for c in node.commands)
    return False


def _reader(cmd: Command) -> bool:
    """A command that only reads and prints (a query tool only with its query options,
    sed without -i, dpkg printing the architecture)."""
    if not quiet(cmd):
        return False
    if cmd.name in _QUERY_OPTIONS:
        return is_query(cmd)
    if cmd.name == "sed":
        return not any(a.startswith(("-i", "--in-place")) for a in cmd.argv[1:])
    if cmd.name == "dpkg":
        return cmd.argv[1:] in (["--print-architecture"], ["--print-foreign-architectures"])
    return cmd.name in READERS


# filters that do not fail on their standard input, and commands that do not fail
_FILTERS = {"sed", "cut", "tr", "sort", "uniq", "head", "tail", "wc"}
_NEVER_FAIL = {"echo", "printf", "uname", "basename", "dirname", "true", "date", "whoami",
               "dpkg-divert", "dpkg"}


def substitution_value(raw: str, *, may_fail: bool = False) -> bool:
    """Whether a word's command substitutions (`$( ... )`, backquotes) only read the
    system and (unless `may_fail`) cannot fail (so that an assignment from them neither
    changes the system nor ends the script): its value is the system's, not one the
    engine knows."""
    text = raw
    for inner in re.findall(r"`([^`]*)`", raw):
        text = text.replace(f"`{inner}`", f"$({inner})")
    if "`" in text or not _substitutions_read(text):
        return False
    if may_fail:
        return True
    for inner in substitutions(text):
        nodes = parse(inner)
        last = nodes[-1] if nodes else None
        if not isinstance(last, AndOr):
            return False
        final = (last.rest[-1][1] if last.rest else last.first)
        ends_true = bool(last.rest) and last.rest[-1][0] == "||" and \
            [c.argv for c in final.commands if isinstance(c, Command)] in ([["true"]], [[":"]])
        command = final.commands[-1]
        if not ends_true and not (isinstance(command, Command) and (
                command.name in _NEVER_FAIL or
                (len(final.commands) > 1 and command.name in _FILTERS))):
            return False
    return True


def is_query(cmd: Command) -> bool:
    """A command that only reads the system (and writes no file)."""
    if cmd.name not in QUERY_TOOLS or not quiet(cmd):
        return False
    wanted = _QUERY_OPTIONS.get(cmd.name)
    return wanted is None or any(a in wanted or a.split("=")[0] in wanted
                                 for a in cmd.argv[1:])


@dataclass(frozen=True)
class Cond:
    """Where a condition may hold: the $1 values, and what kind of test it is.

    `true` and `false` are the script arguments for which its value is known (a test
    of $1, a debconf answer); for the others it depends on the system (a tool or file
    present, an upgrade, an init system). An `exit` is only modelled behind known values.
    """

    phases: frozenset[str]
    # plain | guard | init | upgrade | false | either (a value the system decides: each
    # branch may run)
    kind: str = "plain"
    why: str = ""
    true: frozenset[str] = frozenset()
    false: frozenset[str] = frozenset()
    reads: bool = False  # it reads the system's files or databases (grep, getent | grep)
    # it depends on the system otherwise than through $1, debconf answers, known values
    # and a fresh install (a file, a tool, an init system, an upgrade)
    system: bool = True


# dpkg's relations: the sign of the comparison each one holds for
_RELATIONS = {"lt": {-1}, "le": {-1, 0}, "eq": {0}, "ne": {-1, 1}, "ge": {0, 1},
              "gt": {1}, "<<": {-1}, "<=": {-1, 0}, "=": {0}, ">=": {0, 1}, ">>": {1},
              "<": {-1, 0}, ">": {0, 1}}


_VERSION_WORDS = ("$2", "${2}", "${2:-}", "$oldversion")
# `A REL B` is `B _REVERSED[REL] A` (the -nl forms keep where the empty version is)
_REVERSED = {**{a: b for a, b in (("lt", "gt"), ("le", "ge"), ("gt", "lt"), ("ge", "le"),
                                  ("eq", "eq"), ("ne", "ne"), ("<<", ">>"), (">>", "<<"),
                                  ("<=", ">="), (">=", "<="), ("=", "="))},
             **{f"{a}-nl": f"{b}-nl" for a, b in (("lt", "gt"), ("le", "ge"), ("gt", "lt"),
                                                  ("ge", "le"))}}


def compare_versions(left: str, relation: str, right: str) -> bool:
    """`dpkg --compare-versions LEFT RELATION RIGHT` on two known values: the empty
    version is the earliest, or the latest in the -nl relations (Unmodelled where
    dpkg would refuse: an unknown relation, a version it cannot parse)."""
    base = relation.removesuffix("-nl")
    if base not in _RELATIONS or (relation != base and base not in ("lt", "le", "ge", "gt")):
        raise Unmodelled(f"dpkg --compare-versions with the relation {relation!r}",
                         Idiom("condition: dpkg --compare-versions with an unknown relation"))
    if not left or not right:
        empty = -1 if relation == base else 1  # where the empty one is
        sign = 0 if left == right else empty if not left else -empty
    else:
        try:
            order = version_compare(left, right)
        except ValueError as exc:
            raise Unmodelled(f"dpkg --compare-versions of a bad version: {exc}",
                             Idiom("condition: dpkg --compare-versions of a bad version")) \
                from exc
        sign = (order > 0) - (order < 0)
    return sign in _RELATIONS[base]


def _known(phases: frozenset[str], all_phases: frozenset[str]) -> Cond:
    """A test whose value is known: true for `phases`, false for the others."""
    return Cond(phases, "plain", true=phases, false=all_phases - phases, system=False)


def negated(cond: Cond, all_phases: frozenset[str]) -> Cond:
    if cond.kind in ("plain", "false"):
        return Cond(all_phases - cond.phases, "plain", true=cond.false, false=cond.true,
                    reads=cond.reads, system=cond.system)
    if cond.kind == "upgrade":
        return Cond(all_phases, "guard", FRESH_INSTALL, reads=cond.reads,
                    system=cond.system)
    if cond.kind == "guard" and cond.why.startswith(FRESH_INSTALL):
        # true on a fresh install: its negation holds only on upgrades
        return Cond(all_phases, "upgrade", "upgrade from a previous version",
                    reads=cond.reads, system=cond.system)
    return replace(cond, true=cond.false, false=cond.true)


def _and(a: Cond, b: Cond) -> Cond:
    rank = {"false": 5, "init": 4, "upgrade": 3, "either": 2, "plain": 1, "guard": 0}
    kind = a.kind if rank[a.kind] >= rank[b.kind] else b.kind
    why = a.why if kind == a.kind else b.why
    return Cond(a.phases & b.phases, kind, why, a.true & b.true, a.false | b.false,
                a.reads or b.reads, a.system or b.system)


def _or(a: Cond, b: Cond) -> Cond:
    true, false = a.true | b.true, a.false & b.false
    reads = a.reads or b.reads
    system = a.system or b.system
    if a.kind == "false":
        return replace(b, true=true, false=false, reads=reads, system=system)
    if b.kind == "false":
        return replace(a, true=true, false=false, reads=reads, system=system)
    if a.kind == b.kind:
        return Cond(a.phases | b.phases, a.kind, a.why or b.why, true, false, reads, system)
    # a phase test or'ed with anything else: keep the widest reading
    kinds = {a.kind, b.kind}
    if "either" in kinds:
        return Cond(a.phases | b.phases, "either", a.why or b.why, true, false, reads, system)
    if "init" in kinds and kinds <= {"init", "guard"}:
        return Cond(a.phases | b.phases, "init", a.why or b.why, true, false, reads, system)
    return Cond(a.phases | b.phases, "guard" if "guard" in kinds else "plain", a.why or b.why,
                true, false, reads, system)


def _system_operand(value: str, ctx: Ctx) -> bool:
    """A test's operand whose value is the system's: variables set from it, or a whole
    command substitution that only reads (`"$(dpkg-query --show x | wc -l)"`)."""
    if system_value(value, ctx):
        return True
    whole = (value.startswith("$(") and value.endswith(")")) or \
        (value.startswith("`") and value.endswith("`") and value.count("`") == 2)
    return whole and substitution_value(value, may_fail=True)


# `md5sum < F | cut -f1 -d ' '` (or `md5sum F | ...`) in a substitution: F's md5
_INLINE_DIGEST = re.compile(
    r"""(?:\$\(|`)\s*md5sum\s*<?\s*(?P<q>"?)(?P<path>/[^\s|;&<>$`'"]+)(?P=q)\s*\|\s*"""
    r"""(?:sed\s+(?:-e\s+)?'s/ \.\*//'|cut\s+(?:-f\s*1\s+-d\s*' '|-d\s*' '\s+-f\s*1)|"""
    r"""awk\s+'\{\s*print \$1\s*\}')\s*(?:\)|`)""")


def digest_operand(value: str) -> str | None:
    """The file whose md5 a test's operand computes inline, if it does."""
    match = _INLINE_DIGEST.fullmatch(value)
    return match.group("path") if match and ".." not in match.group("path").split("/") \
        else None


_VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")
_HASH = re.compile(r"[0-9a-f]{32}")


def digest_test(left: str, right: str, ctx: Ctx) -> str | None:
    """The `Only-If` test that holds where `[ LEFT = RIGHT ]` does, when one side holds a
    file's md5 (`md5="$(md5sum F | ...)"`) and the other the md5 dpkg records for F
    (`dpkg-md5 F PKG`) or a hash (`md5 F HASH`); None for other operands. Unmodelled if
    the file may have changed since its md5 was read."""
    names = [m.group(1) if (m := _VARIABLE.fullmatch(side)) else None
             for side in (left, right)]
    for index, name in enumerate(names):
        other = right if index == 0 else left
        if name in ctx.owners and re.fullmatch(r"0|[1-9][0-9]{0,9}", other):
            path, count = ctx.owners[name]  # `[ "$uid" = 0 ]`: Only-If owner PATH 0
            if any(affects(made, path) for made in ctx.effects[count:]):
                raise Unmodelled(f"compares the owner of {path}, read before a change of it",
                                 Idiom("condition: owner read before a change of the file"))
            return f"owner {path} {int(other)}"
        inline = digest_operand((left, right)[index])
        if name not in ctx.digests and inline is None:
            continue
        path, count = ctx.digests[name] if name in ctx.digests else \
            (inline or "", len(ctx.effects))
        other, other_name = (right, names[1]) if index == 0 else (left, names[0])
        if other_name in ctx.recorded and ctx.recorded[other_name][0] == path:
            test = f"dpkg-md5 {path} {ctx.recorded[other_name][1]}"
        elif _HASH.fullmatch(other):
            test = f"md5 {path} {other}"
        else:
            return None
        if any(affects(made, path) for made in ctx.effects[count:]):
            raise Unmodelled(f"compares the md5 of {path}, read before a change of it",
                             Idiom("condition: md5 read before a change of the file"))
        return test
    return None


def same_files(argv: list[str]) -> str | None:
    """"A B" of `cmp -s A B` (`--quiet`, `--silent`) with two absolute paths the engine
    knows (the `Only-If` test `same A B`), None for anything else."""
    if argv[:1] != ["cmp"]:
        return None
    flags = [a for a in argv[1:] if a.startswith("-")]
    paths = [a for a in argv[1:] if not a.startswith("-")]
    if not flags or any(f not in ("-s", "--quiet", "--silent") for f in flags) or \
            len(paths) != 2 or not all(
                p.startswith("/") and constant(p) and not any(c in p for c in "*?[, ") and
                ".." not in p.split("/") for p in paths):
        return None
    return " ".join(paths)


_DIVERSION_HOLDER = re.compile(r"[a-z0-9][a-z0-9+.-]+")


def diversion_test(argv: list[str], ctx: Ctx) -> str | None:
    """The `Only-If` test that holds where `[ ARGV ]` does, when it tests a variable
    holding the package that diverts a path (`d=$(dpkg-divert --listpackage P)`):
    `"$d" = PKG` (`diverted P PKG`), `!=`, `-z "$d"` / `"$d" = ""` (`! diverted P`),
    `-n "$d"`; None for other operands. Unmodelled if the diversion may have changed
    since it was read, or for another value (LOCAL: a diversion of the administrator)."""
    if len(argv) == 2 and argv[0] in ("-z", "-n"):
        left, op, right = argv[1], "=" if argv[0] == "-z" else "!=", ""
    elif len(argv) == 3 and argv[1] in ("=", "==", "!="):
        left, op, right = argv
    else:
        return None
    for side, other in ((left, right), (right, left)):
        match = _VARIABLE.fullmatch(side)
        if match is None or match.group(1) not in ctx.diverters:
            continue
        path, count = ctx.diverters[match.group(1)]
        if any(affects(made, path) for made in ctx.effects[count:]):
            raise Unmodelled(f"compares the package diverting {path}, read before a change "
                             "of it", Idiom("condition: diversion read before a change of it"))
        if other == "":
            test = f"diverted {path}"
            return test if op == "!=" else f"! {test}"
        if not _DIVERSION_HOLDER.fullmatch(other):
            raise Unmodelled(f"compares the package diverting {path} with {other!r}",
                             Idiom("condition: diversion compared with a value that is not "
                                   "a package"))
        test = f"diverted {path} {other}"
        return f"! {test}" if op == "!=" else test
    return None


def is_exact(cond: Cond, phases: tuple[str, ...]) -> bool:
    """Whether the condition's value is known for every one of `phases`."""
    return set(phases) <= cond.true | cond.false


_NUMERIC = {"-eq": int.__eq__, "-ne": int.__ne__, "-lt": int.__lt__, "-le": int.__le__,
            "-gt": int.__gt__, "-ge": int.__ge__}


def constant(value: str) -> bool:
    """A word whose value the engine knows (nothing left to expand)."""
    return "$" not in value and "`" not in value


_LATER_ARGUMENT = re.compile(r"x?\$\{?([3-9])\}?")


def phase_word(value: str) -> bool:
    return value in ("$1", "${1}", "${1:-}", "x$1", "x${1}")


def _version_word(value: str) -> bool:
    return value in ("$2", "${2}", "${2:-}", "x$2", "x${2}")


def test_condition(args: list[str], ctx: Ctx) -> Cond:
    """`[ ARGS ]` as a condition (ValueError where the engine does not know it)."""
    return _test_cond(args, ctx)


def _test_cond(args: list[str], ctx: Ctx) -> Cond:
    """`[ ... ]` / `test ...` as a condition."""
    all_phases = frozenset(ctx.phases)
    size = size_test(args)
    if size is not None:  # `[ $(wc -c < F) -eq N ]`: as a test of F (Only-If size F N)
        return Cond(all_phases, "guard", f"tests {size}")
    operands = [a for a in args if a not in ("!", "-a", "-o") and not (
        a.startswith("-") and len(a) <= 3)]
    if "-a" not in args and "-o" not in args and operands and \
            any(_system_operand(a, ctx) for a in operands) and \
            all(constant(a) or _system_operand(a, ctx) for a in operands) and \
            not any(digest_operand(a) for a in operands):
        # (each branch may run: only what adds or refreshes is taken, as behind a read)
        return Cond(all_phases, "either", "tests a value set behind a test of the system",
                    reads=True)
    if "-o" in args:
        i = args.index("-o")
        return _or(_test_cond(args[:i], ctx), _test_cond(args[i + 1:], ctx))
    if "-a" in args:
        i = args.index("-a")
        return _and(_test_cond(args[:i], ctx), _test_cond(args[i + 1:], ctx))
    if args and args[0] == "!" and len(args) > 1:
        return negated(_test_cond(args[1:], ctx), all_phases)
    if len(args) == 1:  # `[ STRING ]`: true when it is not empty, as -n
        return _test_cond(["-n", args[0]], ctx)
    if len(args) == 3 and args[1] in ("=", "!=", "=="):
        left, op, right = args
        if phase_word(right) and not phase_word(left):
            left, right = right, left
        if phase_word(left):
            wanted = right[1:] if left.startswith("x") and right.startswith("x") else right
            hit = frozenset(p for p in ctx.phases if p == wanted)
            return _known(hit if op != "!=" else all_phases - hit, all_phases)
        diversion = diversion_test(args, ctx)
        if diversion is not None:  # `[ "$diverter" = dash ]`: as a test of a path
            return Cond(all_phases, "guard", f"tests {diversion}")
        digest = digest_test(left, right, ctx)
        if digest is not None:  # `[ "$md5" = "$old_md5" ]`: Only-If dpkg-md5 / md5
            return Cond(all_phases, "either", f"compares {digest}")
        if _version_word(left) or _version_word(right):
            other = right if _version_word(left) else left
            if other in ("", "x"):
                return Cond(all_phases, "guard" if op != "!=" else "upgrade",
                            FRESH_INSTALL if op != "!=" else "upgrade from a previous version",
                            system=op == "!=")
            if constant(other):  # "$2" = 1.2-3: an upgrade from that version
                return Cond(all_phases, "upgrade" if op != "!=" else "guard",
                            f"upgrade from version {other.lstrip('x')}" if op != "!=" else
                            f"not an upgrade from version {other.lstrip('x')}")
        if left in ("$RET", "${RET}") or right in ("$RET", "${RET}"):
            other = right if left.startswith("$") else left
            ret = ctx.ret.get("RET")
            if ret is None:
                raise Unmodelled("tests a debconf answer ($RET) with no db_get before it",
                                 Idiom("condition: $RET with no db_get before it"))
            equal = ret == other
            holds = equal if op != "!=" else not equal
            if holds:
                return _known(all_phases, all_phases)
            return Cond(frozenset(), "false", false=all_phases, system=False)
        if constant(left) and constant(right):  # both known: the test's value too
            return _known(all_phases if (left == right) != (op == "!=") else frozenset(),
                          all_phases)
        later = _LATER_ARGUMENT.fullmatch(left) or _LATER_ARGUMENT.fullmatch(right)
        if later is not None and constant(right if later.string == left else left):
            # `test "$5" != removing`: what dpkg passes after the version (in-favour,
            # removing, a package): a value of the system's
            return Cond(all_phases, "guard", f"an argument dpkg passes (${later.group(1)})")
        raise Unmodelled(f"compares {left!r} {op} {right!r}",
                         Idiom("condition: comparison of values other than $1, $2 or $RET"))
    if len(args) == 3 and args[1] in _NUMERIC and constant(args[0]) and constant(args[2]):
        try:
            holds = _NUMERIC[args[1]](int(args[0]), int(args[2]))
        except ValueError:
            raise Unmodelled(f"compares {args[0]!r} {args[1]} {args[2]!r} as numbers",
                             Idiom("condition: numeric test of something not a number")) \
                from None
        return _known(all_phases if holds else frozenset(), all_phases)
    if len(args) == 2 and args[0] in ("-z", "-n") and constant(args[1]):
        return _known(all_phases if (args[1] == "") == (args[0] == "-z") else frozenset(),
                      all_phases)
    if len(args) == 2 and args[0] in ("-z", "-n"):
        operand = args[1]
        if operand in ("$2", "${2}", "${2:-}"):
            if args[0] == "-z":
                return Cond(all_phases, "guard", FRESH_INSTALL, system=False)
            return Cond(all_phases, "upgrade", "upgrade from a previous version")
        if operand in ("${DPKG_ROOT:-}", "$DPKG_ROOT", "${DPKG_ROOT}", ""):
            return Cond(all_phases, "guard")
        diversion = diversion_test(args, ctx)
        if diversion is not None:  # `[ -z "$diverter" ]`: Only-If ! diverted P
            return Cond(all_phases, "guard", f"tests {diversion}")
        raise Unmodelled(f"tests the variable {operand!r}",
                         Idiom(f"condition: test {args[0]} of a variable"))
    if len(args) == 2 and args[0] in ("-x", "-e", "-f", "-d", "-L", "-h", "-s", "-r", "-w",
                                      "-S", "-p", "-b", "-c", "-g", "-u", "-k", "-O", "-G"):
        path = args[1]
        if any(p in path for p in INIT_PATHS):
            return Cond(all_phases, "init", INIT_REASON)
        if "$" in path.replace("$(command -v", "").replace("`command -v", "") and \
                "command -v" not in path:
            raise Unmodelled(f"tests a path built from a variable: {path!r}",
                             Idiom(f"condition: test {args[0]} of a computed path"))
        if path.startswith(KERNEL_PATHS):  # (the running kernel's, not the image's)
            if path == RANDOM_UUID and args[0] in ("-e", "-f", "-r", "-s"):
                return _known(all_phases, all_phases)  # (Linux's: a new UUID each read)
            return Cond(all_phases, "either", f"tests the running kernel's {path}",
                        reads=True)
        return Cond(all_phases, "guard", f"tests {path}")
    raise Unmodelled("a test the engine does not know",
                     Idiom("condition: test", " ".join(a for a in args if a.startswith("-"))
                           or "of another kind"))


def _cond_command(cmd: Command, ctx: Ctx) -> Cond | None:
    """A command used as a condition, or None if it is not one we know."""
    argv = [word_value(w, ctx) for w in cmd.words]
    if not argv:
        return None
    name = argv[0]
    all_phases = frozenset(ctx.phases)
    if name in ("[", "test"):
        args = argv[1:-1] if name == "[" and argv[-1] == "]" else argv[1:]
        if any(w.expands and not w.quoted and (m := _VARIABLE.search(w.raw)) is not None
               and m.group(1) in ctx.owners for w in cmd.words):
            raise Unmodelled("an owner read by ls, unquoted in a test (empty or several "
                             "words: the test is another)",
                             Idiom("condition: unquoted value of a command"))
        return _test_cond(args, ctx)
    if name in INIT_TOOLS or (name in GUARD_TOOLS | {"command"} and
                              any(a in INIT_TOOLS for a in argv[1:])):
        return Cond(all_phases, "init", INIT_REASON)
    if name in GUARD_TOOLS or (name == "command" and argv[1:2] == ["-v"]):
        return Cond(all_phases, "guard", f"tool present: {argv[-1]}")
    if name == "mountpoint":  # (a test of a path: Only-If mountpoint where it is quiet;
        # each branch may run, an else is no fallback)
        return Cond(all_phases, "either", f"tests a mount point: {argv[-1]}")
    if name == "getent" or (name == "dpkg-statoverride" and "--list" in argv):
        return Cond(all_phases, "guard", " ".join(argv))
    if name == "dpkg" and argv[1:2] == ["--compare-versions"]:
        if argv[2:3] == ["--"]:
            argv = argv[:2] + argv[3:]
        if len(argv) == 5 and argv[4] in _VERSION_WORDS and argv[3] in _REVERSED and \
                argv[2] not in _VERSION_WORDS:  # `X gt-nl "$2"` is `"$2" lt-nl X`
            argv = [*argv[:2], argv[4], _REVERSED[argv[3]], argv[2]]
        if len(argv) == 5 and argv[2] in _VERSION_WORDS:
            empty = all_phases & EMPTY_VERSION.get(ctx.script, frozenset())
            if argv[3] in HOLD_WHEN_EMPTY and empty:
                # `lt X` holds where $2 is empty (a fresh install, a removal): taken
                # there; where $2 is a version, it holds only on an upgrade (dropped)
                return Cond(empty, "guard", f"{FRESH_INSTALL} or an upgrade from a "
                            f"version {argv[3]} {argv[4]}", false=all_phases - empty,
                            system=False)
            return Cond(all_phases, "upgrade", f"upgrade from a version {argv[3]} {argv[4]}")
        if len(argv) == 5 and not any(c in a for a in (argv[2], argv[4]) for c in "$`"):
            held = compare_versions(argv[2], argv[3], argv[4])
            return _known(all_phases if held else frozenset(), all_phases)
        raise Unmodelled("dpkg --compare-versions on something other than $2",
                         Idiom("condition: dpkg --compare-versions on something other than $2"))
    if argv in (["true"], [":"], ["false"]):  # `if true; then`: known
        return _known(all_phases if name != "false" else frozenset(), all_phases)
    compared = same_files(argv)
    if compared is not None:  # `cmp -s A B`: as a test of paths (Only-If same A B)
        return Cond(all_phases, "guard", f"compares {compared}")
    grepped = grep_test(argv, quiet(cmd))
    if grepped is not None:  # `grep -q PATTERN F`: as a test of F (Only-If grep F ...)
        return Cond(all_phases, "guard", f"tests {grepped}")
    if name == "db_get" and len(argv) == 2:  # (its answer is known: the question exists)
        db_get(argv[1], ctx, cmd.line)
        return _known(all_phases, all_phases)
    if name in ctx.defs and not cmd.words[0].quoted and is_predicate(name, ctx.defs):
        return Cond(all_phases, "guard", f"reads the system: function {name}", reads=True)
    return None


def eval_pipeline(pipe: Pipeline, ctx: Ctx) -> Cond:
    override = override_test(pipe, ctx)
    if override is not None:  # (a test of a path's stat override: Only-If statoverride)
        found = Cond(frozenset(ctx.phases), "guard", f"tests {override}")
        return negated(found, frozenset(ctx.phases)) if pipe.negated else found
    if len(pipe.commands) > 1 and all(isinstance(c, Command) and is_query(c)
                                      for c in pipe.commands):
        names = " | ".join(c.name for c in pipe.commands if isinstance(c, Command))
        return Cond(frozenset(ctx.phases), "guard", f"reads the system: {names}", reads=True)
    if len(pipe.commands) != 1 or not isinstance(pipe.commands[0], Command):
        raise Untranslatable(pipe.line, ctx.source(pipe.line), "a pipeline or compound condition",
                             Idiom("condition: pipeline", " | ".join(
                                 c.name if isinstance(c, Command) else "..."
                                 for c in pipe.commands)))
    cmd = pipe.commands[0]
    try:
        cond = _cond_command(cmd, ctx)
    except ValueError as exc:
        raise Untranslatable(cmd.line, ctx.source(cmd.line), f"condition {exc}",
                             idiom_of(exc, Idiom(f"condition: {exc}"))) from exc
    if cond is None and is_query(cmd):
        cond = Cond(frozenset(ctx.phases), "guard", f"reads the system: {cmd.name}",
                    reads=True)
    if cond is None:
        raise Untranslatable(cmd.line, ctx.source(cmd.line), "a condition the engine does not know",
                             Idiom("condition: command", cmd.name))
    if pipe.negated:
        return negated(cond, frozenset(ctx.phases))
    return cond


def _eval_andor(node: AndOr, ctx: Ctx) -> Cond:
    cond = eval_pipeline(node.first, ctx)
    for op, pipe in node.rest:
        if op == "&&" and cond.kind == "upgrade":
            continue  # `[ -n "$2" ] && cleanup`: it runs only on upgrades, which are dropped
        # after `&&`, the arguments where the chain may still hold
        other = eval_pipeline(pipe, ctx.narrowed(cond.phases) if op == "&&" else ctx)
        cond = _and(cond, other) if op == "&&" else _or(cond, other)
    return cond


def eval_list(nodes: list[AndOr], ctx: Ctx) -> Cond:
    if not nodes:
        raise ValueError("empty condition")
    cond = _eval_andor(nodes[-1], ctx)
    for node in nodes[:-1]:  # earlier commands run for effect (db_get ...)
        _eval_andor(node, ctx)
    return cond


def is_condition_cmd(cmd: Command) -> bool:
    name = cmd.name
    return is_query(cmd) or name in ("[", "test", "which", "type", "getent") or \
        (name == "command" and cmd.argv[1:2] == ["-v"]) or \
        (name == "dpkg" and cmd.argv[1:2] == ["--compare-versions"]) or \
        (name == "dpkg-statoverride" and "--list" in cmd.argv)

