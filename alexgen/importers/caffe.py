"""Caffe deploy.prototxt -> spec draft: one converter per layer type, Caffe's conventions converted exactly."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alexgen.importers import Options
from alexgen.importers.draft import Draft, Item, Names, Origin, Problems
from alexgen.importers.emit import (
    conv_padding,
    dispatch,
    fold_activations,
    int_or_pair,
    literal,
    pool_modes,
    snake_name,
    spatial_out,
)
from alexgen.importers.prototxt import Field, Message, Value, parse

LAYER_FIELDS = {"name", "type", "bottom", "top", "param"}
TRAINING_ONLY = {"param"}  # lr_mult / decay_mult: how a layer is trained, not what it computes
NET_FIELDS = {"name", "input", "input_shape", "input_dim", "layer"}
Shape = tuple[int, ...]  # Caffe's order without the batch axis: (C, H, W) or (C,)


@dataclass
class Layer:
    """One `layer { ... }` as the converters see it."""

    name: str
    type: str
    origin: Origin
    bottoms: list[str]
    tops: list[str]
    param: Message


@dataclass
class Net:
    """The import in progress: blobs bound to spec layers and their Caffe shapes."""

    file: str
    problems: Problems
    names: Names = field(default_factory=Names)
    items: list[Item] = field(default_factory=list)
    blobs: dict[str, tuple[str, Shape]] = field(default_factory=dict)
    training_only: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def at(self, f: Field, layer: str | None = None) -> Origin:
        """The origin of a field."""
        return Origin(self.file, f.line, f.column, layer)

    def add(self, layer: Layer, keys: dict[str, Any], inputs: list[str], shape: Shape, name: str | None = None) -> str:
        """Append a spec layer reading `inputs` (spec names) and bind the layer's top blob to it."""
        spec_name = self.names.make(name or layer.name)
        channels_last = shape if len(shape) == 1 else (shape[1], shape[2], shape[0])
        self.items.append(Item({"type": keys.pop("type"), "name": spec_name, "inputs": inputs, **keys}, layer.origin,
                               channels_last))
        if layer.tops:
            self.blobs[layer.tops[0]] = (spec_name, shape)
        return spec_name


# --- field access with located errors ----------------------------------------------------------------


def check_fields(net: Net, layer: Layer, message: Message, allowed: set[str], where: str) -> None:
    """Every field not in `allowed` is a located error: nothing is silently ignored."""
    for f in message.fields:
        if f.name not in allowed:
            net.problems.add(net.at(f, layer.name).problem(
                f"unsupported field '{f.name}' in {where}", f"supported here: {', '.join(sorted(allowed))}"))


def scalar(net: Net, layer: Layer, message: Message, name: str, default: Any) -> Any:
    """A non-repeated field's value (the default when absent)."""
    found = message.all(name)
    if len(found) > 1:
        net.problems.add(net.at(found[1], layer.name).problem(f"'{name}' is given more than once"))
    if not found:
        return default
    value = found[0].value
    if isinstance(default, bool) and value in ("true", "false"):
        return value == "true"
    if default is not None and type(value) is not type(default) and not (isinstance(default, float)
                                                                         and isinstance(value, int)):
        net.problems.add(net.at(found[0], layer.name).problem(f"'{name}' has the wrong kind of value: {value!r}"))
        return default
    return float(value) if isinstance(default, float) and isinstance(value, (int, float)) else value


def pair(net: Net, layer: Layer, message: Message, name: str, default: int | None) -> tuple[int, int] | None:
    """A size given as `name` (once or twice) or as `name_h` and `name_w` (`kernel` for kernel_size)."""
    values = [f.value for f in message.all(name)]
    stem = name.replace("_size", "")
    h, w = scalar(net, layer, message, f"{stem}_h", None), scalar(net, layer, message, f"{stem}_w", None)
    if h is not None or w is not None:
        if h is None or w is None or values:
            net.problems.add(layer.origin.problem(f"give '{name}' or both '{stem}_h' and '{stem}_w'"))
        return (h or 1, w or 1)
    if not values:
        return None if default is None else (default, default)
    ints = [v for v in values if isinstance(v, int)]
    if len(values) > 2 or len(ints) != len(values):
        net.problems.add(layer.origin.problem(f"'{name}' must be one or two integers (height, width)"))
        return (1, 1)
    return (ints[0], ints[-1])


