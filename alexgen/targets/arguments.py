"""Spec parameters as keyword arguments of the generated builders: which ones may be, and their values as code.

The rule: a parameter becomes an argument when the generated network definition computes every value it decides
from that argument. It is checked, not assumed: layer fields written as one `${...}` are emitted as the expression
(`nn.Linear(4096, num_classes)`, `width * 2`), then the module's code is built again with the parameter changed;
any other difference (a flatten size, a weights-table entry, a value formatted as text) keeps the parameter fixed
at its value, and the module docstring names the line it would change.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields, is_dataclass, replace
from typing import Any

from alexgen.budget import Budget
from alexgen.diagnostics import Diagnostics, SpecError
from alexgen.expr import ExprError, tokenize
from alexgen.graph import Graph, build_graph
from alexgen.params import Param
from alexgen.targets.common import BUILTINS, Block, Context, Meta, TargetError
from alexgen.targets.emit import py_literal

# Context fields printed only in the docstring or in tables that describe the defaults (the code never reads them).
DEFAULTS_ONLY = frozenset({"header", "title", "description", "analysis", "spec_path", "command", "input_text",
                           "output_text", "num_classes", "total_params", "spec_sha256", "neutral_shapes", "arguments",
                           "signature", "call", "argument_lines", "neutral_key_shapes"})
BUILDER_NAMES = frozenset({"weights", "compile", "model", "channels_last", "jit_compile"})  # the builders' own
ANNOTATIONS = {"int": "int", "float": "float"}
SHAPE_COMMENT = re.compile(r"\s+# -> [0-9x]+$")  # the output shape printed after a layer (for the defaults)


class Symbolic:
    """A number that prints as the code computing it (mixed into int and float)."""

    code: str

    def __repr__(self) -> str:
        return self.code


class SymInt(Symbolic, int):
    """An integer layer field that prints as the code computing it."""

    __str__ = int.__repr__


class SymFloat(Symbolic, float):
    """A number layer field that prints as the code computing it."""

    __str__ = float.__repr__


def number_with_code(value: object, code: str) -> Symbolic | None:
    """The int or float value remembering its code; None for any other value."""
    kind = {int: SymInt, float: SymFloat}.get(type(value))
    if kind is None:
        return None
    made: Symbolic = kind(value)
    made.code = code
    return made


@dataclass(frozen=True)
class Argument:
    """A keyword argument of the builders: its name, annotation and default (a Python literal)."""

    name: str
    annotation: str
    default: str


@dataclass(frozen=True)
class Fixed:
    """A parameter that stays at its value in the generated code, and why."""

    name: str
    value: str
    reason: str


@dataclass(frozen=True)
class Plan:
    """The graph to emit (argument fields as code), the arguments, and the parameters left fixed."""

    graph: Graph
    arguments: tuple[Argument, ...] = ()
    fixed: tuple[Fixed, ...] = ()


Build = Callable[[Graph, Meta], Context]


def expression_code(text: str, params: dict[str, Param], exposed: Iterable[str]) -> str:
    """Python for a `${...}` expression: arguments by name, derived parameters inlined, others as literals.

    Only the evaluator's tokens are emitted (integers, declared names, + - * // % and parentheses), and Python's
    integer arithmetic is the evaluator's, so the code computes what alexgen computed."""
    names = set(exposed)
    parts = []
    for token in tokenize(text)[:-1]:
        param = params.get(token.text) if token.kind == "name" else None
        if token.kind == "name" and param is None:
            raise ExprError(f"undefined parameter '{token.text}'", token.offset)
        if param is None:
            parts.append(token.text)
        elif param.name in names:
            parts.append(param.name)
        elif param.expression is not None:
            parts.append(f"({expression_code(param.expression, params, names)})")
        else:
            parts.append(py_literal(param.value))
    return " ".join(parts).replace("( ", "(").replace(" )", ")")


def mentioned(text: str, params: dict[str, Param]) -> set[str]:
    """Every parameter an expression depends on, through derived parameters too."""
    found: set[str] = set()
    todo = [text]
    while todo:
        for token in tokenize(todo.pop()):
            if token.kind == "name" and token.text not in found and token.text in params:
                found.add(token.text)
                expression = params[token.text].expression
                if expression is not None:
                    todo.append(expression)
    return found


def symbolic(graph: Graph, exposed: set[str]) -> Graph:
    """The graph analysed again with the layer fields computed from `exposed` parameters printing as their code;
    a size passed on unchanged (a dense layer's units as the next layer's inputs) carries the code with it."""
    if graph.origin is None or not exposed:
        return graph
    resolved = graph.origin.resolved
    params = {p.name: p for p in resolved.params}
    layers = list(graph.spec.layers)
    changed = False
    for path, text in resolved.expressions.items():
        if not (len(path) == 3 and path[0] == "layers" and isinstance(path[1], int) and isinstance(path[2], str)):
            continue  # input_shape, training and nested values are not constructor arguments of one layer
        if not mentioned(text, params) & exposed or path[1] >= len(layers):
            continue
        index, key = path[1], path[2]
        value: Any = getattr(layers[index], key, None)
        code = expression_code(text, params, exposed)
        sym = number_with_code(value, code)
        if sym is not None:
            layers[index] = layers[index].model_copy(update={key: sym})
            changed = True
    if not changed:
        return graph
    problems = Diagnostics()
    spec = graph.spec.model_copy(update={"layers": layers})
    again = build_graph(spec, resolved.source, graph.sha256, problems, Budget(2**62, 2**62))
    if problems.errors:  # cannot happen for a graph that validated; keep the literal values if it does
        return graph
    return replace(again, warnings=graph.warnings, origin=graph.origin)


