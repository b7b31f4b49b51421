"""flatten: height, width and channels become one vector (channels-last order in the spec)."""

from __future__ import annotations

import math
from typing import Literal

from alexgen.analysis import Field, LayerStats, Shape, Window, grow
from alexgen.ops._shared import keras_simple, torch_simple
from alexgen.ops.base import Op
from alexgen.specbase import LayerBase
from alexgen.targets.emit import call


class Flatten(LayerBase):
    """Flattens height, width and channels (in that order, channels-last)."""

    type: Literal["flatten"]


def analyze(layer: Flatten, shapes: list[Shape], fields: list[Field]) -> LayerStats:
    """H x W x C becomes one vector; each output sees the whole map."""
    shape = shapes[0]
    if len(shape) == 1:
        return LayerStats(shape, field=fields[0])
    return LayerStats((math.prod(shape),), field=grow(fields[0], Window((shape[0], shape[1]), (shape[0], shape[1]))))


# In a chain, the flatten at the features/classifier boundary is torch.flatten in forward (the target decides).
OP = Op("flatten", Flatten, analyze, keras_simple("layers.Flatten"), torch_simple(lambda layer: call("nn.Flatten", 1)),
        pytorch_functional=lambda node, xs: f"torch.flatten({xs[0]}, 1)", flat="flatten", may_alias_input=True,
        colour="#eeeeee")
