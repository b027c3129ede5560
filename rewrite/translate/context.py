"""What the translator knows while it walks a script: the script's arguments, the
debconf answers, the recipe's mappings; what it produces (`Result`); what it refuses
(`Untranslatable`); and the reading of a word's value and of a command's options.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase

from recipes.actions import Action, Dropped
from recipes.actions.fields import condition_paths
from rewrite.shell import Command, Function, Node, Word
from rewrite.translate.effects import affects

SCRIPT_PHASES: dict[str, tuple[str, ...]] = {
    "preinst": ("install", "upgrade", "abort-upgrade"),
    "postinst": ("configure", "abort-upgrade", "abort-remove", "abort-deconfigure",
                 "triggered", "reconfigure"),
    "prerm": ("remove", "upgrade", "deconfigure", "failed-upgrade"),
    "postrm": ("remove", "purge", "upgrade", "failed-upgrade", "abort-install",
               "abort-upgrade", "disappear"),
    "config": ("configure", "reconfigure"),
}

# Arguments every installation runs a script with: a script failing there is refused.
INSTALL_PHASES: dict[str, tuple[str, ...]] = {
    "preinst": ("install",), "postinst": ("configure",), "config": ("configure",),
}


@dataclass(frozen=True)
class Idiom:
    """What kind of line the engine refused, for grouping many refusals (the survey):
    the construct and, where there is one, the command or file it names, free of the
    line's own values (`command touch`, `sources /usr/share/foo`, `function definition`).
    """

    construct: str
    subject: str = ""

    def __str__(self) -> str:
        return f"{self.construct} {self.subject}" if self.subject else self.construct


class Untranslatable(Exception):
    """A line the engine cannot map to actions; `idiom` says which kind of line (the
    reason itself, when the raiser names none)."""

    def __init__(self, line: int, text: str, reason: str,
                 idiom: Idiom | str | None = None) -> None:
        self.line = line
        self.text = text
        self.reason = reason
        self.idiom = idiom if isinstance(idiom, Idiom) else Idiom(idiom or reason)
        super().__init__(f"line {line}: {reason}: {text}")


class Unmodelled(ValueError):
    """A ValueError that names the idiom the engine does not model (for the survey)."""

    def __init__(self, message: str, idiom: Idiom) -> None:
        super().__init__(message)
        self.idiom = idiom


def idiom_of(exc: ValueError, default: Idiom) -> Idiom:
    """The idiom an Unmodelled error names, else `default`."""
    return exc.idiom if isinstance(exc, Unmodelled) else default


# A recipe's mapping: (script, stripped line) -> (actions, ignore reason) or None
Lookup = Callable[[str, str], "tuple[list[Action], str] | None"]


@dataclass
class Result:
    actions: list[Action] = field(default_factory=list)
    dropped: list[Dropped] = field(default_factory=list)
    # script argument -> (exit status, origin): where the script fails (`exit N`, N != 0)
    fails: dict[str, tuple[int, str]] = field(default_factory=dict)


@dataclass
class Ctx:
    script: str
    package: str
    phases: tuple[str, ...]
    answers: dict[str, str]
    lines: list[str]
    lookup: Lookup | None
    subst: dict[str, str] = field(default_factory=dict)
    ret: dict[str, str | None] = field(default_factory=lambda: {"RET": None})
    subshell: bool = False  # inside ( ... ): an exit there leaves only the subshell
    nested: bool = False  # inside a compound command (not the script's own list)
    top: bool = True  # in the script's own list or a function's body (not in a block)
    # what follows the statement being walked: the rest of its list, then the rest of
    # each enclosing list, innermost first (what an exit there would skip)
    continuation: tuple[tuple[Node, ...], ...] = ()
    # in a block that does not always run: the variables it assigned, unknown after it
    scope: list[str] | None = None
    # variables that a block behind a test of the system assigned constants to: their
    # value depends on the system (shared by the contexts of one script)
    unknown: set[str] = field(default_factory=set)
    # variables naming the script's temporary files (`tmp=$(mktemp)`; shared)
    temps: set[str] = field(default_factory=set)
    # variables holding the md5 of a file (`md5="$(md5sum F | sed -e 's/ .*//')"`):
    # name -> F (shared by the contexts of one script)
    # (with the number of commands run when it was read)
    digests: dict[str, tuple[str, int]] = field(default_factory=dict)
    # variables holding the numeric owner of a path (`uid=$(ls -ln F | awk '{print $3}')`):
    # name -> (path, the number of commands run when it was read)
    owners: dict[str, tuple[str, int]] = field(default_factory=dict)
    # variables holding a path named after the node (`d=/var/lib/x/$(uname -n)`): name ->
    # the directory it is in
    nodes: dict[str, str] = field(default_factory=dict)
    # variables holding the md5 dpkg records for a conffile of a package
    # (`old="$(dpkg-query -W -f='${Conffiles}' PKG | sed -n -e "\' F ' {...; p }")"`):
    # name -> (F, PKG) (shared by the contexts of one script)
    recorded: dict[str, tuple[str, str]] = field(default_factory=dict)
    # variables holding the package that diverts a path (`d=$(dpkg-divert --listpackage
    # P)`): name -> (P, the number of commands run when it was read) (shared)
    diverters: dict[str, tuple[str, int]] = field(default_factory=dict)
    # every action taken here carries the tests of `conditions` (a case on a digest)
    attach: bool = False
    errexit: bool = False  # set -e
    bash: bool = False  # the script runs under bash (brace expansion)
    # the names the script may assign anywhere (None: not known, none read as unset)
    assigned: frozenset[str] | None = None
    # $? of each argument at this point: T (0), F (1) or U (unknown)
    status: dict[str, str] = field(default_factory=dict)
    functions: frozenset[str] = frozenset()  # names of the functions the script defines
    # the functions defined so far (filled as the walk meets their definitions: shared
    # by every context of one script)
    defs: dict[str, Function] = field(default_factory=dict)
    calls: tuple[str, ...] = ()  # the functions being called, innermost last
    # inside a call: the values of $1, $2, ... (the caller's words, already substituted)
    positional: list[str] | None = None  # (shared by the contexts of one call: `shift`)
    # inside a call: script argument -> the status a `return` gave it (shared per call)
    returned: dict[str, str] = field(default_factory=dict)
    # shell variables with a constant value: name -> (value, the arguments it is known
    # for); shared by the contexts of one script, changed as the walk assigns them
    vars: dict[str, tuple[str, frozenset[str]]] = field(default_factory=dict)
    straight: bool = True  # this statement runs whenever its list does (no branch)
    # behind a test of the system (the widest reading: the actions are taken as if it
    # held), and the paths such tests found present
    guarded: bool = False
    guard_paths: frozenset[str] = frozenset()
    # the tests of paths that hold where this statement runs, when they are all the tests
    # of the system around it (`Only-If` of an action the widest reading cannot take);
    # `unlisted`: a test of the system around it is not one of them
    # (each with the number of commands run when it was tested)
    conditions: tuple[tuple[str, int], ...] = ()
    unlisted: bool = False
    # behind a test that reads the system's files or databases (grep, getent | grep):
    # only actions that add what is missing are taken (they change nothing where it is)
    reads: bool = False
    # paths a test around this statement found missing (`if [ ! -f P ]`, `[ -e P ] ||`),
    # each with the number of commands run when it was tested: still missing while no
    # command run since may have made it (`effects`, shared by the contexts of one
    # script: for each command run, the paths it may create, None for any)
    absent: frozenset[tuple[str, int]] = frozenset()
    effects: list[frozenset[str] | None] = field(default_factory=list)
    # files a script is writing line by line (`echo a > F; echo b >> F`): path -> (index
    # of its create-file action in the result, the number of commands run after it)
    writing: dict[str, tuple[int, int]] = field(default_factory=dict)
    # tests of `conditions` recorded by a record-test action before a change of the
    # script turned them: (test, count) -> the flag's name (shared like `effects`)
    flags: dict[tuple[str, int], str] = field(default_factory=dict)

    def missing(self, path: str) -> bool:
        """Whether a test found `path` missing and no command has run since that may
        have made it."""
        return any(tested == path and not any(affects(made, path)
                                              for made in self.effects[count:])
                   for tested, count in self.absent)

    def holding(self) -> tuple[str, ...] | None:
        """The tests of `conditions` when they are all the tests of the system around
        this statement and no command run since may have changed what they test (an
        action's `Only-If`, evaluated when it is taken; none behind a fresh-install test
        only); None otherwise."""
        if self.unlisted:
            return None
        tests = []
        for test, count in self.conditions:
            if any(affects(made, path) for made in self.effects[count:]
                   for path in condition_paths(test)):
                flag = self.flags.get((test, count))
                if flag is None:
                    return None
                test = f"flag {flag}"  # (as it was read before the change that turned it)
            tests.append(test)
        return tuple(dict.fromkeys(tests))

    def tested_missing(self, paths: frozenset[str]) -> frozenset[tuple[str, int]]:
        """`absent` with `paths` found missing now."""
        return self.absent | {(path, len(self.effects)) for path in paths}

    def ran(self, creates: frozenset[str] | None) -> None:
        """A command ran that may create `creates` (None: anything)."""
        self.effects.append(creates)
    # inside a call: the variables made `local`, with what they were before the call
    saved: dict[str, tuple[str, frozenset[str]] | None] | None = None

    def narrowed(self, phases: set[str] | frozenset[str]) -> Ctx:
        return replace(self, phases=tuple(p for p in self.phases if p in phases))

    def origin(self, line: int) -> str:
        return f"{self.script}:{line}"

    def source(self, line: int) -> str:
        return self.lines[line - 1].strip() if 0 < line <= len(self.lines) else ""



# A handler of one tool: (argv, context) -> the actions it stands for; ValueError (a
# ValidationError of an action model too) if the call is not one the engine knows.
Handler = Callable[[list[str], Ctx], list[Action]]


_POSITIONAL = re.compile(r"\$\{([0-9])(?::?-)?\}|\$([0-9])|\$\{#\}|\$#")


def bind_positional(value: str, positional: Sequence[str]) -> str:
    """`value` with a function's positional parameters replaced by the call's values:
    `$N`, `${N}`, `${N-}`, `${N:-}` (empty when not given) and `$#`; `$@` and `$*` are
    left for the caller to refuse or expand."""
    def one(match: re.Match[str]) -> str:
        digit = match.group(1) or match.group(2)
        if digit is None:
            return str(len(positional))
        index = int(digit)
        if index == 0:
            return match.group(0)  # $0: the script's name, not a parameter
        return positional[index - 1] if index <= len(positional) else ""
    return _POSITIONAL.sub(one, value)


# the script's own arguments, as a variable or a function's parameter may hold them
SCRIPT_ARGUMENTS = frozenset({"$1", "$2", "$3", "$4", "${1}", "${2}", "${3}", "${4}",
                              "${1:-}", "${2:-}", "${3:-}", "${4:-}"})
# $NAME, ${NAME}, ${NAME:-word}, ${NAME-word}, ${NAME:+word}, ${NAME+word} (word literal)
_NAMED = re.compile(r"\$\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)"
                    r"(?:(?P<op>:?[-+]|##?|%%?)(?P<word>[^}$`]*))?\}"
                    r"|\$(?P<plain>[A-Za-z_][A-Za-z0-9_]*)")
# what the environment of a maintainer script holds (dpkg's variables; DEBCONF_RECONFIGURE
# is set only by dpkg-reconfigure, DEBIAN_SCRIPT_DEBUG only by a user debugging)
# (one instance of each package: images are built for one architecture)
# (DEBIAN_SCRIPT_TRACE: mariadb's scripts set it only under DEBIAN_SCRIPT_DEBUG)
ENVIRONMENT = {"DPKG_ROOT": "", "DEBCONF_RECONFIGURE": "", "DEBIAN_SCRIPT_DEBUG": "",
               "DEBIAN_SCRIPT_TRACE": "", "DPKG_MAINTSCRIPT_PACKAGE_REFCOUNT": "1"}
# variables a script may read that something other than the script sets: debconf's
# answer, the shell's own, the login environment (never taken as unset)
_SET_OUTSIDE = frozenset({"RET", "PATH", "HOME", "USER", "LOGNAME", "SHELL", "PWD", "OLDPWD",
                          "IFS", "LANG", "LANGUAGE", "TERM", "TMPDIR", "UID", "EUID", "PPID",
                          "HOSTNAME", "OPTARG", "OPTIND", "PS1", "PS4", "REPLY"})
_ASSIGNED = re.compile(
    r"(?:^|[\s;&|(`])(?:(?:local|export|readonly)\s+)?([A-Za-z_][A-Za-z0-9_]*)\+?="
    r"|\bfor\s+([A-Za-z_][A-Za-z0-9_]*)\s|\bread\s+(?:-\w+\s+)*([A-Za-z_][A-Za-z0-9_ ]*)"
    r"|\$\{([A-Za-z_][A-Za-z0-9_]*):?[=?]|\bgetopts\s+\S+\s+([A-Za-z_][A-Za-z0-9_]*)"
    r"|\b(?:local|export|readonly|unset)\s+([A-Za-z_][A-Za-z0-9_ ]*)", re.M)


def assigned_names(text: str) -> frozenset[str]:
    """Every name `text` may assign anywhere (`X=`, `local X`, `for X in`, `read X Y`,
    `${X:=...}`, `getopts ... X`): the others are unset where dpkg runs the script."""
    names: set[str] = set()
    for match in _ASSIGNED.finditer(text):
        for group in match.groups():
            if group:
                names.update(group.split())
    return frozenset(names)


# command substitutions whose output the engine knows (the distribution runs on Linux)
# `$(dpkg-divert --truename F)`: F, as in the images bootstrap makes where no package
# diverts F (the divert action exists, but no package in the surveyed classes diverts a
# file whose true name another's script asks for: a known gap, see issue 15's notes)
_TRUENAME = re.compile(r"""(?:\$\(|`)\s*dpkg-divert\s+--truename\s+(?P<q>"?)"""
                       r"""(?P<path>/[^\s"'`$()|;&<>*?\[\]]+)(?P=q)\s*(?:\)|`)""")
KNOWN_OUTPUT = {"$(uname -s)": "Linux", "`uname -s`": "Linux", "$(uname)": "Linux",
                "`uname`": "Linux"}


def known_value(name: str, ctx: Ctx, *, unset_empty: bool = True) -> str | None:
    """The value of shell variable `name` where the engine knows it for every argument
    reaching this point (a loop variable, a constant assignment, the environment)."""
    if name in ctx.subst:
        return ctx.subst[name]
    if name == "RET" and ctx.ret.get("RET") is not None:  # debconf's answer, after db_get
        return ctx.ret["RET"]
    entry = ctx.vars.get(name)
    if entry is not None:
        value, phases = entry
        return value if set(ctx.phases) <= phases else None
    if name in ENVIRONMENT:
        return ENVIRONMENT[name]
    if name == "DPKG_MAINTSCRIPT_PACKAGE":
        return ctx.package
    if name == "DPKG_MAINTSCRIPT_NAME":
        return ctx.script
    if unset_empty and unset(name, ctx):
        return ""  # never assigned by the script: unset where apt runs it (`$EX4DEBUG`)
    return None


def unset(name: str, ctx: Ctx) -> bool:
    """Whether `name` is unset where dpkg runs the script: no line of it assigns the name,
    which neither dpkg, debconf, the shell nor the login environment sets."""
    return ctx.assigned is not None and name not in ctx.assigned and \
        name not in _SET_OUTSIDE and name not in ctx.subst and name not in ctx.vars and \
        name not in ENVIRONMENT and not name.startswith(("DPKG_", "DEBCONF_", "LC_"))


def _named(ctx: Ctx, unset_empty: bool = True) -> Callable[[re.Match[str]], str]:
    def one(match: re.Match[str]) -> str:
        name = match.group("braced") or match.group("plain")
        value = known_value(name, ctx, unset_empty=unset_empty)
        if value is None:
            return match.group(0)
        op, word = match.group("op"), match.group("word") or ""
        if op in ("-", "+") and unset_empty and unset(name, ctx):  # (unset, not empty)
            return word if op == "-" else ""
        if op in ("#", "##", "%", "%%"):
            trimmed = _trim(value, op, word)
            return match.group(0) if trimmed is None else trimmed
        if op in (":-",):
            return value or word
        if op == ":+":
            return word if value else ""
        if op == "+":
            return word
        return value  # no operator, or "-" (the variable is set)
    return one


def _trim(value: str, op: str, pattern: str) -> str | None:
    """`${NAME#PATTERN}` and its kin on a known value: the shortest (`#`, `%`) or longest
    (`##`, `%%`) prefix (`#`) or suffix (`%`) matching the shell pattern removed; None
    for a pattern with quotes or backslashes (not computed)."""
    if any(c in pattern for c in "\\'\""):
        return None
    sizes = range(len(value) + 1) if op in ("#", "%") else range(len(value), -1, -1)
    for size in sizes:
        if op.startswith("#") and fnmatchcase(value[:size], pattern):
            return value[size:]
        if op.startswith("%") and fnmatchcase(value[len(value) - size:], pattern):
            return value[:len(value) - size]
    return value


def word_value(word: Word, ctx: Ctx, depth: int = 0) -> str:
    """A word's value with what the engine knows substituted: the command substitutions
    whose output it computes (rewrite.translate.output), the positional parameters of a
    function call (one pass: a value of the caller's may be the script's `$1`), then loop
    variables, constant assignments and the environment ($DPKG_ROOT is '')."""
    from rewrite.translate.output import (  # (it evaluates words in turn)
        arithmetic,
        substitute,
    )

    value = word.value
    for command, output in KNOWN_OUTPUT.items():
        value = value.replace(command, output)
    value = substitute(word, value, ctx, depth)
    value = _TRUENAME.sub(lambda match: match.group("path"), value)  # (no diversions)
    if ctx.positional is not None:
        value = bind_positional(value, ctx.positional)
    value = _empty_alternatives(value, ctx, "'" not in word.raw)
    for _ in range(3):  # ${A:+--x=$A}: the inner one first
        # (a word with single quotes may hold `${...}` as text: unset names kept)
        done = _NAMED.sub(_named(ctx, "'" not in word.raw), value)
        if done == value:
            break
        value = done
    value = arithmetic(value) if "$((" in value else value
    return _PATH_PART.sub(_path_part, value) if "name" in value else value


_ALTERNATIVE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*):\+")


def _empty_alternatives(value: str, ctx: Ctx, unset_empty: bool = True) -> str:
    """`${NAME:+WORD}` where NAME is known empty: nothing, whatever WORD holds
    (`${DEBIAN_SCRIPT_TRACE:+ echo "... $0 $*" 1>&2 }`); its braces balanced."""
    start = 0
    while (match := _ALTERNATIVE.search(value, start)) is not None:
        depth, end = 1, match.end()
        while end < len(value) and depth:
            depth += {"{": 1, "}": -1}.get(value[end], 0)
            end += 1
        if depth or known_value(match.group(1), ctx, unset_empty=unset_empty) != "":
            start = match.end()
            continue
        value = value[:match.start()] + value[end:]
        start = match.start()
    return value


# `$(dirname /a/b)`, `` `basename "/a/b.c" .c` ``: computed as the tools do, on a constant
_PATH_PART = re.compile(
    r"""(?:(?P<paren>\$\()|`)[ \t]*(?P<tool>dirname|basename)[ \t]+(?P<q>"?)"""
    r"""(?P<path>[^"'`$()\s\\*?\[]+)(?P=q)(?:[ \t]+(?P<suffix>[^"'`$()\s\\]+))?"""
    r"""[ \t]*(?(paren)\)|`)""")


def _path_part(match: re.Match[str]) -> str:
    path, suffix = match.group("path"), match.group("suffix")
    if match.group("tool") == "dirname":
        if suffix is not None:
            return match.group(0)  # dirname of several paths: not computed
        return posixpath.dirname(path.rstrip("/")) or ("/" if path.startswith("/") else ".")
    base = path.rstrip("/").rsplit("/", 1)[-1] or "/"
    if suffix and base.endswith(suffix) and base != suffix:
        base = base[:-len(suffix)]
    return base


def braces(word: Word, value: str, ctx: Ctx) -> list[str]:
    """The words bash's brace expansion makes of an unquoted word (`mysql.{log,err}{,.0}`:
    four); the word alone where there is none (sh has no brace expansion). Unmodelled:
    a sequence `{1..3}`, or braces in a word partly quoted."""
    if not ctx.bash or "{" not in value or _brace_list(value.replace("${", "$(")) is None:
        return [value]
    if word.quoted:
        raise Unmodelled(f"bash brace expansion in a partly quoted word: {word.raw}",
                         Idiom("bash brace expansion in a quoted word"))
    return _expand_braces(value)


def _brace_list(value: str) -> tuple[int, int, list[str]] | None:
    """The first `{a,b}` of `value` (start, end, items), nested braces kept in items;
    `${` is a parameter expansion (the caller masks it)."""
    for start, char in enumerate(value):
        if char != "{":
            continue
        depth, item = 0, start + 1
        items: list[str] = []
        for end in range(start + 1, len(value)):
            if value[end] == "{":
                depth += 1
            elif value[end] == "}" and depth:
                depth -= 1
            elif value[end] == "}":
                if items:
                    return start, end, [*items, value[item:end]]
                if ".." in value[start + 1:end]:
                    raise Unmodelled(f"bash brace sequence {value[start:end + 1]}",
                                     Idiom("bash brace sequence"))
                break
            elif value[end] == "," and not depth:
                items.append(value[item:end])
                item = end + 1
    return None


def _expand_braces(value: str) -> list[str]:
    found = _brace_list(value.replace("${", "$("))
    if found is None:
        return [value]
    start, end, items = found
    head, tail = value[:start], value[end + 1:]
    offset = start + 1
    words: list[str] = []
    for item in items:  # (the items' own text, `${` restored)
        text = value[offset:offset + len(item)]
        offset += len(item) + 1
        words += _expand_braces(head + text + tail)
    return words


def assign(ctx: Ctx, name: str, value: str, *, straight: bool) -> None:
    """`name=value` at this point: known from here on for the arguments reaching it
    when the statement always runs for them and the value is a constant or one of the
    script's arguments (`action=$1`, `oldversion=$2`); unknown otherwise (a branch, a
    computed value). In a block that does not always run (behind a test of the system),
    the value is known until the block ends."""
    known = "`" not in value and "$" not in value or value in SCRIPT_ARGUMENTS
    if straight and known and (ctx.straight or ctx.scope is not None):
        ctx.vars[name] = (value, frozenset(ctx.phases))
        if ctx.straight:
            ctx.unknown.discard(name)
        if not ctx.straight and ctx.scope is not None:
            ctx.scope.append(name)
    else:
        ctx.vars.pop(name, None)


def system_value(text: str, ctx: Ctx) -> bool:
    """Whether `text` (a word's value) is built of constants and variables whose value
    depends on the system (`build_db=1` behind `if [ ! -f ... ]`) and nothing else."""
    names = [m.group("braced") or m.group("plain") for m in _NAMED.finditer(text)]
    rest = _NAMED.sub("", text)
    return bool(names) and all(n in ctx.unknown for n in names) and "$" not in rest and \
        "`" not in rest


def parse_options(args: list[str], with_value: set[str]) -> tuple[dict[str, str], list[str]]:
    """A command's options (those in `with_value` take the next argument; `--x=y` too)
    and its other arguments."""
    opts: dict[str, str] = {}
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("--") and "=" in arg:
            key, _, value = arg.partition("=")
            opts[key] = value
        elif arg in with_value:
            if i + 1 >= len(args):
                raise ValueError(f"option {arg} without a value")
            opts[arg] = args[i + 1]
            i += 1
        elif arg.startswith("-") and arg != "-":
            opts[arg] = ""
        else:
            rest.append(arg)
        i += 1
    return opts, rest




def plain_path(value: str) -> bool:
    """An absolute path the engine can name in an `Only-If` test: no '..' component, no
    glob, comma, expansion, blank or backslash."""
    return value.startswith("/") and ".." not in value.split("/") and \
        not any(c in value for c in "*?[,$`\\ \t\n")


def quiet(cmd: Command) -> bool:
    """Output goes nowhere that matters (stdout/stderr, /dev/null)."""
    for redirect in cmd.redirects:
        target = redirect.lstrip("0123456789").lstrip(">&<")
        if target not in ("/dev/null", "1", "2", "&1", "&2") and not redirect.endswith(">&2") \
                and not redirect.endswith(">&1"):
            return False
    return True
