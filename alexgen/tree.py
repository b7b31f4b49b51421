"""Spec data with a position on every node, so values moved between files keep the file and line they came from."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from alexgen.diagnostics import Diagnostic, SpecError
from alexgen.loader import MAX_NODES, Path_, SourceMap

Where = tuple[str, int, int]  # file, line, column


@dataclass
class PNode:
    """A value (a dict of PNodes, a list of PNodes or a scalar), where it was written, and the parameters in it."""

    value: Any
    at: Where
    key_at: Where | None = None
    params: frozenset[str] = field(default_factory=frozenset)
    expression: str | None = None  # the `${...}` text of a value written as one placeholder

    @property
    def is_map(self) -> bool:
        """Whether the value is a mapping."""
        return isinstance(self.value, dict)

    @property
    def is_list(self) -> bool:
        """Whether the value is a sequence."""
        return isinstance(self.value, list)

    def text(self, key: str) -> str | None:
        """The string at `key` of a mapping, else None."""
        child = self.value.get(key) if self.is_map else None
        return child.value if child is not None and isinstance(child.value, str) else None


def wrap(data: Any, source: SourceMap, path: Path_ = ()) -> PNode:
    """Attach the source map's positions to plain data."""
    where = source.where(path)
    key_at = source.where(path, key=True) if path and path in source.keys else None
    if isinstance(data, dict):
        value: Any = {k: wrap(v, source, (*path, k)) for k, v in data.items()}
    elif isinstance(data, list):
        value = [wrap(v, source, (*path, i)) for i, v in enumerate(data)]
    else:
        value = data
    return PNode(value, where, key_at)


def plain(node: PNode) -> Any:
    """The data without positions."""
    if node.is_map:
        return {k: plain(v) for k, v in node.value.items()}
    if node.is_list:
        return [plain(v) for v in node.value]
    return node.value


@dataclass
class Flattened:
    """Plain data, its multi-file source map, and which parameters flowed into which paths."""

    data: Any
    source: SourceMap
    flows: dict[Path_, frozenset[str]]
    expressions: dict[Path_, str] = field(default_factory=dict)


def flatten(node: PNode, file: str) -> Flattened:
    """Plain data and a source map (file per node) from a positioned tree, within the node budget."""
    result = Flattened(None, SourceMap(file), {})
    count = [0]

    def visit(current: PNode, path: Path_) -> Any:
        count[0] += 1
        if count[0] > MAX_NODES:
            raise SpecError(
                [
                    diagnostic(
                        current.at,
                        f"the resolved spec expands to more than {MAX_NODES} nodes",
                        "repeat: and extends: may not expand a spec beyond its budget",
                    )
                ]
            )
        _record(result.source, path, current)
        if current.params:
            result.flows[path] = current.params
        if current.expression is not None:
            result.expressions[path] = current.expression
        if current.is_map:
            return {k: visit(v, (*path, k)) for k, v in current.value.items()}
        if current.is_list:
            return [visit(v, (*path, i)) for i, v in enumerate(current.value)]
        return current.value

    result.data = visit(node, ())
    return result


def _record(source: SourceMap, path: Path_, node: PNode) -> None:
    source.values[path] = node.at[1:]
    if node.at[0] != source.file:
        source.value_files[path] = node.at[0]
    if node.key_at is not None and path:
        source.keys[path] = node.key_at[1:]
        if node.key_at[0] != source.file:
            source.key_files[path] = node.key_at[0]


def clone(node: PNode, text: Callable[[str], str] = lambda s: s) -> PNode:
    """A deep copy, every string passed through `text`."""
    if node.is_map:
        value: Any = {k: clone(v, text) for k, v in node.value.items()}
    elif node.is_list:
        value = [clone(v, text) for v in node.value]
    else:
        value = text(node.value) if isinstance(node.value, str) else node.value
    return replace(node, value=value)


def diagnostic(at: Where, message: str, hint: str | None = None) -> Diagnostic:
    """An error at a position."""
    return Diagnostic(message, at[0], at[1], at[2], hint)


def shown(at: Where) -> str:
    """`file:line` of a position, for messages."""
    return f"{at[0]}:{at[1]}"


def suggest(word: str, choices: list[str]) -> str | None:
    """A did-you-mean hint, when a choice is close."""
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None
