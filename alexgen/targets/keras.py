"""Keras 3 emitter: one small function per layer type, dispatched by a table."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from alexgen import spec as s
from alexgen.analysis import explicit_pads, pair
from alexgen.graph import INPUT, Graph, Node
from alexgen.targets.common import (
    Meta,
    TargetError,
    analysis_lines,
    blocks,
    docstring_text,
    pair_text,
    python_name,
    shape_text,
    unsupported,
    weights_context,
)
from alexgen.targets.emit import Code, call

TEMPLATE = "keras/module.py.jinja"
RESERVED = frozenset({"keras", "layers", "ops", "inputs", "model", "build_model", "compile_model", "make_callbacks",
                      "INPUT_SHAPE", "NUM_CLASSES", "BATCH_SIZE", "EPOCHS", "LocalResponseNormalization",
                      "SGDWithCoupledWeightDecay", "annotations", "np", "json", "struct", "save_weights",
                      "load_weights", "WEIGHTS_METADATA", "NEUTRAL_SHAPES", "LAYER_SLOTS"})
Layer = tuple[str, Code]  # (keras layer name, constructor call)


def initializer(value: s.Initializer) -> object:
    """A Keras initializer: its name, or a constructor call with every value explicit."""
    if isinstance(value, str):
        return value
    kwargs = value.model_dump(exclude={"type"})
    cls = {"random_normal": "RandomNormal", "truncated_normal": "TruncatedNormal",
           "random_uniform": "RandomUniform", "constant": "Constant"}[value.type]
    return call(f"keras.initializers.{cls}", **kwargs)


def regularizer(value: s.Regularizer | None) -> Code | None:
    """keras.regularizers.L2 / L1 / L1L2 with the spec's factors."""
    if value is None:
        return None
    if value.l1 and value.l2:
        return call("keras.regularizers.L1L2", l1=value.l1, l2=value.l2)
    return call("keras.regularizers.L1", value.l1) if value.l1 else call("keras.regularizers.L2", value.l2)


def weighted(layer: s.WeightedLayer) -> dict[str, Any]:
    """Keyword arguments shared by Conv2D and Dense, omitting Keras's own defaults."""
    return {
        "activation": layer.activation,
        "use_bias": None if layer.use_bias else False,
        "kernel_initializer": None if layer.kernel_initializer == "glorot_uniform" else initializer(
            layer.kernel_initializer),
        "bias_initializer": None if layer.bias_initializer == "zeros" else initializer(layer.bias_initializer),
        "kernel_regularizer": regularizer(layer.kernel_regularizer),
    }


def padding_arg(pads: tuple[tuple[int, int], tuple[int, int]]) -> object:
    """ZeroPadding2D's padding: an int when uniform, else ((top, bottom), (left, right))."""
    flat = {pads[0][0], pads[0][1], pads[1][0], pads[1][1]}
    return flat.pop() if len(flat) == 1 else pads


def conv2d(node: Node) -> list[Layer]:
    """Conv2D; explicit padding becomes ZeroPadding2D + a `valid` convolution."""
    layer: s.Conv2D = node.layer  # type: ignore[assignment]
    out: list[Layer] = []
    padding = layer.padding
    if not isinstance(padding, str):
        pads = explicit_pads(padding)
        padding = "valid"
        if any(sum(p) for p in pads):
            out.append((f"{node.name}_pad", call("layers.ZeroPadding2D", padding=padding_arg(pads),
                                                 name=f"{node.name}_pad")))
    strides, dilation = pair(layer.strides), pair(layer.dilation_rate)
    out.append((node.name, call(
        "layers.Conv2D", layer.filters, pair_text(pair(layer.kernel_size)),
        strides=None if strides == (1, 1) else pair_text(strides),
        padding=None if padding == "valid" else padding,
        groups=None if layer.groups == 1 else layer.groups,
        dilation_rate=None if dilation == (1, 1) else pair_text(dilation),
        **weighted(layer), name=node.name)))
    return out


def dense(node: Node) -> list[Layer]:
    """Dense."""
    layer: s.Dense = node.layer  # type: ignore[assignment]
    return [(node.name, call("layers.Dense", layer.units, **weighted(layer), name=node.name))]


