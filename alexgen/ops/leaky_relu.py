"""leaky_relu: max(x, negative_slope · x), with the slope always explicit (Keras's default is 0.3, PyTorch's 0.01)."""

from __future__ import annotations

from typing import Literal

from alexgen.ops._shared import element_wise, keras_simple, torch_simple
from alexgen.ops.base import Op
from alexgen.specbase import LayerBase, NonNegative
from alexgen.targets.emit import call


class LeakyReLU(LayerBase):
    """Leaky ReLU; `negative_slope` is required, since the frameworks' defaults differ (0.3 and 0.01)."""

    type: Literal["leaky_relu"]
    negative_slope: NonNegative


OP = Op("leaky_relu", LeakyReLU, element_wise, keras_simple("layers.LeakyReLU", "negative_slope"),
        torch_simple(lambda layer: call("nn.LeakyReLU", negative_slope=layer.negative_slope)), flat="keep")
