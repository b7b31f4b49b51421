"""PyTorch target: the ops' PyTorch emitters, dispatched by a table, chains as torchvision writes them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, cast

from alexgen import spec as s
from alexgen.analysis import Shape
from alexgen.diagnostics import Diagnostic
from alexgen.graph import INPUT, Graph, Node
from alexgen.ops import OPS, Module
from alexgen.ops._shared import ACTIVATION_FUNCTIONS, ACTIVATION_MODULES, SAVES_OUTPUT
from alexgen.targets.common import (
    Block,
    Context,
    Meta,
    TargetError,
    TargetInfo,
    blocks,
    collect_helpers,
    common_context,
    output_is_probability,
    python_name,
    shape_text,
    unsupported,
)
from alexgen.targets.emit import Code
from alexgen.targets.pytorch_training import (
    BODY_INDENT,
    WIDTH,
    comment,
    init_lines,
    loss_lines,
    optimizer_class,
    optimizer_lines,
    regularization_terms,
    scheduler_lines,
)
from alexgen.weights import LayoutError, torch_table

TEMPLATE = "pytorch/module.py.jinja"
SUPPORT_TEMPLATE = "pytorch/support.py.jinja"
# What every module takes from its folder's _support; layer classes and optimizers are added as used.
SUPPORT = ("evaluate", "load_neutral", "neutral_shapes_of", "save_neutral", "weights_metadata")
# Public attributes of nn.Sequential (so of nn.Module too) in torch 2.13, from `dir(nn.Sequential())`, and the
# generated class's own: a submodule with one of these names would shadow it, or add_module would refuse it.
MODULE_ATTRIBUTES = frozenset("""
    T_destination add_module append apply bfloat16 buffers call_super_init children compile cpu cuda double dump_patches
    eval extend extra_repr float forward get_buffer get_extra_state get_parameter get_submodule half insert ipu
    load_state_dict modules mtia named_buffers named_children named_modules named_parameters parameters pop
    register_backward_hook register_buffer register_forward_hook register_forward_pre_hook register_full_backward_hook
    register_full_backward_pre_hook register_load_state_dict_post_hook register_load_state_dict_pre_hook
    register_module register_parameter register_state_dict_post_hook register_state_dict_pre_hook requires_grad_
    set_extra_state set_submodule share_memory state_dict to to_empty train training type xpu zero_grad
    features classifier reset_parameters""".split())
RESERVED = frozenset("""x self torch nn F OrderedDict annotations super INPUT_SHAPE NUM_CLASSES BATCH_SIZE EPOCHS
    BatchNorm1d BatchNorm2d AvgPool2dSame build_model make_optimizer make_scheduler loss_fn predict_proba
    regularization_loss save_weights load_weights np math safe_open save_file KerasAdam KerasRMSprop KerasSGD
    WEIGHTS_METADATA NEUTRAL_SHAPES NEUTRAL_KEYS neutral_shapes predict SPEC_SHA256 LocalResponseNorm
    """.split()) | set(SUPPORT)  # names a variable in forward must not shadow
ENTRY_INDENT = 20  # OrderedDict entries in __init__
EMITTERS: dict[str, Callable[[Node[Any]], list[Module]]] = {op.name: op.pytorch for op in OPS if op.pytorch}
FUNCTIONAL: dict[str, Callable[[Node[Any], list[str]], str]] = {  # graph forward: layers without a module
    op.name: op.pytorch_functional for op in OPS if op.pytorch_functional}


@dataclass
class TorchContext(Context):
    """Everything the PyTorch template prints."""

    sequential: bool = True
    features: list[Block] = field(default_factory=list)
    classifier: list[Block] = field(default_factory=list)
    attributes: list[str] = field(default_factory=list)
    forward: list[str] = field(default_factory=list)
    init_lines: list[str] = field(default_factory=list)
    probabilities: bool = False
    optimizer_lines: list[str] = field(default_factory=list)
    optimizer_class: str | None = None
    scheduler_lines: list[str] = field(default_factory=list)
    scheduler_note: str = ""
    loss_lines: list[str] = field(default_factory=list)
    loss_name: str = ""
    predict_line: str = ""
    regularization_terms: list[str] = field(default_factory=list)
    neutral_keys: list[tuple[str, str]] = field(default_factory=list)  # key, then state_dict key, axes, blocks
    neutral_key_shapes: list[str] = field(default_factory=list)  # the default neutral shapes, row by row


@dataclass
class Body:
    """A network's __init__ and forward: chain sections or graph attributes, and each layer's module path."""

    features: list[Block]
    classifier: list[Block]
    attributes: list[str]
    forward: list[str]
    paths: dict[str, str]


def trailing(line: str, text: str, indent: int) -> list[str]:
    """`line  # text` when it fits, else the comment on its own line above."""
    return [f"{line}  # {text}"] if indent + len(line) + len(text) + 4 <= WIDTH else [*comment(text, indent), line]


def inplace_safe(graph: Graph, node: Node[Any]) -> bool:
    """True when an in-place op here touches neither the network input nor an output autograd keeps."""
    previous = node.inputs[0]
    while previous != INPUT:
        before = graph.node(previous)
        act = before.op.activation(before.layer)
        if act in SAVES_OUTPUT:
            return False
        if not before.op.may_alias_input and act != "linear":  # these may return their input
            return True
        previous = before.inputs[0]
    return False


def own_modules(graph: Graph, node: Node[Any]) -> list[Module]:
    """The modules the node's op emits, or a diagnostic when PyTorch cannot express it."""
    emitter = EMITTERS.get(node.op.name)
    if emitter is None:
        raise TargetError([unsupported(graph, node, "pytorch", "no PyTorch emitter for this layer type")])
    out = emitter(node)
    if out and out[0].not_inplace is not None and not inplace_safe(graph, node):
        out = [replace(out[0], code=out[0].not_inplace, not_inplace=None), *out[1:]]
    return out


