"""TOML files into validated pydantic models, with errors that name file, line and key.

`load_toml_model(path, Model, SomeError)` reads and parses a file with tomllib,
validates it with pydantic and turns the first problem into one line:

    SomeError("recipes/x.toml:7", "key 'lines[0].match': <expected>, got 'value'")
    SomeError("recipes/x.toml:3", "unknown key 'binary.x.dorp'")
    SomeError("recipes/x.toml:2", "not valid TOML: ...")

tomllib keeps no positions, so `key_line` finds them with a small scanner of
already-valid TOML: table headers (`[a."b.c"]`, `[[array.of.tables]]`, counted),
dotted and quoted keys (`"ca-certificates/trust_new_crts" = "yes"`), and the elements
of arrays and keys of inline tables, even across lines.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from base.errors import UnessentialError

M = TypeVar("M", bound=BaseModel)
E = TypeVar("E", bound=UnessentialError)

Loc = tuple[str | int, ...]

_BARE = re.compile(r"[A-Za-z0-9_-]+")
_SCALAR = re.compile(r"\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d[^\s,\]}#]*|[^\s,\]}#]+")
_TOML_POSITION = re.compile(r"\(at (?:line (\d+), column \d+|end of document)\)")


def read_toml(path: Path, error: type[E]) -> tuple[str, dict[str, Any]]:
    """The text and the parsed content of a TOML file; `error` if unreadable or invalid."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise error(str(path), f"cannot read: {exc}") from exc
    return text, parse_toml(text, str(path), error)


def parse_toml(text: str, origin: str, error: type[E]) -> dict[str, Any]:
    """Parse TOML `text`; a syntax error names `origin` and, when known, the line."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        where = origin
        if match := _TOML_POSITION.search(message):
            line = match.group(1) if match.group(1) else str(max(1, len(text.splitlines())))
            where = f"{origin}:{line}"
            message = (message[: match.start()] + message[match.end():]).strip()
        raise error(where, f"not valid TOML: {message}") from exc


def load_toml_model(path: Path, model: type[M], error: type[E]) -> M:
    """Read, parse and validate `path` as `model`; any problem raises one-line `error`."""
    text, raw = read_toml(path, error)
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise describe_validation_error(exc, str(path), text, error) from exc


def dotted(loc: Sequence[str | int]) -> str:
    """`('lines', 0, 'match')` -> `lines[0].match`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def locate(text: str, origin: str, loc: Sequence[str | int]) -> str:
    """`origin:line` of the key `loc` in `text`, or `origin` if it cannot be found."""
    line = key_line(text, tuple(loc)) if text else None
    return f"{origin}:{line}" if line else origin


def located_error(
    error: type[E], text: str, origin: str, loc: Sequence[str | int], problem: str
) -> E:
    """`error("origin:line", "key 'a.b': problem")` for a problem found after validation."""
    return error(locate(text, origin, loc), f"key '{dotted(loc)}': {problem}")


def describe_validation_error(
    exc: ValidationError, origin: str, text: str, error: type[E]
) -> E:
    """The first error of a pydantic validation as one line naming file:line and key."""
    first = exc.errors()[0]
    loc = tuple(first["loc"])
    where = locate(text, origin, loc)
    if first["type"] == "extra_forbidden":
        return error(where, f"unknown key '{dotted(loc)}'")
    expected = first["msg"].removeprefix("Value error, ")
    got = first.get("input")
    shown = f", got {got!r}" if got is not None and not isinstance(got, dict | list) else ""
    return error(where, f"key '{dotted(loc)}': {expected}{shown}")


def key_line(text: str, loc: Loc) -> int | None:
    """Best effort: the line where `loc` is set in valid TOML `text`.

    An exact key wins; otherwise the deepest enclosing key or table that is set
    (a missing key is reported at its table); otherwise the first key inside `loc`.
    """
    if not loc:
        return None
    try:
        positions = _Scanner(text).scan()
    except (IndexError, ValueError, tomllib.TOMLDecodeError):
        return None
    best: tuple[int, int] | None = None  # (depth, line)
    inner: int | None = None
    for path, line in positions:
        if path == loc:
            return line
        if len(path) < len(loc) and loc[: len(path)] == path:
            if best is None or len(path) > best[0]:
                best = (len(path), line)
        elif len(path) > len(loc) and path[: len(loc)] == loc and inner is None:
            inner = line
    if best is not None and best[0] > 0:
        return best[1]
    return inner