def initializer(net: Net, layer: Layer, message: Message, name: str) -> Any:
    """A Caffe filler as a spec initializer, exactly, or a located refusal."""
    found = message.all(name)
    if not found:
        return None
    filler = found[0].value
    assert isinstance(filler, Message)
    check_fields(net, layer, filler, {"type", "value", "min", "max", "mean", "std"}, name)
    kind = scalar(net, layer, filler, "type", "constant")
    if kind == "constant":
        value = scalar(net, layer, filler, "value", 0.0)
        return {0.0: "zeros", 1.0: "ones"}.get(value, {"type": "constant", "value": value})
    if kind == "gaussian":
        return {"type": "random_normal", "mean": scalar(net, layer, filler, "mean", 0.0),
                "stddev": scalar(net, layer, filler, "std", 1.0)}
    if kind == "uniform":
        return {"type": "random_uniform", "minval": scalar(net, layer, filler, "min", 0.0),
                "maxval": scalar(net, layer, filler, "max", 1.0)}
    net.problems.add(net.at(found[0], layer.name).problem(
        f"the '{kind}' filler has no exact spec initializer", "use gaussian, uniform or constant, or remove it "
        "(a deploy net needs no fillers)"))
    return None


def weights(net: Net, layer: Layer) -> dict[str, Any]:
    """use_bias and the initializers of Convolution and InnerProduct."""
    keys: dict[str, Any] = {}
    if not scalar(net, layer, layer.param, "bias_term", True):
        keys["use_bias"] = False
    for caffe, spec in (("weight_filler", "kernel_initializer"), ("bias_filler", "bias_initializer")):
        value = initializer(net, layer, layer.param, caffe)
        if value is not None:
            keys[spec] = value
    return keys


def source(net: Net, layer: Layer, rank: int | None = None) -> tuple[str, Shape]:
    """The single bottom of a layer: its spec layer and Caffe shape."""
    name, shape = net.blobs[layer.bottoms[0]]
    if rank is not None and len(shape) != rank:
        net.problems.add(layer.origin.problem(f"{layer.type} needs a {'C x H x W' if rank == 3 else 'flat'} input, "
                                              f"got {'x'.join(map(str, shape))}"))
        raise _Skip
    return name, shape


class _Skip(Exception):
    """The layer was refused; its diagnostics are recorded."""


# --- one converter per layer type ------------------------------------------------------------------


CONV_FIELDS = {"num_output", "kernel_size", "kernel_h", "kernel_w", "stride", "stride_h", "stride_w", "pad", "pad_h",
               "pad_w", "group", "bias_term", "dilation", "weight_filler", "bias_filler", "engine"}
POOL_FIELDS = {"pool", "kernel_size", "kernel_h", "kernel_w", "stride", "stride_h", "stride_w", "pad", "pad_h",
               "pad_w", "global_pooling", "round_mode", "engine"}


