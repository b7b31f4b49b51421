"""A layer's detail text for `diagram` boxes and `diff` rows: kernel/stride, activation, rates (`Op.describe`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from alexgen.analysis import Pads, Window

if TYPE_CHECKING:
    from alexgen.graph import Node


def pair_text(values: tuple[int, int]) -> str:
    """`3` for a square pair, `3x2` otherwise."""
    return str(values[0]) if values[0] == values[1] else f"{values[0]}x{values[1]}"


def pads_text(pads: Pads) -> str:
    """`1` when all four sides agree, else `top,bottom,left,right`."""
    (top, bottom), (left, right) = pads
    return str(top) if top == bottom == left == right else f"{top},{bottom},{left},{right}"


def window_text(window: Window | None, padding: object = "valid") -> str:
    """Kernel/stride of a sliding window, e.g. `11x11/4`, with dilation and padding when they matter."""
    if window is None:
        return ""
    kernel = window.kernel
    text = f"{kernel[0]}x{kernel[1]}/{pair_text(window.strides)}"
    if window.dilation != (1, 1):
        text += f" dil {pair_text(window.dilation)}"
    if padding == "same":
        text += " same"
    elif any(p for side in window.pads for p in side):
        text += f" pad {pads_text(window.pads)}"
    return text


def activation_text(node: Node[Any]) -> str:
    """The activation the layer ends with; nothing when linear or none."""
    activation = node.op.activation(node.layer)
    return "" if activation in (None, "linear") else str(activation)


def joined(*parts: str) -> str:
    """The non-empty parts, comma separated."""
    return ", ".join(part for part in parts if part)


def number(value: float) -> str:
    """A float as briefly as it reads exactly: 0.001 -> `0.001`, 1e-05 -> `1e-05`."""
    return f"{value:g}"


def pooled(node: Node[Any]) -> str:
    """A pooling window with the layer's padding."""
    return window_text(node.window, node.layer.padding)
