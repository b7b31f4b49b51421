"""gelu: x · Φ(x), exact (erf) or with the tanh approximation; PyTorch nn.GELU(approximate=...), and in Keras a small
generated layer computing PyTorch's formula with keras.ops, since Keras has no GELU layer of its own."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from alexgen.ops._shared import element_wise, torch_simple
from alexgen.ops.base import Helper, KerasLayer, Op
from alexgen.specbase import LayerBase
from alexgen.targets.emit import call

if TYPE_CHECKING:
    from alexgen.graph import Node


class GELU(LayerBase):
    """Gaussian error linear unit: `approximate: none` (erf, the default of both frameworks) or `tanh`."""

    type: Literal["gelu"]
    approximate: Literal["none", "tanh"] = "none"


def keras(node: Node[GELU]) -> list[KerasLayer]:
    """The generated GELU layer; Keras's approximate is a boolean."""
    return [(node.name, call("GELU", approximate=node.layer.approximate == "tanh", name=node.name))]


OP = Op("gelu", GELU, element_wise, keras, torch_simple(lambda layer: call("nn.GELU", approximate=layer.approximate)),
        keras_helpers=lambda node: [Helper("keras/gelu.py.jinja", "GELU")], flat="keep")
