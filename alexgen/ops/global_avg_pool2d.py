"""global_avg_pool2d: the mean over height and width, a flat output."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from alexgen.analysis import Field, LayerStats, Shape, Window, grow, spatial
from alexgen.ops._shared import keras_simple
from alexgen.ops.base import Module, Op
from alexgen.specbase import LayerBase
from alexgen.targets.emit import call

if TYPE_CHECKING:
    from alexgen.graph import Node


class GlobalAvgPool2D(LayerBase):
    """Mean over height and width."""

    type: Literal["global_avg_pool2d"]


def analyze(layer: GlobalAvgPool2D, shapes: list[Shape], fields: list[Field]) -> LayerStats:
    """One value per channel; each sees the whole map."""
    h, w, c = spatial(shapes[0], "global_avg_pool2d")
    return LayerStats((c,), field=grow(fields[0], Window((h, w), (h, w))), other_ops=h * w * c)


def pytorch(node: Node[GlobalAvgPool2D]) -> list[Module]:
    """Mean over height and width, then flat: two modules in a chain."""
    return [Module(node.name, call("nn.AdaptiveAvgPool2d", 1)), Module(f"{node.name}_flatten", call("nn.Flatten", 1))]


OP = Op("global_avg_pool2d", GlobalAvgPool2D, analyze, keras_simple("layers.GlobalAveragePooling2D"), pytorch,
        pytorch_functional=lambda node, xs: f"{xs[0]}.mean(dim=(2, 3))", pooling=True,
        describe=lambda node: "global mean", colour="#fce5cd")
