"""Keras 3 model -> spec draft: one converter per layer class, each reading the layer's config."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alexgen.importers import Options, fail
from alexgen.importers.draft import Draft, Item, Names, Origin, Problems
from alexgen.importers.emit import ACTIVATIONS, dispatch, fuse_pads, int_or_pair, output_order, snake_name
from alexgen.importers.emit import padding_value as spec_padding
from alexgen.keras_io import KerasLoadError, generated_class, missing_message, unregistered

COMMON = {"name", "trainable", "dtype"}  # every layer's config has these; trainable and dtype are checked
INITIALIZERS = {"GlorotUniform": "glorot_uniform", "GlorotNormal": "glorot_normal", "HeNormal": "he_normal",
                "HeUniform": "he_uniform", "Zeros": "zeros", "Ones": "ones"}
TAGGED = {"RandomNormal": ("random_normal", ("mean", "stddev")), "TruncatedNormal": ("truncated_normal",
          ("mean", "stddev")), "RandomUniform": ("random_uniform", ("minval", "maxval")),
          "Constant": ("constant", ("value",))}
ALEXGEN = "alexgen>"  # dispatch prefix of the classes alexgen generates (registered as alexgen.<spec>>Name)


class _Skip(Exception):
    """The layer was refused; its diagnostics are recorded."""


@dataclass
class Context:
    """One layer being converted: its config, the keys it has read, and where to report."""

    config: dict[str, Any]
    origin: Origin
    problems: Problems
    used: set[str] = field(default_factory=lambda: set(COMMON))
    notes: list[str] = field(default_factory=list)

    def get(self, key: str) -> Any:
        """A config value, marked as read."""
        self.used.add(key)
        return self.config.get(key)

    def refuse(self, message: str, hint: str | None = None) -> _Skip:
        """Record a refusal; raise the result."""
        self.problems.add(self.origin.problem(message, hint))
        return _Skip()

    def default(self, key: str, *allowed: Any) -> None:
        """A key that must keep one of its default values (no spec equivalent otherwise)."""
        value = self.get(key)
        if value not in allowed:
            raise self.refuse(f"{key}={value!r} has no spec equivalent", f"the spec supports {key}={allowed[0]!r}")


def activation(ctx: Context, key: str = "activation") -> str | None:
    """A built-in activation name; linear becomes no key."""
    value = ctx.get(key)
    if value not in ACTIVATIONS:
        raise ctx.refuse(f"the activation {value!r} has no spec equivalent", f"supported: {', '.join(ACTIVATIONS)}")
    return None if value == "linear" else value


def initializer(ctx: Context, key: str) -> Any:
    """A Keras initializer config as the spec's initializer."""
    value = ctx.get(key)
    cls, config = (value.get("class_name"), value.get("config") or {}) if isinstance(value, dict) else (value, {})
    if config.get("seed") is not None:
        ctx.notes.append(f"{ctx.origin.layer}: the {key} seed {config['seed']} is not part of a spec.")
    if cls in INITIALIZERS:
        return INITIALIZERS[cls]
    if cls in TAGGED:
        kind, keys = TAGGED[cls]
        return {"type": kind, **{k: float(config[k]) for k in keys}}
    raise ctx.refuse(f"the {key} {cls!r} has no spec equivalent",
                     f"supported: {', '.join([*INITIALIZERS, *TAGGED])}")


def regularizer(ctx: Context, kernel: str = "kernel") -> dict[str, float] | None:
    """L1 / L2 / L1L2 on the kernel; other regularizers and constraints are refused."""
    for key in ("bias_regularizer", "activity_regularizer", f"{kernel}_constraint", "bias_constraint"):
        ctx.default(key, None)
    value = ctx.get(f"{kernel}_regularizer")
    if value is None:
        return None
    cls, config = value.get("class_name"), value.get("config", {})
    if cls not in ("L1", "L2", "L1L2"):
        raise ctx.refuse(f"the kernel regularizer {cls!r} has no spec equivalent", "use L1, L2 or L1L2")
    return {k: shortest(float(config[k])) for k in ("l1", "l2") if config.get(k)}


def shortest(value: float) -> float:
    """A value Keras stored as float32 (L1's factor) as the shortest decimal with that float32 value."""
    import numpy as np

    single = np.float32(value)
    return float(str(single)) if float(single) == value else value


