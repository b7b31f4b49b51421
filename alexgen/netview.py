"""A plain view of an analysed network for `diagram` and `diff`: the one place that reads the Graph IR."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from alexgen.graph import INPUT, Graph, Node

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


@dataclass(frozen=True)
class NetView:
    """A whole network: its name, where it came from, its input and its layers in spec order."""

    name: str
    path: str
    description: str
    input_shape: Shape
    layers: tuple[LayerView, ...]

    @property
    def params(self) -> int:
        """All parameters, trainable or not."""
        return sum(layer.params for layer in self.layers)

    @property
    def trainable(self) -> int:
        """Parameters an optimizer updates."""
        return sum(layer.trainable for layer in self.layers)

    @property
    def macs(self) -> int:
        """Multiply-accumulates for one example."""
        return sum(layer.macs for layer in self.layers)

    @property
    def output_shape(self) -> Shape:
        """The last layer's output."""
        return self.layers[-1].shape if self.layers else self.input_shape


def shape_text(shape: Shape) -> str:
    """55x55x96, as `analyze` prints shapes."""
    return "x".join(str(d) for d in shape)


def _pair(values: tuple[int, int]) -> str:
    return str(values[0]) if values[0] == values[1] else f"{values[0]}x{values[1]}"


def _window(node: Node) -> str:
    """Kernel/stride of a sliding window, e.g. `11x11/4`, with dilation and padding when they matter."""
    if node.window is None:
        return ""
    kernel, strides = node.window.kernel, node.window.strides
    text = f"{kernel[0]}x{kernel[1]}/{_pair(strides)}"
    if node.window.dilation != (1, 1):
        text += f" dil {_pair(node.window.dilation)}"
    padding = getattr(node.layer, "padding", "valid")
    if padding == "same":
        text += " same"
    elif any(p for side in node.window.pads for p in side):
        text += f" pad {_pads(node)}"
    return text


def _pads(node: Node) -> str:
    (top, bottom), (left, right) = node.window.pads  # type: ignore[union-attr]
    if top == bottom == left == right:
        return str(top)
    return f"{top},{bottom},{left},{right}"


def _activation(node: Node) -> str:
    activation = getattr(node.layer, "activation", None)
    return "" if activation in (None, "linear") else str(activation)


def _join(*parts: str) -> str:
    return ", ".join(part for part in parts if part)


def _conv(node: Node) -> str:
    groups = getattr(node.layer, "groups", 1)
    return _join(
        _window(node),
        f"groups {groups}" if groups > 1 else "",
        _activation(node),
        "" if getattr(node.layer, "use_bias", True) else "no bias",
    )


def _number(value: float) -> str:
    return f"{value:g}"


DETAILS: dict[str, Callable[[Node], str]] = {
    "conv2d": _conv,
    "dense": lambda n: _join(_activation(n), "" if n.layer.use_bias else "no bias"),  # type: ignore[attr-defined]
    "max_pool2d": _window,
    "avg_pool2d": _window,
    "adaptive_avg_pool2d": lambda n: f"to {_pair(n.shape[:2])}",  # type: ignore[arg-type]
    "global_avg_pool2d": lambda n: "global mean",
    "zero_padding2d": lambda n: f"pad {_pads(n)}",
    "batch_norm": lambda n: f"eps {_number(n.layer.epsilon)}",  # type: ignore[attr-defined]
    "lrn": lambda n: (
        f"n {n.layer.size}, a {_number(n.layer.alpha)}, b {_number(n.layer.beta)}, "  # type: ignore[attr-defined]
        f"k {_number(n.layer.bias)}"
    ),  # type: ignore[attr-defined]
    "dropout": lambda n: f"rate {_number(n.layer.rate)}",  # type: ignore[attr-defined]
    "flatten": lambda n: "",
    "activation": _activation,
    "concatenate": lambda n: "channels" if len(n.shape) == 3 else "features",
}


def weight_slots(graph: Graph) -> tuple[dict[str, tuple[Slot, ...]], dict[str, tuple[Shape, ...]]]:
    """Each weighted layer's tensors, and the blocks each flat vector was joined from (a dense kernel's rows
    mean different things when they change, even at the same shape): the only use of the weights layout here."""
    from alexgen.weights import flat_segments, neutral_shapes

    flat_input = {node.name: node.type if len(node.input_shapes[0]) == 1 else None for node in graph.nodes}
    found: dict[str, list[Slot]] = {}
    for key, shape in neutral_shapes(graph).items():
        layer, slot = key.rsplit(".", 1)
        follows = flat_input[layer] == "batch_norm" or (flat_input[layer] is not None and slot == "kernel")
        found.setdefault(layer, []).append(Slot(slot, tuple(shape), follows))
    blocks = {name: _merged(segments) for name, segments in flat_segments(graph).items()}
    return {layer: tuple(slots) for layer, slots in found.items()}, blocks


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


def _detail(node: Node) -> str:
    rule: Callable[[Node], str] | None = DETAILS.get(node.type)
    return rule(node) if rule else ""


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
            _detail(node),
            slots.get(node.name, ()),
            tuple(block for ref in node.inputs for block in blocks.get(ref, (shapes[ref],))),
        )
        for node in graph.nodes
    )
    description = getattr(graph.spec, "description", None) or ""
    return NetView(graph.name, graph.path, description, tuple(graph.input_shape), layers)


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
