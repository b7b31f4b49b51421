"""lrn: local response normalization with the paper's formula, a / (bias + alpha·Σa²)^beta."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field as PydanticField
from pydantic import PositiveInt, field_validator

from alexgen.analysis import Field, LayerStats, Shape, spatial
from alexgen.ops._describe import number
from alexgen.ops._diagnose import Alternative, output, swapped
from alexgen.ops._shared import keras_simple
from alexgen.ops.base import Helper, Module, Op
from alexgen.specbase import LayerBase, Positive
from alexgen.targets.emit import call, literal

if TYPE_CHECKING:
    from alexgen.graph import Node


class LRN(LayerBase):
    """Local response normalization, the paper's formula: a / (bias + alpha·Σa²)^beta."""

    type: Literal["lrn"]
    size: Annotated[PositiveInt, PydanticField(le=1001)] = 5
    alpha: Positive = 1e-4
    beta: Positive = 0.75
    bias: Positive = 2.0

    @field_validator("size")
    @classmethod
    def _odd(cls, value: int) -> int:
        if value % 2 == 0:
            raise ValueError(f"size must be odd (got {value}): an even window has no centre channel")
        return value


def analyze(layer: LRN, shapes: list[Shape], fields: list[Field]) -> LayerStats:
    """Cross-channel normalization; `size` neighbouring channels per output."""
    spatial(shapes[0], "lrn")
    return LayerStats(shapes[0], field=fields[0], other_ops=math.prod(shapes[0]) * layer.size)


def pytorch(node: Node[LRN]) -> list[Module]:
    """The generated LocalResponseNorm with alpha * size: PyTorch divides alpha by size, the spec's formula does not."""
    layer = node.layer
    note = f"alpha = {layer.alpha!r} x size {layer.size}: PyTorch divides alpha by size, the paper does not"
    return [Module(node.name, call("LocalResponseNorm", layer.size, alpha=literal(layer.alpha * layer.size),
                                   beta=layer.beta, k=layer.bias), note)]


def describe(node: Node[LRN]) -> str:
    """`n 5, a 0.0001, b 0.75, k 2`."""
    layer = node.layer
    return f"n {layer.size}, a {number(layer.alpha)}, b {number(layer.beta)}, k {number(layer.bias)}"


def diagnose(run: Any) -> list[Alternative]:
    """alpha as the spec's formula uses it vs divided by size (PyTorch's and Caffe's convention)."""
    import torch

    def with_alpha(factor: float) -> Callable[[], Any]:
        def change(module: Any) -> Any:
            module.alpha *= factor
            return module
        return lambda: output(run, swapped(run, torch.nn.LocalResponseNorm, change))

    size = run.node.layer.size
    return [Alternative(f"with nn.LocalResponseNorm's alpha multiplied by size {size}", "alpha was passed unconverted: "
                        "PyTorch divides alpha by size, the spec's (paper's) formula does not", with_alpha(size)),
            Alternative(f"with nn.LocalResponseNorm's alpha divided by size {size}", "alpha was multiplied by size "
                        "once too often", with_alpha(1 / size))]


OP = Op("lrn", LRN, analyze, keras_simple("LocalResponseNormalization", "size", "alpha", "beta", "bias"), pytorch,
        keras_helpers=lambda node: [Helper("keras/lrn.py.jinja", "LocalResponseNormalization")],
        pytorch_helpers=lambda node: [Helper("pytorch/lrn.py.jinja", "LocalResponseNorm")], diagnose=diagnose,
        describe=describe, colour="#e6d9f2")
