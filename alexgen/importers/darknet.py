"""Darknet .cfg -> spec draft: one converter per section kind, Darknet's conventions converted exactly."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alexgen.importers import Options
from alexgen.importers.cfg import Option, Section, parse
from alexgen.importers.draft import Draft, Item, Names, Origin, Problems
from alexgen.importers.emit import conv_padding, dispatch, fold_activations, pool_modes, snake_name, spatial_out

ACTIVATIONS = {"relu": "relu", "linear": "linear", "logistic": "sigmoid", "tanh": "tanh"}
TRAINING_KEYS = {"batch", "subdivisions", "momentum", "decay", "learning_rate", "max_batches", "policy", "steps",
                 "scales", "step", "gamma", "power", "burn_in", "angle", "saturation", "exposure", "hue", "aspect",
                 "jitter", "random", "max_crop", "min_crop", "flip", "time_steps", "adam", "B1", "B2", "eps"}
PREFIXES = {"convolutional": "conv", "maxpool": "pool", "avgpool": "gap", "connected": "fc", "dropout": "drop",
            "softmax": "softmax"}
Shape = tuple[int, ...]  # channels-last: (H, W, C) or (C,)


class _Skip(Exception):
    """The section was refused; its diagnostics are recorded."""


@dataclass
class Net:
    """The import in progress."""

    file: str
    problems: Problems
    shape: Shape = (0, 0, 0)
    previous: str = "input"
    names: Names = field(default_factory=Names)
    counts: dict[str, int] = field(default_factory=dict)
    items: list[Item] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

    def origin(self, section: Section, option: Option | None = None) -> Origin:
        """Where a section (or one of its options) is; layers are named like `conv1`."""
        count = self.counts.get(section.kind, 0)
        layer = f"[{section.kind}] #{count}"
        if option is not None:
            return Origin(self.file, option.line, option.column, layer)
        return Origin(self.file, section.line, section.column, layer)

    def add(self, section: Section, keys: dict[str, Any], shape: Shape, fold: bool = True) -> None:
        """Append a spec layer reading the previous one."""
        name = self.names.make(f"{PREFIXES[section.kind]}{self.counts[section.kind]}")
        self.items.append(Item({"type": keys.pop("type"), "name": name, "inputs": [self.previous], **keys},
                               self.origin(section), shape, fold))
        self.previous, self.shape = name, shape


def number(net: Net, section: Section, key: str, default: Any, allowed: set[str]) -> Any:
    """An option as an int or float like its default (required when the default is None)."""
    allowed.add(key)
    option = section.options.get(key)
    if option is None:
        if default is None:
            net.problems.add(net.origin(section).problem(f"[{section.kind}] needs '{key}'"))
            raise _Skip
        return default
    try:
        return float(option.value) if isinstance(default, float) else int(option.value)
    except ValueError:
        kind = "a number" if isinstance(default, float) else "an integer"
        net.problems.add(net.origin(section, option).problem(f"'{key}' must be {kind}, got {option.value!r}"))
        raise _Skip from None


def activation(net: Net, section: Section, allowed: set[str]) -> str:
    """Darknet's activation (default logistic) as the spec's, or a located refusal."""
    allowed.add("activation")
    option = section.options.get("activation")
    value = option.value if option else "logistic"
    if value not in ACTIVATIONS:
        net.problems.add(net.origin(section, option).problem(
            f"the activation '{value}' has no spec equivalent", f"supported: {', '.join(ACTIVATIONS)}"))
        raise _Skip
    return ACTIVATIONS[value]


def require(net: Net, section: Section, key: str, value: int, allowed: set[str], why: str) -> None:
    """Refuse an option that is set to anything but `value`."""
    if number(net, section, key, value, allowed) != value:
        net.problems.add(net.origin(section, section.options[key]).problem(f"'{key}' is not supported: {why}"))
        raise _Skip


def spatial(net: Net, section: Section) -> tuple[int, int, int]:
    """The H, W, C input of a section that needs maps."""
    if len(net.shape) != 3:
        net.problems.add(net.origin(section).problem(f"[{section.kind}] needs H x W x C maps, got a flat input"))
        raise _Skip
    return net.shape


def convolutional(net: Net, section: Section, allowed: set[str]) -> None:
    """[convolutional]: pad=1 means size/2 on every side; `padding=` gives it directly."""
    h, w, _ = spatial(net, section)
    filters = number(net, section, "filters", None, allowed)
    size = number(net, section, "size", 1, allowed)
    stride = number(net, section, "stride", 1, allowed)
    pad = number(net, section, "padding", 0, allowed)
    if number(net, section, "pad", 0, allowed):
        pad = size // 2
    groups = number(net, section, "groups", 1, allowed)
    act = activation(net, section, allowed)
    require(net, section, "batch_normalize", 0, allowed, "Darknet adds its epsilon to the standard deviation, the "
            "spec's batch norm to the variance: no exact conversion")
    for key in ("binary", "xnor", "dilation"):
        require(net, section, key, 1 if key == "dilation" else 0, allowed, "no spec equivalent")
    out = (spatial_out(h, size, stride, pad, pad), spatial_out(w, size, stride, pad, pad))
    keys: dict[str, Any] = {"type": "conv2d", "filters": filters, "kernel_size": size}
    if stride != 1:
        keys["strides"] = stride
    padding = conv_padding(((pad, pad), (pad, pad)), (h, w), (size, size), (stride, stride), (1, 1))
    if padding != "valid":
        keys["padding"] = padding
    if groups != 1:
        keys["groups"] = groups
    if act != "linear":
        keys["activation"] = act
    net.add(section, keys, (*out, filters))


def maxpool(net: Net, section: Section, allowed: set[str]) -> None:
    """[maxpool]: Darknet pads `padding` cells (default size-1), half before; `valid` or `same` only if exact."""
    h, w, c = spatial(net, section)
    stride = number(net, section, "stride", 1, allowed)
    size = number(net, section, "size", stride, allowed)
    padding = number(net, section, "padding", size - 1, allowed)
    outs = [spatial_out(n, size, stride, 0, padding) for n in (h, w)]
    modes = [pool_modes(n, size, stride, padding // 2, out) for n, out in zip((h, w), outs, strict=True)]
    common = modes[0] & modes[1]
    if not common:
        net.problems.add(net.origin(section).problem(
            f"Darknet's maxpool (size {size}, stride {stride}, padding {padding}) gives {outs[0]}x{outs[1]} from "
            f"{h}x{w}; neither 'valid' nor 'same' pooling computes exactly that",
            "set padding=0 (valid) or a padding that matches 'same' for this input"))
        raise _Skip
    keys: dict[str, Any] = {"type": "max_pool2d", "pool_size": size, "strides": stride}
    if "valid" not in common:
        keys["padding"] = "same"
    net.add(section, keys, (outs[0], outs[1], c))


def avgpool(net: Net, section: Section, allowed: set[str]) -> None:
    """[avgpool]: Darknet's is global average pooling."""
    net.add(section, {"type": "global_avg_pool2d"}, (spatial(net, section)[2],))


