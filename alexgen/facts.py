"""What `analyze` reports about a graph, as plain data: built from a graph, or read back from the analyze cache.

Imports nothing but the standard library, so a cached `analyze` never builds the pydantic models.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from alexgen.diagnostics import Diagnostic

if TYPE_CHECKING:
    from alexgen.graph import Graph

Pair = tuple[int, int]


@dataclass(frozen=True)
class FieldFacts:
    """Receptive field of one output cell: size and stride, as the analyzer computed them."""

    size: Pair
    stride: Pair


class LayerFigures:
    """A layer's derived figures (graph.Node and LayerFacts both have them)."""

    shape: tuple[int, ...]
    params: int
    trainable: int

    @property
    def non_trainable(self) -> int:
        """Parameters that no optimizer updates (batch-norm moving statistics)."""
        return self.params - self.trainable

    @property
    def size(self) -> int:
        """Number of output activations for one example."""
        return math.prod(self.shape)


@dataclass(frozen=True)
class LayerFacts(LayerFigures):
    """One layer's reported figures (the attributes of `graph.Node` that the report reads)."""

    name: str
    type: str
    inputs: list[str]
    shape: tuple[int, ...]
    params: int
    trainable: int
    macs: int
    other_ops: int
    field: FieldFacts


class Figures(Protocol):
    """What a layer reports (graph.Node and LayerFacts)."""

    @property
    def params(self) -> int: ...
    @property
    def trainable(self) -> int: ...
    @property
    def macs(self) -> int: ...
    @property
    def other_ops(self) -> int: ...


class Totals:
    """Whole-network figures, summed over `nodes` (Graph and Facts both have them)."""

    nodes: Sequence[Figures]

    @property
    def total_params(self) -> int:
        """All parameters, trainable or not."""
        return sum(n.params for n in self.nodes)

    @property
    def trainable_params(self) -> int:
        """Parameters an optimizer updates."""
        return sum(n.trainable for n in self.nodes)

    @property
    def macs(self) -> int:
        """Multiply-accumulates of convolution and dense weights for one example."""
        return sum(n.macs for n in self.nodes)

    @property
    def other_ops(self) -> int:
        """Every other operation for one example: bias adds, activations, pooling, normalization."""
        return sum(n.other_ops for n in self.nodes)


@dataclass(frozen=True)
class Facts(Totals):
    """A network's reported figures (the attributes of `graph.Graph` that the report reads)."""

    name: str
    path: str
    input_shape: tuple[int, ...]
    nodes: list[LayerFacts]

    @property
    def output(self) -> LayerFacts:
        """The last layer."""
        return self.nodes[-1]

    @property
    def activation_count(self) -> int:
        """Activations held for one example: the input plus every layer's output."""
        return math.prod(self.input_shape) + sum(n.size for n in self.nodes)


def facts_of(graph: Graph) -> Facts:
    """The figures of an analysed graph."""
    layers = [
        LayerFacts(
            n.name,
            n.type,
            list(n.inputs),
            tuple(n.shape),
            n.params,
            n.trainable,
            n.macs,
            n.other_ops,
            FieldFacts(n.field.size, n.field.stride),
        )
        for n in graph.nodes
    ]
    return Facts(graph.name, graph.path, tuple(graph.input_shape), layers)


def to_plain(facts: Facts) -> dict[str, Any]:
    """JSON-ready data of the figures."""
    return {
        "name": facts.name,
        "path": facts.path,
        "input_shape": list(facts.input_shape),
        "nodes": [
            [
                n.name,
                n.type,
                n.inputs,
                list(n.shape),
                n.params,
                n.trainable,
                n.macs,
                n.other_ops,
                list(n.field.size),
                list(n.field.stride),
            ]
            for n in facts.nodes
        ],
    }


class BadFacts(ValueError):
    """Cached data that is not what `to_plain` writes."""


def _ints(value: Any, length: int | None = None) -> tuple[int, ...]:
    """A list of non-negative ints as a tuple (of `length` items when given)."""
    if not isinstance(value, list) or (length is not None and len(value) != length):
        raise BadFacts("expected a list of integers")
    return tuple(_int(v) for v in value)


def _int(value: Any) -> int:
    if type(value) is not int or value < 0:
        raise BadFacts("expected a non-negative integer")
    return value


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise BadFacts("expected a string")
    return value


def _pair(value: Any) -> Pair:
    first, second = _ints(value, 2)
    return first, second


def _layer(row: Any) -> LayerFacts:
    """One layer from its cached row."""
    if not isinstance(row, list) or len(row) != 10:
        raise BadFacts("expected a layer row of 10 items")
    name, kind, inputs, shape, params, trainable, macs, other, size, stride = row
    if not isinstance(inputs, list):
        raise BadFacts("expected a list of inputs")
    if _int(trainable) > _int(params):
        raise BadFacts("more trainable parameters than parameters")
    return LayerFacts(
        _str(name),
        _str(kind),
        [_str(i) for i in inputs],
        _ints(shape),
        params,
        trainable,
        _int(macs),
        _int(other),
        FieldFacts(_pair(size), _pair(stride)),
    )


def from_plain(data: Any) -> Facts:
    """The figures `to_plain` wrote; BadFacts when the data is anything else."""
    if not isinstance(data, dict) or set(data) != {"name", "path", "input_shape", "nodes"}:
        raise BadFacts("expected the keys name, path, input_shape and nodes")
    nodes = data["nodes"]
    if not isinstance(nodes, list) or not nodes:
        raise BadFacts("expected a non-empty list of layers")
    return Facts(_str(data["name"]), _str(data["path"]), _ints(data["input_shape"], 3), [_layer(n) for n in nodes])


DIAGNOSTIC_KEYS = ("message", "file", "line", "column", "hint", "layer", "index", "level")


def diagnostic_to_plain(problem: Diagnostic) -> list[Any]:
    """A diagnostic (a warning kept with the figures) as a JSON list."""
    return [getattr(problem, key) for key in DIAGNOSTIC_KEYS]


def diagnostic_from_plain(row: Any) -> Diagnostic:
    """The diagnostic `diagnostic_to_plain` wrote; BadFacts for anything else."""
    if not isinstance(row, list) or len(row) != len(DIAGNOSTIC_KEYS):
        raise BadFacts("expected a diagnostic row")
    message, file, line, column, hint, layer, index, level = row
    if level not in ("error", "warning") or type(line) is not int or type(column) is not int:
        raise BadFacts("expected a level, a line and a column")
    if not all(v is None or isinstance(v, str) for v in (hint, layer)) or not (index is None or type(index) is int):
        raise BadFacts("expected an optional hint, layer and index")
    return Diagnostic(_str(message), _str(file), line, column, hint, layer, index, level)