class _Scanner:
    """Walks valid TOML, recording the line of every key, header and array element."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.line = 1
        self.found: list[tuple[Loc, int]] = []
        self.table: Loc = ()
        self.arrays: dict[tuple[str, ...], int] = {}  # array-of-tables path -> count

    def scan(self) -> list[tuple[Loc, int]]:
        while self._skip_blank_lines():
            char = self.text[self.pos]
            if self.text.startswith("[[", self.pos):
                self.pos += 2
                keys = self._key()
                self._expect("]]")
                self._array_header(keys)
            elif char == "[":
                self.pos += 1
                keys = self._key()
                self._expect("]")
                self.table = self._resolve(keys)
                self.found.append((self.table, self.line))
            else:
                keys = self._key()
                self._expect("=")
                path = (*self.table, *keys)
                self.found.append((path, self.line))
                self._value(path)
            self._skip_space()
        return self.found

    # -- structure -------------------------------------------------------------

    def _resolve(self, keys: list[str]) -> Loc:
        """Header keys to a full location, through the latest element of each array."""
        out: list[str | int] = []
        for i, key in enumerate(keys):
            out.append(key)
            count = self.arrays.get(tuple(keys[: i + 1]))
            if count:
                out.append(count - 1)
        return tuple(out)

    def _array_header(self, keys: list[str]) -> None:
        name = tuple(keys)
        for other in [k for k in self.arrays if len(k) > len(name) and k[: len(name)] == name]:
            del self.arrays[other]
        parent = self._resolve(keys[:-1])
        count = self.arrays.get(name, 0)
        self.arrays[name] = count + 1
        if count == 0:
            self.found.append(((*parent, keys[-1]), self.line))
        self.table = (*parent, keys[-1], count)
        self.found.append((self.table, self.line))

    def _value(self, path: Loc) -> None:
        self._skip_space()
        char = self.text[self.pos]
        if char == "[":
            self.pos += 1
            index = 0
            while True:
                self._skip_space(newlines=True)
                if self.text[self.pos] == "]":
                    self.pos += 1
                    return
                self.found.append(((*path, index), self.line))
                self._value((*path, index))
                index += 1
                self._skip_space(newlines=True)
                if self.text[self.pos] == ",":
                    self.pos += 1
        elif char == "{":
            self.pos += 1
            while True:
                self._skip_space()
                if self.text[self.pos] == "}":
                    self.pos += 1
                    return
                keys = self._key()
                self._expect("=")
                self.found.append(((*path, *keys), self.line))
                self._value((*path, *keys))
                self._skip_space()
                if self.text[self.pos] == ",":
                    self.pos += 1
        elif char in "\"'":
            self._string()
        else:
            match = _SCALAR.match(self.text, self.pos)
            if not match:
                raise ValueError(f"no value at {self.pos}")
            self.pos = match.end()

    # -- lexical ---------------------------------------------------------------

    def _key(self) -> list[str]:
        keys = []
        while True:
            self._skip_space()
            char = self.text[self.pos]
            if char in "\"'":
                start = self.pos
                self._string()
                keys.append(tomllib.loads(f"k = {self.text[start:self.pos]}")["k"])
            else:
                match = _BARE.match(self.text, self.pos)
                if not match:
                    raise ValueError(f"no key at {self.pos}")
                keys.append(match.group())
                self.pos = match.end()
            self._skip_space()
            if self.text[self.pos] != ".":
                return keys
            self.pos += 1

    def _string(self) -> None:
        quote = self.text[self.pos]
        triple = quote * 3
        if self.text.startswith(triple, self.pos):
            end = self.pos + 3
            while True:
                end = self.text.index(triple, end)
                if quote == '"' and _escaped(self.text, end):
                    end += 1
                    continue
                break
            while self.text.startswith(quote, end + 3):  # up to two quotes end the content
                end += 1
            self.line += self.text.count("\n", self.pos, end)
            self.pos = end + 3
            return
        end = self.pos + 1
        while True:
            end = self.text.index(quote, end)
            if quote == '"' and _escaped(self.text, end):
                end += 1
                continue
            break
        self.pos = end + 1

    def _expect(self, token: str) -> None:
        self._skip_space()
        if not self.text.startswith(token, self.pos):
            raise ValueError(f"expected {token!r} at {self.pos}")
        self.pos += len(token)

    def _skip_space(self, newlines: bool = False) -> None:
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char in " \t\r":
                self.pos += 1
            elif char == "#":
                end = self.text.find("\n", self.pos)
                self.pos = len(self.text) if end < 0 else end
            elif char == "\n" and newlines:
                self.pos += 1
                self.line += 1
            else:
                return

    def _skip_blank_lines(self) -> bool:
        self._skip_space(newlines=True)
        return self.pos < len(self.text)


def _escaped(text: str, index: int) -> bool:
    """Whether the character at `index` is preceded by an odd number of backslashes."""
    count = 0
    while index - 1 - count >= 0 and text[index - 1 - count] == "\\":
        count += 1
    return count % 2 == 1