def context(graph: Graph, build: Build, meta: Meta, reserved: frozenset[str], scoped: frozenset[str]) -> Context:
    """The target's context with the spec's parameters as arguments where the rule allows; the docstring and the
    defaults' tables always print the plain values."""
    decided = plan(graph, build, meta, reserved, scoped)
    meta = replace(meta, arguments=decided.arguments, fixed=decided.fixed)
    result = build(decided.graph, meta)
    if decided.graph is not graph:
        plain = build(graph, meta)
        for name in DEFAULTS_ONLY & {f.name for f in fields(plain)}:  # not every target has every field
            setattr(result, name, getattr(plain, name))
    return result


def lines(value: Any) -> list[str]:
    """A context value as the code lines it prints; comments (the defaults' shapes, notes) left out."""
    if isinstance(value, str):
        return [SHAPE_COMMENT.sub("", line) for line in value.split("\n") if not line.lstrip().startswith("#")]
    if isinstance(value, Block):
        return lines(value.lines)
    if isinstance(value, (list, tuple)):
        return [line for item in value for line in lines(item)]
    return [repr(value)]


def first_difference(a: Context, b: Context, names: Iterable[str]) -> str | None:
    """The first line, as `a` prints it, where the two contexts differ in the given fields."""
    for name in names:
        left, right = lines(getattr(a, name)), lines(getattr(b, name))
        if left != right:
            pairs = [(one, other) for one, other in zip(left, right, strict=False) if one != other]
            line = pairs[0][0] if pairs else (left[len(right)] if len(left) > len(right) else right[len(left)])
            return f"{name.replace('_', ' ')}: `{line.strip()}`"
    return None


def candidates(value: Any) -> list[Any]:
    """Other values to try a parameter with (the first that gives a valid network is used)."""
    if type(value) is int:
        return [value + 1, value * 2 + 2, value - 1]
    if type(value) is float:
        return [value / 2 if value else 0.25, (value + 1) / 2]
    return []


def reserved_names(reserved: frozenset[str]) -> frozenset[str]:
    """Names a parameter may not take as an argument: the module's own, the builders' and Python's."""
    return reserved | BUILDER_NAMES | BUILTINS


def plan(graph: Graph, build: Build, meta: Meta, reserved: frozenset[str], scoped: frozenset[str]) -> Plan:
    """Decide which parameters become arguments; `scoped` are the context fields printed where they are in scope."""
    if graph.origin is None or not graph.origin.resolved.params:
        return Plan(graph)
    plain = build(graph, meta)
    names = [f.name for f in fields(plain)] if is_dataclass(plain) else []
    code_fields = [n for n in names if n not in DEFAULTS_ONLY]
    outside = [n for n in code_fields if n not in scoped]
    arguments, fixed = [], []
    for param in graph.origin.resolved.params:
        reason = _reason(graph, build, meta, param, plain, code_fields, outside, reserved_names(reserved))
        if reason is None:
            arguments.append(Argument(param.name, ANNOTATIONS[param.type], py_literal(param.value)))
        else:
            fixed.append(Fixed(param.name, py_literal(param.value), reason))
    exposed = {a.name for a in arguments}
    return Plan(symbolic(graph, exposed), tuple(arguments), tuple(fixed))


def _reason(graph: Graph, build: Build, meta: Meta, param: Param, plain: Context, code_fields: list[str],
            outside: list[str], reserved: frozenset[str]) -> str | None:
    """Why a parameter cannot be an argument, or None when it can."""
    if param.expression is not None:
        return f"derived from other parameters (${{{param.expression}}}), computed where it is used"
    if ANNOTATIONS.get(param.type) is None:  # a parameter's value type (int, float, bool, str), not a layer type
        return f"only integer and number parameters become arguments, not a {param.type}"
    if param.name in reserved or keyword.iskeyword(param.name):
        return "its name is already used in the generated module"
    own = build(symbolic(graph, {param.name}), meta)
    leak = first_difference(own, plain, outside)
    if leak is not None:
        return f"it is used outside the network definition, in {leak}"
    if first_difference(own, plain, code_fields) is None:
        other = _changed(graph, build, meta, param, own)
        return "it does not change the generated network" if other is None or other[1] is None else (
            f"changing it changes the {other[1]}, which the module does not compute from an argument")
    other = _changed(graph, build, meta, param, own)
    if other is None:
        return "no other value of it gives a valid network to compare with"
    if other[1] is not None:
        return f"changing it changes the {other[1]}, which the module does not compute from an argument"
    return None


def _changed(graph: Graph, build: Build, meta: Meta, param: Param, own: Context) -> tuple[Any, str | None] | None:
    """(another value, the first code line it changes from `own` (the context with `param` as an argument), or
    None), or None when no other value is valid."""
    assert graph.origin is not None
    code_fields = [f.name for f in fields(own) if f.name not in DEFAULTS_ONLY]
    for value in candidates(param.value):
        try:
            other = graph.origin.rebuild([f"{param.name}={value!r}"])
            context = build(symbolic(other, {param.name}), meta)
        except (SpecError, TargetError):
            continue
        return value, first_difference(own, context, code_fields)
    return None
