"""Pieces several ops share: weighted-layer keyword arguments, kernel slots, padding modules, simple emitters."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from alexgen.analysis import Field, LayerStats, Shape, Slot, Window
from alexgen.ops.base import KerasLayer, Module
from alexgen.specbase import Initializer, LayerBase, Regularizer, WeightedLayer
from alexgen.targets.emit import Code, call, keras_pads, pair_text, torch_pads

if TYPE_CHECKING:
    from alexgen.graph import Node

INITIALIZER_CLASSES = {"random_normal": "RandomNormal", "truncated_normal": "TruncatedNormal",
                       "random_uniform": "RandomUniform", "constant": "Constant"}


def window_of(node: Node[Any]) -> Window:
    """The node's resolved window (every sliding-window op has one)."""
    assert node.window is not None, node.name
    return node.window


def kernel_slots(layer: WeightedLayer, kernel: Shape, layout: str, torch_shape: Shape = ()) -> tuple[Slot, ...]:
    """A kernel (its rows follow the input for dense layouts) and, with use_bias, a bias over the last axis."""
    slots = [Slot("kernel", kernel, "weight", layout, layout == "dense", torch_shape)]
    if layer.use_bias:
        channels = torch_shape[0] if torch_shape else kernel[-1]
        slots.append(Slot("bias", (channels,), "bias"))
    return tuple(slots)


def epilogue_ops(layer: WeightedLayer, outputs: int) -> int:
    """Operations after a weighted layer's multiply-accumulates: a bias add and an activation per output."""
    return outputs * (int(layer.use_bias) + int(layer.activation not in (None, "linear")))


def count(slots: tuple[Slot, ...]) -> int:
    """Elements in a layer's tensors."""
    total = 0
    for slot in slots:
        size = 1
        for d in slot.shape:
            size *= d
        total += size
    return total


def keras_initializer(value: Initializer) -> object:
    """A Keras initializer: its name, or a constructor call with every value explicit."""
    if isinstance(value, str):
        return value
    kwargs = value.model_dump(exclude={"type"})
    return call(f"keras.initializers.{INITIALIZER_CLASSES[value.type]}", **kwargs)


def keras_regularizer(value: Regularizer | None) -> Code | None:
    """keras.regularizers.L2 / L1 / L1L2 with the spec's factors."""
    if value is None:
        return None
    if value.l1 and value.l2:
        return call("keras.regularizers.L1L2", l1=value.l1, l2=value.l2)
    return call("keras.regularizers.L1", value.l1) if value.l1 else call("keras.regularizers.L2", value.l2)


def keras_weighted(layer: WeightedLayer, kernel: str = "kernel") -> dict[str, Any]:
    """Keyword arguments of a Keras layer with a kernel and a bias, omitting Keras's own defaults."""
    return {
        "activation": layer.activation,
        "use_bias": None if layer.use_bias else False,
        f"{kernel}_initializer": None if layer.kernel_initializer == "glorot_uniform" else keras_initializer(
            layer.kernel_initializer),
        "bias_initializer": None if layer.bias_initializer == "zeros" else keras_initializer(layer.bias_initializer),
        f"{kernel}_regularizer": keras_regularizer(layer.kernel_regularizer),
    }


def keras_explicit_pad(node: Node[Any], padding: object) -> list[KerasLayer]:
    """A ZeroPadding2D before a Keras layer whose spec padding is explicit numbers (Keras has no such option)."""
    pads = window_of(node).pads
    if isinstance(padding, str) or not any(sum(p) for p in pads):
        return []
    return [(f"{node.name}_pad", call("layers.ZeroPadding2D", padding=keras_pads(pads), name=f"{node.name}_pad"))]


def torch_padded(node: Node[Any], fill: str, same: bool) -> tuple[list[Module], int | tuple[int, int] | None]:
    """Symmetric pads become the layer's `padding=`; asymmetric ones a `<name>_pad` module before it."""
    window = window_of(node)
    pads = window.pads
    if not any(sum(p) for p in pads):
        return [], None
    if window.symmetric:
        return [], pair_text((pads[0][0], pads[1][0]))
    module = call("nn.ZeroPad2d", torch_pads(pads)) if fill == "zeros" else call(
        "nn.ConstantPad2d", torch_pads(pads), value=Code('float("-inf")'))
    note = f"'same' as TensorFlow pads: {fill}, the odd extra cell at the bottom/right" if same else None
    return [Module(f"{node.name}_pad", module, note)], None


def keras_simple(cls: str, *keys: str) -> Callable[[Node[Any]], list[KerasLayer]]:
    """A Keras emitter for a layer whose spec keys map one-to-one onto keyword arguments."""
    def emit(node: Node[Any]) -> list[KerasLayer]:
        kwargs = {key: getattr(node.layer, key) for key in keys}
        return [(node.name, call(cls, **kwargs, name=node.name))]
    return emit


def torch_simple(code: Callable[[Any], Code]) -> Callable[[Node[Any]], list[Module]]:
    """A PyTorch emitter for a layer that becomes one module built from its spec layer."""
    return lambda node: [Module(node.name, code(node.layer))]


def own_activation(layer: LayerBase) -> str | None:
    """The `activation` key of a layer that has one."""
    value = getattr(layer, "activation", None)
    return value if isinstance(value, str) else None


# PyTorch forms of the spec's activation names: a module (chains) and a call (graph forwards).
ACTIVATION_MODULES = {"relu": "nn.ReLU(inplace=True)", "softmax": "nn.Softmax(dim=1)", "sigmoid": "nn.Sigmoid()",
                      "tanh": "nn.Tanh()", "linear": "nn.Identity()"}
ACTIVATION_FUNCTIONS = {"relu": "F.relu({})", "softmax": "F.softmax({}, dim=1)", "sigmoid": "torch.sigmoid({})",
                        "tanh": "torch.tanh({})", "linear": "{}"}
SAVES_OUTPUT = {"sigmoid", "tanh", "softmax"}  # their backward reads their output: no in-place op may follow


def keep_shape(layer: LayerBase, shapes: list[Shape], fields: list[Field]) -> LayerStats:
    """An element-wise layer: the input's shape and receptive field, no parameters, no operations counted."""
    return LayerStats(shapes[0], field=fields[0])


def element_wise(layer: LayerBase, shapes: list[Shape], fields: list[Field]) -> LayerStats:
    """An activation: the input's shape and receptive field, one operation per element (none for linear)."""
    size = 0 if own_activation(layer) == "linear" else math.prod(shapes[0])
    return LayerStats(shapes[0], field=fields[0], other_ops=size)
