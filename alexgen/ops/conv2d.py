"""conv2d: 2-D convolution over channels-last input (Keras Conv2D, PyTorch nn.Conv2d)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from alexgen.analysis import Field, LayerStats, Shape, ShapeError, grow, pair, spatial, window
from alexgen.ops._describe import activation_text, joined, window_text
from alexgen.ops._diagnose import Alternative, layer_module, padded_first, tf_same_pads
from alexgen.ops._shared import (
    count,
    epilogue_ops,
    keras_explicit_pad,
    keras_weighted,
    kernel_slots,
    own_activation,
    torch_padded,
    window_of,
)
from alexgen.ops.base import KerasLayer, Module, Op
from alexgen.specbase import ExplicitPadding, IntOrPair, Size, WeightedLayer
from alexgen.targets.emit import call, pair_text

if TYPE_CHECKING:
    from alexgen.graph import Node


class Conv2D(WeightedLayer):
    """2-D convolution over channels-last input."""

    type: Literal["conv2d"]
    filters: Size
    kernel_size: IntOrPair
    strides: IntOrPair = 1
    padding: Literal["valid", "same"] | ExplicitPadding = "valid"
    groups: Size = 1
    dilation_rate: IntOrPair = 1


def check_strides(strides: tuple[int, int], dilation: tuple[int, int]) -> None:
    """Keras refuses strides and dilation both above 1."""
    if max(strides) > 1 and max(dilation) > 1:
        raise ShapeError("strides > 1 together with dilation_rate > 1 is not supported by Keras",
                         "use strides 1 with dilation, or dilation 1 with strides", "dilation_rate")


def analyze(layer: Conv2D, shapes: list[Shape], fields: list[Field]) -> LayerStats:
    """Exact TensorFlow output sizes; grouped kernels have in/groups input channels."""
    h, w, c = spatial(shapes[0], "conv2d")
    strides, dilation = pair(layer.strides), pair(layer.dilation_rate)
    check_strides(strides, dilation)
    for number, label in ((c, "input channels"), (layer.filters, "filters")):
        if number % layer.groups:
            raise ShapeError(f"groups={layer.groups} does not divide the {number} {label}",
                             f"choose groups among the common divisors of {c} and {layer.filters}", "groups")
    win, (oh, ow) = window((h, w, c), pair(layer.kernel_size), strides, dilation, layer.padding, "kernel_size")
    slots = kernel_slots(layer, (*win.kernel, c // layer.groups, layer.filters), "conv")
    macs = oh * ow * layer.filters * win.kernel[0] * win.kernel[1] * (c // layer.groups)
    return LayerStats((oh, ow, layer.filters), count(slots), count(slots), macs, grow(fields[0], win), win, slots,
                      epilogue_ops(layer, oh * ow * layer.filters))


def keras(node: Node[Conv2D]) -> list[KerasLayer]:
    """Conv2D; explicit padding becomes ZeroPadding2D + a `valid` convolution."""
    layer, win = node.layer, window_of(node)
    padding = layer.padding if isinstance(layer.padding, str) else "valid"
    return [*keras_explicit_pad(node, layer.padding), (node.name, call(
        "layers.Conv2D", layer.filters, pair_text(win.kernel),
        strides=None if win.strides == (1, 1) else pair_text(win.strides),
        padding=None if padding == "valid" else padding,
        groups=None if layer.groups == 1 else layer.groups,
        dilation_rate=None if win.dilation == (1, 1) else pair_text(win.dilation),
        **keras_weighted(layer), name=node.name))]


def pytorch(node: Node[Conv2D]) -> list[Module]:
    """nn.Conv2d; asymmetric padding as an explicit nn.ZeroPad2d (never padding="same")."""
    layer, win = node.layer, window_of(node)
    out, padding = torch_padded(node, "zeros", layer.padding == "same")
    return [*out, Module(node.name, call(
        "nn.Conv2d", node.input_shapes[0][-1], layer.filters, kernel_size=pair_text(win.kernel),
        stride=None if win.strides == (1, 1) else pair_text(win.strides), padding=padding,
        dilation=None if win.dilation == (1, 1) else pair_text(win.dilation),
        groups=None if layer.groups == 1 else layer.groups, bias=None if layer.use_bias else False))]


def describe(node: Node[Conv2D]) -> str:
    """`11x11/4, groups 2, relu, no bias`."""
    layer = node.layer
    return joined(window_text(node.window, layer.padding), f"groups {layer.groups}" if layer.groups > 1 else "",
                  activation_text(node), "" if layer.use_bias else "no bias")


def diagnose(run: Any) -> list[Alternative]:
    """'same' padding: TensorFlow's asymmetric pads instead of symmetric ones."""
    import torch.nn.functional as F

    if run.node.layer.padding != "same":
        return []
    win, conv = window_of(run.node), layer_module(run)

    def core(x: Any) -> Any:
        return F.conv2d(x, conv.weight, conv.bias, conv.stride, 0, conv.dilation, conv.groups)

    return [Alternative("with TensorFlow's asymmetric 'same' padding", "'same' was padded symmetrically (kernel // 2 "
                        "each side): TensorFlow puts the odd extra row/column at the bottom/right",
                        padded_first(run, tf_same_pads(win), 0.0, core))]


OP = Op("conv2d", Conv2D, analyze, keras, pytorch, output_activation=own_activation, fused_activation=True,
        skips_cells=True, size_key="filters", diagnose=diagnose, describe=describe, colour="#cfe2f3",
        folds_activation=True, absorbs_pad=True)