def weighted(ctx: Context, kernel: str = "kernel") -> dict[str, Any]:
    """Keys shared by Conv2D, DepthwiseConv2D (its `depthwise_*` keys are the spec's `kernel_*`) and Dense, spec
    defaults left out."""
    ctx.default("lora_rank", None)
    ctx.used |= {"lora_alpha", "quantization_config"}
    keys: dict[str, Any] = {"activation": activation(ctx)}
    if not ctx.get("use_bias"):
        keys["use_bias"] = False
    for key, spec_key, default in ((f"{kernel}_initializer", "kernel_initializer", "glorot_uniform"),
                                   ("bias_initializer", "bias_initializer", "zeros")):
        value = initializer(ctx, key)
        keys[spec_key] = None if value == default else value
    keys["kernel_regularizer"] = regularizer(ctx, kernel)
    return {k: v for k, v in keys.items() if v is not None}


def channels_last(ctx: Context) -> None:
    """Spatial layers must be channels-last, as the spec is."""
    ctx.default("data_format", "channels_last", None)


def window_keys(ctx: Context, *keys: str) -> dict[str, Any]:
    """A convolution's kernel_size, the given keys that differ from 1, and `same` padding."""
    channels_last(ctx)
    found: dict[str, Any] = {"kernel_size": int_or_pair(ctx.get("kernel_size"))}
    for key in keys:
        value = ctx.get(key)
        value = int_or_pair(value) if isinstance(value, (list, tuple)) else value
        if value != 1:
            found[key] = value
    padding = ctx.get("padding")
    if padding not in ("valid", "same"):
        raise ctx.refuse(f"padding={padding!r} has no spec equivalent")
    if padding == "same":
        found["padding"] = "same"
    return found


def conv2d(ctx: Context) -> dict[str, Any]:
    """Conv2D."""
    keys = window_keys(ctx, "strides", "dilation_rate", "groups")
    return {"type": "conv2d", "filters": ctx.get("filters"), **keys} | weighted(ctx)


def depthwise_conv2d(ctx: Context) -> dict[str, Any]:
    """DepthwiseConv2D: depth_multiplier filters per input channel."""
    keys = window_keys(ctx, "depth_multiplier", "strides", "dilation_rate")
    return {"type": "depthwise_conv2d", **keys} | weighted(ctx, kernel="depthwise")


def dense(ctx: Context) -> dict[str, Any]:
    """Dense."""
    return {"type": "dense", "units": ctx.get("units")} | weighted(ctx)


def pooling(kind: str) -> Callable[[Context], dict[str, Any]]:
    """MaxPooling2D / AveragePooling2D: strides left out when equal to the pool size."""
    def convert(ctx: Context) -> dict[str, Any]:
        channels_last(ctx)
        size, strides, padding = ctx.get("pool_size"), ctx.get("strides") or ctx.get("pool_size"), ctx.get("padding")
        keys = {"type": kind, "pool_size": int_or_pair(size)}
        if tuple(strides) != tuple(size):
            keys["strides"] = int_or_pair(strides)
        if padding == "same":
            keys["padding"] = "same"
        return keys
    return convert


def zero_padding2d(ctx: Context) -> dict[str, Any]:
    """ZeroPadding2D ((top, bottom), (left, right))."""
    channels_last(ctx)
    (top, bottom), (left, right) = ctx.get("padding")
    return {"type": "zero_padding2d", "padding": spec_padding(((top, bottom), (left, right)))}


def batch_norm(ctx: Context) -> dict[str, Any]:
    """BatchNormalization over the channel axis with its epsilon and momentum (Keras's meaning is the spec's)."""
    if ctx.get("axis") not in (-1, [-1]):
        raise ctx.refuse("batch normalization over an axis other than the last has no spec equivalent")
    for key, value in (("center", True), ("scale", True), ("synchronized", False), ("renorm", False),
                       ("beta_regularizer", None), ("gamma_regularizer", None), ("beta_constraint", None),
                       ("gamma_constraint", None)):
        ctx.default(key, value)
    for key, name in (("beta_initializer", "zeros"), ("gamma_initializer", "ones"),
                      ("moving_mean_initializer", "zeros"), ("moving_variance_initializer", "ones")):
        if initializer(ctx, key) != name:
            raise ctx.refuse(f"a {key} other than {name} has no spec equivalent")
    ctx.used |= {"renorm_clipping", "renorm_momentum"}
    return {"type": "batch_norm", "epsilon": float(ctx.get("epsilon")), "momentum": float(ctx.get("momentum"))}


