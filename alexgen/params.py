"""`params:` declarations, their values (defaults, variants' defaults, --set) and `${...}` substitution."""

from __future__ import annotations

import builtins
import keyword
import re
from dataclasses import dataclass, field
from typing import Any

from alexgen.diagnostics import Diagnostic
from alexgen.expr import ExprError, Piece, evaluate, split
from alexgen.loader import Path_
from alexgen.tree import PNode, Where, diagnostic, shown, suggest

MAX_PARAMS = 100
MAX_TEXT = 10_000  # characters a `${...}` substitution may produce: parameters that repeat text grow exponentially
NAME = re.compile(r"^[a-z][a-z0-9_]*$")
TYPES: dict[type, str] = {bool: "bool", int: "int", float: "float", str: "str"}
# keys of a spec file's top level: a parameter of the same name would make `--set NAME=...` ambiguous
RESERVED = frozenset(
    {
        "alexgen",
        "name",
        "description",
        "input_shape",
        "layers",
        "training",
        "params",
        "extends",
        "replace",
        "update",
        "remove",
        "insert_before",
        "insert_after",
        "self",
        "model",
        "input",
    }
)


@dataclass
class Param:
    """One parameter: its type, default, value in this resolution, and the resolved fields it flows into."""

    name: str
    type: str
    default: Any
    value: Any
    declared_at: Where
    fields: list[Path_] = field(default_factory=list)
    expression: str | None = None  # the value in force is `${expression}` (a parameter derived from others)

    def as_dict(self) -> dict[str, Any]:
        """Plain data (for JSON)."""
        return {
            "name": self.name,
            "type": self.type,
            "default": self.default,
            "value": self.value,
            "declared_at": shown(self.declared_at),
            "fields": [".".join(map(str, p)) for p in self.fields],
        }


def _type_name(value: Any) -> str | None:
    return TYPES.get(type(value))


