"""dense: a fully connected layer on a flat input (Keras Dense, PyTorch nn.Linear)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from alexgen.analysis import Field, LayerStats, Shape, ShapeError, fmt
from alexgen.ops._describe import activation_text, joined
from alexgen.ops._diagnose import Alternative, output
from alexgen.ops._shared import count, epilogue_ops, keras_weighted, kernel_slots, own_activation
from alexgen.ops.base import KerasLayer, Module, Op
from alexgen.specbase import Size, WeightedLayer
from alexgen.targets.emit import call

if TYPE_CHECKING:
    from alexgen.graph import Node


class Dense(WeightedLayer):
    """Fully connected layer on a flat input."""

    type: Literal["dense"]
    units: Size


def analyze(layer: Dense, shapes: list[Shape], fields: list[Field]) -> LayerStats:
    """Units x inputs weights; one multiply-accumulate per weight."""
    if len(shapes[0]) != 1:
        raise ShapeError(f"dense needs a flat input, but its input is {fmt(shapes[0])}",
                         "add `- type: flatten` (or a global pooling layer) before it")
    slots = kernel_slots(layer, (shapes[0][0], layer.units), "dense")
    return LayerStats((layer.units,), count(slots), count(slots), shapes[0][0] * layer.units, fields[0], slots=slots,
                      other_ops=epilogue_ops(layer, layer.units))


def keras(node: Node[Dense]) -> list[KerasLayer]:
    """Dense."""
    return [(node.name, call("layers.Dense", node.layer.units, **keras_weighted(node.layer), name=node.name))]


def pytorch(node: Node[Dense]) -> list[Module]:
    """nn.Linear."""
    bias = None if node.layer.use_bias else False
    return [Module(node.name, call("nn.Linear", node.input_shapes[0][0], node.layer.units, bias=bias))]


def describe(node: Node[Dense]) -> str:
    """`relu, no bias`."""
    return joined(activation_text(node), "" if node.layer.use_bias else "no bias")



def diagnose(run: Any) -> list[Alternative]:
    """The flatten order: the input in H,W,C order (Keras's) instead of C,H,W (PyTorch's)."""
    order = run.orders[0]
    if order is None:
        return []

    def compute() -> Any:
        import torch

        restored = torch.empty_like(run.inputs[0])
        restored[:, torch.as_tensor(order)] = run.inputs[0]
        return output(run, inputs=[restored])

    return [Alternative("with the input flattened as H,W,C instead of C,H,W",
                        "the flatten order is wrong: the dense kernel's input rows were moved without reordering "
                        "them from Keras's H,W,C flatten to PyTorch's C,H,W", compute)]


OP = Op("dense", Dense, analyze, keras, pytorch, output_activation=own_activation, fused_activation=True,
        size_key="units", diagnose=diagnose, describe=describe, colour="#d9ead3", folds_activation=True)
