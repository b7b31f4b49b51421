"""Forward rows: every layer judged on its own (fed the reference's input), and the end-to-end output."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from alexgen.check.common import Row, condition, errors, layer_rows_summary, rounding_bound
from alexgen.check.diagnosis import diagnose
from alexgen.check.torch_side import TorchSide
from alexgen.graph import Graph, Node

if TYPE_CHECKING:
    from alexgen.check.common import Array


def layer_rows(side: TorchSide, reference: Mapping[str, Array], x: Array, tolerance: float) -> list[Row]:
    """One row per layer PyTorch computes with a module: its output given the reference's input.

    float64 rows pass within max(tolerance, rounding bound) plus the op's float64 allowance and get a diagnosis
    when they fail; float32 rows pass within their rounding bound (fan-in and epsilon, docs/check.md).
    """
    graph, dtype = side.graph, side.dtype
    outputs = {n.name: reference[f"out/{n.name}"] for n in graph.nodes}
    rows = []
    for node in graph.nodes:
        run = side.layer(node, outputs, x)
        if run is None:
            continue
        label = f"layer {node.name} ({dtype})"
        got, pre = run.run()
        expected = side.expected(node, outputs[node.name])
        if got.shape != expected.shape:
            rows.append(Row(label, False, f"shape {got.shape} != {expected.shape}"))
            continue
        abs_err, rel_err = errors(expected, got)
        scale = float(np.abs(expected).max()) if expected.size else 0.0
        bound = rounding_bound(node, dtype, condition(node.op.activation(node.layer), pre, scale))
        limit, detail = bound, ""
        if dtype == "float64":
            extra, detail = allowed(node, scale)
            limit = max(tolerance, bound) + extra
            if rel_err > limit:
                detail = "; ".join(filter(None, [diagnose(run, expected, rel_err, limit), detail]))
        rows.append(Row(label, rel_err <= limit, detail, abs_err, rel_err, limit))
    return rows


def allowed(node: Node[Any], scale: float) -> tuple[float, str]:
    """The op's float64 allowance relative to the output's largest magnitude, and the note naming its cause."""
    allowance = node.op.allowance(node.layer)
    if allowance is None:
        return 0.0, ""
    extra = allowance.relative + (allowance.absolute / scale if scale else 0.0)
    return extra, f"float64 allowance {extra:.1e}: {allowance.reason}"


def end_to_end_row(side: TorchSide, reference: Mapping[str, Array], x: Array) -> Row:
    """The final output of each whole model from the same input: information, not a verdict.

    Rounding accumulates over the layers here; the per-layer rows above are what decide.
    """
    graph = side.graph
    expected = side.expected(graph.output, reference[f"out/{graph.output.name}"])
    got = side.output(x)
    if got.shape != expected.shape:
        return Row(f"end to end ({side.dtype}, information)", True, f"shape {got.shape} != {expected.shape}")
    abs_err, rel_err = errors(expected, got)
    return Row(
        f"end to end ({side.dtype}, information)",
        True,
        f"{graph.output.name} after {len(graph.nodes)} layers; not a verdict",
        abs_err,
        rel_err,
    )


def forward_rows(side: TorchSide, reference: Mapping[str, Array], x: Array, tolerance: float) -> list[Row]:
    """The summary row, every layer's row, then the end-to-end row."""
    rows = layer_rows(side, reference, x, tolerance)
    return [layer_rows_summary(f"layers ({side.dtype})", rows), *rows, end_to_end_row(side, reference, x)]


def count_rows(graph: Graph, side: TorchSide, reference: Mapping[str, Array]) -> Row:
    """Per-layer parameter counts and output shapes: Keras = PyTorch = analyzer."""
    problems = []
    torch_counts = side.counts()
    for node in graph.nodes:
        params = int(reference[f"params/{node.name}"][0])
        shape = tuple(int(d) for d in reference[f"shape/{node.name}"])
        if params != node.params or shape != node.shape:
            problems.append(f"{node.name}: keras {params} {shape} vs analyzer {node.params} {node.shape}")
        if torch_counts.get(node.name, 0) != node.params:
            problems.append(f"{node.name}: pytorch {torch_counts.get(node.name, 0)} vs analyzer {node.params}")
    total = sum(torch_counts.values())
    detail = "; ".join(problems[:3]) or f"{graph.total_params:,} parameters in all three, per layer"
    return Row("parameter counts and shapes", not problems and total == graph.total_params, detail)