class ParamTable:
    """Declared parameters and their values; `lookup` also records which parameters are used."""

    def __init__(self) -> None:
        self.raw: dict[str, PNode] = {}  # the declaration in force (a variant's replaces its base's)
        self.first: dict[str, PNode] = {}  # the first declaration (base-most): its position names the parameter
        self.sets: dict[str, PNode] = {}
        self.defaults: dict[str, Any] = {}
        self.values: dict[str, Any] = {}
        self.deps: dict[str, frozenset[str]] = {}
        self.used: set[str] = set()
        self.problems: list[Diagnostic] = []

    # --- declaring --------------------------------------------------------------------

    def declare(self, params: PNode) -> None:
        """Read one file's `params:` mapping (base files first)."""
        if not params.is_map:
            self.problems.append(
                diagnostic(
                    params.at,
                    "`params:` must be a mapping of names to default values",
                    "e.g. params: {num_classes: 1000, dropout: 0.5}",
                )
            )
            return
        for name, node in params.value.items():
            at = node.key_at or node.at
            if not NAME.match(name) or keyword.iskeyword(name) or name in RESERVED or len(name) > 64:
                self.problems.append(
                    diagnostic(
                        at,
                        f"'{name}' cannot name a parameter",
                        "parameter names are lower snake_case, not a Python keyword or a top-level spec key",
                    )
                )
            elif _type_name(node.value) is None:
                self.problems.append(
                    diagnostic(
                        node.at,
                        f"parameter '{name}' needs a default that is an integer, a number, true/false or a string",
                        "e.g. num_classes: 1000",
                    )
                )
            elif len(self.first) >= MAX_PARAMS and name not in self.first:
                self.problems.append(diagnostic(at, f"more than {MAX_PARAMS} parameters"))
            elif (changed := _retyped(self.raw.get(name), node)) is not None:
                self.problems.append(
                    diagnostic(
                        node.at,
                        f"parameter '{name}' is {_article(changed)} in its base (declared at "
                        f"{shown(self.first[name].at)}); got {node.value!r}",
                        "a variant may change a parameter's default, not its type",
                    )
                )
            else:
                self.first.setdefault(name, node)
                self.raw[name] = node

    def set(self, name: str, node: PNode) -> None:
        """A `--set NAME=VALUE` for a parameter."""
        if name not in self.raw:
            hint = suggest(name, list(self.raw)) or (
                f"parameters: {', '.join(self.raw)}" if self.raw else "this spec declares no params:"
            )
            self.problems.append(diagnostic(node.key_at or node.at, f"unknown parameter '{name}'", hint))
        else:
            self.sets[name] = node

    # --- evaluating -------------------------------------------------------------------

    def resolve(self) -> None:
        """Defaults (which fix each parameter's type), then the values in force with --set applied."""
        self.defaults = self._evaluate(dict(self.raw), check_types=False)
        merged = {**self.raw, **self.sets}
        self.values = self._evaluate(merged, check_types=True)

    def _evaluate(self, sources: dict[str, PNode], check_types: bool) -> dict[str, Any]:
        values: dict[str, Any] = {}
        state: dict[str, str] = {}

        def value_of(name: str, chain: tuple[str, ...]) -> Any:
            if state.get(name) == "done":
                return values.get(name)
            if name in chain:
                cycle = " -> ".join((*chain[chain.index(name) :], name))
                node = sources[name]
                self.problems.append(
                    diagnostic(
                        node.at,
                        f"parameters depend on each other in a cycle: {cycle}",
                        "give one of them a plain value",
                    )
                )
                raise _Cycle
            node = sources[name]
            used: set[str] = set()

            def lookup(other: str, offset: int) -> Any:
                if other not in sources:
                    raise ExprError(f"undefined parameter '{other}'", offset, suggest(other, list(sources)))
                used.add(other)
                self.used.add(other)
                found = value_of(other, (*chain, name))
                if found is None:
                    raise _Invalid  # its own problem is reported where it is declared: no cascade of errors
                return found

            try:
                value = substitute_value(node.value, lookup) if isinstance(node.value, str) else node.value
            except ExprError as exc:
                self.problems.append(diagnostic(node.at, f"in parameter '{name}': {exc}", exc.hint))
                value = None
            except _Invalid:
                value = None
            self.deps[name] = frozenset(used)
            if check_types and value is not None:
                value = self._typed(name, value, node)
            values[name] = value
            state[name] = "done"
            return value

        for name in sources:
            try:
                value_of(name, ())
            except _Cycle:
                values.setdefault(name, None)
                state[name] = "done"
        return values

    def _typed(self, name: str, value: Any, node: PNode) -> Any:
        """The value as the parameter's type (an integer is a valid float), or a located problem."""
        expected = _type_name(self.defaults.get(name))
        given = _type_name(value)
        if expected is None or given == expected:
            return value
        if expected == "float" and given == "int":
            return float(value)
        self.problems.append(
            diagnostic(
                node.at,
                f"parameter '{name}' is {_article(expected)}, got {value!r}",
                f"its default is {self.defaults[name]!r} (declared at {shown(self.first[name].at)})",
            )
        )
        return None

    def closure(self, names: builtins.set[str]) -> frozenset[str]:
        """The names and every parameter they depend on."""
        found: builtins.set[str] = builtins.set()
        todo = list(names)
        while todo:
            name = todo.pop()
            if name not in found:
                found.add(name)
                todo.extend(self.deps.get(name, ()))
        return frozenset(found)

    def lookup(self, used: builtins.set[str]) -> Any:
        """A lookup function for substituting spec values, recording uses in `used`."""

        def find(name: str, offset: int) -> Any:
            if name not in self.values:
                hint = suggest(name, list(self.values)) or (
                    "declare it under params:" if not self.values else f"parameters: {', '.join(self.values)}"
                )
                raise ExprError(f"undefined parameter '{name}'", offset, hint)
            used.add(name)
            self.used.add(name)
            if self.values[name] is None:
                raise _Invalid
            return self.values[name]

        return find

    def unused(self) -> list[Diagnostic]:
        """A problem for every declared parameter nothing refers to."""
        return [
            diagnostic(
                node.key_at or node.at, f"parameter '{name}' is never used", f"refer to it as ${{{name}}}, or remove it"
            )
            for name, node in self.first.items()
            if name not in self.used
        ]

    def table(self) -> list[Param]:
        """The parameters in declaration order."""
        return [
            Param(
                name,
                _type_name(self.defaults.get(name)) or "?",
                self.defaults.get(name),
                self.values.get(name),
                self.first[name].key_at or self.first[name].at,
                expression=self._expression(name),
            )
            for name in self.first
        ]


    def _expression(self, name: str) -> str | None:
        """The expression a parameter's value in force is written as, if it is one placeholder."""
        node = self.sets.get(name, self.raw.get(name))
        return whole_expression(node.value) if node is not None and isinstance(node.value, str) else None


