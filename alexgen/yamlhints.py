"""Hints for PyYAML's syntax errors: what the user most likely did (a missing space, an indentation slip, ...)."""

from __future__ import annotations

import re

import yaml

_NO_SPACE = re.compile(r"^\s*(?:-\s+)*([A-Za-z_][\w-]*):(?=[^\s:/])(\S*)")
_FLOW = {"while parsing a flow sequence": ("[", "]"), "while parsing a flow mapping": ("{", "}")}
TAB_HINT = "YAML indents with spaces, never tabs"


def _position(mark: yaml.Mark | None) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark else "earlier"


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _missing_space(lines: list[str], upto: int) -> str | None:
    """A `key:value` (no space after the colon) on line `upto` or the line before it."""
    for number in (upto, upto - 1):
        if 0 <= number < len(lines):
            found = _NO_SPACE.match(lines[number])
            if found:
                key, value = found.groups()
                return f"line {number + 1} has `{key}:{value}`: a key needs a space after its colon (`{key}: {value}`)"
    return None


def _previous_content(lines: list[str], number: int) -> int | None:
    """The number of the last line before `number` that holds more than blanks or a comment."""
    for before in range(number - 1, -1, -1):
        if lines[before].strip() and not lines[before].lstrip().startswith("#"):
            return before
    return None


def _indented_more(lines: list[str], number: int) -> str | None:
    """A line indented deeper than the line before it, which opened no block (it has a value)."""
    before = _previous_content(lines, number)
    if before is None or number >= len(lines) or _indent(lines[number]) <= _indent(lines[before]):
        return None
    if lines[before].rstrip().endswith(":"):
        return None
    return (
        f"line {number + 1} is indented more than line {before + 1}: the keys of one mapping must start in "
        "the same column"
    )


def syntax_hint(exc: yaml.MarkedYAMLError, text: str) -> str | None:
    """What the user most likely did wrong, for the common syntax errors; None when there is no good guess."""
    problem, context = exc.problem or "", exc.context or ""
    lines = text.splitlines()
    mark = exc.problem_mark
    number = mark.line if mark else 0
    if "'\\t'" in problem:
        return TAB_HINT
    if context == "while scanning a quoted scalar":
        opened = exc.context_mark
        quote = lines[opened.line][opened.column] if opened and opened.line < len(lines) else "quote"
        return f"the `{quote}` opened at {_position(opened)} is never closed: add the closing `{quote}`"
    if context in _FLOW:
        opening, closing = _FLOW[context]
        return (
            f"the `{opening}` opened at {_position(exc.context_mark)} is not closed before this point: "
            f"add the missing `{closing}`, or a missing comma between two entries"
        )
    if context == "while parsing a flow node":
        return "a `[` or `{` is never closed: add the missing `]` or `}`"
    if context == "while scanning a simple key":
        start = exc.context_mark.line if exc.context_mark else number
        return _missing_space(lines, start) or "each line of a mapping is `key: value`, with a space after the colon"
    if problem == "mapping values are not allowed here":
        return (
            _missing_space(lines, number) or _indented_more(lines, number) or "a `: ` inside a value: quote the value"
        )
    if problem.startswith("expected <block end>"):
        block = exc.context_mark.line + 1 if exc.context_mark else number
        return (
            f"inconsistent indentation: line {number + 1} does not line up with the block that starts on line "
            f"{block}; the keys of one mapping (and the `-` of one list) must start in the same column"
        )
    return None


_KEY_VALUE = re.compile(r"^([A-Za-z_][\w-]*):(\S.*)$")


def colon_slip(text: object) -> str | None:
    """A hint when a key or value reads `key:value`: YAML took it for one word because the space is missing."""
    found = _KEY_VALUE.match(text) if isinstance(text, str) else None
    if found is None:
        return None
    key, value = found.groups()
    return f"a key needs a space after its colon: `{key}: {value}`, not `{key}:{value}`"
