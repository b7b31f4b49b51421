"""The spec keys and analysis rule max and average pooling share."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from alexgen.analysis import Field, LayerStats, Shape, ShapeError, grow, pair, skipped_cells, spatial, square, window
from alexgen.ops._shared import window_of
from alexgen.ops.base import KerasLayer
from alexgen.specbase import IntOrPair, LayerBase
from alexgen.targets.emit import call, pair_text

if TYPE_CHECKING:
    from alexgen.graph import Node


class Pool2D(LayerBase):
    """Keys shared by max and average pooling."""

    pool_size: IntOrPair = 2
    strides: IntOrPair | None = None
    padding: Literal["valid", "same"] = "valid"


def analyze(layer: Pool2D, shapes: list[Shape], fields: list[Field]) -> LayerStats:
    """Strides default to the pool size; windows may not skip input cells."""
    h, w, c = spatial(shapes[0], layer.type)
    kernel = pair(layer.pool_size)
    strides = pair(layer.strides) if layer.strides is not None else kernel
    gap = skipped_cells(kernel, strides)
    if gap is not None:
        label, skipped, stride = gap
        raise ShapeError(f"strides {square(strides)} are larger than pool_size {square(kernel)}: the pooling windows "
                         f"never read {skipped} of every {stride} {label} of the input",
                         "use strides no larger than pool_size (without `strides`, they equal pool_size)", "strides")
    win, (oh, ow) = window((h, w, c), kernel, strides, (1, 1), layer.padding, "pool_size")
    ops = oh * ow * c * kernel[0] * kernel[1]  # a comparison or a sum per window cell
    return LayerStats((oh, ow, c), field=grow(fields[0], win), window=win, other_ops=ops)


def keras_pool(cls: str, node: Node[Any]) -> list[KerasLayer]:
    """MaxPooling2D / AveragePooling2D; strides omitted when equal to the pool size."""
    win = window_of(node)
    strides = None if win.strides == win.kernel else pair_text(win.strides)
    padding = None if node.layer.padding == "valid" else node.layer.padding
    return [(node.name, call(cls, pool_size=pair_text(win.kernel), strides=strides, padding=padding, name=node.name))]
