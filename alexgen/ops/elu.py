"""elu: x for x > 0, alpha · (exp(x) − 1) otherwise (Keras ELU, PyTorch nn.ELU; alpha always written out)."""

from __future__ import annotations

from typing import Literal

from alexgen.ops._shared import element_wise, keras_simple, torch_simple
from alexgen.ops.base import Op
from alexgen.specbase import LayerBase, Positive
from alexgen.targets.emit import call


class ELU(LayerBase):
    """Exponential linear unit with the scale `alpha` of its negative part."""

    type: Literal["elu"]
    alpha: Positive = 1.0


OP = Op("elu", ELU, element_wise, keras_simple("layers.ELU", "alpha"),
        torch_simple(lambda layer: call("nn.ELU", alpha=layer.alpha)), flat="keep")
