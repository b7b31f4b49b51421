"""The intermediate representation: named nodes in order, with resolved inputs and analysed shapes."""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from alexgen.analysis import Field, Shape, ShapeError, Slot, Window, mib_text, skipped_cells
from alexgen.budget import BYTES_PER_ACTIVATION, DEFAULT_BUDGET, Budget
from alexgen.diagnostics import Diagnostic, Diagnostics
from alexgen.facts import LayerFigures, Totals
from alexgen.loader import SourceMap
from alexgen.ops import Op, op_named
from alexgen.spec import LayerBase, Spec

INPUT = "input"


@dataclass(frozen=True)
class Origin:
    """Where a graph came from: its resolution (files, parameters, fields written as `${...}`), and a way to
    build the same spec again with more `--set` overrides."""

    resolved: Any  # alexgen.compose.Resolved (not imported: the IR stays below composition)
    rebuild: Callable[[Sequence[str]], Graph]
L = TypeVar("L", bound=LayerBase)


class Unchecked(LayerBase):
    """Stand-in for a layer that failed validation: its name and inputs still count, its shape is unknown."""

    type: str


@dataclass
class Node(LayerFigures, Generic[L]):
    """One layer of the network: its op, its typed spec model, and everything the analyzer resolved about it."""

    index: int
    name: str
    op: Op[L]
    layer: L
    inputs: list[str]
    input_shapes: list[Shape]
    shape: Shape
    params: int
    trainable: int
    macs: int
    field: Field
    window: Window | None
    slots: tuple[Slot, ...] = ()
    other_ops: int = 0

    @property
    def type(self) -> str:
        """The layer type, as the spec writes it."""
        return self.op.name


@dataclass
class Graph(Totals):
    """A validated, analysed network."""

    spec: Spec
    nodes: list[Node[Any]]
    path: str
    sha256: str
    warnings: list[Diagnostic] = field(default_factory=list)
    origin: Origin | None = None  # how it was resolved (set when built from a spec file or text)
    _index: tuple[int, int, dict[str, Node[Any]], dict[str, list[Node[Any]]]] | None = field(default=None, init=False,
                                                                                   repr=False, compare=False)

    @property
    def name(self) -> str:
        """The spec's snake_case name."""
        return self.spec.name

    @property
    def input_shape(self) -> Shape:
        """Height, width, channels of one example."""
        return tuple(self.spec.input_shape)

    @property
    def weighted(self) -> list[Node[Any]]:
        """Layers that own tensors, in order."""
        return [n for n in self.nodes if n.slots]

    @property
    def output(self) -> Node[Any]:
        """The last layer, whose output is the network's."""
        return self.nodes[-1]

    @property
    def is_chain(self) -> bool:
        """True when every layer reads only the one before it."""
        previous = INPUT
        for node in self.nodes:
            if node.inputs != [previous]:
                return False
            previous = node.name
        return True

    def _lookup(self) -> tuple[dict[str, Node[Any]], dict[str, list[Node[Any]]]]:
        """Nodes by name and readers by input name, built once (callers look nodes up in loops over all nodes)."""
        key = (id(self.nodes), len(self.nodes))
        if self._index is None or self._index[:2] != key:
            readers: dict[str, list[Node[Any]]] = {}
            for n in self.nodes:
                for ref in dict.fromkeys(n.inputs):
                    readers.setdefault(ref, []).append(n)
            self._index = (*key, {n.name: n for n in self.nodes}, readers)
        return self._index[2], self._index[3]

    def node(self, name: str) -> Node[Any]:
        """The node called `name` (KeyError when there is none)."""
        return self._lookup()[0][name]

    def consumers(self, name: str) -> list[Node[Any]]:
        """Nodes that read the output of `name`."""
        return list(self._lookup()[1].get(name, []))

    @property
    def activation_count(self) -> int:
        """Activations held for one example: the input plus every layer's output."""
        return math.prod(self.input_shape) + sum(n.size for n in self.nodes)


def default_names(layers: list[tuple[str, str | None]]) -> list[str]:
    """Each layer's name from (type, name): the given one, or `<type>_<n>` counting that type from 1."""
    counts: dict[str, int] = {}
    names = []
    for kind, given in layers:
        counts[kind] = counts.get(kind, 0) + 1
        names.append(given or f"{kind}_{counts[kind]}")
    return names


def layer_names(spec: Spec) -> list[str]:
    """The name of every layer of a validated spec."""
    return default_names([(layer.type, layer.name) for layer in spec.layers])