def pool2d(node: Node) -> list[Layer]:
    """MaxPooling2D / AveragePooling2D; strides omitted when equal to the pool size."""
    layer: s.Pool2D = node.layer  # type: ignore[assignment]
    cls = "layers.MaxPooling2D" if node.type == "max_pool2d" else "layers.AveragePooling2D"
    size = pair(layer.pool_size)
    strides = pair(layer.strides) if layer.strides is not None else size
    return [(node.name, call(cls, pool_size=pair_text(size), strides=None if strides == size else pair_text(strides),
                             padding=None if layer.padding == "valid" else layer.padding, name=node.name))]


def simple(cls: str, *keys: str) -> Callable[[Node], list[Layer]]:
    """An emitter for a layer whose spec keys map one-to-one onto Keras keyword arguments."""
    def emit(node: Node) -> list[Layer]:
        kwargs = {key: getattr(node.layer, key) for key in keys}
        return [(node.name, call(cls, **kwargs, name=node.name))]
    return emit


def adaptive_avg_pool2d(node: Node) -> list[Layer]:
    """AdaptiveAveragePooling2D (PyTorch's bins)."""
    size = pair(node.layer.output_size)  # type: ignore[attr-defined]
    return [(node.name, call("layers.AdaptiveAveragePooling2D", pair_text(size), name=node.name))]


def zero_padding2d(node: Node) -> list[Layer]:
    """ZeroPadding2D."""
    pads = explicit_pads(node.layer.padding)  # type: ignore[attr-defined]
    return [(node.name, call("layers.ZeroPadding2D", padding=padding_arg(pads), name=node.name))]


def activation(node: Node) -> list[Layer]:
    """Activation."""
    return [(node.name, call("layers.Activation", node.layer.activation, name=node.name))]  # type: ignore[attr-defined]


def concatenate(node: Node) -> list[Layer]:
    """Concatenate along the spec's (Keras) axis."""
    axis = node.layer.axis  # type: ignore[attr-defined]
    return [(node.name, call("layers.Concatenate", axis=None if axis == -1 else axis, name=node.name))]


EMITTERS: dict[str, Callable[[Node], list[Layer]]] = {
    "conv2d": conv2d,
    "dense": dense,
    "max_pool2d": pool2d,
    "avg_pool2d": pool2d,
    "adaptive_avg_pool2d": adaptive_avg_pool2d,
    "global_avg_pool2d": simple("layers.GlobalAveragePooling2D"),
    "zero_padding2d": zero_padding2d,
    "batch_norm": simple("layers.BatchNormalization", "epsilon", "momentum"),
    "lrn": simple("LocalResponseNormalization", "size", "alpha", "beta", "bias"),
    "dropout": simple("layers.Dropout", "rate"),
    "flatten": simple("layers.Flatten"),
    "activation": activation,
    "concatenate": concatenate,
}


def emit(graph: Graph, node: Node) -> list[Layer]:
    """The Keras layers of one node, or a diagnostic when Keras cannot express it."""
    if node.type not in EMITTERS:
        raise TargetError([unsupported(graph, node, "keras", "no Keras emitter for this layer type")])
    return EMITTERS[node.type](node)


def sequential_blocks(graph: Graph) -> list[dict[str, Any]]:
    """Blocks of `layers.X(...)` lines for keras.Sequential."""
    return [{"title": title, "lines": [code for n in nodes for _, code in emit(graph, n)]}
            for title, nodes in blocks(graph)]


def functional_blocks(graph: Graph) -> tuple[list[dict[str, Any]], str]:
    """Blocks of `name = layers.X(...)(inputs)` lines for the functional API, and the output variable."""
    variables = {INPUT: "inputs"}
    lines = []
    for node in graph.nodes:
        sources = [variables[ref] for ref in node.inputs]
        argument = f"[{', '.join(sources)}]" if node.type == "concatenate" else sources[0]
        for layer_name, code in emit(graph, node):
            target = python_name(layer_name, RESERVED)
            lines.append(f"{target} = {code}({argument})")
            argument = target
        variables[node.name] = argument
    return [{"title": None, "lines": lines}], variables[graph.output.name]


