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


GRID = [i / 1000 for i in range(-8000, 8001)]  # where the sup over x is taken: both forms are flat beyond |x| = 8
ROOT_HALF, TANH_SCALE, TANH_CUBIC = math.sqrt(0.5), math.sqrt(2 / math.pi), 0.044715


def tanh_form(x: float, k: float) -> tuple[float, float]:
    """The tanh approximation 0.5·x·(1 + tanh(s·(x + k·x³))) and its derivative in x."""
    u = TANH_SCALE * (x + k * x**3)
    sech2 = 1 - math.tanh(u) ** 2
    return 0.5 * x * (1 + math.tanh(u)), 0.5 * (1 + math.tanh(u)) + 0.5 * x * sech2 * TANH_SCALE * (1 + 3 * k * x * x)


def float64_allowance(layer: GELU) -> Allowance | None:
    """TensorFlow's gelu casts a Python-float constant through float32, even in float64: c = 1/sqrt(2) in the
    exact form 0.5·x·erfc(-x·c), k = 0.044715 in the tanh form.

    Exact: d gelu / dc = x²/sqrt(pi)·exp(-x²c²), largest at x² = 2: (2/sqrt(pi))/e, times the rounding of c is the
    largest absolute difference of the output (5.0e-9). Tanh: the same sup of d gelu / dk, taken on a grid. The
    derivative gelu' changes by at most sup |d gelu'/dc| (0.46 per unit of c) and gelu' reaches 1.13, so relative
    to a gradient through the layer that is a first-order estimate, taken with a margin of 4 (the gradient's
    scale varies over the tensor).
    """
    if layer.approximate == "none":
        rounding = float32_rounding(ROOT_HALF)
        slope = max(abs(x / math.sqrt(math.pi) * math.exp(-x * x / 2) * (2 - x * x)) for x in GRID)
        return Allowance(
            f"TensorFlow's exact gelu casts 1/sqrt(2) through float32 (off by {rounding:.1e})",
            absolute=2 / math.sqrt(math.pi) / math.e * rounding,
            gradient=4 * slope * rounding,
        )
    rounding, h = float32_rounding(TANH_CUBIC), 1e-6
    changes = [
        [(a - b) / (2 * h) for a, b in zip(tanh_form(x, TANH_CUBIC + h), tanh_form(x, TANH_CUBIC - h), strict=True)]
        for x in GRID
    ]
    return Allowance(
        f"TensorFlow's tanh gelu casts 0.044715 through float32 (off by {rounding:.1e})",
        absolute=max(abs(c[0]) for c in changes) * rounding,
        gradient=4 * max(abs(c[1]) for c in changes) * rounding,
    )


OP = Op(
    "gelu",
    GELU,
    element_wise,
    keras,
    torch_simple(lambda layer: call("nn.GELU", approximate=layer.approximate)),
    keras_helpers=lambda node: [Helper("", "GELU", source=KERAS_GELU)],
    flat="keep",
    float64_allowance=float64_allowance,
)