def node_modules(graph: Graph, node: Node[Any]) -> list[Module]:
    """The chain modules of one node, its fused activation included."""
    out = own_modules(graph, node)
    act = node.op.activation(node.layer) if node.op.fused_activation else None
    return out + [Module(f"{node.name}_{act}", Code(ACTIVATION_MODULES[act]))] if act and act != "linear" else out


def check_names(graph: Graph, named: list[tuple[Node[Any], str]], what: str = "submodule") -> None:
    """Refuse names that shadow nn.Module attributes, or repeat (pads and activations add suffixes)."""
    problems, seen = [], set()
    for node, name in named:
        if what == "submodule" and name in MODULE_ATTRIBUTES:
            problems.append(unsupported(graph, node, "pytorch", f"the submodule name '{name}' would shadow the "
                                        f"nn.Module attribute '{name}'", "rename the layer (e.g. add a suffix)"))
        elif name in seen:
            problems.append(unsupported(graph, node, "pytorch", f"the {what} name '{name}' is used twice "
                                        "(pads and activations are named `<layer>_...`)", "rename the layer"))
        seen.add(name)
    if problems:
        raise TargetError(problems)


def chw(node: Node[Any]) -> str:
    """The output shape in PyTorch's C, H, W order: `96x55x55`."""
    return shape_text(node.shape if len(node.shape) == 1 else (node.shape[2], node.shape[0], node.shape[1]))


def note(mod: Module, indent: int, seen: set[str]) -> list[str]:
    """The comment above a module, the first time its text appears in the file."""
    if not mod.note or mod.note in seen:
        return []
    seen.add(mod.note)
    return comment(mod.note, indent)


def sequential_lines(nodes: list[tuple[Node[Any], list[Module]]], seen: set[str]) -> list[str]:
    """`("name", nn.X(...)),` entries of an OrderedDict, with notes and a shape comment per layer."""
    lines = []
    for node, mods in nodes:
        for i, mod in enumerate(mods):
            entry = f"({mod.name!r}, {mod.code}),"
            lines += note(mod, ENTRY_INDENT, seen)
            lines += trailing(entry, f"-> {chw(node)}", ENTRY_INDENT) if i == len(mods) - 1 else [entry]
    return lines


def held_apart(graph: Graph, boundary: Node[Any]) -> tuple[Node[Any], Module] | None:
    """The layer just before a chain's flatten that sits apart, as torchvision's `avgpool` does, and its module."""
    index = graph.nodes.index(boundary)
    last = graph.nodes[index - 1] if index > 0 else None
    if last is None or not last.op.held_apart or not last.op.pytorch:
        return None
    mods = node_modules(graph, last)
    return (last, mods[0]) if len(mods) == 1 else None


def chain_body(graph: Graph) -> Body:
    """features / (avgpool) / classifier and a torchvision-style forward for a chain."""
    sections: dict[str, list[Block]] = {"features": [], "classifier": []}
    paths: dict[str, str] = {}
    named: list[tuple[Node[Any], str]] = []
    seen: set[str] = set()
    boundary = next((n for n in graph.nodes if len(n.shape) == 1), None)
    flatten_boundary = boundary is not None and boundary.op.flat == "flatten"  # torch.flatten in forward
    apart_module = held_apart(graph, boundary) if boundary is not None and flatten_boundary else None
    apart = apart_module[0] if apart_module else None
    for title, nodes in blocks(graph):
        section = "features" if len(nodes[0].shape) == 3 else "classifier"
        emitted = [(n, node_modules(graph, n)) for n in nodes
                   if not (n is boundary and flatten_boundary) and n is not apart]
        for node, mods in emitted:
            named += [(node, m.name) for m in mods]
            paths[node.name] = f"{section}.{node.name}"
        if emitted:
            sections[section].append(Block(title, sequential_lines(emitted, seen)))
    attributes: list[str] = []
    forward = ["x = self.features(x)"] if sections["features"] else []
    if apart_module is not None:
        apart, mod = apart_module
        attributes = [*note(mod, BODY_INDENT, seen), *trailing(f"self.{mod.name} = {mod.code}", f"-> {chw(apart)}",
                                                              BODY_INDENT)]
        forward.append(f"x = self.{mod.name}(x)")
        paths[apart.name] = mod.name
        named.append((apart, mod.name))
    check_names(graph, named)
    forward += ["x = torch.flatten(x, 1)"] if flatten_boundary else []
    forward += ["x = self.classifier(x)"] if sections["classifier"] else []
    return Body(sections["features"], sections["classifier"], attributes, [*forward, "return x"], paths)