def output_is_probability(graph: Graph) -> bool:
    """True when the network ends in a softmax (the loss then reads probabilities, not logits)."""
    return getattr(graph.output.layer, "activation", None) == "softmax"


def optimizer(training: s.Training) -> Code:
    """The optimizer with every hyperparameter explicit; SGD weight decay is coupled (the paper's rule)."""
    opt = training.optimizer
    values = opt.model_dump(exclude={"type"})
    if isinstance(opt, s.SGD):
        decay = values.pop("weight_decay")
        if decay:
            return call("SGDWithCoupledWeightDecay", **values, coupled_weight_decay=decay)
        return call("keras.optimizers.SGD", **values)
    cls = {"adam": "Adam", "adadelta": "Adadelta", "rmsprop": "RMSprop"}[opt.type]
    return call(f"keras.optimizers.{cls}", **values)


def loss(training: s.Training, from_logits: bool) -> Code:
    """The loss object; `from_logits` follows the network's output."""
    cls = {"categorical_crossentropy": "CategoricalCrossentropy",
           "sparse_categorical_crossentropy": "SparseCategoricalCrossentropy"}[training.loss]
    return call(f"keras.losses.{cls}", from_logits=from_logits)


def metrics(training: s.Training) -> list[Code]:
    """Metric objects named as in the spec."""
    sparse = training.loss.startswith("sparse")
    out = []
    for metric in training.metrics:
        if metric == "accuracy":
            out.append(Code(repr("accuracy")))
        else:
            cls = "SparseTopKCategoricalAccuracy" if sparse else "TopKCategoricalAccuracy"
            out.append(call(f"keras.metrics.{cls}", k=5, name="top5_accuracy"))
    return out


def callbacks(training: s.Training) -> list[Code]:
    """Learning-rate schedule callbacks."""
    schedule = training.lr_schedule
    if schedule is None:
        return []
    if isinstance(schedule, s.ReduceOnPlateau):
        mode = "max" if "accuracy" in schedule.monitor else "min"
        return [call("keras.callbacks.ReduceLROnPlateau", monitor=schedule.monitor, factor=schedule.factor,
                     patience=schedule.patience, min_lr=schedule.min_lr, mode=mode)]
    return [Code(f"keras.callbacks.LearningRateScheduler(lambda epoch, lr: lr * {schedule.factor!r} "
                 f"if epoch > 0 and epoch % {schedule.step_size} == 0 else lr)")]


def build_context(graph: Graph, meta: Meta) -> dict[str, Any]:
    """Everything the Keras template prints, decided here."""
    training = graph.spec.training or s.Training()
    sequential = graph.is_chain
    if sequential:
        body, output_var = sequential_blocks(graph), ""
    else:
        body, output_var = functional_blocks(graph)
    types = {n.type for n in graph.nodes}
    return {
        "header": meta.header_comment(),
        "title": f"{graph.name}: {len(graph.nodes)} layers, {graph.total_params:,} parameters, Keras 3.",
        "description": docstring_text(graph.spec.description or ""),
        "analysis": analysis_lines(graph),
        "spec_path": docstring_text(meta.shown_path),
        "command": docstring_text(meta.command),
        "model_name": repr(graph.name),
        "input_shape": repr(tuple(graph.input_shape)),
        "input_text": shape_text(graph.input_shape),
        "output_text": shape_text(graph.output.shape),
        "num_classes": graph.output.shape[0] if len(graph.output.shape) == 1 else None,
        "batch_size": training.batch_size,
        "epochs": training.epochs,
        "sequential": sequential,
        "blocks": body,
        "output_var": output_var,
        "needs_lrn": "lrn" in types,
        "needs_coupled_sgd": isinstance(training.optimizer, s.SGD) and training.optimizer.weight_decay > 0,
        "optimizer": optimizer(training),
        "loss": loss(training, not output_is_probability(graph)),
        "metrics": metrics(training),
        "callbacks": callbacks(training),
        "has_training": graph.spec.training is not None,
        **weights_context(graph),
    }
