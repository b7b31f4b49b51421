"""One shape, parameter, MAC and receptive-field rule per layer type (pure Python, exact ints)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from alexgen import spec as s

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


BYTES_PER_ACTIVATION = 4  # fp32
MIB = 2**20


@dataclass(frozen=True)
class Budget:
    """Limits a spec must stay within before any framework allocates anything (CLI: --max-params and
    --max-activation-mb). Activations are counted as the analyzer reports them: the input plus every layer's
    output, for one example, in fp32."""

    max_params: int = 2_000_000_000
    max_activation_bytes: int = 16 * 2**30

    @property
    def max_activation_mib(self) -> int:
        """The activation budget in MiB, as --max-activation-mb takes it."""
        return self.max_activation_bytes // MIB


DEFAULT_BUDGET = Budget()


def mib_text(count: int) -> str:
    """Bytes of `count` fp32 activations, in MiB or GiB, exact enough to compare with a budget."""
    size = count * BYTES_PER_ACTIVATION
    return f"{size / 2**30:,.1f} GiB" if size >= 2**30 else f"{size / MIB:,.1f} MiB"


@dataclass
class LayerStats:
    """What one rule computes for a layer."""

    shape: Shape
    params: int = 0
    trainable: int = 0
    macs: int = 0
    field: Field = field(default_factory=Field)
    window: Window | None = None


def pair(value: int | list[int]) -> Pair:
    """Normalise `n` or `[h, w]` to a pair."""
    return (value, value) if isinstance(value, int) else (value[0], value[1])


def explicit_pads(value: int | list[int] | list[list[int]]) -> Pads:
    """Normalise `p`, `[h, w]` or `[[top, bottom], [left, right]]`."""
    if isinstance(value, int):
        return ((value, value), (value, value))
    if isinstance(value[0], int):
        return ((value[0], value[0]), (value[1], value[1]))  # type: ignore[return-value]
    return ((value[0][0], value[0][1]), (value[1][0], value[1][1]))  # type: ignore[index]


def same_pads(size: int, kernel: int, stride: int, dilation: int = 1) -> Pair:
    """TensorFlow's `same`: out = ceil(n/s); the odd extra cell goes after (bottom/right)."""
    effective = (kernel - 1) * dilation + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + effective - size, 0)
    return (total // 2, total - total // 2)


def _spatial(shape: Shape, what: str) -> tuple[int, int, int]:
    if len(shape) != 3:
        raise ShapeError(f"{what} needs a height x width x channels input, got {_fmt(shape)}",
                         "put it before the flatten layer")
    return shape  # type: ignore[return-value]


def _square(pair_: Pair) -> str:
    """`3` for (3, 3), `3x4` otherwise: a pair as people write it."""
    return str(pair_[0]) if pair_[0] == pair_[1] else _fmt(pair_)


def _fmt(shape: Shape) -> str:
    return "x".join(str(d) for d in shape)


def _window(layer: s.Conv2D | s.Pool2D, shape: tuple[int, int, int], kernel: Pair, strides: Pair,
            dilation: Pair, padding: object) -> tuple[Window, Pair]:
    """Resolve padding and compute the output height and width of a sliding window."""
    if padding == "same":
        pads = (same_pads(shape[0], kernel[0], strides[0], dilation[0]),
                same_pads(shape[1], kernel[1], strides[1], dilation[1]))
    elif padding == "valid":
        pads = ((0, 0), (0, 0))
    else:
        pads = explicit_pads(padding)  # type: ignore[arg-type]
    out = []
    for axis, label in ((0, "height"), (1, "width")):
        padded = shape[axis] + pads[axis][0] + pads[axis][1]
        effective = (kernel[axis] - 1) * dilation[axis] + 1
        if effective > padded:
            out_size = (padded - effective) // strides[axis] + 1
            raise ShapeError(f"the {label} {shape[axis]} (padded: {padded}) is smaller than the window ({effective}), "
                             f"so the output {label} would be {out_size}",
                             "use a smaller kernel or pool, `padding: same`, or remove a downsampling layer",
                             "kernel_size" if isinstance(layer, s.Conv2D) else "pool_size")
        out.append((padded - effective) // strides[axis] + 1)
    return Window(kernel, strides, dilation, pads), (out[0], out[1])


def skipped_cells(kernel: Pair, strides: Pair, dilation: Pair = (1, 1)) -> tuple[str, int, int] | None:
    """When a sliding window steps further than it spans, ("rows" or "columns", cells skipped, stride)."""
    for axis, label in ((0, "rows"), (1, "columns")):
        span = (kernel[axis] - 1) * dilation[axis] + 1
        if strides[axis] > span:
            return label, strides[axis] - span, strides[axis]
    return None


def _grow(field_in: Field, window: Window) -> Field:
    size = tuple(field_in.size[a] + ((window.kernel[a] - 1) * window.dilation[a]) * field_in.stride[a] for a in (0, 1))
    stride = tuple(field_in.stride[a] * window.strides[a] for a in (0, 1))
    return Field(size, stride)  # type: ignore[arg-type]


def _weight_count(layer: s.WeightedLayer, kernel: int, units: int) -> tuple[int, int]:
    params = kernel + (units if layer.use_bias else 0)
    return params, params


def conv2d(layer: s.Conv2D, shapes: list[Shape], fields: list[Field]) -> LayerStats:
    """Convolution: exact TensorFlow output sizes; grouped kernels have in/groups input channels."""
    h, w, c = _spatial(shapes[0], "conv2d")
    strides, dilation = pair(layer.strides), pair(layer.dilation_rate)
    if max(strides) > 1 and max(dilation) > 1:
        raise ShapeError("strides > 1 together with dilation_rate > 1 is not supported by Keras",
                         "use strides 1 with dilation, or dilation 1 with strides", "dilation_rate")
    for count, label in ((c, "input channels"), (layer.filters, "filters")):
        if count % layer.groups:
            raise ShapeError(f"groups={layer.groups} does not divide the {count} {label}",
                             f"choose groups among the common divisors of {c} and {layer.filters}", "groups")
    window, (oh, ow) = _window(layer, (h, w, c), pair(layer.kernel_size), strides, dilation, layer.padding)
    per_output = window.kernel[0] * window.kernel[1] * (c // layer.groups)
    params, trainable = _weight_count(layer, per_output * layer.filters, layer.filters)
    macs = oh * ow * layer.filters * per_output
    return LayerStats((oh, ow, layer.filters), params, trainable, macs, _grow(fields[0], window), window)


def dense(layer: s.Dense, shapes: list[Shape], fields: list[Field]) -> LayerStats:
    """Fully connected layer on a flat vector."""
    if len(shapes[0]) != 1:
        raise ShapeError(f"dense needs a flat input, but its input is {_fmt(shapes[0])}",
                         "add `- type: flatten` (or a global pooling layer) before it")
    params, trainable = _weight_count(layer, shapes[0][0] * layer.units, layer.units)
    return LayerStats((layer.units,), params, trainable, shapes[0][0] * layer.units, fields[0])


def pool2d(layer: s.Pool2D, shapes: list[Shape], fields: list[Field]) -> LayerStats:
    """Max or average pooling; strides default to the pool size."""
    h, w, c = _spatial(shapes[0], layer.type)  # type: ignore[attr-defined]
    kernel = pair(layer.pool_size)
    strides = pair(layer.strides) if layer.strides is not None else kernel
    gap = skipped_cells(kernel, strides)
    if gap is not None:
        label, skipped, stride = gap
        raise ShapeError(f"strides {_square(strides)} are larger than pool_size {_square(kernel)}: the pooling windows "
                         f"never read {skipped} of every {stride} {label} of the input",
                         "use strides no larger than pool_size (without `strides`, they equal pool_size)", "strides")
    window, (oh, ow) = _window(layer, (h, w, c), kernel, strides, (1, 1), layer.padding)
    return LayerStats((oh, ow, c), macs=oh * ow * c * kernel[0] * kernel[1], field=_grow(fields[0], window),
                      window=window)


def adaptive_bins(size: int, out: int) -> list[Pair]:
    """PyTorch's adaptive pooling bins: [floor(i·n/out), ceil((i+1)·n/out))."""
    return [((i * size) // out, -(-((i + 1) * size) // out)) for i in range(out)]


def adaptive_avg_pool2d(layer: s.AdaptiveAvgPool2D, shapes: list[Shape], fields: list[Field]) -> LayerStats:
    """Average pooling into a fixed grid of (possibly overlapping) bins."""
    h, w, c = _spatial(shapes[0], "adaptive_avg_pool2d")
    oh, ow = pair(layer.output_size)
    if oh > h or ow > w:
        raise ShapeError(f"output_size {oh}x{ow} is larger than the input {h}x{w}",
                         "adaptive pooling only shrinks; use an output_size no larger than the input", "output_size")
    bins = (adaptive_bins(h, oh), adaptive_bins(w, ow))
    kernel = (max(b - a for a, b in bins[0]), max(b - a for a, b in bins[1]))
    macs = c * sum(b - a for a, b in bins[0]) * sum(b - a for a, b in bins[1])
    window = Window(kernel, (max(h // oh, 1), max(w // ow, 1)))
    return LayerStats((oh, ow, c), macs=macs, field=_grow(fields[0], window))


def global_avg_pool2d(layer: s.GlobalAvgPool2D, shapes: list[Shape], fields: list[Field]) -> LayerStats:
    """Mean over the whole feature map."""
    h, w, c = _spatial(shapes[0], "global_avg_pool2d")
    return LayerStats((c,), macs=h * w * c, field=_grow(fields[0], Window((h, w), (h, w))))


def flatten(layer: s.Flatten, shapes: list[Shape], fields: list[Field]) -> LayerStats:
    """H x W x C becomes one vector; each output sees the whole map."""
    shape = shapes[0]
    if len(shape) == 1:
        return LayerStats(shape, field=fields[0])
    window = Window((shape[0], shape[1]), (shape[0], shape[1]))
    return LayerStats((math.prod(shape),), field=_grow(fields[0], window))


def zero_padding2d(layer: s.ZeroPadding2D, shapes: list[Shape], fields: list[Field]) -> LayerStats:
    """Explicit zeros around height and width."""
    h, w, c = _spatial(shapes[0], "zero_padding2d")
    pads = explicit_pads(layer.padding)
    window = Window((1, 1), (1, 1), pads=pads)
    return LayerStats((h + sum(pads[0]), w + sum(pads[1]), c), field=fields[0], window=window)


def batch_norm(layer: s.BatchNorm, shapes: list[Shape], fields: list[Field]) -> LayerStats:
    """gamma and beta are trainable; the moving mean and variance are not (as Keras counts)."""
    channels = shapes[0][-1]
    return LayerStats(shapes[0], 4 * channels, 2 * channels, 2 * math.prod(shapes[0]), fields[0])


def lrn(layer: s.LRN, shapes: list[Shape], fields: list[Field]) -> LayerStats:
    """Cross-channel normalization; `size` neighbouring channels per output."""
    _spatial(shapes[0], "lrn")
    return LayerStats(shapes[0], macs=math.prod(shapes[0]) * layer.size, field=fields[0])


def elementwise(layer: s.LayerBase, shapes: list[Shape], fields: list[Field]) -> LayerStats:
    """Dropout and activations keep the shape and cost nothing countable."""
    return LayerStats(shapes[0], field=fields[0])


def concatenate(layer: s.Concatenate, shapes: list[Shape], fields: list[Field]) -> LayerStats:
    """Join along one axis; every other axis must agree."""
    rank = len(shapes[0])
    if any(len(shape) != rank for shape in shapes):
        raise ShapeError(f"cannot concatenate inputs of different ranks: {', '.join(_fmt(x) for x in shapes)}",
                         "flatten every input, or none", "inputs")
    if not (-rank <= layer.axis <= rank and layer.axis != 0):
        raise ShapeError(f"axis {layer.axis} is out of range for {rank}-D inputs (axis 0 is the batch)",
                         "use -1 (channels) or omit axis", "axis")
    axis = layer.axis - 1 if layer.axis > 0 else rank + layer.axis
    for shape in shapes[1:]:
        if shape[:axis] + shape[axis + 1:] != shapes[0][:axis] + shapes[0][axis + 1:]:
            raise ShapeError(f"inputs differ outside the concatenation axis: {', '.join(_fmt(x) for x in shapes)}",
                             "every input needs the same height and width to be joined on channels", "inputs")
    out = list(shapes[0])
    out[axis] = sum(shape[axis] for shape in shapes)
    size = (max(f.size[0] for f in fields), max(f.size[1] for f in fields))
    stride = (max(f.stride[0] for f in fields), max(f.stride[1] for f in fields))
    return LayerStats(tuple(out), field=Field(size, stride))


RULES: dict[str, Callable[..., LayerStats]] = {
    "conv2d": conv2d,
    "dense": dense,
    "max_pool2d": pool2d,
    "avg_pool2d": pool2d,
    "adaptive_avg_pool2d": adaptive_avg_pool2d,
    "global_avg_pool2d": global_avg_pool2d,
    "zero_padding2d": zero_padding2d,
    "batch_norm": batch_norm,
    "lrn": lrn,
    "dropout": elementwise,
    "flatten": flatten,
    "activation": elementwise,
    "concatenate": concatenate,
}


def apply_rule(layer: s.LayerBase, shapes: list[Shape], fields: list[Field]) -> LayerStats:
    """Run the rule of `layer`'s type; missing rules are a programming error."""
    return RULES[layer.type](layer, shapes, fields)  # type: ignore[attr-defined]
