"""A plain view of an analysed network for `diagram` and `diff`: the one place that reads the Graph IR."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from alexgen.graph import INPUT, Graph
from alexgen.ops import Op

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Slot:
    """One weight tensor of a layer: its slot name (`kernel`, `bias`, `gamma`, ...), its neutral shape, and
    whether its entries follow the order of a flat input (a dense kernel's rows, a 1-D batch norm's vectors)."""

    name: str
    shape: Shape
    follows_flat_input: bool = False


@dataclass(frozen=True)
class LayerView:
    """What the diagram and the diff know about one layer."""

    name: str
    type: str
    inputs: tuple[str, ...]
    input_shapes: tuple[Shape, ...]
    shape: Shape
    params: int
    trainable: int
    macs: int
    detail: str
    slots: tuple[Slot, ...]
    input_blocks: tuple[Shape, ...]
    op: Op[Any] = field(compare=False, repr=False)  # the layer type's registry entry (join, colour)


@dataclass(frozen=True)
class NetView:
    """A whole network: its name, where it came from, its input, its layers in spec order and the graph's totals
    (all parameters, those an optimizer updates, multiply-accumulates for one example)."""

    name: str
    path: str
    description: str
    input_shape: Shape
    layers: tuple[LayerView, ...]
    params: int
    trainable: int
    macs: int

    @property
    def output_shape(self) -> Shape:
        """The last layer's output."""
        return self.layers[-1].shape if self.layers else self.input_shape


def shape_text(shape: Shape) -> str:
    """55x55x96, as `analyze` prints shapes."""
    return "x".join(str(d) for d in shape)


def weight_slots(graph: Graph) -> tuple[dict[str, tuple[Slot, ...]], dict[str, tuple[Shape, ...]]]:
    """Each weighted layer's tensors, and the blocks each flat vector was joined from (a dense kernel's rows
    mean different things when they change, even at the same shape): the only use of the weights layout here."""
    from alexgen.weights import flat_segments

    found = {
        node.name: tuple(
            Slot(slot.name, tuple(slot.shape), slot.follows_input and len(node.input_shapes[0]) == 1)
            for slot in node.slots
        )
        for node in graph.weighted
    }
    blocks = {name: _merged(segments) for name, segments in flat_segments(graph).items()}
    return found, blocks


def _merged(segments: list[tuple[int, ...]]) -> tuple[Shape, ...]:
    """Flat blocks with neighbouring vectors joined: only flattened maps change the order of a flat input."""
    merged: list[Shape] = []
    for block in segments:
        if len(block) == 3 and block[:2] == (1, 1):
            block = (block[2],)  # a 1x1 map flattens to its channels, in the same order
        if len(block) == 1 and merged and len(merged[-1]) == 1:
            merged[-1] = (merged[-1][0] + block[0],)
        else:
            merged.append(tuple(block))
    return tuple(merged)


def from_graph(graph: Graph) -> NetView:
    """THE adapter: an analysed Graph as plain data (everything else in diagram and diff reads only this)."""
    slots, blocks = weight_slots(graph)
    shapes = {INPUT: tuple(graph.input_shape), **{node.name: tuple(node.shape) for node in graph.nodes}}
    layers = tuple(
        LayerView(
            node.name,
            node.type,
            tuple(node.inputs),
            tuple(tuple(s) for s in node.input_shapes),
            tuple(node.shape),
            node.params,
            node.trainable,
            node.macs,
            node.op.detail(node),
            slots.get(node.name, ()),
            tuple(block for ref in node.inputs for block in blocks.get(ref, (shapes[ref],))),
            node.op,
        )
        for node in graph.nodes
    )
    description = getattr(graph.spec, "description", None) or ""
    totals = graph.total_params, graph.trainable_params, graph.macs
    return NetView(graph.name, graph.path, description, tuple(graph.input_shape), layers, *totals)


def si(count: float) -> str:
    """1.1G, 34.9k: a count at a glance."""
    for unit, scale in (("G", 10**9), ("M", 10**6), ("k", 10**3)):
        if abs(count) >= scale:
            return f"{count / scale:.1f}{unit}"
    return str(count)


def size(shape: Shape) -> int:
    """Number of elements of a shape."""
    return math.prod(shape)


def as_dict(layer: LayerView) -> dict[str, Any]:
    """One layer as JSON-ready data."""
    return {
        "type": layer.type,
        "inputs": list(layer.inputs),
        "output_shape": list(layer.shape),
        "params": layer.params,
        "trainable_params": layer.trainable,
        "macs": layer.macs,
        "detail": layer.detail,
        "weights": {slot.name: list(slot.shape) for slot in layer.slots},
    }


__all__ = ["INPUT", "LayerView", "NetView", "Slot", "as_dict", "from_graph", "shape_text", "si", "size", "weight_slots"]
