"""Scaling: analysis and rendering time of synthetic chains of 10 to 10,000 layers, per layer.

Time per layer should stay flat as the chain grows (linear total time): a quadratic name lookup or a repeated
shape walk shows as a per-layer time growing with the size. Specs are built in memory, because the loader's
budget (alexgen.loader.MAX_NODES) refuses YAML documents of more than 50,000 nodes, about 10,000 layers.
Run: python -m benchmarks.scaling [--quick] [--sizes 10 100 1000 10000]
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from benchmarks.common import Metrics, median_time, parser, repetitions, script_main, table

BLOCK = [
    {"type": "conv2d", "filters": 8, "kernel_size": 3, "padding": "same"},
    {"type": "batch_norm"},
    {"type": "activation", "activation": "relu"},
    {"type": "dropout", "rate": 0.1},
]


def chain(size: int) -> dict[str, Any]:
    """A valid spec of `size` layers: conv / batch norm / relu / dropout repeated, then flatten and a dense head."""
    body = [dict(BLOCK[i % len(BLOCK)]) for i in range(max(size - 2, 0))]
    head = [{"type": "flatten"}, {"type": "dense", "units": 10, "activation": "softmax"}]
    return {"alexgen": 1, "name": f"chain_{size}", "input_shape": [8, 8, 3], "layers": body + head}


def analyze(data: dict[str, Any]) -> Any:
    """Validate and analyse in-memory spec data, as `load_graph` does after parsing."""
    from alexgen.loader import LoadedDocument, SourceMap
    from alexgen.validate import graph_from_document

    sha = hashlib.sha256(json.dumps(data).encode()).hexdigest()
    return graph_from_document(LoadedDocument(data, SourceMap("<chain>"), "<chain>", sha, []))


def render(graph: Any) -> int:
    """Render both targets with formatting, in memory; returns the number of lines produced."""
    from alexgen.render import render_outputs

    outputs = render_outputs([(graph, f"spec/{graph.name}.yaml")], ["keras", "pytorch"])
    return sum(output.text.count("\n") for output in outputs)


def measure(sizes: list[int], warmup: int, repeat: int) -> list[tuple[int, float, float, int]]:
    """(layers, analysis s, render s, generated lines) for each size."""
    rows = []
    for size in sizes:
        data = chain(size)
        graph = analyze(data)
        assert len(graph.nodes) == size, (len(graph.nodes), size)
        # every size's analysis is a median of `repeat` runs (10,000 layers take ~0.12 s, and a single run on a
        # shared machine is at the mercy of the other jobs); rendering 10,000 layers (~0.7 s) is timed once
        analysis = median_time(lambda data=data: analyze(data), repeat, warmup)
        lines = render(graph)
        rendering = median_time(lambda graph=graph: render(graph), 1 if size >= 10_000 else repeat, warmup=0)
        rows.append((size, analysis, rendering, lines))
    return rows


def run(argv: list[str] | None = None) -> tuple[str, Metrics]:
    """The scaling table."""
    options = parser(__doc__.splitlines()[0])
    options.add_argument("--sizes", type=int, nargs="+")
    args = options.parse_args(argv)
    sizes = args.sizes or ([10, 100] if args.tiny else [10, 100, 1000, 10_000])
    rows = measure(sizes, *repetitions(args, full=(1, 5), quick=(1, 3)))
    text = "### Scaling: synthetic chains\n\n" + table(
        [
            "layers",
            "analysis ms",
            "analysis us/layer",
            "render ms (both targets, formatted)",
            "render us/layer",
            "generated lines",
        ],
        [
            (f"{n:,}", f"{a * 1e3:,.1f}", f"{a / n * 1e6:,.0f}", f"{r * 1e3:,.0f}", f"{r / n * 1e6:,.0f}", f"{lines:,}")
            for n, a, r, lines in rows
        ],
        right=(0, 1, 2, 3, 4, 5),
    )
    metrics = {
        f"{kind}_us_per_layer_{n}": seconds / n * 1e6
        for n, a, r, _ in rows
        for kind, seconds in (("analysis", a), ("render", r))
    }
    return text, metrics


def main() -> None:
    """Print the report."""
    script_main(run)


if __name__ == "__main__":
    main()
