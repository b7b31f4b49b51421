"""A small reader for protobuf text format (Caffe's .prototxt), keeping every field's line and column."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Union

from alexgen.importers.draft import ImportFailed, Origin

_TOKEN = re.compile(r"""
    (?P<space>[ \t\r\f\v]+) | (?P<newline>\n) | (?P<comment>\#[^\n]*)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<number>[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)[fF]?)
  | (?P<word>[A-Za-z_][A-Za-z0-9_.]*) | (?P<punct>[:{}<>;,\[\]])
""", re.VERBOSE)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "'": "'", "\\": "\\"}

Value = Union[str, int, float, "Message"]


@dataclass
class Field:
    """One `name: value` or `name { ... }` with its position."""

    name: str
    value: Value
    line: int
    column: int
    kind: str  # "message", "string", "number" or "word" (enums and booleans)


@dataclass
class Message:
    """The fields of one message, in order (repeated fields appear several times)."""

    fields: list[Field]

    def all(self, name: str) -> list[Field]:
        """Every field called `name`."""
        return [f for f in self.fields if f.name == name]


@dataclass
class Token:
    """A lexical token and its position."""

    kind: str
    text: str
    line: int
    column: int


def tokens(text: str, file: str) -> list[Token]:
    """Split the text into tokens, refusing any character the format does not allow."""
    out, line, start, pos = [], 1, 0, 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise ImportFailed([Origin(file, line, pos - start + 1).problem(
                f"unexpected character {text[pos]!r}", "a deploy.prototxt is protobuf text format")])
        kind = match.lastgroup or ""
        if kind == "newline":
            line, start = line + 1, match.end()
        elif kind not in ("space", "comment"):
            out.append(Token(kind, match.group(), line, pos - start + 1))
        pos = match.end()
    return out


def unquote(text: str) -> str:
    """A quoted string's value (simple escapes only)."""
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), text[1:-1])


class _Parser:
    def __init__(self, items: list[Token], file: str) -> None:
        self.items, self.file, self.pos = items, file, 0

    def error(self, token: Token | None, message: str) -> ImportFailed:
        line, column = (token.line, token.column) if token else (self.items[-1].line if self.items else 1, 1)
        return ImportFailed([Origin(self.file, line, column).problem(message)])

    def peek(self) -> Token | None:
        return self.items[self.pos] if self.pos < len(self.items) else None

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise self.error(None, "unexpected end of file (a '}' is missing)")
        self.pos += 1
        return token

    def message(self, closing: str | None) -> Message:
        fields: list[Field] = []
        while True:
            token = self.peek()
            if token is None:
                if closing:
                    raise self.error(None, f"unexpected end of file: '{closing}' expected")
                return Message(fields)
            if closing and token.text == closing:
                self.pos += 1
                return Message(fields)
            if token.kind != "word":
                raise self.error(token, f"expected a field name, got {token.text!r}")
            fields.append(self.field(self.take()))
            if (sep := self.peek()) is not None and sep.text in (";", ","):
                self.pos += 1

    def field(self, name: Token) -> Field:
        token = self.take()
        if token.text == ":":
            token = self.take()
        if token.text in ("{", "<"):
            body = self.message("}" if token.text == "{" else ">")
            return Field(name.text, body, name.line, name.column, "message")
        if token.kind == "string":
            return Field(name.text, unquote(token.text), name.line, name.column, "string")
        if token.kind == "number":
            number = token.text.rstrip("fF")
            is_int = re.fullmatch(r"[-+]?\d+", number) is not None
            return Field(name.text, int(number) if is_int else float(number), name.line, name.column, "number")
        if token.kind == "word":
            return Field(name.text, token.text, name.line, name.column, "word")
        raise self.error(token, f"expected a value for '{name.text}', got {token.text!r}")


def parse(text: str, file: str) -> Message:
    """The top-level message of a prototxt file."""
    return _Parser(tokens(text, file), file).message(None)
