"""PyTorch emitter: one small function per layer type, dispatched by a table."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from alexgen import spec as s
from alexgen.analysis import Pads, explicit_pads, pair
from alexgen.diagnostics import Diagnostic
from alexgen.graph import INPUT, Graph, Node
from alexgen.targets.common import (
    Meta,
    TargetError,
    analysis_lines,
    blocks,
    class_name,
    docstring_text,
    pair_text,
    python_name,
    shape_text,
    unsupported,
    weights_context,
)
from alexgen.targets.emit import Code, call
from alexgen.targets.keras import output_is_probability
from alexgen.targets.pytorch_training import (
    BODY_INDENT,
    WIDTH,
    comment,
    init_lines,
    loss_lines,
    optimizer_lines,
    regularization_terms,
    scheduler_lines,
)

TEMPLATE = "pytorch/module.py.jinja"
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
    regularization_loss save_weights load_weights np json struct math KerasAdam KerasRMSprop WEIGHTS_METADATA
    NEUTRAL_SHAPES NEUTRAL_KEYS PERMUTED_INPUTS""".split())  # names a variable in forward must not shadow
ACTIVATION_MODULES = {"relu": "nn.ReLU(inplace=True)", "softmax": "nn.Softmax(dim=1)", "sigmoid": "nn.Sigmoid()",
                      "tanh": "nn.Tanh()", "linear": "nn.Identity()"}
ACTIVATION_FUNCTIONS = {"relu": "F.relu({})", "softmax": "F.softmax({}, dim=1)", "sigmoid": "torch.sigmoid({})",
                        "tanh": "torch.tanh({})", "linear": "{}"}
SAVES_OUTPUT = {"sigmoid", "tanh", "softmax"}  # their backward reads their output: no in-place op may follow
ENTRY_INDENT = 20  # OrderedDict entries in __init__


@dataclass(frozen=True)
class Module:
    """One submodule: its name, its constructor call and an optional comment above it."""

    name: str
    code: Code
    note: str | None = None


def literal(value: float) -> float:
    """A computed float without binary noise (0.010000000000000009 -> 0.01)."""
    return round(value, 12) if abs(value) >= 1e-6 else float(f"{value:.12g}")


def trailing(line: str, text: str, indent: int) -> list[str]:
    """`line  # text` when it fits, else the comment on its own line above."""
    return [f"{line}  # {text}"] if indent + len(line) + len(text) + 4 <= WIDTH else [*comment(text, indent), line]


def torch_pads(pads: Pads) -> int | tuple[int, int, int, int]:
    """((top, bottom), (left, right)) as F.pad's (left, right, top, bottom), an int when uniform."""
    (top, bottom), (left, right) = pads
    return left if len({top, bottom, left, right}) == 1 else (left, right, top, bottom)


def padded(node: Node, fill: str) -> tuple[list[Module], int | tuple[int, int] | None]:
    """Symmetric pads become the layer's `padding=`; asymmetric ones a `<name>_pad` module before it."""
    pads = node.window.pads  # type: ignore[union-attr]
    if not any(sum(p) for p in pads):
        return [], None
    if node.window.symmetric:  # type: ignore[union-attr]
        return [], pair_text((pads[0][0], pads[1][0]))
    module = call("nn.ZeroPad2d", torch_pads(pads)) if fill == "zeros" else call(
        "nn.ConstantPad2d", torch_pads(pads), value=Code('float("-inf")'))
    same = node.layer.padding == "same"  # type: ignore[attr-defined]
    note = f"'same' as TensorFlow pads: {fill}, the odd extra cell at the bottom/right" if same else None
    return [Module(f"{node.name}_pad", module, note)], None


def conv2d(node: Node) -> list[Module]:
    """nn.Conv2d; asymmetric padding as an explicit nn.ZeroPad2d (never padding="same")."""
    layer: s.Conv2D = node.layer  # type: ignore[assignment]
    window = node.window
    assert window is not None
    out, padding = padded(node, "zeros")
    return [*out, Module(node.name, call(
        "nn.Conv2d", node.input_shapes[0][-1], layer.filters, kernel_size=pair_text(window.kernel),
        stride=None if window.strides == (1, 1) else pair_text(window.strides), padding=padding,
        dilation=None if window.dilation == (1, 1) else pair_text(window.dilation),
        groups=None if layer.groups == 1 else layer.groups, bias=None if layer.use_bias else False))]


def dense(node: Node) -> list[Module]:
    """nn.Linear."""
    layer: s.Dense = node.layer  # type: ignore[assignment]
    bias = None if layer.use_bias else False
    return [Module(node.name, call("nn.Linear", node.input_shapes[0][0], layer.units, bias=bias))]