class _Cycle(Exception):
    pass


class _Invalid(Exception):
    """A parameter whose own value is invalid (already reported)."""


def _retyped(base: PNode | None, node: PNode) -> str | None:
    """The base declaration's type when a variant's plain default has another one (an int may become a float)."""
    if base is None or any(isinstance(n.value, str) and "${" in n.value for n in (base, node)):
        return None
    before, after = _type_name(base.value), _type_name(node.value)
    return None if after == before or (before, after) == ("float", "int") else before


def _article(kind: str) -> str:
    return {"int": "an integer", "float": "a number", "bool": "a boolean", "str": "a string"}[kind]


def substitute_value(text: str, lookup: Any) -> Any:
    """A string with `${...}` placeholders: exactly one placeholder keeps its value's type, else text."""
    parts = split(text)
    if len(parts) == 1 and isinstance(parts[0], Piece):
        return _at(parts[0], lookup)
    pieces: list[str] = []
    length = 0
    for part in parts:
        piece = _text(_at(part, lookup)) if isinstance(part, Piece) else part
        length += len(piece)
        if length > MAX_TEXT:
            offset = part.offset if isinstance(part, Piece) else 0
            raise ExprError(f"the text grows past {MAX_TEXT:,} characters", offset,
                            "a parameter that repeats another's text doubles it each time; write the text out")
        pieces.append(piece)
    return "".join(pieces)


def whole_expression(text: str) -> str | None:
    """The expression of a string that is exactly one `${...}` placeholder, else None."""
    try:
        parts = split(text)
    except ExprError:
        return None
    return parts[0].text.strip() if len(parts) == 1 and isinstance(parts[0], Piece) else None


def _at(piece: Piece, lookup: Any) -> Any:
    try:
        return evaluate(piece.text, lookup)
    except ExprError as exc:
        raise ExprError(f"${{{piece.text}}}: {exc}", piece.offset + exc.offset, exc.hint) from None


def _text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def substitute_tree(node: PNode, table: ParamTable, problems: list[Diagnostic]) -> PNode:
    """Replace every `${...}` in string values (not keys) of a tree; each node records the parameters in it."""
    if node.is_map:
        node.value = {k: substitute_tree(v, table, problems) for k, v in node.value.items()}
    elif node.is_list:
        node.value = [substitute_tree(v, table, problems) for v in node.value]
    elif isinstance(node.value, str) and "$" in node.value:
        used: set[str] = set()
        node.expression = whole_expression(node.value)
        try:
            node.value = substitute_value(node.value, table.lookup(used))
        except ExprError as exc:
            problems.append(diagnostic(node.at, str(exc), exc.hint))
        except _Invalid:
            pass  # the parameter's own problem is reported where it is declared or set
        if used:
            node.params = table.closure(used)
    return node
