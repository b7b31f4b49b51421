"""Geometry shared by the ops' analysis rules: windows, padding, receptive fields, activation memory (exact ints)."""

from __future__ import annotations

from dataclasses import dataclass, field

from alexgen.budget import BYTES_PER_ACTIVATION, MIB

Shape = tuple[int, ...]
Pair = tuple[int, int]
Pads = tuple[Pair, Pair]


class ShapeError(Exception):
    """A layer that cannot be applied to its input; `key` names the offending spec key."""

    def __init__(self, message: str, hint: str | None = None, key: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint
        self.key = key


@dataclass(frozen=True)
class Field:
    """Receptive field of one output cell on the network input: size and stride (jump)."""

    size: Pair = (1, 1)
    stride: Pair = (1, 1)


@dataclass(frozen=True)
class Window:
    """Resolved sliding-window geometry: kernel, strides, dilation and explicit pads."""

    kernel: Pair
    strides: Pair
    dilation: Pair = (1, 1)
    pads: Pads = ((0, 0), (0, 0))

    @property
    def symmetric(self) -> bool:
        """True when top == bottom and left == right."""
        return self.pads[0][0] == self.pads[0][1] and self.pads[1][0] == self.pads[1][1]


def mib_text(count: int) -> str:
    """Bytes of `count` fp32 activations, in MiB or GiB, exact enough to compare with a budget."""
    size = count * BYTES_PER_ACTIVATION
    return f"{size / 2**30:,.1f} GiB" if size >= 2**30 else f"{size / MIB:,.1f} MiB"




@dataclass(frozen=True)
class Slot:
    """One tensor a layer owns: its neutral name and shape, its PyTorch name, and its layout kind.

    Layouts: "conv" (neutral kh, kw, in, out; PyTorch out, in, kh, kw), "dense" (in, out; PyTorch out, in) and
    "vector". `follows_input`: the first axis indexes the input features, which a flatten orders differently.
    """

    name: str
    shape: Shape
    torch: str
    layout: str = "vector"
    follows_input: bool = False
    torch_shape: Shape = ()  # PyTorch's shape; by default the neutral one with the layout's axes reversed

    def __post_init__(self) -> None:
        if not self.torch_shape:
            axes = LAYOUT_AXES[self.layout]
            object.__setattr__(self, "torch_shape", tuple(self.shape[a] for a in axes))


LAYOUT_AXES = {"conv": (3, 2, 0, 1), "dense": (1, 0), "vector": (0,)}  # neutral axes in PyTorch's order


@dataclass
class LayerStats:
    """What one rule computes for a layer.

    `macs`: multiply-accumulates of convolution and dense weights only (as fvcore, PyTorch's FlopCounterMode and
    papers count them); `other_ops`: everything else, one per element and operation (bias adds, activations,
    pooling comparisons and sums, normalization).
    """

    shape: Shape
    params: int = 0
    trainable: int = 0
    macs: int = 0
    field: Field = field(default_factory=Field)
    window: Window | None = None
    slots: tuple[Slot, ...] = ()
    other_ops: int = 0


def pair(value: int | list[int]) -> Pair:
    """Normalise `n` or `[h, w]` to a pair."""
    return (value, value) if isinstance(value, int) else (value[0], value[1])


def explicit_pads(value: int | list[int] | list[list[int]]) -> Pads:
    """Normalise `p`, `[h, w]` or `[[top, bottom], [left, right]]`."""
    if isinstance(value, int):
        return ((value, value), (value, value))
    first, second = value
    if isinstance(first, int) and isinstance(second, int):
        return ((first, first), (second, second))
    if isinstance(first, list) and isinstance(second, list):
        return ((first[0], first[1]), (second[0], second[1]))
    raise TypeError(f"not a padding: {value!r}")


def same_pads(size: int, kernel: int, stride: int, dilation: int = 1) -> Pair:
    """TensorFlow's `same`: out = ceil(n/s); the odd extra cell goes after (bottom/right)."""
    effective = (kernel - 1) * dilation + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + effective - size, 0)
    return (total // 2, total - total // 2)


def fmt(shape: Shape) -> str:
    """`13x13x256`."""
    return "x".join(str(d) for d in shape)


def square(pair_: Pair) -> str:
    """`3` for (3, 3), `3x4` otherwise: a pair as people write it."""
    return str(pair_[0]) if pair_[0] == pair_[1] else fmt(pair_)


def spatial(shape: Shape, what: str) -> tuple[int, int, int]:
    """Height, width and channels of a map input, or a ShapeError naming the layer type."""
    if len(shape) != 3:
        raise ShapeError(f"{what} needs a height x width x channels input, got {fmt(shape)}",
                         "put it before the flatten layer")
    return shape[0], shape[1], shape[2]


def window(shape: tuple[int, int, int], kernel: Pair, strides: Pair, dilation: Pair, padding: object,
           key: str) -> tuple[Window, Pair]:
    """Resolve padding and compute the output height and width of a sliding window (`key` sets its size)."""
    if padding == "same":
        pads = (same_pads(shape[0], kernel[0], strides[0], dilation[0]),
                same_pads(shape[1], kernel[1], strides[1], dilation[1]))
    elif padding == "valid":
        pads = ((0, 0), (0, 0))
    else:
        assert isinstance(padding, (int, list)), padding
        pads = explicit_pads(padding)
    out = []
    for axis, label in ((0, "height"), (1, "width")):
        padded = shape[axis] + pads[axis][0] + pads[axis][1]
        effective = (kernel[axis] - 1) * dilation[axis] + 1
        if effective > padded:
            out_size = (padded - effective) // strides[axis] + 1
            raise ShapeError(f"the {label} {shape[axis]} (padded: {padded}) is smaller than the window ({effective}), "
                             f"so the output {label} would be {out_size}",
                             "use a smaller kernel or pool, `padding: same`, or remove a downsampling layer", key)
        out.append((padded - effective) // strides[axis] + 1)
    return Window(kernel, strides, dilation, pads), (out[0], out[1])


def skipped_cells(kernel: Pair, strides: Pair, dilation: Pair = (1, 1)) -> tuple[str, int, int] | None:
    """When a sliding window steps further than it spans, ("rows" or "columns", cells skipped, stride)."""
    for axis, label in ((0, "rows"), (1, "columns")):
        span = (kernel[axis] - 1) * dilation[axis] + 1
        if strides[axis] > span:
            return label, strides[axis] - span, strides[axis]
    return None


def grow(field_in: Field, window_: Window) -> Field:
    """The receptive field after a sliding window."""
    size = [field_in.size[a] + (window_.kernel[a] - 1) * window_.dilation[a] * field_in.stride[a] for a in (0, 1)]
    stride = [field_in.stride[a] * window_.strides[a] for a in (0, 1)]
    return Field((size[0], size[1]), (stride[0], stride[1]))


def widest(fields: list[Field]) -> Field:
    """The receptive field of a layer joining several inputs: the largest size and stride on each axis."""
    return Field((max(f.size[0] for f in fields), max(f.size[1] for f in fields)),
                 (max(f.stride[0] for f in fields), max(f.stride[1] for f in fields)))


def adaptive_bins(size: int, out: int) -> list[Pair]:
    """PyTorch's adaptive pooling bins: [floor(i·n/out), ceil((i+1)·n/out))."""
    return [((i * size) // out, -(-((i + 1) * size) // out)) for i in range(out)]
