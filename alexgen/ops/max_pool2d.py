"""max_pool2d: max pooling; `same` pads with -inf, as TensorFlow does."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from alexgen.ops._describe import pooled
from alexgen.ops._diagnose import Alternative, layer_module, padded_first, tf_same_pads
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


def diagnose(run: Any) -> list[Alternative]:
    """'same' padding: TensorFlow's asymmetric pads filled with -inf (not zeros, not symmetric)."""
    import torch.nn.functional as F

    if run.node.layer.padding != "same":
        return []
    win, pool = window_of(run.node), layer_module(run)
    core = lambda x: F.max_pool2d(x, pool.kernel_size, pool.stride, 0)  # noqa: E731
    return [Alternative("with TensorFlow's 'same' pads filled with -inf", "max pooling padded with the wrong value or "
                        "on the wrong sides: 'same' pads with -inf (zeros win over negative inputs), the odd extra "
                        "cell at the bottom/right", padded_first(run, tf_same_pads(win), float("-inf"), core))]


OP = Op("max_pool2d", MaxPool2D, analyze, lambda node: keras_pool("layers.MaxPooling2D", node), pytorch, pooling=True,
        diagnose=diagnose,
        describe=pooled, colour="#fce5cd")
