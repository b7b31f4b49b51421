"""Present an analysed graph as a rich table, JSON or Markdown."""

from __future__ import annotations

import json
import math
from typing import Any, Literal

from alexgen.graph import Graph, Node
from alexgen.textsafe import printable

BYTES_PER_FLOAT = 4


def _shape(shape: tuple[int, ...]) -> str:
    return "x".join(str(d) for d in shape)


def _si(count: int) -> str:
    for unit, scale in (("G", 10**9), ("M", 10**6), ("k", 10**3)):
        if count >= scale:
            return f"{count / scale:.1f}{unit}"
    return str(count)


def _mib(count: int) -> str:
    return f"{count * BYTES_PER_FLOAT / 2**20:,.1f} MiB"


def _field(node: Node[Any]) -> str:
    size, stride = node.field.size, node.field.stride
    text = str(size[0]) if size[0] == size[1] else _shape(size)
    step = str(stride[0]) if stride[0] == stride[1] else _shape(stride)
    return f"{text}/{step}"


def to_dict(graph: Graph) -> dict[str, Any]:
    """The JSON report: totals and one object per layer."""
    return {
        "name": graph.name,
        "input_shape": list(graph.input_shape),
        "output_shape": list(graph.output.shape),
        "total_params": graph.total_params,
        "trainable_params": graph.trainable_params,
        "non_trainable_params": graph.total_params - graph.trainable_params,
        "macs": graph.macs,
        "other_ops": graph.other_ops,
        "layers": [
            {
                "name": n.name,
                "type": n.type,
                "inputs": n.inputs,
                "output_shape": list(n.shape),
                "params": n.params,
                "trainable_params": n.trainable,
                "macs": n.macs,
                "other_ops": n.other_ops,
                "receptive_field": {"size": list(n.field.size), "stride": list(n.field.stride)},
            }
            for n in graph.nodes
        ],
    }


def to_json(graph: Graph) -> str:
    """Indented, stable JSON."""
    return json.dumps(to_dict(graph), indent=2) + "\n"


def summary_lines(graph: Graph) -> list[tuple[str, str]]:
    """Totals as (label, value) pairs, shared by every format."""
    return [
        ("parameters", f"{graph.total_params:,}"),
        ("trainable", f"{graph.trainable_params:,}"),
        ("non-trainable", f"{graph.total_params - graph.trainable_params:,}"),
        ("MACs", f"{graph.macs:,} ({_si(graph.macs)})"),
        ("other ops", f"{graph.other_ops:,} ({_si(graph.other_ops)})"),
        ("weight memory (fp32)", _mib(graph.total_params)),
        ("activation memory (fp32, 1 image)", _mib(graph.activation_count)),
    ]


COLUMNS = ("layer", "type", "output", "params", "non-train.", "MACs", "other", "activ.", "RF/stride")


def rows(graph: Graph) -> list[tuple[str, ...]]:
    """One row of display strings per layer, after an input row."""
    first: tuple[str, ...] = ("input", "input", _shape(graph.input_shape), "", "", "", "",
                              _si(math.prod(graph.input_shape)), "1/1")
    return [first] + [
        (n.name, n.type, _shape(n.shape), f"{n.params:,}", f"{n.non_trainable:,}" if n.non_trainable else "",
         _si(n.macs) if n.macs else "", _si(n.other_ops) if n.other_ops else "", _si(n.size), _field(n))
        for n in graph.nodes
    ]


def to_markdown(graph: Graph) -> str:
    """A GitHub-flavoured Markdown table plus totals."""
    lines = [f"## {graph.name}", "", "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(row) + " |" for row in rows(graph)]
    lines += ["", *(f"- **{label}**: {value}" for label, value in summary_lines(graph))]
    return "\n".join(lines) + "\n"


def print_table(graph: Graph, width: int | None = None) -> None:
    """Print a rich table that fits a 100-column terminal."""
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(width=width) if width else Console()
    if not width and not console.is_terminal:
        console = Console(width=100)
    title = Text(printable(f"{graph.name}  ({graph.path})"))  # plain text: a path's [brackets] are not markup
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1))
    for column in COLUMNS:
        numeric = column in {"params", "non-train.", "MACs", "other", "activ."}
        justify: Literal["right", "left"] = "right" if numeric else "left"
        table.add_column(column, justify=justify, no_wrap=True)
    for row in rows(graph):
        table.add_row(*row)
    console.print(table)
    for label, value in summary_lines(graph):
        console.print(f"  {label:<36}{value}")
