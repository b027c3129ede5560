"""A parser for the POSIX sh found in maintainer scripts (pure functions).

It reads the subset that maintainer scripts use — simple commands with quoting and
redirections, `&&`/`||`/`|`/`!`, `if`/`elif`/`else`, `case`, `for`, `while`/`until`,
`( ... )`, `{ ...; }`, function definitions and here-documents — into a small tree
that `rewrite.translate` walks. Every node keeps its line number so that a
line we cannot translate is reported where it stands.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_DEPTH = 40  # nested compound commands: maintainer scripts use a handful
OPERATORS = ("&&", "||", ";;", "<<-", "<<", ">>", ">&", "<&", "|", "&", ";", "(", ")", "<", ">")
RESERVED_END = {"then", "elif", "else", "fi", "do", "done", "esac", "}", ";;"}


class ShellSyntaxError(ValueError):
    def __init__(self, line: int, message: str) -> None:
        self.line = line
        super().__init__(f"line {line}: {message}")


@dataclass(frozen=True)
class Word:
    raw: str  # as written, quotes included
    value: str  # quotes removed (expansions left as text)
    expands: bool  # contains $ or ` outside single quotes
    quoted: bool  # any part was quoted


@dataclass(frozen=True)
class Token:
    kind: str  # "word", "op", "newline", "eof"
    text: str
    line: int
    word: Word | None = None


@dataclass
class Command:
    words: list[Word]
    redirects: list[str]
    line: int
    heredoc: str | None = None

    @property
    def name(self) -> str:
        return self.words[0].value if self.words else ""

    @property
    def argv(self) -> list[str]:
        return [w.value for w in self.words]

    def text(self) -> str:
        return " ".join([w.raw for w in self.words] + self.redirects)


@dataclass
class Pipeline:
    commands: list[Node]
    negated: bool
    line: int


@dataclass
class AndOr:
    first: Pipeline
    rest: list[tuple[str, Pipeline]]
    line: int


@dataclass
class If:
    branches: list[tuple[list[AndOr], list[Node]]]
    orelse: list[Node] | None
    line: int
    end: int = 0


@dataclass
class CaseItem:
    patterns: list[Word]
    body: list[Node]
    line: int


@dataclass
class Case:
    word: Word
    items: list[CaseItem]
    line: int
    end: int = 0


@dataclass
class For:
    var: str
    words: list[Word]
    body: list[Node]
    line: int


@dataclass
class Loop:
    until: bool
    cond: list[Node]
    body: list[Node]
    line: int


@dataclass
class Group:
    body: list[Node]
    subshell: bool
    line: int
    redirects: list[str] = field(default_factory=list)
    heredoc: str | None = None


@dataclass
class Function:
    name: str
    body: Node
    line: int


Node = Command | Pipeline | AndOr | If | Case | For | Loop | Group | Function


# -- tokenizer -------------------------------------------------------------------------
class _Lexer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.line = 1
        self.pending_heredocs: list[tuple[str, bool, list[str]]] = []
        self.heredoc_bodies: list[list[str]] = []

    def error(self, message: str) -> ShellSyntaxError:
        return ShellSyntaxError(self.line, message)

    def tokens(self) -> list[Token]:
        out: list[Token] = []
        text = self.text
        while True:
            self._skip_blanks()
            if self.pos >= len(text):
                out.append(Token("eof", "", self.line))
                return out
            char = text[self.pos]
            if char == "#":
                while self.pos < len(text) and text[self.pos] != "\n":
                    self.pos += 1
                continue
            if char == "\n":
                out.append(Token("newline", "\n", self.line))
                self.pos += 1
                self.line += 1
                if self.pending_heredocs:
                    self._read_heredocs()
                continue
            op = next((o for o in OPERATORS if text.startswith(o, self.pos)), None)
            if op is not None:
                out.append(Token("op", op, self.line))
                self.pos += len(op)
                if op in ("<<", "<<-"):
                    self._skip_blanks()
                    start_line = self.line
                    delim = self._word()
                    body: list[str] = []
                    self.pending_heredocs.append((delim.value, op == "<<-", body))
                    out.append(Token("heredoc", delim.value, start_line, delim))
                    self.heredoc_bodies.append(body)
                continue
            start_line = self.line
            word = self._word()
            out.append(Token("word", word.raw, start_line, word))

    def _skip_blanks(self) -> None:
        text = self.text
        while self.pos < len(text):
            if text[self.pos] in " \t":
                self.pos += 1
            elif text.startswith("\\\n", self.pos):
                self.pos += 2
                self.line += 1
            else:
                break

    def _read_heredocs(self) -> None:
        for delim, strip, body in self.pending_heredocs:
            while True:
                if self.pos >= len(self.text):
                    raise self.error(f"here-document ended by end of file, not {delim!r}")
                end = self.text.find("\n", self.pos)
                end = len(self.text) if end == -1 else end
                line = self.text[self.pos:end]
                self.pos = min(end + 1, len(self.text))
                self.line += 1
                check = line.lstrip("\t") if strip else line
                if check == delim:
                    break
                body.append(check)
        self.pending_heredocs = []

    def _word(self) -> Word:
        text = self.text
        raw: list[str] = []
        value: list[str] = []
        expands = False
        quoted = False
        while self.pos < len(text):
            char = text[self.pos]
            if char in " \t\n" or any(text.startswith(o, self.pos) for o in OPERATORS):
                break
            if char == "\\":
                if text.startswith("\\\n", self.pos):
                    self.pos += 2
                    self.line += 1
                    continue
                raw.append(text[self.pos:self.pos + 2])
                value.append(text[self.pos + 1:self.pos + 2])
                self.pos += 2
                quoted = True
                continue
            if char == "'":
                end = text.find("'", self.pos + 1)
                if end == -1:
                    raise self.error("unterminated single quote")
                chunk = text[self.pos:end + 1]
                self.line += chunk.count("\n")
                raw.append(chunk)
                value.append(chunk[1:-1])
                self.pos = end + 1
                quoted = True
                continue
            if char == '"':
                chunk, inner = self._double_quoted()
                raw.append(chunk)
                value.append(inner)
                expands = expands or "$" in inner or "`" in inner
                quoted = True
                continue
            if char == "`":
                chunk = self._until_backquote()
                raw.append(chunk)
                value.append(chunk)
                expands = True
                continue
            if char == "$" and text.startswith("$(", self.pos):
                chunk = self._balanced("(", ")")
                raw.append(chunk)
                value.append(chunk)
                expands = True
                continue
            if char == "$" and text.startswith("${", self.pos):
                chunk = self._balanced("{", "}")
                raw.append(chunk)
                value.append(chunk)
                expands = True
                continue
            if char == "$":
                expands = True
            raw.append(char)
            value.append(char)
            self.pos += 1
        if not raw:
            raise self.error(f"unexpected character {text[self.pos:self.pos + 1]!r}")
        return Word("".join(raw), "".join(value), expands, quoted)

    def _double_quoted(self) -> tuple[str, str]:
        text = self.text
        start = self.pos
        self.pos += 1
        inner: list[str] = []
        while self.pos < len(text):
            char = text[self.pos]
            if char == "\\" and self.pos + 1 < len(text) and text[self.pos + 1] in '$`"\\\n':
                if text[self.pos + 1] == "\n":
                    self.line += 1
                else:
                    inner.append(text[self.pos + 1])
                self.pos += 2
                continue
            if char == '"':
                self.pos += 1
                return text[start:self.pos], "".join(inner)
            if char == "`":
                inner.append(self._until_backquote())
                continue
            if text.startswith("$(", self.pos):
                inner.append(self._balanced("(", ")"))
                continue
            if char == "\n":
                self.line += 1
            inner.append(char)
            self.pos += 1
        raise self.error("unterminated double quote")

    def _until_backquote(self) -> str:
        end = self.text.find("`", self.pos + 1)
        if end == -1:
            raise self.error("unterminated backquote")
        chunk = self.text[self.pos:end + 1]
        self.line += chunk.count("\n")
        self.pos = end + 1
        return chunk

    def _skip_double_quoted(self) -> None:
        """Past a double-quoted string inside a command substitution."""
        text = self.text
        self.pos += 1
        while self.pos < len(text):
            char = text[self.pos]
            if char == "\\":
                self.pos += 2
                continue
            if char == '"':
                self.pos += 1
                return
            if char == "`":
                self._until_backquote()
                continue
            if text.startswith("$(", self.pos):
                self._balanced("(", ")")
                continue
            if char == "\n":
                self.line += 1
            self.pos += 1
        raise self.error("unterminated double quote")

    def _balanced(self, open_: str, close: str) -> str:
        text = self.text
        start = self.pos
        self.pos += 2
        depth = 1
        while self.pos < len(text):
            char = text[self.pos]
            if char == "\\":
                self.pos += 2
                continue
            if char == "'" and open_ == "(":
                end = text.find("'", self.pos + 1)
                self.line += text.count("\n", self.pos, max(end, self.pos))
                self.pos = (end if end != -1 else len(text)) + 1
                continue
            if char == '"' and open_ == "(":  # a ' or ) inside "..." is a character
                self._skip_double_quoted()
                continue
            if char == "\n":
                self.line += 1
            if char == open_:
                depth += 1
            elif char == close:
                depth -= 1
                if depth == 0:
                    self.pos += 1
                    return text[start:self.pos]
            self.pos += 1
        raise self.error(f"unterminated ${open_}")


# -- parser ------------------------------------------------------------------------------
class _Parser:
    def __init__(self, tokens: list[Token], heredocs: list[list[str]]) -> None:
        self.tokens = tokens
        self.i = 0
        self.heredocs = heredocs
        self.heredoc_index = 0
        self.depth = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def next(self) -> Token:
        token = self.tokens[self.i]
        if token.kind != "eof":  # never step past the end
            self.i += 1
        return token

    def is_word(self, *values: str) -> bool:
        return self.tok.kind == "word" and (not values or self.tok.text in values)

    def is_op(self, *values: str) -> bool:
        return self.tok.kind == "op" and self.tok.text in values

    def expect_word(self, value: str) -> Token:
        if not self.is_word(value):
            raise ShellSyntaxError(self.tok.line, f"expected {value!r}, found {self.tok.text!r}")
        return self.next()

    def skip_newlines(self) -> None:
        while self.tok.kind == "newline" or self.is_op(";"):
            self.next()

    def program(self) -> list[Node]:
        body = self.compound_list(stop=set())
        if self.tok.kind != "eof":
            raise ShellSyntaxError(self.tok.line, f"unexpected {self.tok.text!r}")
        return body

    def compound_list(self, stop: set[str]) -> list[Node]:
        nodes: list[Node] = []
        while True:
            self.skip_newlines()
            if self.tok.kind == "eof":
                return nodes
            if self.tok.kind == "word" and self.tok.text in stop:
                return nodes
            if self.is_op(";;", ")"):
                return nodes
            if self.tok.kind == "word" and self.tok.text in RESERVED_END:
                return nodes
            nodes.append(self.and_or())
            if self.is_op("&"):
                self.next()

    def and_or(self) -> AndOr:
        line = self.tok.line
        first = self.pipeline()
        rest: list[tuple[str, Pipeline]] = []
        while self.is_op("&&", "||"):
            op = self.next().text
            while self.tok.kind == "newline":
                self.next()
            rest.append((op, self.pipeline()))
        return AndOr(first, rest, line)

    def pipeline(self) -> Pipeline:
        line = self.tok.line
        negated = False
        if self.is_word("!"):
            self.next()
            negated = True
        commands = [self.command()]
        while self.is_op("|"):
            self.next()
            while self.tok.kind == "newline":
                self.next()
            commands.append(self.command())
        return Pipeline(commands, negated, line)

    def command(self) -> Node:
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise ShellSyntaxError(self.tok.line,
                                       f"compound commands nested more than {MAX_DEPTH} deep")
            return self._command()
        finally:
            self.depth -= 1

    def _command(self) -> Node:
        line = self.tok.line
        if self.is_word("if"):
            return self.if_clause()
        if self.is_word("case"):
            return self.case_clause()
        if self.is_word("for"):
            return self.for_clause()
        if self.is_word("while", "until"):
            until = self.next().text == "until"
            cond = self.compound_list({"do"})
            self.expect_word("do")
            body = self.compound_list({"done"})
            self.expect_word("done")
            return Loop(until, cond, body, line)
        if self.is_op("("):
            self.next()
            body = self.compound_list(set())
            if not self.is_op(")"):
                raise ShellSyntaxError(self.tok.line, "expected ')'")
            self.next()
            group = Group(body, True, line)
            self._redirects(group)
            return group
        if self.is_word("{"):
            self.next()
            body = self.compound_list({"}"})
            self.expect_word("}")
            group = Group(body, False, line)
            self._redirects(group)
            return group
        if (self.tok.kind == "word" and self.tokens[self.i + 1].kind == "op"
                and self.tokens[self.i + 1].text == "("
                and self.tokens[self.i + 2].kind == "op" and self.tokens[self.i + 2].text == ")"):
            name = self.next().text
            self.next()
            self.next()
            while self.tok.kind == "newline":
                self.next()
            return Function(name, self.command(), line)
        return self.simple_command()

    def _redirects(self, node: Group | Command) -> None:
        while self.is_op(">", ">>", "<", ">&", "<&", "<<", "<<-"):
            op = self.next().text
            if op in ("<<", "<<-"):
                self.next()  # the heredoc token
                node.heredoc = "\n".join(self.heredocs[self.heredoc_index])
                self.heredoc_index += 1
                continue
            if self.tok.kind != "word":
                raise ShellSyntaxError(self.tok.line, f"missing target after {op}")
            node.redirects.append(op + self.next().text)

    def simple_command(self) -> Command:
        line = self.tok.line
        command = Command([], [], line)
        while True:
            if self.tok.kind == "word":
                token = self.next()
                assert token.word is not None
                # an IO number glued to a redirection: 2>/dev/null, 2>&1
                if token.text.isdigit() and self.is_op(">", ">>", "<", ">&", "<&"):
                    op = self.next().text
                    target = self.next().text if self.tok.kind == "word" else ""
                    command.redirects.append(token.text + op + target)
                    continue
                command.words.append(token.word)
                continue
            if self.is_op(">", ">>", "<", ">&", "<&", "<<", "<<-"):
                self._redirects(command)
                continue
            break
        if not command.words and not command.redirects and command.heredoc is None:
            raise ShellSyntaxError(line, f"unexpected {self.tok.text!r}")
        return command

    def if_clause(self) -> If:
        line = self.expect_word("if").line
        branches: list[tuple[list[AndOr], list[Node]]] = []
        cond = self._cond({"then"})
        self.expect_word("then")
        branches.append((cond, self.compound_list({"elif", "else", "fi"})))
        orelse = None
        while self.is_word("elif"):
            self.next()
            cond = self._cond({"then"})
            self.expect_word("then")
            branches.append((cond, self.compound_list({"elif", "else", "fi"})))
        if self.is_word("else"):
            self.next()
            orelse = self.compound_list({"fi"})
        end = self.expect_word("fi").line
        return If(branches, orelse, line, end)

    def _cond(self, stop: set[str]) -> list[AndOr]:
        nodes = self.compound_list(stop)
        return [n for n in nodes if isinstance(n, AndOr)]

    def case_clause(self) -> Case:
        line = self.expect_word("case").line
        if self.tok.kind != "word" or self.tok.word is None:
            raise ShellSyntaxError(self.tok.line, "case without a word")
        word = self.next().word
        assert word is not None
        while self.tok.kind == "newline":
            self.next()
        self.expect_word("in")
        items: list[CaseItem] = []
        while True:
            self.skip_newlines()
            if self.is_word("esac"):
                end = self.next().line
                return Case(word, items, line, end)
            item_line = self.tok.line
            if self.is_op("("):
                self.next()
            patterns: list[Word] = []
            while True:
                if self.tok.kind != "word" or self.tok.word is None:
                    raise ShellSyntaxError(self.tok.line, "expected a case pattern")
                patterns.append(self.next().word)  # type: ignore[arg-type]
                if self.is_op("|"):
                    self.next()
                    continue
                break
            if not self.is_op(")"):
                raise ShellSyntaxError(self.tok.line, "expected ')' after case pattern")
            self.next()
            body = self.compound_list({"esac"})
            items.append(CaseItem(patterns, body, item_line))
            if self.is_op(";;"):
                self.next()
            elif not self.is_word("esac"):
                raise ShellSyntaxError(self.tok.line, "expected ';;' or 'esac'")

    def for_clause(self) -> For:
        line = self.expect_word("for").line
        if self.tok.kind != "word":
            raise ShellSyntaxError(self.tok.line, "for without a variable name")
        var = self.next().text
        words: list[Word] = []
        while self.tok.kind == "newline":
            self.next()
        if self.is_word("in"):
            self.next()
            while self.tok.kind == "word" and self.tok.word is not None:
                words.append(self.next().word)  # type: ignore[arg-type]
        self.skip_newlines()
        self.expect_word("do")
        body = self.compound_list({"done"})
        self.expect_word("done")
        return For(var, words, body, line)


def parse(text: str) -> list[Node]:
    """Parse a shell script; raise ShellSyntaxError with a line number."""
    lexer = _Lexer(text)
    tokens = lexer.tokens()
    if lexer.pending_heredocs:
        lexer._read_heredocs()
    return _Parser(tokens, lexer.heredoc_bodies).program()


def word_of(raw: str) -> Word:
    """The word `raw` is (a redirection's target, kept as written): quotes removed."""
    lexer = _Lexer(raw)
    word = lexer._word()
    if lexer.pos != len(raw):
        raise ShellSyntaxError(1, f"not one word: {raw!r}")
    return word
