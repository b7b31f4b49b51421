"""zero_padding2d: explicit zeros around height and width."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from alexgen.analysis import Field, LayerStats, Shape, Window, explicit_pads, spatial
from alexgen.ops._describe import pads_text
from alexgen.ops._shared import window_of
from alexgen.ops.base import KerasLayer, Module, Op
from alexgen.specbase import ExplicitPadding, LayerBase
from alexgen.targets.emit import call, keras_pads, torch_pads

if TYPE_CHECKING:
    from alexgen.graph import Node


class ZeroPadding2D(LayerBase):
    """Explicit zero padding: int, [h, w] or [[top, bottom], [left, right]]."""

    type: Literal["zero_padding2d"]
    padding: ExplicitPadding = 1


def analyze(layer: ZeroPadding2D, shapes: list[Shape], fields: list[Field]) -> LayerStats:
    """The pads add to height and width; the receptive field is unchanged."""
    h, w, c = spatial(shapes[0], "zero_padding2d")
    pads = explicit_pads(layer.padding)
    return LayerStats((h + sum(pads[0]), w + sum(pads[1]), c), field=fields[0],
                      window=Window((1, 1), (1, 1), pads=pads))


def keras(node: Node[ZeroPadding2D]) -> list[KerasLayer]:
    """ZeroPadding2D."""
    return [(node.name, call("layers.ZeroPadding2D", padding=keras_pads(window_of(node).pads), name=node.name))]


def pytorch(node: Node[ZeroPadding2D]) -> list[Module]:
    """nn.ZeroPad2d, whose pads are (left, right, top, bottom)."""
    return [Module(node.name, call("nn.ZeroPad2d", torch_pads(window_of(node).pads)))]


OP = Op("zero_padding2d", ZeroPadding2D, analyze, keras, pytorch,
        describe=lambda node: f"pad {pads_text(window_of(node).pads)}", colour="#f4f4f4", explicit_pad=True)