def connected(net: Net, section: Section, allowed: set[str]) -> None:
    """[connected]: a flatten first when its input is maps (Darknet flattens implicitly, C, H, W order)."""
    units = number(net, section, "output", 1, allowed)
    act = activation(net, section, allowed)
    require(net, section, "batch_normalize", 0, allowed, "no exact spec conversion of Darknet's batch norm")
    if len(net.shape) == 3:
        net.items.append(Item({"type": "flatten", "name": net.names.make(f"flatten{net.counts['connected']}"),
                               "inputs": [net.previous]}, net.origin(section), (net.shape[0] * net.shape[1]
                                                                                 * net.shape[2],)))
        net.previous = net.items[-1].name
    keys: dict[str, Any] = {"type": "dense", "units": units}
    if act != "linear":
        keys["activation"] = act
    net.add(section, keys, (units,))


def dropout(net: Net, section: Section, allowed: set[str]) -> None:
    """[dropout]: `probability` is the rate (Darknet scales the kept values at training, as the spec does)."""
    net.add(section, {"type": "dropout", "rate": number(net, section, "probability", 0.5, allowed)}, net.shape)


def softmax(net: Net, section: Section, allowed: set[str]) -> None:
    """[softmax] over a flat input (folded into the layer before it)."""
    require(net, section, "groups", 1, allowed, "a grouped softmax has no spec equivalent")
    if number(net, section, "temperature", 1.0, allowed) != 1.0:
        net.problems.add(net.origin(section).problem("a softmax temperature has no spec equivalent"))
        raise _Skip
    net.add(section, {"type": "activation", "activation": "softmax"}, net.shape)


CONVERTERS: dict[str, Callable[[Net, Section, set[str]], None]] = {
    "convolutional": convolutional, "maxpool": maxpool, "avgpool": avgpool, "connected": connected,
    "dropout": dropout, "softmax": softmax,
}


def network(net: Net, section: Section) -> tuple[int, int, int]:
    """[net]: the input size; training options are listed in the header, not converted."""
    allowed: set[str] = set()
    shape = tuple(number(net, section, key, None, allowed) for key in ("height", "width", "channels"))
    for key, option in section.options.items():
        if key in TRAINING_KEYS:
            net.ignored.append(key)
        elif key not in allowed:
            net.problems.add(net.origin(section, option).problem(f"unsupported option '{key}' in [{section.kind}]"))
    return shape


def convert(net: Net, section: Section) -> None:
    """One section through its converter; options it did not read are located errors."""
    converter = dispatch(CONVERTERS, section.kind, net.origin(section), "Darknet section", net.problems)
    if converter is None:
        return
    net.counts[section.kind] = net.counts.get(section.kind, 0) + 1
    allowed: set[str] = set()
    try:
        converter(net, section, allowed)
    except _Skip:
        return
    for key, option in section.options.items():
        if key not in allowed:
            net.problems.add(net.origin(section, option).problem(f"unsupported option '{key}' in [{section.kind}]",
                                                                 f"supported: {', '.join(sorted(allowed))}"))


def draft(path: Path, options: Options, problems: Problems) -> Draft:
    """Read a .cfg into a draft spec."""
    file = options.source
    sections = parse(path.read_text(encoding="utf-8"), file, problems)
    net = Net(file, problems)
    if not sections or sections[0].kind not in ("net", "network"):
        problems.add(Origin(file).problem("a Darknet cfg starts with a [net] section"))
        problems.raise_if_errors()
    input_shape: tuple[int, int, int] = (0, 0, 0)
    try:
        input_shape = options.input_shape or network(net, sections[0])
    except _Skip:
        problems.raise_if_errors()
    net.shape = input_shape
    notes = []
    for section in sections[1:]:
        if section.kind == "cost":
            notes.append(f"Not imported (training only): [cost] at line {section.line}.")
            continue
        convert(net, section)
    problems.raise_if_errors()
    if net.ignored:
        notes.append(f"Not imported (training only): [net] {', '.join(net.ignored)}.")
    if any(item.op is not None and item.op.flat == "flatten" for item in net.items):
        notes.append("Darknet flattens maps in C, H, W order, the spec in H, W, C order: the same network, with the "
                     "rows of the first dense layer's weights in another order.")
    stem = Path(file).stem
    return Draft(snake_name(stem, "net"), input_shape, fold_activations(net.items),
                 notes=notes, description=f"Darknet network imported from {Path(file).name}.")
