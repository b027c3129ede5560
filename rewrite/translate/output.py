"""Command substitutions whose output the engine computes: `$( ... )` whose commands only
print known text (`echo`, a function of the script that only prints, `for` over known
words, assignments of known values), as xz-utils builds update-alternatives' --slave
arguments: `$(slave /usr/bin unlzma unxz; for u in cat more; do slave ...; done)`.

Anything else (another command, a redirection, a pipeline, a value the engine does not
know, a backslash echo may interpret) leaves the substitution as it is written."""

from __future__ import annotations

import ast
import re
from dataclasses import replace
from typing import TYPE_CHECKING

from rewrite.shell import (
    AndOr,
    Command,
    For,
    Group,
    Node,
    Pipeline,
    ShellSyntaxError,
    Word,
    parse,
)

if TYPE_CHECKING:
    from rewrite.translate.context import Ctx

MAX_STEPS = 2000  # commands run in one substitution (loops of loops, functions)
MAX_DEPTH = 4  # substitutions inside substitutions
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=.*", re.S)


class _Unknown(Exception):
    """The substitution does something the engine does not compute."""


def substitute(word: Word, value: str, ctx: Ctx, depth: int = 0) -> str:
    """`value` (the word's) with each `$( ... )` whose output the engine computes replaced
    by it (trailing newlines removed, as the shell does); the others left as written, and
    those the word has inside single quotes (text, not a substitution)."""
    if "$(" not in value or depth >= MAX_DEPTH:
        return value
    quoted = _single_quoted(word.raw) if "'" in word.raw else set()
    parts: list[str] = []
    start = 0
    while (begin := value.find("$(", start)) >= 0:
        end = _closing(value, begin + 2)
        if end is None or value.startswith("$((", begin):
            parts.append(value[start:begin + 2])
            start = begin + 2
            continue
        parts.append(value[start:begin])
        text = value[begin + 2:end]
        output = None if text in quoted else _output(text, ctx, depth)
        parts.append(value[begin:end + 1] if output is None else output)
        start = end + 1
    parts.append(value[start:])
    return "".join(parts)


_ARITHMETIC = re.compile(r"\$\(\(([-+*/%() 0-9]*)\)\)")


def arithmetic(value: str) -> str:
    """`value` with each `$(( ... ))` of numbers alone (+ - * / %, parentheses)
    computed as sh does (integer division towards zero); others left as written."""
    def one(match: re.Match[str]) -> str:
        try:
            tree = ast.parse(match.group(1).strip() or "0", mode="eval")
            return str(_integer(tree.body))
        except (SyntaxError, ValueError, ZeroDivisionError):
            return match.group(0)
    return _ARITHMETIC.sub(one, value)


def _integer(node: ast.expr) -> int:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = _integer(node.operand)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp):
        left, right = _integer(node.left), _integer(node.right)
        if isinstance(node.op, ast.Add):
            return left + right
        if isinstance(node.op, ast.Sub):
            return left - right
        if isinstance(node.op, ast.Mult):
            return left * right
        if isinstance(node.op, ast.Div | ast.FloorDiv | ast.Mod):
            quotient = abs(left) // abs(right) * (1 if (left < 0) == (right < 0) else -1)
            return quotient if not isinstance(node.op, ast.Mod) else left - right * quotient
    raise ValueError("not an integer expression")


def _single_quoted(raw: str) -> set[str]:
    """The texts of the `$( ... )` a word has inside single quotes (outside double ones)."""
    found: set[str] = set()
    index, double = 0, False
    while index < len(raw):
        char = raw[index]
        if char == "'" and not double:
            end = raw.find("'", index + 1)
            end = len(raw) if end < 0 else end
            inside = raw[index + 1:end]
            at = 0
            while (begin := inside.find("$(", at)) >= 0:
                close = _closing(inside, begin + 2)
                found.add(inside[begin + 2:close if close is not None else len(inside)])
                at = begin + 2
            index = end
        elif char == '"':
            double = not double
        elif char == "\\":
            index += 1
        index += 1
    return found


def _closing(value: str, start: int) -> int | None:
    """The index of the `)` closing a `$(` whose text starts at `start` (quotes and
    nested parentheses skipped); None if it is not closed."""
    depth, index, quote = 1, start, ""
    while index < len(value):
        char = value[index]
        if quote:
            if char == quote:
                quote = ""
            elif char == "\\" and quote == '"':
                index += 1
        elif char in "'\"":
            quote = char
        elif char == "\\":
            index += 1
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if not depth:
                return index
        index += 1
    return None


