"""batch_norm: batch normalization over the channel axis, with Keras's meaning of momentum."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal

from alexgen.analysis import Field, LayerStats, Shape, Slot
from alexgen.ops._describe import number
from alexgen.ops._diagnose import Alternative, output, swapped
from alexgen.ops._shared import keras_simple
from alexgen.ops.base import Helper, Module, Op
from alexgen.specbase import LayerBase, Positive, Rate
from alexgen.targets.emit import call, literal

if TYPE_CHECKING:
    from alexgen.graph import Node

SLOTS = (("gamma", "weight"), ("beta", "bias"), ("moving_mean", "running_mean"), ("moving_variance", "running_var"))


class BatchNorm(LayerBase):
    """Batch normalization over the channel axis, Keras meaning of momentum."""

    type: Literal["batch_norm"]
    epsilon: Positive = 0.001
    momentum: Rate = 0.99


def analyze(layer: BatchNorm, shapes: list[Shape], fields: list[Field]) -> LayerStats:
    """gamma and beta are trainable; the moving mean and variance are not (as Keras counts)."""
    channels = shapes[0][-1]
    slots = tuple(Slot(name, (channels,), torch, follows_input=True) for name, torch in SLOTS)
    return LayerStats(shapes[0], 4 * channels, 2 * channels, field=fields[0], slots=slots,
                      other_ops=2 * math.prod(shapes[0]))  # a scale and a shift per element


def class_name(node: Node[BatchNorm]) -> str:
    """The generated PyTorch class: BatchNorm2d on maps, BatchNorm1d on vectors."""
    return "BatchNorm2d" if len(node.shape) == 3 else "BatchNorm1d"


def pytorch(node: Node[BatchNorm]) -> list[Module]:
    """The generated BatchNorm1d/2d: Keras's epsilon, momentum 1 - Keras's, biased variance."""
    layer = node.layer
    note = f"momentum = 1 - Keras's {layer.momentum!r}: PyTorch's weighs the new batch, Keras's the old value"
    momentum = literal(1 - layer.momentum)
    return [Module(node.name, call(class_name(node), node.shape[-1], eps=layer.epsilon, momentum=momentum), note)]


def pytorch_helpers(node: Node[BatchNorm]) -> list[Helper]:
    """The subclass updating the running variance as Keras does, with the dimensions it reduces."""
    dims = "(0, 2, 3)" if len(node.shape) == 3 else "(0,)"
    return [Helper("pytorch/batch_norm.py.jinja", class_name(node), dims)]


def diagnose(run: Any) -> list[Alternative]:
    """Inference-mode conventions: epsilon (the spec's vs PyTorch's default 1e-5)."""
    import torch

    epsilon = run.node.layer.epsilon
    module = next((m for m in run.modules if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)), None)
    if module is None or module.eps == epsilon:
        return []

    def change(bn: Any) -> Any:
        bn.eps = epsilon
        return bn

    return [Alternative(f"with eps = the spec's {epsilon!r} instead of {module.eps!r}", "the epsilon was not passed: "
                        "PyTorch's default is 1e-5, Keras's (and the spec's default) 1e-3",
                        lambda: output(run, swapped(run, torch.nn.modules.batchnorm._BatchNorm, change)))]


OP = Op("batch_norm", BatchNorm, analyze, keras_simple("layers.BatchNormalization", "epsilon", "momentum"), pytorch,
        pytorch_helpers=pytorch_helpers, flat="keep", diagnose=diagnose,
        describe=lambda node: f"eps {number(node.layer.epsilon)}", colour="#e6d9f2")