def _check_names(names: list[str], spec: Spec, source: SourceMap, problems: Diagnostics) -> None:
    first: dict[str, int] = {}
    for index, name in enumerate(names):
        path = ("layers", index, "name")
        if name == INPUT:
            problems.add(source.diagnostic(path, f"'{INPUT}' names the network input and cannot name a layer",
                                           hint="choose another name", layer=name, index=index))
        elif name in first:
            given = "" if spec.layers[index].name else " (the default name of this layer)"
            problems.add(source.diagnostic(path, f"duplicate layer name '{name}'{given}; layer {first[name]} "
                                           "already has it", hint="give every layer a unique `name`",
                                           layer=name, index=index))
        else:
            first[name] = index


MAX_EXPLAINED = 20  # forward references traced for a cycle and unknown inputs given a did-you-mean, per spec


def _reaches(start: str, target: str, edges: dict[str, list[str]]) -> list[str] | None:
    """A path start → … → target following input edges, if any (linear in the graph's size)."""
    parent: dict[str, str | None] = {start: None}
    stack = [start]
    while stack:
        name = stack.pop()
        if name == target:
            path: list[str] = []
            step: str | None = name
            while step is not None:
                path.append(step)
                step = parent[step]
            return path[::-1]
        for nxt in edges.get(name, []):
            if nxt not in parent:
                parent[nxt] = name
                stack.append(nxt)
    return None


def _route(names: list[str], ends: int = 6) -> str:
    """`a -> b -> c`, eliding the middle of a long route."""
    if len(names) > 2 * ends + 1:
        names = [*names[:ends], f"... ({len(names) - 2 * ends} more)", *names[-ends:]]
    return " -> ".join(names)


def _resolve_inputs(spec: Spec, names: list[str], source: SourceMap, problems: Diagnostics) -> list[list[str]]:
    positions = {name: i for i, name in reversed(list(enumerate(names)))}
    edges = {names[i]: (layer.inputs or ([names[i - 1]] if i else [INPUT])) for i, layer in enumerate(spec.layers)}
    resolved = []
    known = list(dict.fromkeys([INPUT, *names]))
    unknown = forward = 0  # did-you-mean and cycle tracing cost O(layers) each: only the first few get them
    for index, layer in enumerate(spec.layers):
        inputs = edges[names[index]]
        for k, ref in enumerate(layer.inputs or []):
            path = ("layers", index, "inputs", k)
            if ref == INPUT:
                continue
            if ref not in positions:
                unknown += 1
                close = difflib.get_close_matches(ref, known, n=1) if unknown <= MAX_EXPLAINED else []
                hint = f"did you mean '{close[0]}'?" if close else f"known names: {', '.join(known[:12])}"
                problems.add(source.diagnostic(path, f"unknown input '{ref}'", hint=hint, layer=names[index],
                                               index=index))
            elif positions[ref] >= index:
                forward += 1
                cycle = _reaches(ref, names[index], edges) if forward <= MAX_EXPLAINED else None
                message = (f"cycle: {_route([names[index], *cycle])}" if cycle and ref != names[index]
                           else f"layer '{ref}' reads its own output (a cycle)" if ref == names[index]
                           else f"forward reference to '{ref}', defined later (layer {positions[ref]})")
                problems.add(source.diagnostic(path, message, hint="list every layer after the layers it reads",
                                               layer=names[index], index=index))
        if len(set(inputs)) != len(inputs):
            problems.add(source.diagnostic(("layers", index, "inputs"), "the same input is listed twice",
                                           layer=names[index], index=index))
        op = op_named(layer.type)
        if len(inputs) > 1 and not (op is not None and op.multi_input):
            problems.add(source.diagnostic(("layers", index, "inputs"), f"a {layer.type} layer takes one input, "
                                           f"got {len(inputs)}", hint="join several inputs with a concatenate layer",
                                           layer=names[index], index=index))
        resolved.append(inputs)
    return resolved


def _over_budget(what: str, total: int, limit: int, option: str) -> str:
    return f"{what} {total:,}, more than the budget of {limit:,} ({option})"