def dropout(ctx: Context) -> dict[str, Any]:
    """Dropout (its seed is not part of a spec)."""
    ctx.default("noise_shape", None)
    ctx.used.add("seed")
    return {"type": "dropout", "rate": float(ctx.get("rate"))}


def adaptive_avg_pool2d(ctx: Context) -> dict[str, Any]:
    """AdaptiveAveragePooling2D (PyTorch's bins, as the spec's)."""
    channels_last(ctx)
    return {"type": "adaptive_avg_pool2d", "output_size": int_or_pair(ctx.get("output_size"))}


def global_avg_pool2d(ctx: Context) -> dict[str, Any]:
    """GlobalAveragePooling2D without keepdims."""
    channels_last(ctx)
    ctx.default("keepdims", False)
    return {"type": "global_avg_pool2d"}


def flatten(ctx: Context) -> dict[str, Any]:
    """Flatten of a channels-last map."""
    channels_last(ctx)
    return {"type": "flatten"}


def leaky_relu(ctx: Context) -> dict[str, Any]:
    """LeakyReLU with Keras 3's negative_slope (default 0.3, PyTorch's 0.01): always written out."""
    return {"type": "leaky_relu", "negative_slope": float(ctx.get("negative_slope"))}


def elu(ctx: Context) -> dict[str, Any]:
    """ELU with its alpha (1.0, the spec's default, left out)."""
    alpha = float(ctx.get("alpha"))
    return {"type": "elu", **({} if alpha == 1.0 else {"alpha": alpha})}


def gelu(ctx: Context) -> dict[str, Any]:
    """alexgen's generated GELU layer: Keras's approximate=True is the spec's (PyTorch's) `tanh`."""
    return {"type": "gelu", **({"approximate": "tanh"} if ctx.get("approximate") else {})}


# Activation("...") names that are spec layers of their own, with keras.activations' defaults made explicit.
ACTIVATION_LAYERS: dict[str, dict[str, Any]] = {
    "gelu": {"type": "gelu"}, "elu": {"type": "elu"}, "leaky_relu": {"type": "leaky_relu", "negative_slope": 0.2}}


def activation_layer(ctx: Context) -> dict[str, Any]:
    """Activation: a spec activation, or a gelu / elu / leaky_relu layer with keras.activations' defaults."""
    name = ctx.config.get("activation")
    layer = ACTIVATION_LAYERS.get(name) if isinstance(name, str) else None
    if layer is not None:
        ctx.used.add("activation")
        return dict(layer)
    return {"type": "activation", "activation": activation(ctx) or "linear"}


def lrn(ctx: Context) -> dict[str, Any]:
    """alexgen's generated LocalResponseNormalization: already the spec's convention."""
    return {"type": "lrn", **{k: ctx.get(k) for k in ("size", "alpha", "beta", "bias")}}


CONVERTERS: dict[str, Callable[[Context], dict[str, Any]]] = {
    "Conv2D": conv2d,
    "Dense": dense,
    "MaxPooling2D": pooling("max_pool2d"),
    "AveragePooling2D": pooling("avg_pool2d"),
    "AdaptiveAveragePooling2D": adaptive_avg_pool2d,
    "GlobalAveragePooling2D": global_avg_pool2d,
    "ZeroPadding2D": zero_padding2d,
    "BatchNormalization": batch_norm,
    "Dropout": dropout,
    "Flatten": flatten,
    "Activation": activation_layer,
    "DepthwiseConv2D": depthwise_conv2d,
    "Add": lambda ctx: {"type": "add"},
    "LeakyReLU": leaky_relu,
    "ELU": elu,
    f"{ALEXGEN}GELU": gelu,
    "Concatenate": lambda ctx: {"type": "concatenate", **({} if ctx.get("axis") == -1 else {"axis": ctx.get("axis")})},
    f"{ALEXGEN}LocalResponseNormalization": lrn,
}


# --- the model ---------------------------------------------------------------------------------------


def class_key(layer: Any) -> str:
    """The dispatch key: Keras's own class name, or `alexgen>Name` for classes alexgen generates (any module's)."""
    import keras

    generated = generated_class(keras.saving.get_registered_name(type(layer)))
    return f"{ALEXGEN}{generated}" if generated else type(layer).__name__