def max_pool2d(node: Node) -> list[Module]:
    """nn.MaxPool2d; asymmetric 'same' pads with -inf first, as TensorFlow does."""
    window = node.window
    assert window is not None
    out, padding = padded(node, "-inf")
    return [*out, Module(node.name, call("nn.MaxPool2d", kernel_size=pair_text(window.kernel),
                                         stride=pair_text(window.strides), padding=padding))]


def avg_pool2d(node: Node) -> list[Module]:
    """nn.AvgPool2d dividing by real cells only; asymmetric 'same' needs the AvgPool2dSame helper."""
    window = node.window
    assert window is not None
    kernel, stride = pair_text(window.kernel), pair_text(window.strides)
    if not window.symmetric:
        return [Module(node.name, call("AvgPool2dSame", kernel, stride, torch_pads(window.pads)))]
    padding = pair_text((window.pads[0][0], window.pads[1][0]))
    return [Module(node.name, call("nn.AvgPool2d", kernel_size=kernel, stride=stride, padding=padding or None,
                                   count_include_pad=False if padding else None))]


def global_avg_pool2d(node: Node) -> list[Module]:
    """Mean over height and width, then flat: two modules in a chain."""
    return [Module(node.name, call("nn.AdaptiveAvgPool2d", 1)), Module(f"{node.name}_flatten", call("nn.Flatten", 1))]


def simple(cls: str, argument: Callable[[Any], object]) -> Callable[[Node], list[Module]]:
    """An emitter for a layer that becomes one module with one positional argument from the spec layer."""
    return lambda node: [Module(node.name, call(cls, argument(node.layer)))]


def batch_norm(node: Node) -> list[Module]:
    """The generated BatchNorm1d/2d: Keras's epsilon, momentum 1 - Keras's, biased variance."""
    layer: s.BatchNorm = node.layer  # type: ignore[assignment]
    cls = "BatchNorm2d" if len(node.shape) == 3 else "BatchNorm1d"
    note = f"momentum = 1 - Keras's {layer.momentum!r}: PyTorch's weighs the new batch, Keras's the old value"
    momentum = literal(1 - layer.momentum)
    return [Module(node.name, call(cls, node.shape[-1], eps=layer.epsilon, momentum=momentum), note)]


def lrn(node: Node) -> list[Module]:
    """nn.LocalResponseNorm with alpha * size: PyTorch divides alpha by size, the spec's formula does not."""
    layer: s.LRN = node.layer  # type: ignore[assignment]
    note = f"alpha = {layer.alpha!r} x size {layer.size}: PyTorch divides alpha by size, the paper does not"
    return [Module(node.name, call("nn.LocalResponseNorm", layer.size, alpha=literal(layer.alpha * layer.size),
                                   beta=layer.beta, k=layer.bias), note)]


EMITTERS: dict[str, Callable[[Node], list[Module]]] = {
    "conv2d": conv2d, "dense": dense, "max_pool2d": max_pool2d, "avg_pool2d": avg_pool2d,
    "global_avg_pool2d": global_avg_pool2d, "batch_norm": batch_norm, "lrn": lrn,
    "adaptive_avg_pool2d": simple("nn.AdaptiveAvgPool2d", lambda layer: pair_text(pair(layer.output_size))),
    "zero_padding2d": simple("nn.ZeroPad2d", lambda layer: torch_pads(explicit_pads(layer.padding))),
    "dropout": simple("nn.Dropout", lambda layer: layer.rate),
    "flatten": simple("nn.Flatten", lambda layer: 1),  # at the features/classifier boundary: torch.flatten
    "activation": lambda node: [Module(node.name, Code(ACTIVATION_MODULES[node.layer.activation]))],  # type: ignore[attr-defined]
}


def concat_dim(node: Node) -> int:
    """The spec's Keras axis (batch 0, channels last) as an NCHW dimension."""
    rank = len(node.input_shapes[0]) + 1
    axis = node.layer.axis % rank  # type: ignore[attr-defined]
    return {1: 2, 2: 3, 3: 1}[axis] if rank == 4 else axis


FUNCTIONAL: dict[str, Callable[[Node, list[str]], str]] = {  # graph forward: layers without a module
    "flatten": lambda node, xs: f"torch.flatten({xs[0]}, 1)",
    "global_avg_pool2d": lambda node, xs: f"{xs[0]}.mean(dim=(2, 3))",
    "activation": lambda node, xs: ACTIVATION_FUNCTIONS[node.layer.activation].format(xs[0]),  # type: ignore[attr-defined]
    "concatenate": lambda node, xs: f"torch.cat([{', '.join(xs)}], dim={concat_dim(node)})",
}