def _budget_problem(node: Node[Any], params: int, activations: int, budget: Budget,
                    source: SourceMap) -> Diagnostic | None:
    """The first budget this node's running totals exceed, located at the key that sets the node's size."""
    key = node.op.size_key
    where = ("layers", node.index, key)
    if params > budget.max_params:
        return source.diagnostic(where, _over_budget("the parameter count reaches", params, budget.max_params,
                                                     "--max-params"),
                                 hint="use fewer filters or units, or raise --max-params", layer=node.name,
                                 index=node.index, key=key == "type")
    if activations * BYTES_PER_ACTIVATION > budget.max_activation_bytes:
        return source.diagnostic(where, f"activations reach {mib_text(activations)} for one example (fp32), more "
                                 f"than the budget of {budget.max_activation_mib:,} MiB (--max-activation-mb)",
                                 hint="downsample earlier or use fewer channels, or raise --max-activation-mb",
                                 layer=node.name, index=node.index, key=key == "type")
    return None


def _skip_warning(node: Node[Any], source: SourceMap) -> Diagnostic | None:
    """A convolution whose strides jump over input cells (1x1 projections are meant to, and are not warned of)."""
    window = node.window
    if not node.op.skips_cells or window is None or max(window.kernel) == 1:
        return None
    gap = skipped_cells(window.kernel, window.strides, window.dilation)
    if gap is None:
        return None
    label, skipped, stride = gap
    return source.diagnostic(("layers", node.index, "strides"), f"strides {stride} are larger than the kernel: this "
                             f"convolution never reads {skipped} of every {stride} {label} of its input",
                             hint="use strides no larger than the (dilated) kernel_size, or a 1x1 kernel to subsample",
                             layer=node.name, index=node.index, level="warning")


def _analyse(spec: Spec, names: list[str], inputs: list[list[str]], source: SourceMap,
             problems: Diagnostics, budget: Budget = DEFAULT_BUDGET) -> list[Node[Any]]:
    known: dict[str, tuple[Shape, Field]] = {INPUT: (tuple(spec.input_shape), Field())}
    nodes: list[Node[Any]] = []
    params, activations = 0, math.prod(spec.input_shape)
    if activations * BYTES_PER_ACTIVATION > budget.max_activation_bytes:
        problems.add(source.diagnostic(("input_shape",), f"the input alone needs {mib_text(activations)} for one "
                                       f"example (fp32), more than the activation budget of "
                                       f"{budget.max_activation_mib:,} MiB (--max-activation-mb)",
                                       hint="use a smaller input_shape, or raise --max-activation-mb"))
        return nodes
    for index, layer in enumerate(spec.layers):
        op = op_named(layer.type)
        if op is None or isinstance(layer, Unchecked) or any(ref not in known for ref in inputs[index]):
            continue  # invalid, or an input failed or is unknown; already reported, do not cascade
        shapes = [known[ref][0] for ref in inputs[index]]
        fields = [known[ref][1] for ref in inputs[index]]
        try:
            stats = op.analyze(layer, shapes, fields)
        except ShapeError as exc:
            key_path = ("layers", index, exc.key) if exc.key else ("layers", index, "type")
            problems.add(source.diagnostic(key_path, str(exc), hint=exc.hint, layer=names[index], index=index,
                                           key=exc.key is None))
            continue
        node = Node(index, names[index], op, layer, inputs[index], shapes, stats.shape, stats.params, stats.trainable,
                    stats.macs, stats.field, stats.window, stats.slots, stats.other_ops)
        known[node.name] = (node.shape, node.field)
        nodes.append(node)
        params, activations = params + node.params, activations + node.size
        over = _budget_problem(node, params, activations, budget, source)
        if over is not None:
            problems.add(over)
            break  # the totals only grow: analysing further layers would repeat the same error
        warning = _skip_warning(node, source)
        if warning is not None:
            problems.add(warning)
    return nodes


def _warn_unused(nodes: list[Node[Any]], source: SourceMap, problems: Diagnostics) -> None:
    used = {ref for node in nodes for ref in node.inputs}
    for node in nodes[:-1]:
        if node.name not in used:
            problems.add(source.diagnostic(("layers", node.index, "type"), "this layer's output is never used",
                                           hint="the last layer is the output; feed this one into it or remove it",
                                           layer=node.name, index=node.index, level="warning", key=True))


def build_graph(spec: Spec, source: SourceMap, sha256: str, problems: Diagnostics,
                budget: Budget = DEFAULT_BUDGET) -> Graph:
    """Name, connect and analyse every layer, collecting problems instead of stopping at the first."""
    names = layer_names(spec)
    _check_names(names, spec, source, problems)
    inputs = _resolve_inputs(spec, names, source, problems)
    nodes = _analyse(spec, names, inputs, source, problems, budget)
    if not problems.errors:
        _warn_unused(nodes, source, problems)
    return Graph(spec, nodes, source.file, sha256, [d for d in problems.items if d.level == "warning"])
