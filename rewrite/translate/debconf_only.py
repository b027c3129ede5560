"""A config script that only talks to debconf (tzdata's, locales', ca-certificates').

debconf runs a package's `config` script to ask its questions (debconf-devel(7): it
"should not do anything else", the postinst acts on the answers). In a container no
question is asked: every `db_*` call is dropped and the postinst's `db_get` reads the
recipe's answer or the template's default. So a config script translates to nothing
when nothing in it can change the system, however it computes the defaults it offers
(reads of /etc, loops over the answers, arithmetic on a dialog state): every command
is a debconf call, a test, a message, an assignment, a read (the tools of `READERS`,
sed without -i, find without actions, awk without system() or redirection), `cd`, a
function of the script that passes the same check, or control flow; and no output is
redirected anywhere but /dev/null or the other descriptor. Anything else (a write, an
unknown tool, `eval`, `trap`) leaves the script to the normal translation's verdict.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rewrite.shell import (
    AndOr,
    Case,
    Command,
    For,
    Function,
    Group,
    If,
    Loop,
    Node,
    Pipeline,
    ShellSyntaxError,
    parse,
)
from rewrite.translate.conditions import READERS
from rewrite.translate.substitutions import substitutions

DEBCONF_ONLY_REASON = ("a config script that only asks debconf questions (and reads the "
                       "system for their defaults): no questions in a container, the "
                       "answers come from the recipe or the templates' defaults")

# what else a config script may run without changing the system
_CONTROL = {"exit", "return", "break", "continue", "set", "local", "shift", ":", "cd",
            "export", "unset", "readonly",
            "pwd", "read", "expr", "seq", "locale", "id", "dpkg-query",
            "grep", "egrep", "fgrep"}
_NAMES_HOST = {"hostname", "dnsdomainname", "domainname"}
_OPTIONS_MATTER = {"find", "sed", "awk"}
_FIND_ACTIONS = {"-delete", "-exec", "-execdir", "-ok", "-okdir", "-fprint", "-fprint0",
                 "-fprintf", "-fls"}
_DPKG_QUERIES = {"-s", "--status", "-l", "--list", "-L", "--listfiles", "-S", "--search",
                 "--print-architecture", "--compare-versions", "--print-foreign-architectures",
                 "--version"}
_QUIET = re.compile(r"[0-9]?>>?\s*/dev/null|[0-9]?>&[0-9-]|[0-9]?<\s*\S+|<<-?\s*\S+")


def debconf_only(nodes: list[Node]) -> bool:
    """Whether the config script `nodes` can change nothing but debconf's answers."""
    functions: dict[str, Node] = {}
    _collect(nodes, functions)
    everywhere: dict[str, int] = {}
    _count(nodes, everywhere)
    if any(count > 1 or name not in functions for name, count in everywhere.items()):
        return False  # (a function redefined, or defined in a block: which body runs?)
    check = _Check(functions, set(), _assignments(nodes))
    return all(_node(n, check) for n in nodes)


@dataclass
class _Check:
    functions: dict[str, Node]  # the script's functions, by name
    checked: set[str]  # those checked (or being checked)
    # the values each variable is assigned in the script (None: one of them is computed)
    constants: dict[str, set[str] | None]

_REFERENCE = re.compile(r'"?\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?')


def _assignments(nodes: list[Node]) -> dict[str, set[str] | None]:
    found: dict[str, set[str] | None] = {}

    def visit(node: Node) -> None:
        if isinstance(node, Command):
            for word in node.words:
                match = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)", word.value, re.S)
                if match is None:
                    break
                name, value = match.groups()
                if "$" in value or "`" in value:
                    found[name] = None
                elif found.get(name, set()) is not None:
                    found.setdefault(name, set()).add(value)  # type: ignore[union-attr]
            return
        for child in _children(node):
            visit(child)

    for node in nodes:
        visit(node)
    return found


def _children(node: Node) -> list[Node]:
    if isinstance(node, Function):
        return [node.body]
    if isinstance(node, AndOr):
        return [node.first, *(p for _, p in node.rest)]
    if isinstance(node, Pipeline):
        return list(node.commands)
    if isinstance(node, If):
        return [n for cond, body in node.branches for n in (*cond, *body)] + \
            list(node.orelse or [])
    if isinstance(node, Case):
        return [n for item in node.items for n in item.body]
    if isinstance(node, For | Group):
        return list(node.body)
    if isinstance(node, Loop):
        return [*node.cond, *node.body]
    return []


def _no_option(raw: str, constants: dict[str, set[str] | None]) -> bool:
    """Whether a word that expands cannot be an option: it starts with a literal other
    than '-', with $DPKG_ROOT, or with a variable the script only assigns constants
    not starting with '-'."""
    text = raw.lstrip('"')
    if text and text[0] not in "$`-":
        return True
    match = _REFERENCE.match(raw)
    if match is None:
        return False
    if match.group(1) == "DPKG_ROOT":
        return True
    values = constants.get(match.group(1))
    return values is not None and all(v and not v.startswith("-") for v in values)


def _collect(nodes: list[Node], functions: dict[str, Node]) -> None:
    """The functions the list defines at its own level (`f() { ...; }` as a statement)."""
    for node in nodes:
        if isinstance(node, AndOr) and not node.rest:
            node = node.first
        if isinstance(node, Pipeline) and len(node.commands) == 1:
            node = node.commands[0]
        if isinstance(node, Function):
            functions[node.name] = node.body


