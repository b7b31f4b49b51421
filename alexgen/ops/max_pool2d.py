"""max_pool2d: max pooling; `same` pads with -inf, as TensorFlow does."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from alexgen.ops._describe import pooled
from alexgen.ops._pool import Pool2D, analyze, keras_pool
from alexgen.ops._shared import torch_padded, window_of
from alexgen.ops.base import Module, Op
from alexgen.targets.emit import call, pair_text

if TYPE_CHECKING:
    from alexgen.graph import Node


class MaxPool2D(Pool2D):
    """Max pooling; `same` pads with -inf, as TensorFlow does."""

    type: Literal["max_pool2d"]


def pytorch(node: Node[MaxPool2D]) -> list[Module]:
    """nn.MaxPool2d; asymmetric 'same' pads with -inf first, as TensorFlow does."""
    win = window_of(node)
    out, padding = torch_padded(node, "-inf", node.layer.padding == "same")
    return [*out, Module(node.name, call("nn.MaxPool2d", kernel_size=pair_text(win.kernel),
                                         stride=pair_text(win.strides), padding=padding))]


OP = Op("max_pool2d", MaxPool2D, analyze, lambda node: keras_pool("layers.MaxPooling2D", node), pytorch, pooling=True,
        describe=pooled, colour="#fce5cd")
