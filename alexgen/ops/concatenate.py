"""concatenate: joins two or more inputs along one axis (Keras convention: batch axis 0, default channels)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field as PydanticField

from alexgen.analysis import Field, LayerStats, Shape, ShapeError, fmt, widest
from alexgen.ops.base import KerasLayer, Op
from alexgen.specbase import MAX_NAME, LayerBase
from alexgen.targets.emit import call

if TYPE_CHECKING:
    from alexgen.graph import Node


class Concatenate(LayerBase):
    """Joins its inputs along `axis` (Keras convention, batch axis 0; default channels)."""

    type: Literal["concatenate"]
    inputs: Annotated[list[Annotated[str, PydanticField(max_length=MAX_NAME)]], PydanticField(min_length=2)]
    axis: int = -1


def analyze(layer: Concatenate, shapes: list[Shape], fields: list[Field]) -> LayerStats:
    """Join along one axis; every other axis must agree."""
    rank = len(shapes[0])
    if any(len(shape) != rank for shape in shapes):
        raise ShapeError(f"cannot concatenate inputs of different ranks: {', '.join(fmt(x) for x in shapes)}",
                         "flatten every input, or none", "inputs")
    if not (-rank <= layer.axis <= rank and layer.axis != 0):
        raise ShapeError(f"axis {layer.axis} is out of range for {rank}-D inputs (axis 0 is the batch)",
                         "use -1 (channels) or omit axis", "axis")
    axis = layer.axis - 1 if layer.axis > 0 else rank + layer.axis
    for shape in shapes[1:]:
        if shape[:axis] + shape[axis + 1:] != shapes[0][:axis] + shapes[0][axis + 1:]:
            raise ShapeError(f"inputs differ outside the concatenation axis: {', '.join(fmt(x) for x in shapes)}",
                             "every input needs the same height and width to be joined on channels", "inputs")
    out = list(shapes[0])
    out[axis] = sum(shape[axis] for shape in shapes)
    return LayerStats(tuple(out), field=widest(fields))


def keras(node: Node[Concatenate]) -> list[KerasLayer]:
    """Concatenate along the spec's (Keras) axis."""
    axis = node.layer.axis
    return [(node.name, call("layers.Concatenate", axis=None if axis == -1 else axis, name=node.name))]


def torch_dim(node: Node[Concatenate]) -> int:
    """The spec's Keras axis (batch 0, channels last) as an NCHW dimension."""
    rank = len(node.input_shapes[0]) + 1
    axis = node.layer.axis % rank
    return {1: 2, 2: 3, 3: 1}[axis] if rank == 4 else axis


OP = Op("concatenate", Concatenate, analyze, keras,
        pytorch_functional=lambda node, xs: f"torch.cat([{', '.join(xs)}], dim={torch_dim(node)})",
        multi_input=True, flat="join",
        describe=lambda node: f"concat ({'channels' if len(node.shape) == 3 else 'features'})", colour="#fff2cc")