def convolution(net: Net, layer: Layer) -> None:
    """Convolution: group -> groups, symmetric pad -> explicit padding (`same` when TensorFlow pads alike)."""
    check_fields(net, layer, layer.param, CONV_FIELDS, "convolution_param")
    bottom, (_, h, w) = source(net, layer, 3)
    filters = scalar(net, layer, layer.param, "num_output", None)
    kernel = pair(net, layer, layer.param, "kernel_size", None)
    if filters is None or kernel is None:
        net.problems.add(layer.origin.problem("convolution_param needs num_output and kernel_size"))
        raise _Skip
    strides = pair(net, layer, layer.param, "stride", 1) or (1, 1)
    pads = pair(net, layer, layer.param, "pad", 0) or (0, 0)
    dilation = pair(net, layer, layer.param, "dilation", 1) or (1, 1)
    groups = scalar(net, layer, layer.param, "group", 1)
    out = tuple(spatial_out(n, k, s, p, p, d) for n, k, s, p, d in zip((h, w), kernel, strides, pads, dilation,
                                                                       strict=True))
    keys: dict[str, Any] = {"type": "conv2d", "filters": filters, "kernel_size": int_or_pair(kernel)}
    if strides != (1, 1):
        keys["strides"] = int_or_pair(strides)
    padding = conv_padding(((pads[0], pads[0]), (pads[1], pads[1])), (h, w), kernel, strides, dilation)
    if padding != "valid":
        keys["padding"] = padding
    if groups != 1:
        keys["groups"] = groups
    if dilation != (1, 1):
        keys["dilation_rate"] = int_or_pair(dilation)
    net.add(layer, keys | weights(net, layer), [bottom], (filters, *out))


def pool_mode(size: int, kernel: int, stride: int, pad: int, ceil: bool) -> tuple[int, set[str]]:
    """Caffe's output length on one axis and the spec paddings that compute exactly that."""
    out = spatial_out(size, kernel, stride, pad, pad, ceil=ceil)
    if pad and (out - 1) * stride >= size + pad:
        out -= 1  # Caffe drops a last window that would start in the padding
    return out, pool_modes(size, kernel, stride, pad, out)


def pooling(net: Net, layer: Layer) -> None:
    """MAX / AVE pooling; Caffe's rounding (CEIL by default) becomes `valid` or `same` only when exact."""
    check_fields(net, layer, layer.param, POOL_FIELDS, "pooling_param")
    bottom, (c, h, w) = source(net, layer, 3)
    kind = scalar(net, layer, layer.param, "pool", "MAX")
    if kind not in ("MAX", "AVE"):
        net.problems.add(layer.origin.problem(f"{kind} pooling has no spec equivalent", "use MAX or AVE"))
        raise _Skip
    if scalar(net, layer, layer.param, "global_pooling", False):
        if kind == "MAX":
            net.problems.add(layer.origin.problem("global MAX pooling has no spec equivalent",
                                                  "the spec has global average pooling"))
            raise _Skip
        net.add(layer, {"type": "global_avg_pool2d"}, [bottom], (c,))
        return
    kernel = pair(net, layer, layer.param, "kernel_size", None)
    if kernel is None:
        net.problems.add(layer.origin.problem("pooling_param needs kernel_size (or global_pooling)"))
        raise _Skip
    strides = pair(net, layer, layer.param, "stride", 1) or (1, 1)
    pads = pair(net, layer, layer.param, "pad", 0) or (0, 0)
    ceil = scalar(net, layer, layer.param, "round_mode", "CEIL") == "CEIL"
    (out_h, modes_h), (out_w, modes_w) = (pool_mode(n, k, s, p, ceil) for n, k, s, p in zip((h, w), kernel, strides,
                                                                                             pads, strict=True))
    modes = modes_h & modes_w
    if kind == "AVE" and any(pads):
        modes = set()  # Caffe's average counts the padded cells, the spec's (TensorFlow's) does not
    if not modes:
        rounding = "CEIL" if ceil else "FLOOR"
        net.problems.add(layer.origin.problem(
            f"Caffe's {rounding} rounding gives {out_h}x{out_w} from {h}x{w} (pad {pads[0]}, {pads[1]}); neither "
            "'valid' nor 'same' pooling computes exactly that",
            "change pad or round_mode so that no window hangs over the edge" + (
                "; AVE pooling with pad divides by padded cells" if kind == "AVE" else "")))
        raise _Skip
    keys: dict[str, Any] = {"type": "max_pool2d" if kind == "MAX" else "avg_pool2d",
                            "pool_size": int_or_pair(kernel), "strides": int_or_pair(strides)}
    if "valid" not in modes:
        keys["padding"] = "same"
    net.add(layer, keys, [bottom], (c, out_h, out_w))


