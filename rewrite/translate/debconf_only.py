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
from collections.abc import Iterator

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

DEBCONF_ONLY_REASON = ("a config script that only asks debconf questions (and reads the "
                       "system for their defaults): no questions in a container, the "
                       "answers come from the recipe or the templates' defaults")

# what else a config script may run without changing the system
_CONTROL = {"exit", "return", "break", "continue", "set", "local", "shift", ":", "cd",
            "export", "unset", "readonly",
            "pwd", "read", "expr", "seq", "hostname", "locale", "id", "dpkg-query",
            "dnsdomainname", "domainname", "sed", "awk", "find", "grep", "egrep", "fgrep"}
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
    checked: set[str] = set()
    return all(_node(n, functions, checked) for n in nodes)


def _collect(nodes: list[Node], functions: dict[str, Node]) -> None:
    """The functions the list defines at its own level (`f() { ...; }` as a statement)."""
    for node in nodes:
        if isinstance(node, AndOr) and not node.rest:
            node = node.first
        if isinstance(node, Pipeline) and len(node.commands) == 1:
            node = node.commands[0]
        if isinstance(node, Function):
            functions[node.name] = node.body


def _node(node: Node, functions: dict[str, Node], checked: set[str]) -> bool:
    if isinstance(node, Function):
        return True  # (checked where it is called)
    if isinstance(node, AndOr):
        return all(_node(p, functions, checked) for p in (node.first, *(p for _, p in node.rest)))
    if isinstance(node, Pipeline):
        return all(_node(c, functions, checked) for c in node.commands)
    if isinstance(node, If):
        return all(_node(n, functions, checked) for cond, body in node.branches
                   for n in (*cond, *body)) and \
            all(_node(n, functions, checked) for n in node.orelse or [])
    if isinstance(node, Case):
        return _word_ok(node.word.raw, functions, checked) and \
            all(_word_ok(p.raw, functions, checked) for item in node.items
                for p in item.patterns) and \
            all(_node(n, functions, checked) for item in node.items for n in item.body)
    if isinstance(node, For):
        return all(_word_ok(w.raw, functions, checked) for w in node.words) and \
            all(_node(n, functions, checked) for n in node.body)
    if isinstance(node, Loop):
        return all(_node(n, functions, checked) for n in (*node.cond, *node.body))
    if isinstance(node, Group):
        return _redirects_ok(node.redirects) and \
            all(_node(n, functions, checked) for n in node.body)
    if isinstance(node, Command):
        return _command(node, functions, checked)
    return False


def _command(cmd: Command, functions: dict[str, Node], checked: set[str]) -> bool:
    if not _redirects_ok(cmd.redirects):
        return False
    if not all(_word_ok(w.raw, functions, checked) for w in cmd.words):
        return False
    words = [w.value for w in cmd.words]
    while words and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0], re.S):
        words = words[1:]  # assignments (their substitutions checked above)
    if not words:
        return True
    name = words[0]
    if cmd.words[len(cmd.words) - len(words)].expands:
        return False  # a command named by a variable
    if name.startswith("db_") or name in (".", "source"):
        return name.startswith("db_") or words[1:] == ["/usr/share/debconf/confmodule"]
    if name in functions and not cmd.words[0].quoted:
        if name not in checked:
            checked.add(name)  # (recursion: assumed while it is checked)
            if not _node(functions[name], functions, checked):
                return False
        return True
    if name == "dpkg":  # its queries only
        return len(words) > 1 and words[1] in _DPKG_QUERIES
    if name == "sed":
        return not any(w.startswith(("-i", "--in-place")) for w in words[1:])
    if name == "awk":
        program = " ".join(words[1:])
        return not re.search(r"system\s*\(|[>|]|getline", program)
    if name == "find":
        return not any(w in _FIND_ACTIONS for w in words[1:])
    return name in READERS or name in _CONTROL


def _redirects_ok(redirects: list[str]) -> bool:
    return all(_QUIET.fullmatch(r.strip()) for r in redirects)


def _word_ok(raw: str, functions: dict[str, Node], checked: set[str]) -> bool:
    """Every command substitution of a word passes the check too."""
    for inner in _substitutions(raw):
        try:
            nodes = parse(inner)
        except ShellSyntaxError:
            return False
        _collect(nodes, functions)
        if not all(_node(n, functions, checked) for n in nodes):
            return False
    return True


def _substitutions(raw: str) -> Iterator[str]:
    """The text of each `$( ... )` and backquoted command of a word (not `$(( ))`)."""
    index = 0
    while index < len(raw):
        if raw.startswith("$((", index):
            index += 3
            continue
        if raw.startswith("$(", index):
            depth, end = 0, index + 1
            while end < len(raw):
                depth += {"(": 1, ")": -1}.get(raw[end], 0)
                if depth == 0:
                    break
                end += 1
            yield raw[index + 2:end]
            index = end + 1
            continue
        if raw[index] == "`":
            end = raw.find("`", index + 1)
            if end == -1:
                yield raw[index + 1:]  # (unbalanced: parse decides)
                return
            yield raw[index + 1:end]
            index = end + 1
            continue
        index += 1