def inplace_safe(graph: Graph, node: Node) -> bool:
    """True when an in-place ReLU here touches neither the network input nor an output autograd keeps."""
    previous = node.inputs[0]
    while previous != INPUT:
        before = graph.node(previous)
        act = getattr(before.layer, "activation", None)
        if act in SAVES_OUTPUT:
            return False
        if before.type not in ("dropout", "flatten") and act != "linear":  # these may return their input
            return True
        previous = before.inputs[0]
    return False


def modules(graph: Graph, node: Node) -> list[Module]:
    """The chain modules of one node, its attached activation included."""
    if node.type not in EMITTERS:
        raise TargetError([unsupported(graph, node, "pytorch", "no PyTorch emitter for this layer type")])
    out = EMITTERS[node.type](node)
    act = getattr(node.layer, "activation", None)
    if node.type == "activation":
        return [Module(node.name, call("nn.ReLU"))] if act == "relu" and not inplace_safe(graph, node) else out
    return out + [Module(f"{node.name}_{act}", Code(ACTIVATION_MODULES[act]))] if act and act != "linear" else out


def check_names(graph: Graph, named: list[tuple[Node, str]], what: str = "submodule") -> None:
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


def chw(node: Node) -> str:
    """The output shape in PyTorch's C, H, W order: `96x55x55`."""
    return shape_text(node.shape if len(node.shape) == 1 else (node.shape[2], node.shape[0], node.shape[1]))


def note(mod: Module, indent: int, seen: set[str]) -> list[str]:
    """The comment above a module, the first time its text appears in the file."""
    if not mod.note or mod.note in seen:
        return []
    seen.add(mod.note)
    return comment(mod.note, indent)


def sequential_lines(nodes: list[tuple[Node, list[Module]]], seen: set[str]) -> list[str]:
    """`("name", nn.X(...)),` entries of an OrderedDict, with notes and a shape comment per layer."""
    lines = []
    for node, mods in nodes:
        for i, mod in enumerate(mods):
            entry = f"({mod.name!r}, {mod.code}),"
            lines += note(mod, ENTRY_INDENT, seen)
            lines += trailing(entry, f"-> {chw(node)}", ENTRY_INDENT) if i == len(mods) - 1 else [entry]
    return lines


def chain_body(graph: Graph) -> dict[str, Any]:
    """features / classifier blocks and a torchvision-style forward for a chain."""
    sections: dict[str, list[dict[str, Any]]] = {"features": [], "classifier": []}
    paths, named, seen = {}, [], set()
    boundary = next((n for n in graph.nodes if len(n.shape) == 1), None)
    for title, nodes in blocks(graph):
        section = "features" if len(nodes[0].shape) == 3 else "classifier"
        emitted = [(n, modules(graph, n)) for n in nodes if not (n is boundary and n.type == "flatten")]
        for node, mods in emitted:
            named += [(node, m.name) for m in mods]
            paths[node.name] = f"{section}.{node.name}"
        if emitted:
            sections[section].append({"title": title, "lines": sequential_lines(emitted, seen)})
    check_names(graph, named)
    forward = ["x = self.features(x)"] if sections["features"] else []
    forward += ["x = torch.flatten(x, 1)"] if boundary is not None and boundary.type == "flatten" else []
    forward += ["x = self.classifier(x)"] if sections["classifier"] else []
    return {**sections, "attributes": [], "forward": [*forward, "return x"], "paths": paths}


def graph_body(graph: Graph) -> dict[str, Any]:
    """One attribute per module and one forward line per layer for a graph."""
    variables = {INPUT: "x"}
    attributes, forward, named, seen = [], [], [], set()
    for node in graph.nodes:
        sources = [variables[ref] for ref in node.inputs]
        if node.type in FUNCTIONAL:
            expression = FUNCTIONAL[node.type](node, sources)
        elif node.type in EMITTERS:
            expression = sources[0]
            for mod in EMITTERS[node.type](node):
                attributes += [*note(mod, BODY_INDENT, seen), f"self.{mod.name} = {mod.code}"]
                named.append((node, mod.name))
                expression = f"self.{mod.name}({expression})"
            expression = ACTIVATION_FUNCTIONS[getattr(node.layer, "activation", None) or "linear"].format(expression)
        else:
            raise TargetError([unsupported(graph, node, "pytorch", "no PyTorch emitter for this layer type")])
        variables[node.name] = python_name(node.name, RESERVED)
        forward += trailing(f"{variables[node.name]} = {expression}", f"-> {chw(node)}", BODY_INDENT)
    check_names(graph, named)
    check_names(graph, [(n, variables[n.name]) for n in graph.nodes], "variable")
    return {"features": [], "classifier": [], "attributes": attributes,
            "forward": [*forward, f"return {variables[graph.output.name]}"], "paths": {n: n for n in variables}}