def graph_layers(model: Any, source: str, problems: Problems) -> list[tuple[Any, list[str]]]:
    """(layer, names of the layers it reads) in order; `input` is the model's input."""
    import keras

    if isinstance(model, keras.Sequential):
        found, previous = [], "input"
        for layer in model.layers:
            found.append((layer, [previous]))
            previous = layer.name
        return found
    found = []
    for layer in model.operations:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if len(layer._inbound_nodes) != 1:
            problems.add(Origin(source, layer=layer.name).problem(
                "a layer called more than once (shared weights) has no spec equivalent"))
            continue
        tensors = layer._inbound_nodes[0].input_tensors
        found.append((layer, [t._keras_history.operation.name for t in tensors]))
    return found


def input_name(model: Any) -> str:
    """The name of the model's (single) input layer, read as `input`."""
    name: str = model.inputs[0]._keras_history.operation.name
    return name


def convert(layer: Any, inputs: list[str], source: str, problems: Problems, notes: list[str]) -> Item | None:
    """One Keras layer as a spec layer, or None (with diagnostics)."""
    import keras

    origin = Origin(source, layer=layer.name)
    if isinstance(layer, keras.Model):
        problems.add(origin.problem("a nested model has no spec equivalent", "build the model from its layers"))
        return None
    converter = dispatch(CONVERTERS, class_key(layer), origin, "Keras layer class", problems)
    if converter is None:
        return None
    ctx = Context(layer.get_config(), origin, problems)
    try:
        if not layer.trainable:
            raise ctx.refuse("a frozen (trainable=False) layer has no spec equivalent")
        keys = converter(ctx)
    except _Skip:
        return None
    notes += ctx.notes
    for key in sorted(set(ctx.config) - ctx.used):
        if ctx.config[key] not in (None, False, 0):
            problems.add(origin.problem(f"the config key '{key}' ({ctx.config[key]!r}) is not converted",
                                        "it has no spec equivalent"))
    shape = tuple(int(d) for d in layer.output.shape[1:])
    return Item({"type": keys.pop("type"), "name": layer.name, "inputs": inputs, **keys}, origin, shape,
                owner=layer.name, probe=layer.name)


def unregistered_classes(path: Path) -> list[str]:
    """The generated classes a .keras file needs that are not registered (none if the file is unreadable:
    Keras then says why)."""
    try:
        return unregistered(path)
    except KerasLoadError:
        return []


def load(obj: Any, source: str) -> Any:
    """The model: as given, or loaded from a .keras file (safe mode: no code from the file runs)."""
    import keras

    if isinstance(obj, Path):
        missing = unregistered_classes(obj)
        if missing:
            raise fail(source, missing_message(obj, missing), "a .keras file of a generated model loads "
                       "where its module is imported: alexgen.keras_io.load_keras_model(path, module=...) in Python")
        try:
            return keras.saving.load_model(obj, safe_mode=True)
        except Exception as exc:
            raise fail(source, f"Keras cannot load this file: {exc}") from None
    if not isinstance(obj, keras.Model):
        raise fail(source, f"expected a keras.Model, got {type(obj).__name__}")
    return obj


def draft(obj: Any, options: Options, problems: Problems) -> Draft:
    """A Keras model (Sequential or functional) as a draft spec, with its compile() settings when compiled."""
    from alexgen.importers.keras_training import training

    source = options.source
    model = load(obj, source)
    if not model.inputs or len(model.inputs) != 1 or len(model.outputs) != 1:
        raise fail(source, "the model needs exactly one input and one output, and must be built",
                   "start it with keras.Input(shape=...)")
    shape = tuple(int(d) for d in model.inputs[0].shape[1:])
    if len(shape) != 3:
        raise fail(source, f"the input must be height x width x channels, got {shape}")
    names, notes, items = Names(), list[str](), list[Item]()
    renamed = {input_name(model): "input", "input": "input"}
    for layer, inputs in graph_layers(model, source, problems):
        item = convert(layer, [renamed.get(ref, ref) for ref in inputs], source, problems, notes)
        if item is not None:
            renamed[layer.name] = item.keys["name"] = names.make(layer.name)
            items.append(item)
    output_layer = model.outputs[0]._keras_history.operation
    compiled = training(model, output_layer.get_config().get("activation"), source, problems)
    problems.raise_if_errors()
    items = fuse_pads(output_order(items, renamed[output_layer.name]))
    if compiled is not None:
        notes.append("batch_size, epochs and lr_schedule are not part of a compiled Keras model: the spec's "
                     "defaults apply.")
    name = snake_name(options.name or model.name, "model")
    return Draft(name, (shape[0], shape[1], shape[2]), items, compiled, notes,
                 model=model)
