"""`${...}` expressions: a tokenizer and recursive-descent evaluator for integer arithmetic on parameter names.

The grammar is `expr := term (('+' | '-') term)*`, `term := unary (('*' | '//' | '%') unary)*`,
`unary := ('+' | '-') unary | atom`, `atom := INT | NAME | '(' expr ')'`. Nothing else is read: no attribute
access, calls, indexing, strings or floats, and Python's eval is never involved.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MAX_EXPRESSION = 200  # characters inside one ${...}
MAX_MAGNITUDE = 10**15  # far beyond any size a spec allows, small enough to stay exact everywhere
MAX_NESTING = 20  # parentheses and unary signs

_TOKEN = re.compile(r"\s*(?:(?P<int>\d+)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<op>//|[-+*%()])|(?P<bad>\S))")
_WORDS = {
    ".": "attribute access is not allowed",
    "[": "indexing is not allowed",
    "/": "use // for division",
    "'": "strings are not allowed",
    '"': "strings are not allowed",
    "*": "'**' is not allowed",
}


class ExprError(Exception):
    """A problem in an expression, at a character offset inside it."""

    def __init__(self, message: str, offset: int = 0, hint: str | None = None) -> None:
        self.offset = offset
        self.hint = hint
        super().__init__(message)


@dataclass(frozen=True)
class Token:
    """One token: kind (int, name, op, end), its text and offset."""

    kind: str
    text: str
    offset: int


def tokenize(text: str) -> list[Token]:
    """Split an expression into tokens, refusing any character outside the grammar."""
    if len(text) > MAX_EXPRESSION:
        raise ExprError(f"the expression is longer than {MAX_EXPRESSION} characters")
    tokens, position = [], 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:  # only trailing whitespace is left
            break
        kind = match.lastgroup or "bad"
        offset = match.start(kind)
        if kind == "bad":
            char = match.group("bad")
            raise ExprError(
                f"unexpected {char!r}",
                offset,
                _WORDS.get(char, "only integers, parameter names, + - * // % and parentheses are allowed"),
            )
        if kind == "int" and len(match.group("int")) > 16:
            raise ExprError("the number is too large", offset)
        tokens.append(Token(kind, match.group(kind), offset))
        position = match.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


class _Parser:
    """Evaluates while parsing; `lookup(name, offset)` gives a parameter's value."""

    def __init__(self, text: str, lookup: Callable[[str, int], Any]) -> None:
        self.tokens = tokenize(text)
        self.position = 0
        self.depth = 0
        self.lookup = lookup

    @property
    def token(self) -> Token:
        return self.tokens[self.position]

    def take(self) -> Token:
        token = self.token
        self.position += 1
        return token

    def parse(self) -> Any:
        if self.token.kind == "end":
            raise ExprError("the expression is empty", 0, "write a parameter name, e.g. ${num_classes}")
        value = self.expr()
        if self.token.kind != "end":
            raise ExprError(f"unexpected {self.token.text!r}", self.token.offset, _follow_hint(self.token.text))
        return value

    def expr(self) -> Any:
        value = self.term()
        while self.token.text in {"+", "-"}:
            op = self.take()
            value = _apply(op, value, self.term())
        return value

    def term(self) -> Any:
        value = self.unary()
        while self.token.text in {"*", "//", "%"}:
            op = self.take()
            value = _apply(op, value, self.unary())
        return value

    def unary(self) -> Any:
        if self.token.text in {"+", "-"}:
            op = self.take()
            self.enter(op)
            value = _apply(op, 0, self.unary())
            self.depth -= 1
            return value
        return self.atom()

    def enter(self, token: Token) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise ExprError(f"the expression nests deeper than {MAX_NESTING} levels", token.offset)

    def atom(self) -> Any:
        token = self.take()
        if token.kind == "int":
            return int(token.text)
        if token.kind == "name":
            if self.token.text == "(":
                raise ExprError(
                    f"calls are not allowed ('{token.text}(...)')",
                    self.token.offset,
                    "only integers, parameter names, + - * // % and parentheses are allowed",
                )
            return self.lookup(token.text, token.offset)
        if token.text == "(":
            self.enter(token)
            value = self.expr()
            if self.token.text != ")":
                raise ExprError("missing ')'", self.token.offset)
            self.take()
            self.depth -= 1
            return value
        what = "the end of the expression" if token.kind == "end" else repr(token.text)
        hint = "'**' is not allowed" if token.text == "*" else "expected a number, a parameter name or '('"
        raise ExprError(f"unexpected {what}", token.offset, hint)


def _follow_hint(text: str) -> str | None:
    return "calls are not allowed" if text == "(" else None


def _apply(op: Token, left: Any, right: Any) -> int:
    """One integer operation, refusing non-integers, division by zero and huge results."""
    for value in (left, right):
        if type(value) is not int:
            kind = {bool: "a boolean", float: "a number with a fraction", str: "a string"}.get(type(value), "a value")
            raise ExprError(
                f"'{op.text}' needs integers, got {kind} ({value!r})",
                op.offset,
                "arithmetic is on integers only; use the parameter alone, e.g. ${dropout}",
            )
    if op.text in {"//", "%"} and right == 0:
        raise ExprError("division by zero", op.offset)
    result: int = {
        "+": lambda: left + right,
        "-": lambda: left - right,
        "*": lambda: left * right,
        "//": lambda: left // right,
        "%": lambda: left % right,
    }[op.text]()
    if abs(result) > MAX_MAGNITUDE:
        raise ExprError(f"the value exceeds {MAX_MAGNITUDE:.0e}", op.offset)
    return result


def evaluate(text: str, lookup: Callable[[str, int], Any]) -> Any:
    """The value of an expression; a lone name keeps its parameter's type, arithmetic gives an int."""
    return _Parser(text, lookup).parse()


def names(text: str) -> list[str]:
    """Parameter names an expression mentions, in order (an expression that does not tokenize mentions none)."""
    try:
        return [t.text for t in tokenize(text) if t.kind == "name"]
    except ExprError:
        return []


_PLACE = re.compile(r"\$\$\{|\$\{([^{}]*)\}")


@dataclass(frozen=True)
class Piece:
    """A `${...}` placeholder in a string: the expression text and its offset in the string."""

    text: str
    offset: int


def split(template: str) -> list[str | Piece]:
    """Literal text and placeholders, in order; `$${` is a literal `${`."""
    parts: list[str | Piece] = []
    position = 0
    for match in [*_PLACE.finditer(template), None]:
        gap = template[position : match.start() if match else len(template)]
        if "${" in gap:
            raise ExprError(
                "'${' without a matching '}'", position + gap.index("${"), "write ${name}, or $${ for a literal '${'"
            )
        parts.append(gap)
        if match is None:
            break
        if match.group(0) == "$${":
            parts.append("${")
        else:
            parts.append(Piece(match.group(1), match.start(1)))
        position = match.end()
    return [p for p in parts if p != ""]


def has_placeholder(value: Any) -> bool:
    """Whether a value is a string with a `${` in it."""
    return isinstance(value, str) and "${" in value
