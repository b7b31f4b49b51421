"""The op registry: one module per layer type, listed here explicitly (the order is the schema's)."""

from __future__ import annotations

from typing import Any

from alexgen.ops import (
    activation,
    adaptive_avg_pool2d,
    add,
    avg_pool2d,
    batch_norm,
    concatenate,
    conv2d,
    dense,
    depthwise_conv2d,
    dropout,
    elu,
    flatten,
    gelu,
    global_avg_pool2d,
    leaky_relu,
    lrn,
    max_pool2d,
    zero_padding2d,
)
from alexgen.ops.base import Allowance, Helper, KerasLayer, Module, Op

__all__ = ["OPS", "Allowance", "Helper", "KerasLayer", "Module", "Op", "op_named"]

OPS: tuple[Op[Any], ...] = (
    conv2d.OP,
    dense.OP,
    max_pool2d.OP,
    avg_pool2d.OP,
    adaptive_avg_pool2d.OP,
    global_avg_pool2d.OP,
    zero_padding2d.OP,
    batch_norm.OP,
    lrn.OP,
    dropout.OP,
    flatten.OP,
    activation.OP,
    concatenate.OP,
    depthwise_conv2d.OP,
    add.OP,
    leaky_relu.OP,
    elu.OP,
    gelu.OP,
)
BY_NAME: dict[str, Op[Any]] = {op.name: op for op in OPS}


def op_named(name: str) -> Op[Any] | None:
    """The op of a layer type, or None for a type no op defines."""
    return BY_NAME.get(name)