def lrn(net: Net, layer: Layer) -> None:
    """LRN across channels: Caffe divides alpha by local_size, the spec does not; k is the spec's bias."""
    check_fields(net, layer, layer.param, {"local_size", "alpha", "beta", "k", "norm_region", "engine"}, "lrn_param")
    bottom, shape = source(net, layer, 3)
    if scalar(net, layer, layer.param, "norm_region", "ACROSS_CHANNELS") != "ACROSS_CHANNELS":
        net.problems.add(layer.origin.problem("WITHIN_CHANNEL LRN has no spec equivalent",
                                              "the spec's lrn normalizes across channels"))
        raise _Skip
    size = scalar(net, layer, layer.param, "local_size", 5)
    alpha = scalar(net, layer, layer.param, "alpha", 1.0)
    keys = {"type": "lrn", "size": size, "alpha": literal(alpha / size), "beta": scalar(net, layer, layer.param,
                                                                                        "beta", 0.75),
            "bias": scalar(net, layer, layer.param, "k", 1.0)}
    net.notes.append(f"{layer.name}: Caffe's LRN alpha {alpha!r} is divided by local_size {size}; the spec's alpha "
                     f"multiplies the plain sum of squares: {keys['alpha']!r}.")
    net.add(layer, keys, [bottom], shape)


def inner_product(net: Net, layer: Layer) -> None:
    """InnerProduct; on a C x H x W input a flatten is inserted first, as Caffe flattens implicitly."""
    check_fields(net, layer, layer.param, {"num_output", "bias_term", "weight_filler", "bias_filler", "axis",
                                           "transpose"}, "inner_product_param")
    bottom, shape = source(net, layer)
    units = scalar(net, layer, layer.param, "num_output", None)
    if units is None:
        net.problems.add(layer.origin.problem("inner_product_param needs num_output"))
        raise _Skip
    if scalar(net, layer, layer.param, "axis", 1) != 1 or scalar(net, layer, layer.param, "transpose", False):
        net.problems.add(layer.origin.problem("only axis 1 without transpose maps onto a dense layer"))
        raise _Skip
    if len(shape) == 3:
        net.notes.append(f"{layer.name}: Caffe flattens its input in C, H, W order, the spec in H, W, C order: the "
                         "same network, with the rows of its weights in another order.")
        flat = Layer(layer.name, "Flatten", layer.origin, layer.bottoms, [], Message([]))
        bottom = net.add(flat, {"type": "flatten"}, [bottom], (shape[0] * shape[1] * shape[2],),
                         name=f"{layer.name}_flatten")
    net.add(layer, {"type": "dense", "units": units} | weights(net, layer), [bottom], (units,))


def relu(net: Net, layer: Layer) -> None:
    """ReLU (folded into the layer before it when that one alone feeds it)."""
    check_fields(net, layer, layer.param, {"negative_slope", "engine"}, "relu_param")
    if scalar(net, layer, layer.param, "negative_slope", 0.0) != 0.0:
        net.problems.add(layer.origin.problem("a leaky ReLU (negative_slope) has no spec equivalent"))
        raise _Skip
    bottom, shape = source(net, layer)
    net.add(layer, {"type": "activation", "activation": "relu"}, [bottom], shape)


def softmax(net: Net, layer: Layer) -> None:
    """Softmax over channels (axis 1), the spec's last axis."""
    check_fields(net, layer, layer.param, {"axis", "engine"}, "softmax_param")
    if scalar(net, layer, layer.param, "axis", 1) != 1:
        net.problems.add(layer.origin.problem("softmax over an axis other than the channels (1) has no spec "
                                              "equivalent"))
        raise _Skip
    bottom, shape = source(net, layer)
    net.add(layer, {"type": "activation", "activation": "softmax"}, [bottom], shape)


def dropout(net: Net, layer: Layer) -> None:
    """Dropout with dropout_ratio as the rate."""
    check_fields(net, layer, layer.param, {"dropout_ratio", "scale_train"}, "dropout_param")
    if not scalar(net, layer, layer.param, "scale_train", True):
        net.problems.add(layer.origin.problem("dropout without scale_train scales at test time; the spec's "
                                              "(inverted) dropout does not"))
        raise _Skip
    bottom, shape = source(net, layer)
    net.add(layer, {"type": "dropout", "rate": scalar(net, layer, layer.param, "dropout_ratio", 0.5)}, [bottom], shape)


