"""dropout: drops a fraction `rate` of activations while training."""

from __future__ import annotations

from typing import Literal

from alexgen.ops._describe import number
from alexgen.ops._shared import keep_shape, keras_simple, torch_simple
from alexgen.ops.base import Op
from alexgen.specbase import LayerBase, Rate
from alexgen.targets.emit import call


class Dropout(LayerBase):
    """Drops a fraction `rate` of activations while training."""

    type: Literal["dropout"]
    rate: Rate



OP = Op("dropout", Dropout, keep_shape, keras_simple("layers.Dropout", "rate"),
        torch_simple(lambda layer: call("nn.Dropout", layer.rate)), flat="keep", may_alias_input=True,
        trails_block=True, describe=lambda node: f"rate {number(node.layer.rate)}", colour="#eeeeee")