def batch_norm_classes(graph: Graph) -> list[dict[str, str]]:
    """The BatchNorm1d / BatchNorm2d helper classes the network uses, with their reduction dims."""
    ranks = sorted({len(n.shape) for n in graph.nodes if n.type == "batch_norm"})
    return [{"name": "BatchNorm1d", "dims": "(0,)"} if rank == 1 else {"name": "BatchNorm2d", "dims": "(0, 2, 3)"}
            for rank in ranks]


def build_context(graph: Graph, meta: Meta) -> dict[str, Any]:
    """Everything the PyTorch template prints, decided here."""
    training = graph.spec.training or s.Training()
    body = chain_body(graph) if graph.is_chain else graph_body(graph)
    probabilities = output_is_probability(graph)
    batch_norms = batch_norm_classes(graph)
    avg_same = any(n.type == "avg_pool2d" and not n.window.symmetric for n in graph.nodes)  # type: ignore[union-attr]
    losses = loss_lines(probabilities, training.loss.startswith("sparse"))
    predict = "return outputs" if probabilities else "return F.softmax(outputs, dim=1)"
    scheduler, scheduler_note = scheduler_lines(training)
    cls, (h, w, c) = class_name(graph.name), graph.input_shape
    if cls in RESERVED:
        raise TargetError([Diagnostic(f"the pytorch target cannot use the class name '{cls}' (from the spec name "
                                      f"'{graph.name}'): the generated module already defines or imports it",
                                      graph.path, hint="rename the spec")])
    flat_output = len(graph.output.shape) == 1
    return {
        "header": meta.header_comment(),
        "title": f"{graph.name}: {len(graph.nodes)} layers, {graph.total_params:,} parameters, PyTorch.",
        "description": docstring_text(graph.spec.description or ""),
        "analysis": analysis_lines(graph),
        "spec_path": docstring_text(meta.shown_path),
        "command": docstring_text(meta.command),
        "input_shape": repr((c, h, w)),
        "input_text": shape_text((c, h, w)),
        "output_text": chw(graph.output),
        "num_classes": graph.output.shape[0] if flat_output else None,
        "batch_size": training.batch_size,
        "epochs": training.epochs,
        "class_name": cls,
        "all": ["INPUT_SHAPE", *(["NUM_CLASSES"] if flat_output else []), "BATCH_SIZE", "EPOCHS", cls,
                *(bn["name"] for bn in batch_norms), *(["AvgPool2dSame"] if avg_same else []),
                *({"adam": ["KerasAdam"], "rmsprop": ["KerasRMSprop"]}.get(training.optimizer.type, [])), "build_model",
                "make_optimizer", "make_scheduler", "loss_fn", "predict_proba", "regularization_loss",
                "save_weights", "load_weights"],
        "sequential": graph.is_chain,
        **body,
        "init_lines": init_lines(graph, body["paths"]),
        "batch_norms": batch_norms,
        "needs_avg_pool_same": avg_same,
        "needs_functional": bool(batch_norms) or avg_same or "F." in "".join([*body["forward"], *losses, predict]),
        "probabilities": probabilities,
        "optimizer_lines": optimizer_lines(training),
        "optimizer_class": {"adam": "KerasAdam", "rmsprop": "KerasRMSprop"}.get(training.optimizer.type),
        "scheduler_lines": scheduler,
        "scheduler_note": scheduler_note,
        "loss_lines": losses,
        "loss_name": training.loss,
        "predict_line": predict,
        "regularization_terms": regularization_terms(graph, body["paths"]),
        "has_training": graph.spec.training is not None,
        **weights_context(graph),
        **torch_weights_context(graph, body["paths"]),
    }


def torch_weights_context(graph: Graph, paths: dict[str, str]) -> dict[str, Any]:
    """Neutral key -> (state_dict key, layout), and the flatten blocks behind permuted inputs."""
    from alexgen.layout import TORCH_NAMES, permuted_inputs, slots, weighted_nodes

    permuted = permuted_inputs(graph)
    keys = []
    for node in weighted_nodes(graph):
        for slot in slots(node):
            kind = {"conv2d": "conv", "dense": "dense"}.get(node.type, "vector") if slot == "kernel" else "vector"
            permute = node.name in permuted and (slot == "kernel" or node.type == "batch_norm")
            layout = kind + ("_permuted" if permute else "")
            keys.append((repr(f"{node.name}.{slot}"), repr((f"{paths[node.name]}.{TORCH_NAMES[slot]}", layout))))
    return {"neutral_keys": keys,
            "permuted_inputs": [(repr(name), repr(tuple(blocks))) for name, blocks in permuted.items()]}
