"""leaky_relu: max(x, negative_slope · x), with the slope always explicit (Keras's default is 0.3, PyTorch's 0.01)."""

from __future__ import annotations

from typing import Literal

from alexgen.ops._shared import element_wise, keras_simple, torch_simple
from alexgen.ops.base import Allowance, Op, float32_rounding
from alexgen.specbase import LayerBase, NonNegative
from alexgen.targets.emit import call


class LeakyReLU(LayerBase):
    """Leaky ReLU; `negative_slope` is required, since the frameworks' defaults differ (0.3 and 0.01)."""

    type: Literal["leaky_relu"]
    negative_slope: NonNegative


def float64_allowance(layer: LeakyReLU) -> Allowance | None:
    """TensorFlow's leaky_relu takes its slope as a float32 attribute, even on float64 tensors.

    The output then differs by |s - float32(s)|·|x| where x < 0; the output's largest magnitude is at least s·|x|
    for every such x, so relative to it the difference is at most |s - float32(s)| / s, for the output and for the
    gradient through it alike. None for a slope float32 holds exactly (0, 0.25, 0.5, ...).
    """
    slope = layer.negative_slope
    rounding = float32_rounding(slope)
    if not rounding:
        return None
    relative = rounding / slope
    return Allowance(
        f"TensorFlow's leaky_relu takes the slope {slope:g} as a float32 attribute (off by {rounding:.1e})",
        relative=relative,
        gradient=relative,
    )


OP = Op(
    "leaky_relu",
    LeakyReLU,
    element_wise,
    keras_simple("layers.LeakyReLU", "negative_slope"),
    torch_simple(lambda layer: call("nn.LeakyReLU", negative_slope=layer.negative_slope)),
    flat="keep",
    float64_allowance=float64_allowance,
)
