"""gelu: x · Φ(x), exact (erf) or with the tanh approximation; PyTorch nn.GELU(approximate=...), and in Keras a small
generated layer around keras.activations.gelu(approximate=...), since Keras has no GELU layer of its own."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal

from alexgen.ops._shared import element_wise, torch_simple
from alexgen.ops.base import Allowance, Helper, KerasLayer, Op, float32_rounding
from alexgen.specbase import LayerBase
from alexgen.targets.emit import call

if TYPE_CHECKING:
    from alexgen.graph import Node

KERAS_GELU = '''@keras.saving.register_keras_serializable(package="alexgen")
class GELU(layers.Layer):
    """GELU as torch.nn.GELU: exact (erf) unless `approximate` (the tanh formula)."""

    def __init__(self, approximate: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.approximate = approximate

    def call(self, inputs):
        return keras.activations.gelu(inputs, approximate=self.approximate)

    def get_config(self) -> dict:
        return {**super().get_config(), "approximate": self.approximate}'''


class GELU(LayerBase):
    """Gaussian error linear unit: `approximate: none` (erf, the default of both frameworks) or `tanh`."""

    type: Literal["gelu"]
    approximate: Literal["none", "tanh"] = "none"


def keras(node: Node[GELU]) -> list[KerasLayer]:
    """The generated GELU layer; Keras's approximate is a boolean."""
    return [(node.name, call("GELU", approximate=node.layer.approximate == "tanh", name=node.name))]


def float64_allowance(layer: GELU) -> Allowance | None:
    """TensorFlow's exact gelu, 0.5·x·erfc(-x·c), casts c = 1/sqrt(2) from a float32 constant, even in float64.

    d gelu / dc = x²/sqrt(pi)·exp(-x²c²), largest at x² = 2: (2/sqrt(pi))/e, times the rounding of c is the
    largest absolute difference of the output (5.0e-9). The derivative gelu'(x) changes by
    x/sqrt(pi)·exp(-x²/2)·(2 - x²) per unit of c, at most 0.46; gelu' reaches 1.13, so relative to a gradient
    through the layer that is a first-order estimate, taken with a margin of 4 (the gradient's scale varies). The
    tanh form (its 0.044715 also goes through float32) stays below 2e-10 and gets none.
    """
    if layer.approximate != "none":
        return None
    rounding = float32_rounding(math.sqrt(0.5))
    slope = max(abs(x / math.sqrt(math.pi) * math.exp(-x * x / 2) * (2 - x * x)) for x in
                (i / 1000 for i in range(-6000, 6001)))
    return Allowance(f"TensorFlow's exact gelu casts 1/sqrt(2) through float32 (off by {rounding:.1e})",
                     absolute=2 / math.sqrt(math.pi) / math.e * rounding, gradient=4 * slope * rounding)


OP = Op("gelu", GELU, element_wise, keras, torch_simple(lambda layer: call("nn.GELU", approximate=layer.approximate)),
        keras_helpers=lambda node: [Helper("", "GELU", source=KERAS_GELU)], flat="keep",
        float64_allowance=float64_allowance)