def _count(nodes: list[Node], seen: dict[str, int]) -> None:
    """How many times each function name is defined, anywhere in `nodes`."""
    for node in nodes:
        if isinstance(node, Function):
            seen[node.name] = seen.get(node.name, 0) + 1
        _count(_children(node), seen)


def _node(node: Node, check: _Check) -> bool:
    if isinstance(node, Function):
        return True  # (checked where it is called)
    if isinstance(node, AndOr):
        return all(_node(p, check) for p in (node.first, *(p for _, p in node.rest)))
    if isinstance(node, Pipeline):
        return all(_node(c, check) for c in node.commands)
    if isinstance(node, If):
        return all(_node(n, check) for cond, body in node.branches
                   for n in (*cond, *body)) and \
            all(_node(n, check) for n in node.orelse or [])
    if isinstance(node, Case):
        return _word_ok(node.word.raw, check) and \
            all(_word_ok(p.raw, check) for item in node.items
                for p in item.patterns) and \
            all(_node(n, check) for item in node.items for n in item.body)
    if isinstance(node, For):
        return all(_word_ok(w.raw, check) for w in node.words) and \
            all(_node(n, check) for n in node.body)
    if isinstance(node, Loop):
        return all(_node(n, check) for n in (*node.cond, *node.body))
    if isinstance(node, Group):
        return _redirects_ok(node.redirects) and \
            all(_node(n, check) for n in node.body)
    if isinstance(node, Command):
        return _command(node, check)
    return False


def _command(cmd: Command, check: _Check) -> bool:
    if not _redirects_ok(cmd.redirects):
        return False
    if not all(_word_ok(w.raw, check) for w in cmd.words):
        return False
    words = [w.value for w in cmd.words]
    while words and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0], re.S):
        words = words[1:]  # assignments (their substitutions checked above)
    if not words:
        return True
    name = words[0]
    first = len(cmd.words) - len(words)
    if cmd.words[first].expands:
        return False  # a command named by a variable
    if name in check.functions:  # (quoted or not, a function of the script is called)
        if name not in check.checked:
            check.checked.add(name)  # (recursion: assumed while it is checked)
            if not _node(check.functions[name], check):
                return False
        return True
    if name.startswith("db_") or name in (".", "source"):
        return name.startswith("db_") or words[1:] == ["/usr/share/debconf/confmodule"]
    arguments = cmd.words[first + 1:]
    if name in _OPTIONS_MATTER and any(w.expands and not _no_option(w.raw, check.constants)
                                     for w in arguments):
        return False  # (an option from a variable: `find D $X` may be -delete)
    if name == "dpkg":  # its queries only (the action a word the script writes)
        return len(words) > 1 and words[1] in _DPKG_QUERIES and not arguments[0].expands
    if name == "sed":
        return _sed_reads(words[1:])
    if name == "awk":
        program = " ".join(words[1:])
        return "-f" not in words[1:] and not any(w.startswith("--file") for w in words[1:]) \
            and not re.search(r"system\s*\(|[>|]|getline", program)
    if name == "find":
        return not any(w in _FIND_ACTIONS for w in words[1:])
    if name in _NAMES_HOST:  # (with an argument, hostname sets the name)
        return all(w.startswith("-") for w in words[1:])
    return name in READERS or name in _CONTROL


# sed's commands that only print (and the address forms before them): the others write
# (w, W), run (e), or read a file in (r, R)
_SED_COMMAND = re.compile(
    r"""\s*(?:(?:[0-9]+|\$|/(?:[^/\\]|\\.)*/)(?:\s*,\s*(?:[0-9]+|\$|/(?:[^/\\]|\\.)*/))?)?"""
    r"""\s*!?\s*(?:[dpqPDN=]|s(?P<d>[^\s\\\n])(?:(?!(?P=d))[^\\]|\\.)*(?P=d)"""
    r"""(?:(?!(?P=d))[^\\]|\\.)*(?P=d)[gpiI0-9]*)\s*""")


def _sed_reads(args: list[str]) -> bool:
    """Whether sed's arguments are options that change no file (no -i) and scripts of
    commands that only print (s///[gpI], d, p, q ...), not w, W, e, r."""
    scripts: list[str] = []
    files: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        if arg in ("-e", "--expression") and index + 1 < len(args):
            scripts.append(args[index + 1])
            index += 2
            continue
        if arg.startswith("--expression="):
            scripts.append(arg.partition("=")[2])
        elif arg.startswith("-e") and len(arg) > 2:
            scripts.append(arg[2:])
        elif arg in ("-n", "-E", "-r", "--quiet", "--silent", "-ne", "-nE", "-En", "-rn",
                     "-nr", "-u", "-z", "-s"):
            if arg in ("-ne",) and index + 1 < len(args):
                scripts.append(args[index + 1])
                index += 2
                continue
        elif arg.startswith("-"):
            return False  # -i, -f FILE, --in-place ...
        else:
            files.append(arg)
        index += 1
    if not scripts and files:
        scripts, files = files[:1], files[1:]
    return bool(scripts) and all(
        all(_SED_COMMAND.fullmatch(part) for part in re.split(r";|\n", script) if part.strip())
        for script in scripts)


def _redirects_ok(redirects: list[str]) -> bool:
    return all(_QUIET.fullmatch(r.strip()) for r in redirects)


def _word_ok(raw: str, check: _Check) -> bool:
    """Every command substitution of a word passes the check too."""
    for inner in substitutions(raw, arithmetic=False):
        try:
            nodes = parse(inner)
        except ShellSyntaxError:
            return False
        _collect(nodes, check.functions)
        if not all(_node(n, check) for n in nodes):
            return False
    return True