def graph_body(graph: Graph, reserved: frozenset[str] = RESERVED) -> Body:
    """One attribute per module and one forward line per layer for a graph."""
    variables = {INPUT: "x"}
    attributes: list[str] = []
    forward: list[str] = []
    named: list[tuple[Node[Any], str]] = []
    seen: set[str] = set()
    for node in graph.nodes:
        sources = [variables[ref] for ref in node.inputs]
        functional = FUNCTIONAL.get(node.op.name)
        if functional is not None:
            expression = functional(node, sources)
        else:
            expression = sources[0]
            for mod in own_modules(graph, node):
                attributes += [*note(mod, BODY_INDENT, seen), f"self.{mod.name} = {mod.code}"]
                named.append((node, mod.name))
                expression = f"self.{mod.name}({expression})"
            act = node.op.activation(node.layer) if node.op.fused_activation else None
            expression = ACTIVATION_FUNCTIONS[act or "linear"].format(expression)
        variables[node.name] = python_name(node.name, reserved)
        forward += trailing(f"{variables[node.name]} = {expression}", f"-> {chw(node)}", BODY_INDENT)
    check_names(graph, named)
    check_names(graph, [(n, variables[n.name]) for n in graph.nodes], "variable")
    return Body([], [], attributes, [*forward, f"return {variables[graph.output.name]}"],
                {n: n for n in variables})


def build_context(graph: Graph, meta: Meta) -> TorchContext:
    """Everything the PyTorch template prints, decided here."""
    training = graph.spec.training or s.Training()
    h, w, c = graph.input_shape
    base = common_context(graph, meta, "PyTorch", (c, h, w), chw(graph.output))
    if base.class_name in RESERVED:
        raise TargetError([Diagnostic(f"the pytorch target cannot use the class name '{base.class_name}' (from the "
                                      f"spec name '{graph.name}'): the generated module already defines or imports "
                                      "it", graph.path, hint="rename the spec")])
    helpers = collect_helpers(graph, lambda op: op.pytorch_helpers)
    reserved = RESERVED | {helper.name for helper in helpers}
    body = chain_body(graph) if graph.is_chain else graph_body(graph, reserved)
    probabilities = output_is_probability(graph)
    context = TorchContext(**vars(base))
    context.helpers = helpers
    context.sequential = graph.is_chain
    context.features, context.classifier = body.features, body.classifier
    context.attributes, context.forward = body.attributes, body.forward
    context.init_lines = init_lines(graph, body.paths)
    context.probabilities = probabilities
    context.optimizer_lines = optimizer_lines(training)
    context.optimizer_class = optimizer_class(training)
    optimizer = [context.optimizer_class] if context.optimizer_class else []
    context.support_imports = sorted({*SUPPORT, *(helper.name for helper in helpers), *optimizer})
    context.scheduler_lines, context.scheduler_note = scheduler_lines(training)
    context.loss_lines = loss_lines(probabilities, training.loss.startswith("sparse"))
    context.loss_name = training.loss
    context.predict_line = "return outputs" if probabilities else "return F.softmax(outputs, dim=1)"
    context.regularization_terms = regularization_terms(graph, body.paths)
    try:
        table = torch_table(graph, body.paths)
    except LayoutError as exc:
        raise TargetError([unsupported(graph, graph.node(exc.layer), "pytorch", str(exc),
                                       "combine the maps before flattening, or flatten only once")]) from None
    # the shape column is the defaults' (plain numbers); the module checks a built model's shapes itself
    context.neutral_keys = [(repr(key), ", ".join(repr(item) for item in rest)) for key, (_, *rest) in table]
    context.neutral_key_shapes = [repr(tuple(int(size) for size in cast(Shape, value[0]))) for _, value in table]
    return context


PYTORCH = TargetInfo("pytorch", TEMPLATE, SUPPORT_TEMPLATE, RESERVED, build_context,
                     frozenset({"features", "classifier", "attributes"}))