def flatten(net: Net, layer: Layer) -> None:
    """Flatten of everything after the batch axis."""
    check_fields(net, layer, layer.param, {"axis", "end_axis"}, "flatten_param")
    if (scalar(net, layer, layer.param, "axis", 1), scalar(net, layer, layer.param, "end_axis", -1)) != (1, -1):
        net.problems.add(layer.origin.problem("only a flatten from axis 1 to the end has a spec equivalent"))
        raise _Skip
    bottom, shape = source(net, layer)
    size = shape[0] * (shape[1] * shape[2] if len(shape) == 3 else 1)
    net.add(layer, {"type": "flatten"}, [bottom], (size,))


def concat(net: Net, layer: Layer) -> None:
    """Concat along a Caffe (N, C, H, W) axis, written as the spec's (Keras) axis."""
    check_fields(net, layer, layer.param, {"axis", "concat_dim"}, "concat_param")
    axis = scalar(net, layer, layer.param, "axis", scalar(net, layer, layer.param, "concat_dim", 1))
    inputs = [net.blobs[b] for b in layer.bottoms]
    rank = len(inputs[0][1]) + 1
    axis = axis % rank if -rank <= axis < rank else -1
    if axis == 0 or len({len(s) for _, s in inputs}) != 1:
        net.problems.add(layer.origin.problem("Concat needs inputs of one rank, joined along a non-batch axis"))
        raise _Skip
    shape = list(inputs[0][1])
    shape[axis - 1] = sum(s[axis - 1] for _, s in inputs)
    keys: dict[str, Any] = {"type": "concatenate"}
    spec_axis = {1: -1, 2: 1, 3: 2}[axis] if rank == 4 else -1
    if spec_axis != -1:
        keys["axis"] = spec_axis
    net.add(layer, keys, [name for name, _ in inputs], tuple(shape))


def eltwise(net: Net, layer: Layer) -> None:
    """Eltwise SUM without coefficients: an add of two or more inputs of one shape (coeff is refused as a field)."""
    check_fields(net, layer, layer.param, {"operation", "stable_prod_grad"}, "eltwise_param")
    inputs = [net.blobs[b] for b in layer.bottoms]
    if scalar(net, layer, layer.param, "operation", "SUM") != "SUM" or len(inputs) < 2 \
            or len({tuple(s) for _, s in inputs}) != 1:
        net.problems.add(layer.origin.problem("only an Eltwise SUM of two or more inputs of one shape has a spec "
                                              "equivalent (add)", "PROD and MAX have no spec layer"))
        raise _Skip
    net.add(layer, {"type": "add"}, [name for name, _ in inputs], tuple(inputs[0][1]))


CONVERTERS: dict[str, tuple[str, Callable[[Net, Layer], None]]] = {
    "Eltwise": ("eltwise_param", eltwise),
    "Convolution": ("convolution_param", convolution),
    "Pooling": ("pooling_param", pooling),
    "LRN": ("lrn_param", lrn),
    "InnerProduct": ("inner_product_param", inner_product),
    "ReLU": ("relu_param", relu),
    "Softmax": ("softmax_param", softmax),
    "Dropout": ("dropout_param", dropout),
    "Flatten": ("flatten_param", flatten),
    "Concat": ("concat_param", concat),
}


# --- the net -----------------------------------------------------------------------------------------


def texts(net: Net, message: Message, name: str) -> list[str]:
    """A repeated string field (bottom, top)."""
    return [str(f.value) for f in message.all(name)]


def ints(fields: list[Field]) -> list[int]:
    """The integer values among fields (anything else leaves the shape short, which is reported)."""
    return [f.value for f in fields if isinstance(f.value, int)]


