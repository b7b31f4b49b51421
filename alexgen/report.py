"""Present an analysed graph as a text table, JSON or Markdown."""

from __future__ import annotations

import json
import math
import os
import re
import unicodedata
from typing import TYPE_CHECKING, Any, TypeAlias

from alexgen.textsafe import printable

if TYPE_CHECKING:  # not imported at run time: a cached `analyze` reports Facts without building the spec models
    from alexgen.facts import Facts, LayerFacts
    from alexgen.graph import Graph, Node

    Analysed: TypeAlias = Graph | Facts

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


def _field(node: Node[Any] | LayerFacts) -> str:
    size, stride = node.field.size, node.field.stride
    text = str(size[0]) if size[0] == size[1] else _shape(size)
    step = str(stride[0]) if stride[0] == stride[1] else _shape(stride)
    return f"{text}/{step}"


def to_dict(graph: Analysed) -> dict[str, Any]:
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


def to_json(graph: Analysed) -> str:
    """Indented, stable JSON."""
    return json.dumps(to_dict(graph), indent=2) + "\n"


def summary_lines(graph: Analysed) -> list[tuple[str, str]]:
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


def rows(graph: Analysed) -> list[tuple[str, ...]]:
    """One row of display strings per layer, after an input row."""
    first: tuple[str, ...] = ("input", "input", _shape(graph.input_shape), "", "", "", "",
                              _si(math.prod(graph.input_shape)), "1/1")
    return [first] + [
        (n.name, n.type, _shape(n.shape), f"{n.params:,}", f"{n.non_trainable:,}" if n.non_trainable else "",
         _si(n.macs) if n.macs else "", _si(n.other_ops) if n.other_ops else "", _si(n.size), _field(n))
        for n in graph.nodes
    ]


def to_markdown(graph: Analysed) -> str:
    """A GitHub-flavoured Markdown table plus totals."""
    lines = [f"## {graph.name}", "", "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(row) + " |" for row in rows(graph)]
    lines += ["", *(f"- **{label}**: {value}" for label, value in summary_lines(graph))]
    return "\n".join(lines) + "\n"


NUMERIC = {"params", "non-train.", "MACs", "other", "activ."}
# left out in this order when the terminal is too narrow
DROPPABLE = ("other", "RF/stride", "activ.", "non-train.", "type")


def terminal_width() -> int:
    """COLUMNS when set (also when piped), else the terminal's width, else 100."""
    import shutil
    import sys

    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    return shutil.get_terminal_size((100, 24)).columns if sys.stdout.isatty() else 100


def cell_width(text: str) -> int:
    """Terminal cells `text` takes: wide (East Asian) characters two, combining marks none."""
    if text.isascii():
        return len(text)
    return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _widths(table: list[tuple[str, ...]], keep: list[int]) -> list[int]:
    """Each kept column's width: its widest cell, header included."""
    return [max(len(COLUMNS[i]), *(len(row[i]) for row in table)) for i in keep]


def _centred(title: str, width: int) -> list[str]:
    """The title centred over `width` cells, wrapped between words (long words cut) when it is wider."""
    import textwrap

    lines = textwrap.wrap(title, width, break_on_hyphens=False) if cell_width(title) > width else [title]
    return [" " * max(0, (width - cell_width(line)) // 2) + line for line in lines]


def _table(graph: Analysed, table: list[tuple[str, ...]], columns: list[str], color: bool) -> list[str]:
    """The table as lines: a centred title, a bold header, a rule, one line per row; every cell on one line,
    numbers right-aligned, three spaces between columns (as a rich SIMPLE_HEAD table without edges)."""
    keep = [COLUMNS.index(column) for column in columns]
    widths = _widths(table, keep)
    total = sum(widths) + 3 * (len(widths) - 1)

    def line(cells: list[str], bold: bool = False) -> str:
        parts = [cell.rjust(width) if COLUMNS[i] in NUMERIC else cell.ljust(width)
                 for cell, i, width in zip(cells, keep, widths, strict=True)]
        return "   ".join(f"\x1b[1m{part}\x1b[0m" if bold else part for part in parts)

    return [*_centred(printable(f"{graph.name}  ({graph.path})"), total), line(columns, color), "─" * total,
            *(line([row[i] for i in keep]) for row in table)]


def _compact(graph: Analysed, width: int) -> list[str]:
    """One entry per layer, its figures wrapped between (never inside) `label value` pairs."""
    lines = [printable(f"{graph.name}  ({graph.path})"), ""]
    for row in rows(graph):
        lines.append(f"{row[0]} ({row[1]}) -> {row[2]}")
        current = ""
        for label, value in zip(COLUMNS[3:], row[3:], strict=True):
            if not value:
                continue
            pair = f"{label} {value}"
            if current and len(current) + 3 + len(pair) > width:
                lines.append(current)
                current = ""
            current = f"{current}   {pair}" if current else f"    {pair}"
        if current:
            lines.append(current)
    return lines


def table_lines(graph: Analysed, width: int, color: bool = False) -> list[str]:
    """The table as lines of at most `width` characters (when its layer names allow), without trailing spaces.

    Less important columns are left out until the table fits; below the narrowest table, a compact layout."""
    table = rows(graph)
    columns = [column for i, column in enumerate(COLUMNS) if i < 3 or any(row[i] for row in table)]

    def wide(names: list[str]) -> bool:
        return sum(_widths(table, [COLUMNS.index(c) for c in names])) + 3 * (len(names) - 1) > width

    while wide(columns) and any(c in columns for c in DROPPABLE):
        columns.remove(next(c for c in DROPPABLE if c in columns))
    lines = _compact(graph, width) if wide(columns) else _table(graph, table, columns, color)
    totals = summary_lines(graph)
    aligned = 2 + 36 + max(len(value) for _, value in totals) <= width
    lines += [""] + [f"  {label:<36}{value}" if aligned else f"  {label}: {value}" for label, value in totals]
    return [_TRAILING.sub(r"\1", line) for line in lines]


_TRAILING = re.compile(r" +((?:\x1b\[[0-9;]*m)*)$")  # spaces before the end of a line (and its colour resets)


def print_table(graph: Analysed, width: int | None = None) -> None:
    """Print the analysis table, fitted to `width` (default: COLUMNS, the terminal, or 100 columns)."""
    import sys

    color = sys.stdout.isatty() and "NO_COLOR" not in os.environ
    for line in table_lines(graph, width or terminal_width(), color):
        print(line)
