"""Keras 3 target: the ops' Keras emitters, dispatched by a table, and the module's training set-up."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from alexgen import spec as s
from alexgen.diagnostics import Diagnostic
from alexgen.graph import INPUT, Graph, Node
from alexgen.keras_io import package_of
from alexgen.ops import OPS, KerasLayer
from alexgen.targets import common
from alexgen.targets.common import Block, Context, Meta, TargetError
from alexgen.targets.emit import Code, call

TEMPLATE = "keras/module.py.jinja"
SUPPORT_TEMPLATE = "keras/support.py.jinja"
# What every module takes from its folder's _support (register_class only when it defines a class).
SUPPORT = ("load_neutral", "neutral_shapes_of", "predict_function", "register_class", "save_neutral",
           "weights_metadata")
RESERVED = frozenset({"keras", "layers", "ops", "inputs", "model", "weights", "build_model", "compile_model",
                      "make_callbacks", "INPUT_SHAPE", "NUM_CLASSES", "BATCH_SIZE", "EPOCHS",
                      "LocalResponseNormalization", "SGDWithCoupledWeightDecay", "annotations", "np", "safe_open",
                      "save_file", "save_weights", "load_weights", "WEIGHTS_METADATA", "NEUTRAL_SHAPES",
                      "neutral_shapes", "make_predict_function", "Callable", "Any", "tf", "SPEC_SHA256", "os",
                      *SUPPORT})
EMITTERS: dict[str, Callable[[Node[Any]], list[KerasLayer]]] = {op.name: op.keras for op in OPS if op.keras}


@dataclass
class KerasContext(Context):
    """Everything the Keras template prints."""

    keras_package: str = ""  # alexgen.<spec name>: where the module registers its classes
    custom_classes: list[str] = field(default_factory=list)  # what a .keras file of the model may name
    sequential: bool = True
    blocks: list[Block] = field(default_factory=list)
    output_var: str = ""
    needs_coupled_sgd: bool = False
    optimizer: Code = Code()
    loss: Code = Code()
    metrics: list[Code] = field(default_factory=list)
    callbacks: list[Code] = field(default_factory=list)


def emit(graph: Graph, node: Node[Any]) -> list[KerasLayer]:
    """The Keras layers of one node, or a diagnostic when Keras cannot express it."""
    emitter = EMITTERS.get(node.op.name)
    if emitter is None:
        raise TargetError([common.unsupported(graph, node, "keras", "no Keras emitter for this layer type")])
    return emitter(node)


def sequential_blocks(graph: Graph) -> list[Block]:
    """Blocks of `layers.X(...)` lines for keras.Sequential."""
    return [Block(title, [code for n in nodes for _, code in emit(graph, n)]) for title, nodes in common.blocks(graph)]


def functional_blocks(graph: Graph, reserved: frozenset[str] = RESERVED) -> tuple[list[Block], str]:
    """Blocks of `name = layers.X(...)(inputs)` lines for the functional API, and the output variable."""
    variables = {INPUT: "inputs"}
    lines = []
    for node in graph.nodes:
        sources = [variables[ref] for ref in node.inputs]
        argument = f"[{', '.join(sources)}]" if node.op.multi_input else sources[0]
        for layer_name, code in emit(graph, node):
            target = common.python_name(layer_name, reserved)
            lines.append(f"{target} = {code}({argument})")
            argument = target
        variables[node.name] = argument
    return [Block(None, lines)], variables[graph.output.name]


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


def build_context(graph: Graph, meta: Meta) -> KerasContext:
    """Everything the Keras template prints, decided here."""
    training = graph.spec.training or s.Training()
    output = common.shape_text(graph.output.shape)
    base = common.common_context(graph, meta, "Keras 3", tuple(graph.input_shape), output)
    if base.class_name in RESERVED:
        raise TargetError([Diagnostic(f"the keras target cannot use the model name '{base.class_name}' (from the "
                                      f"spec name '{graph.name}'): the generated module already defines or imports "
                                      "it", graph.path, hint="rename the spec")])
    helpers = common.collect_helpers(graph, lambda op: op.keras_helpers)
    reserved = RESERVED | {helper.name for helper in helpers} | set(base.arguments)
    body, output_var = (sequential_blocks(graph), "") if graph.is_chain else functional_blocks(graph, reserved)
    context = KerasContext(**vars(base))
    context.helpers = helpers
    context.keras_package = package_of(graph.name)  # the spec name is snake_case: nothing to escape
    context.sequential = graph.is_chain
    context.blocks = body
    context.output_var = output_var
    context.needs_coupled_sgd = isinstance(training.optimizer, s.SGD) and training.optimizer.weight_decay > 0
    context.custom_classes = [helper.name for helper in helpers] + (["SGDWithCoupledWeightDecay"] *
                                                                    context.needs_coupled_sgd)
    context.support_imports = [name for name in SUPPORT if name != "register_class" or context.custom_classes]
    context.optimizer = optimizer(training)
    context.loss = loss(training, not common.output_is_probability(graph))
    context.metrics = metrics(training)
    context.callbacks = callbacks(training)
    return context


KERAS = common.TargetInfo("keras", TEMPLATE, SUPPORT_TEMPLATE, RESERVED, build_context, frozenset({"blocks"}))