def dims(value: Value) -> list[int]:
    """The `dim` values of a BlobShape message."""
    return ints(value.all("dim")) if isinstance(value, Message) else []


def net_input(net: Net, root: Message, layers: list[Field]) -> tuple[str, list[int], Origin] | None:
    """The network's input blob and its N, C, H, W dims: from `input:` fields or an `Input` layer."""
    for f in layers:
        body = f.value
        assert isinstance(body, Message)
        if scalar(net, Layer("", "", net.at(f), [], [], body), body, "type", "") == "Input":
            layers.remove(f)
            params = body.all("input_param")
            shapes = params[0].value.all("shape") if params and isinstance(params[0].value, Message) else []
            top = texts(net, body, "top")
            return (top[0] if top else "data", dims(shapes[0].value) if shapes else [], net.at(f))
    inputs = root.all("input")
    if not inputs:
        return None
    shapes = root.all("input_shape")
    found = dims(shapes[0].value) if shapes else ints(root.all("input_dim"))
    return str(inputs[0].value), found, net.at(inputs[0])


def read_layer(net: Net, f: Field) -> Layer | None:
    """A layer's common fields, checked; None (with diagnostics) when it cannot be converted."""
    body = f.value
    if not isinstance(body, Message):
        net.problems.add(net.at(f).problem("a layer must be a `{ ... }` message"))
        return None
    name = scalar(net, Layer("", "", net.at(f), [], [], body), body, "name", "")
    kind = scalar(net, Layer(name, "", net.at(f), [], [], body), body, "type", "")
    layer = Layer(name, kind, net.at(f, name or None), texts(net, body, "bottom"), texts(net, body, "top"), Message([]))
    entry = dispatch(CONVERTERS, kind, layer.origin, "Caffe layer type", net.problems)
    if entry is None:
        return None
    param_name, _ = entry
    check_fields(net, layer, body, LAYER_FIELDS | {param_name}, f"a {kind} layer")
    params = body.all(param_name)
    layer.param = params[0].value if params and isinstance(params[0].value, Message) else Message([])
    if body.all("param"):
        net.training_only.append(name)
    unknown = [b for b in layer.bottoms if b not in net.blobs]
    if unknown or not layer.bottoms or len(layer.tops) != 1:
        net.problems.add(layer.origin.problem(
            f"unknown bottom blob '{unknown[0]}'" if unknown else "a layer needs bottoms and exactly one top",
            "layers must come after the layers producing their bottoms"))
        return None
    return layer


def draft(path: Path, options: Options, problems: Problems) -> Draft:
    """Read a deploy.prototxt into a draft spec."""
    file = options.source
    root = parse(path.read_text(encoding="utf-8"), file)
    net = Net(file, problems)
    check_fields(net, Layer("", "", Origin(file), [], [], root), root, NET_FIELDS, "the net")
    layers = root.all("layer")
    found = net_input(net, root, layers)
    if found is None or len(found[1]) != 4:
        if options.input_shape is None:
            problems.add(Origin(file).problem("the net declares no N x C x H x W input",
                                              "add an Input layer or pass --input-shape H,W,C"))
            problems.raise_if_errors()
        found = (found[0] if found else "data", [1, 0, 0, 0], found[2] if found else Origin(file))
    blob, (_, c, h, w), _ = found
    if options.input_shape is not None:
        h, w, c = options.input_shape
    net.blobs[blob] = ("input", (c, h, w))
    for f in layers:
        layer = read_layer(net, f)
        if layer is None:
            continue
        try:
            CONVERTERS[layer.type][1](net, layer)
        except _Skip:
            continue
    problems.raise_if_errors()
    name = scalar(net, Layer("", "", Origin(file), [], [], root), root, "name", "") or Path(file).stem
    notes = net.notes
    if net.training_only:
        notes.append(f"Not imported (training only): `param` (lr_mult, decay_mult) of {', '.join(net.training_only)}.")
    return Draft(snake_name(name, "net"), (h, w, c), fold_activations(net.items), notes=notes,
                 description=f"Caffe net '{name}', imported from {Path(file).name}.")
