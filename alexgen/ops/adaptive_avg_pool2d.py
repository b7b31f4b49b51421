"""adaptive_avg_pool2d: average pooling to a fixed output size, in PyTorch's (possibly overlapping) bins."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from alexgen.analysis import Field, LayerStats, Shape, ShapeError, Window, adaptive_bins, grow, pair, spatial
from alexgen.ops._describe import pair_text as describe_pair
from alexgen.ops.base import KerasLayer, Module, Op
from alexgen.specbase import IntOrPair, LayerBase
from alexgen.targets.emit import call, pair_text

if TYPE_CHECKING:
    from alexgen.graph import Node


class AdaptiveAvgPool2D(LayerBase):
    """Average pooling to a fixed output size (PyTorch's bins)."""

    type: Literal["adaptive_avg_pool2d"]
    output_size: IntOrPair


def analyze(layer: AdaptiveAvgPool2D, shapes: list[Shape], fields: list[Field]) -> LayerStats:
    """Each output averages one bin; bins may overlap when the sizes do not divide."""
    h, w, c = spatial(shapes[0], "adaptive_avg_pool2d")
    oh, ow = pair(layer.output_size)
    if oh > h or ow > w:
        raise ShapeError(f"output_size {oh}x{ow} is larger than the input {h}x{w}",
                         "adaptive pooling only shrinks; use an output_size no larger than the input", "output_size")
    bins = (adaptive_bins(h, oh), adaptive_bins(w, ow))
    kernel = (max(b - a for a, b in bins[0]), max(b - a for a, b in bins[1]))
    ops = c * sum(b - a for a, b in bins[0]) * sum(b - a for a, b in bins[1])
    win = Window(kernel, (max(h // oh, 1), max(w // ow, 1)))
    return LayerStats((oh, ow, c), field=grow(fields[0], win), other_ops=ops)


def keras(node: Node[AdaptiveAvgPool2D]) -> list[KerasLayer]:
    """AdaptiveAveragePooling2D (PyTorch's bins)."""
    size = pair_text((node.shape[0], node.shape[1]))
    return [(node.name, call("layers.AdaptiveAveragePooling2D", size, name=node.name))]


def pytorch(node: Node[AdaptiveAvgPool2D]) -> list[Module]:
    """nn.AdaptiveAvgPool2d."""
    return [Module(node.name, call("nn.AdaptiveAvgPool2d", pair_text((node.shape[0], node.shape[1]))))]


OP = Op("adaptive_avg_pool2d", AdaptiveAvgPool2D, analyze, keras, pytorch, pooling=True, held_apart=True,
        describe=lambda node: f"to {describe_pair((node.shape[0], node.shape[1]))}", colour="#fce5cd")
