"""activation: a standalone activation layer (relu, softmax, sigmoid, tanh, linear)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from alexgen.ops._describe import activation_text
from alexgen.ops._shared import ACTIVATION_FUNCTIONS, ACTIVATION_MODULES, element_wise
from alexgen.ops.base import KerasLayer, Module, Op
from alexgen.specbase import Activation, LayerBase
from alexgen.targets.emit import Code, call

if TYPE_CHECKING:
    from alexgen.graph import Node


class ActivationLayer(LayerBase):
    """A standalone activation."""

    type: Literal["activation"]
    activation: Activation



def keras(node: Node[ActivationLayer]) -> list[KerasLayer]:
    """Activation."""
    return [(node.name, call("layers.Activation", node.layer.activation, name=node.name))]


def pytorch(node: Node[ActivationLayer]) -> list[Module]:
    """The activation's module; ReLU in place only where the target finds that safe."""
    code = Code(ACTIVATION_MODULES[node.layer.activation])
    return [Module(node.name, code, not_inplace=call("nn.ReLU") if node.layer.activation == "relu" else None)]


OP = Op("activation", ActivationLayer, element_wise, keras, pytorch,
        pytorch_functional=lambda node, xs: ACTIVATION_FUNCTIONS[node.layer.activation].format(xs[0]),
        output_activation=lambda layer: layer.activation, flat="keep",
        describe=activation_text, colour="#f4f4f4", folds_into_previous=True)
