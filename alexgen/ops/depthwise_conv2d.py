"""depthwise_conv2d: one spatial filter per input channel and multiplier (Keras DepthwiseConv2D; PyTorch nn.Conv2d
with groups=in_channels and in_channels * depth_multiplier outputs)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from alexgen.analysis import Field, LayerStats, Shape, grow, pair, spatial, window
from alexgen.ops import _shared
from alexgen.ops.base import KerasLayer, Module, Op
from alexgen.ops.conv2d import check_strides
from alexgen.specbase import ExplicitPadding, IntOrPair, Size, WeightedLayer
from alexgen.targets.emit import call, pair_text

if TYPE_CHECKING:
    from alexgen.graph import Node


class DepthwiseConv2D(WeightedLayer):
    """Depthwise convolution: each input channel gets `depth_multiplier` filters of its own."""

    type: Literal["depthwise_conv2d"]
    kernel_size: IntOrPair
    depth_multiplier: Size = 1
    strides: IntOrPair = 1
    padding: Literal["valid", "same"] | ExplicitPadding = "valid"
    dilation_rate: IntOrPair = 1


def analyze(layer: DepthwiseConv2D, shapes: list[Shape], fields: list[Field]) -> LayerStats:
    """channels x multiplier outputs; the kernel is (kh, kw, channels, multiplier), Keras's layout.

    PyTorch holds it as (channels * multiplier, 1, kh, kw): output channel c * multiplier + m reads input c.
    """
    h, w, c = spatial(shapes[0], "depthwise_conv2d")
    strides, dilation = pair(layer.strides), pair(layer.dilation_rate)
    check_strides(strides, dilation)
    win, (oh, ow) = window((h, w, c), pair(layer.kernel_size), strides, dilation, layer.padding, "kernel_size")
    out = c * layer.depth_multiplier
    slots = _shared.kernel_slots(layer, (*win.kernel, c, layer.depth_multiplier), "conv", (out, 1, *win.kernel))
    macs = oh * ow * out * win.kernel[0] * win.kernel[1]
    return LayerStats((oh, ow, out), _shared.count(slots), _shared.count(slots), macs, grow(fields[0], win), win,
                      slots, _shared.epilogue_ops(layer, oh * ow * out))


def keras(node: Node[DepthwiseConv2D]) -> list[KerasLayer]:
    """DepthwiseConv2D; the spec's kernel_* keys are Keras's depthwise_* ones; explicit padding is a ZeroPadding2D."""
    layer, win = node.layer, _shared.window_of(node)
    padding = layer.padding if isinstance(layer.padding, str) else "valid"
    return [*_shared.keras_explicit_pad(node, layer.padding), (node.name, call(
        "layers.DepthwiseConv2D", pair_text(win.kernel),
        strides=None if win.strides == (1, 1) else pair_text(win.strides),
        padding=None if padding == "valid" else padding, depth_multiplier=layer.depth_multiplier,
        dilation_rate=None if win.dilation == (1, 1) else pair_text(win.dilation),
        **_shared.keras_weighted(layer, kernel="depthwise"), name=node.name))]


def pytorch(node: Node[DepthwiseConv2D]) -> list[Module]:
    """nn.Conv2d(c, c * multiplier, groups=c): PyTorch's depthwise convolution."""
    layer, win = node.layer, _shared.window_of(node)
    channels = node.input_shapes[0][-1]
    out, padding = _shared.torch_padded(node, "zeros", layer.padding == "same")
    return [*out, Module(node.name, call(
        "nn.Conv2d", channels, node.shape[-1], kernel_size=pair_text(win.kernel),
        stride=None if win.strides == (1, 1) else pair_text(win.strides), padding=padding,
        dilation=None if win.dilation == (1, 1) else pair_text(win.dilation), groups=channels,
        bias=None if layer.use_bias else False))]


OP = Op("depthwise_conv2d", DepthwiseConv2D, analyze, keras, pytorch, output_activation=_shared.own_activation,
        fused_activation=True, skips_cells=True, absorbs_pad=True, folds_activation=True,
        size_key="depth_multiplier")
