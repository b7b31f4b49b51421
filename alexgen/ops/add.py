"""add: the element-wise sum of two or more inputs of one shape (residual connections; Keras Add, PyTorch `+`)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field as PydanticField

from alexgen.analysis import Field, LayerStats, Shape, ShapeError, fmt, widest
from alexgen.ops.base import KerasLayer, Op
from alexgen.specbase import MAX_NAME, LayerBase
from alexgen.targets.emit import call

if TYPE_CHECKING:
    from alexgen.graph import Node


class Add(LayerBase):
    """The element-wise sum of its inputs, which must all have the same shape."""

    type: Literal["add"]
    inputs: Annotated[list[Annotated[str, PydanticField(max_length=MAX_NAME)]], PydanticField(min_length=2)]


def analyze(layer: Add, shapes: list[Shape], fields: list[Field]) -> LayerStats:
    """Same shape in and out; each output sees the union of its inputs' receptive fields."""
    if any(shape != shapes[0] for shape in shapes[1:]):
        raise ShapeError(f"add needs inputs of one shape, got {', '.join(fmt(s) for s in shapes)}",
                         "sum only layers with the same output shape (a 1x1 conv2d can match the channels)",
                         "inputs")
    return LayerStats(shapes[0], field=widest(fields), other_ops=(len(shapes) - 1) * math.prod(shapes[0]))


def keras(node: Node[Add]) -> list[KerasLayer]:
    """layers.Add, called on the list of inputs."""
    return [(node.name, call("layers.Add", name=node.name))]


OP = Op("add", Add, analyze, keras, pytorch_functional=lambda node, xs: " + ".join(xs), multi_input=True,
        flat="keep", describe=lambda node: "add", colour="#fff2cc")