def _output(text: str, ctx: Ctx, depth: int) -> str | None:
    try:
        nodes = parse(text)
    except ShellSyntaxError:
        return None
    run = _Run(ctx, depth)
    try:
        run.nodes(nodes, {}, None)
    except _Unknown:
        return None
    output = "".join(run.printed).rstrip("\n")
    return None if any(c in output for c in "$`\\") else output


class _Run:
    """One substitution run: what it printed, the commands counted."""

    def __init__(self, ctx: Ctx, depth: int) -> None:
        self.ctx, self.depth = ctx, depth
        self.printed: list[str] = []
        self.steps = 0
        self.calls: tuple[str, ...] = ()

    def nodes(self, nodes: list[Node], local: dict[str, str],
              positional: list[str] | None) -> None:
        for node in nodes:
            self.steps += 1
            if self.steps > MAX_STEPS:
                raise _Unknown
            if isinstance(node, AndOr) and not node.rest and not node.first.negated:
                self.nodes(node.first.commands, local, positional)
            elif isinstance(node, Pipeline) and len(node.commands) == 1 and not node.negated:
                self.nodes(node.commands, local, positional)
            elif isinstance(node, Group) and not node.redirects and node.heredoc is None:
                self.nodes(node.body, dict(local) if node.subshell else local, positional)
            elif isinstance(node, For) and node.words:
                for item in self.fields(node.words, local, positional):
                    local[node.var] = item
                    self.nodes(node.body, local, positional)
            elif isinstance(node, Command) and not node.redirects and node.heredoc is None:
                self.command(node, local, positional)
            else:
                raise _Unknown

    def command(self, cmd: Command, local: dict[str, str],
                positional: list[str] | None) -> None:
        if all(_ASSIGNMENT.fullmatch(w.value) for w in cmd.words):
            for word in cmd.words:  # NAME=VALUE ...: set in turn, not split
                name, _, _ = word.value.partition("=")
                local[name] = self.value(word, local, positional).partition("=")[2]
            return
        argv = self.fields(cmd.words, local, positional)
        if not argv or argv[0] in (":", "true"):
            return
        name, args = argv[0], argv[1:]
        if name == "seq" and 1 <= len(args) <= 3 and all(re.fullmatch(r"-?[0-9]{1,6}", a)
                                                         for a in args):
            first, step, last = ([1, 1] + [int(a) for a in args])[-3:] if len(args) == 1 \
                else (int(args[0]), 1, int(args[1])) if len(args) == 2 \
                else (int(args[0]), int(args[1]), int(args[2]))
            if step == 0 or abs(last - first) // abs(step) > 10000:
                raise _Unknown
            numbers = range(first, last + (1 if step > 0 else -1), step)
            self.printed.append("".join(f"{n}\n" for n in numbers))
        elif name == "echo":
            newline = "\n"
            if args[:1] == ["-n"]:
                newline, args = "", args[1:]
            if any("\\" in a for a in args) or (args and re.fullmatch(r"-[neE]+", args[0])):
                raise _Unknown  # dash's echo interprets backslashes, bash's -e, -E
            self.printed.append(" ".join(args) + newline)
        elif name in self.ctx.defs and not cmd.words[0].quoted and name not in self.calls:
            definition = self.ctx.defs[name]
            self.calls = (*self.calls, name)
            body: list[Node] = list(definition.body.body) \
                if isinstance(definition.body, Group) else [definition.body]
            self.nodes(body, local, args)  # (a function's variables are the shell's)
            self.calls = self.calls[:-1]
        else:
            raise _Unknown

    def value(self, word: Word, local: dict[str, str], positional: list[str] | None) -> str:
        from rewrite.translate.context import word_value  # (it computes substitutions)
        inner = replace(self.ctx, subst={**self.ctx.subst, **local},
                        positional=positional if positional is not None
                        else self.ctx.positional)
        value = word_value(word, inner, self.depth + 1)
        if "$" in value or "`" in value:
            raise _Unknown
        return value

    def fields(self, words: list[Word], local: dict[str, str],
               positional: list[str] | None) -> list[str]:
        argv: list[str] = []
        for word in words:
            if any(c in word.value for c in "*?["):
                raise _Unknown  # (a glob: the files matter)
            value = self.value(word, local, positional)
            if word.expands and not word.quoted:
                argv += value.split()
            else:
                argv.append(value)
        return argv

