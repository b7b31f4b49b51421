"""avg_pool2d: average pooling; `same` divides by the count of real cells, as TensorFlow does."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from alexgen.ops._describe import pooled
from alexgen.ops._diagnose import Alternative, padded_first, tf_same_pads
from alexgen.ops._pool import Pool2D, analyze, keras_pool
from alexgen.ops._shared import window_of
from alexgen.ops.base import Helper, Module, Op
from alexgen.targets.emit import call, pair_text, torch_pads

if TYPE_CHECKING:
    from alexgen.graph import Node


class AvgPool2D(Pool2D):
    """Average pooling; `same` divides by the count of real cells, as TensorFlow does."""

    type: Literal["avg_pool2d"]


def pytorch_helpers(node: Node[AvgPool2D]) -> list[Helper]:
    """Asymmetric pads need a pooling module that divides by the real cells."""
    return [] if window_of(node).symmetric else [Helper("pytorch/avg_pool_same.py.jinja", "AvgPool2dSame")]


def pytorch(node: Node[AvgPool2D]) -> list[Module]:
    """nn.AvgPool2d dividing by real cells only; asymmetric 'same' needs the AvgPool2dSame helper."""
    win = window_of(node)
    kernel, stride = pair_text(win.kernel), pair_text(win.strides)
    if not win.symmetric:
        return [Module(node.name, call("AvgPool2dSame", kernel, stride, torch_pads(win.pads)))]
    padding = pair_text((win.pads[0][0], win.pads[1][0]))
    return [Module(node.name, call("nn.AvgPool2d", kernel_size=kernel, stride=stride, padding=padding or None,
                                   count_include_pad=False if padding else None))]


def diagnose(run: Any) -> list[Alternative]:
    """'same' padding: the divisor counts real cells only (count_include_pad=False), pads asymmetric."""
    import torch
    import torch.nn.functional as F

    if run.node.layer.padding != "same":
        return []
    win = window_of(run.node)
    pads = tf_same_pads(win)

    def real_cells_only() -> Any:
        ones = torch.ones_like(run.inputs[0][:, :1])
        total = padded_first(run, pads, 0.0, lambda x: F.avg_pool2d(x, win.kernel, win.strides, 0))()
        cells = F.avg_pool2d(F.pad(ones, pads), win.kernel, win.strides, 0)
        return total / cells.permute(0, 2, 3, 1).numpy()

    return [Alternative("dividing by the real cells of each window (count_include_pad=False, TensorFlow's pads)",
                        "the average counted padded cells: TensorFlow's 'same' average divides by the real cells",
                        real_cells_only)]


OP = Op("avg_pool2d", AvgPool2D, analyze, lambda node: keras_pool("layers.AveragePooling2D", node),
        pytorch, pytorch_helpers=pytorch_helpers, pooling=True, diagnose=diagnose,
        describe=pooled, colour="#fce5cd")
