"""`alexgen diff`: two networks layer by layer, their totals, and what happens to trained weights."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from alexgen.netview import LayerView, NetView, Shape, Slot, as_dict, shape_text, si, size
from alexgen.textsafe import printable

SAME, CHANGED, ADDED, REMOVED = "same", "changed", "added", "removed"
UNCHANGED, NEW = "unchanged", "new"  # tensor fates besides CHANGED and REMOVED


@dataclass(frozen=True)
class Change:
    """One field of a layer that differs between A and B, as display text."""

    field: str
    a: str
    b: str

    def __str__(self) -> str:
        return f"{self.field}: {self.a or '(none)'} -> {self.b or '(none)'}"


@dataclass(frozen=True)
class LayerDiff:
    """One layer name in A, B or both, and what differs."""

    name: str
    status: str
    a: LayerView | None
    b: LayerView | None
    changes: tuple[Change, ...]

    @property
    def params_delta(self) -> int:
        """B's parameters minus A's."""
        return (self.b.params if self.b else 0) - (self.a.params if self.a else 0)

    @property
    def macs_delta(self) -> int:
        """B's MACs minus A's."""
        return (self.b.macs if self.b else 0) - (self.a.macs if self.a else 0)


@dataclass(frozen=True)
class TensorFate:
    """What happens to one weight tensor going from A to B: only `unchanged` ones carry over."""

    key: str
    status: str
    a_shape: Shape | None
    b_shape: Shape | None
    reason: str


@dataclass(frozen=True)
class NetDiff:
    """The whole comparison."""

    a: NetView
    b: NetView
    layers: tuple[LayerDiff, ...]
    tensors: tuple[TensorFate, ...]

    def totals(self) -> dict[str, tuple[int, int]]:
        """(A, B) for every total."""
        a, b = self.a, self.b
        return {
            "layers": (len(a.layers), len(b.layers)),
            "params": (a.params, b.params),
            "trainable_params": (a.trainable, b.trainable),
            "non_trainable_params": (a.params - a.trainable, b.params - b.trainable),
            "macs": (a.macs, b.macs),
        }


FIELDS = ("type", "inputs", "settings", "output", "params", "MACs")
IN_TABLE = {"type", "output", "params", "MACs"}  # shown by the table's columns; the others are listed below it


def _changes(a: LayerView, b: LayerView) -> tuple[Change, ...]:
    """What differs between two layers of the same name: (field, A's value, B's value) as text."""
    values = {
        "type": (a.type, b.type),
        "inputs": (", ".join(a.inputs), ", ".join(b.inputs)),
        "settings": (a.detail, b.detail),
        "output": (shape_text(a.shape), shape_text(b.shape)),
        "params": (f"{a.params:,}", f"{b.params:,}"),
        "MACs": (f"{a.macs:,}", f"{b.macs:,}"),
    }
    return tuple(Change(name, *values[name]) for name in FIELDS if values[name][0] != values[name][1])


def _order(a: NetView, b: NetView) -> list[str]:
    """B's layer order, with each layer only A has placed after the A layer before it."""
    names = [layer.name for layer in b.layers]
    previous = None
    for layer in a.layers:
        if layer.name not in names:
            names.insert(names.index(previous) + 1 if previous else 0, layer.name)
        previous = layer.name
    return names


def layer_diffs(a: NetView, b: NetView) -> tuple[LayerDiff, ...]:
    """Layers matched by name: same, changed (with what changed), added in B or removed from A."""
    in_a = {layer.name: layer for layer in a.layers}
    in_b = {layer.name: layer for layer in b.layers}
    found = []
    for name in _order(a, b):
        left, right = in_a.get(name), in_b.get(name)
        if left is None or right is None:
            found.append(LayerDiff(name, ADDED if left is None else REMOVED, left, right, ()))
        else:
            changes = _changes(left, right)
            found.append(LayerDiff(name, CHANGED if changes else SAME, left, right, changes))
    return tuple(found)


def _blocks(blocks: tuple[Shape, ...]) -> str:
    return " + ".join(shape_text(block) for block in blocks)


def _fate(
    key: str, left: LayerView | None, right: LayerView | None, a_slot: Slot | None, b_slot: Slot | None
) -> TensorFate:
    """One tensor's fate, the first reason it cannot be reused winning."""
    a_shape = a_slot.shape if a_slot else None
    b_shape = b_slot.shape if b_slot else None
    if a_slot is None:
        return TensorFate(key, NEW, None, b_shape, "only in B: initialised as B says")
    if b_slot is None:
        return TensorFate(key, REMOVED, a_shape, None, "only in A: dropped")
    assert left is not None and right is not None and a_shape is not None and b_shape is not None
    if left.op is not right.op:
        reason = f"layer type {left.type} -> {right.type}"
    elif a_shape != b_shape:
        reason = f"shape {shape_text(a_shape)} -> {shape_text(b_shape)}"
    elif b_slot.follows_flat_input and left.input_blocks != right.input_blocks:
        reason = f"same shape, but its input changed: {_blocks(left.input_blocks)} -> {_blocks(right.input_blocks)}"
    else:
        return TensorFate(key, UNCHANGED, a_shape, b_shape, "carries over")
    return TensorFate(key, CHANGED, a_shape, b_shape, reason + ": initialised as B says")


def weight_fates(a: NetView, b: NetView) -> tuple[TensorFate, ...]:
    """For every weight tensor of A or B (`layer.slot`, B's order first), whether it carries over from A to B
    unchanged, changes (shape, layer type, or the meaning of its input rows), is new in B or is dropped."""
    in_a = {layer.name: layer for layer in a.layers}
    in_b = {layer.name: layer for layer in b.layers}
    keys: dict[str, None] = {}
    for name in _order(a, b):
        for layer in (in_b.get(name), in_a.get(name)):
            for slot in layer.slots if layer else ():
                keys[f"{name}.{slot.name}"] = None
    fates = []
    for key in keys:
        name, slot_name = key.rsplit(".", 1)
        left, right = in_a.get(name), in_b.get(name)
        a_slot = next((s for s in left.slots if s.name == slot_name), None) if left else None
        b_slot = next((s for s in right.slots if s.name == slot_name), None) if right else None
        fates.append(_fate(key, left, right, a_slot, b_slot))
    return tuple(fates)


def carried_over(a: NetView, b: NetView) -> list[str]:
    """The tensor keys a weights transplant from A to B copies; every other tensor of B starts fresh."""
    return [fate.key for fate in weight_fates(a, b) if fate.status == UNCHANGED]


def compare(a: NetView, b: NetView) -> NetDiff:
    """The full comparison of A and B."""
    return NetDiff(a, b, layer_diffs(a, b), weight_fates(a, b))


# --- presentation ------------------------------------------------------------------------------------


def signed(value: int) -> str:
    """+1,234 / -1,413,120 / 0."""
    return f"{value:+,}" if value else "0"


def _pair(a: str | None, b: str | None) -> str:
    if a is None or b is None:
        return a or b or ""
    return a if a == b else f"{a} -> {b}"


def _shape(layer: LayerView | None) -> str | None:
    return shape_text(layer.shape) if layer else None


def rows(diff: NetDiff) -> list[tuple[str, ...]]:
    """One row of display strings per layer."""
    return [
        (
            d.name,
            d.status,
            _pair(d.a.type if d.a else None, d.b.type if d.b else None),
            _pair(_shape(d.a), _shape(d.b)),
            f"{d.a.params:,}" if d.a else "",
            f"{d.b.params:,}" if d.b else "",
            signed(d.params_delta) if d.params_delta else "",
            (si(d.macs_delta) if d.macs_delta < 0 else "+" + si(d.macs_delta)) if d.macs_delta else "",
        )
        for d in diff.layers
    ]


COLUMNS = ("layer", "status", "type", "output", "params A", "params B", "Δ params", "Δ MACs")
LABELS = {
    "layers": "layers",
    "params": "parameters",
    "trainable_params": "trainable",
    "non_trainable_params": "non-trainable",
    "macs": "MACs",
}


def total_lines(diff: NetDiff) -> list[tuple[str, str, str, str]]:
    """(label, A, B, delta) for every total."""
    return [(LABELS[key], f"{a:,}", f"{b:,}", signed(b - a)) for key, (a, b) in diff.totals().items()]


def weight_counts(diff: NetDiff) -> list[str]:
    """How many tensors (and values) carry over, change, are new or are dropped."""
    parts = []
    for status, words in (
        (UNCHANGED, "carry over unchanged"),
        (CHANGED, "change"),
        (NEW, "are new"),
        (REMOVED, "are dropped"),
    ):
        chosen = [f for f in diff.tensors if f.status == status]
        count = sum(size((f.a_shape if status == REMOVED else f.b_shape) or ()) for f in chosen)
        parts.append(f"{len(chosen)} {words} ({count:,} values)")
    return parts


def weight_title(diff: NetDiff) -> str:
    """The heading of the weights section."""
    return f"Trained weights, A -> B ({len(diff.tensors)} tensors)"


def to_dict(diff: NetDiff) -> dict[str, Any]:
    """The JSON report."""
    return {
        "a": {"name": diff.a.name, "path": diff.a.path},
        "b": {"name": diff.b.name, "path": diff.b.path},
        "totals": {key: {"a": a, "b": b, "delta": b - a} for key, (a, b) in diff.totals().items()},
        "layers": [
            {
                "name": d.name,
                "status": d.status,
                "changes": [{"field": c.field, "a": c.a, "b": c.b} for c in d.changes],
                "a": d.a and as_dict(d.a),
                "b": d.b and as_dict(d.b),
                "params_delta": d.params_delta,
                "macs_delta": d.macs_delta,
            }
            for d in diff.layers
        ],
        "weights": [
            {
                "key": f.key,
                "status": f.status,
                "a_shape": f.a_shape and list(f.a_shape),
                "b_shape": f.b_shape and list(f.b_shape),
                "reason": f.reason,
            }
            for f in diff.tensors
        ],
    }


def to_json(diff: NetDiff) -> str:
    """Indented, stable JSON."""
    return json.dumps(to_dict(diff), indent=2) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def to_markdown(diff: NetDiff) -> str:
    """GitHub-flavoured Markdown: the layer table, the totals table, the weights table."""
    lines = [f"## {diff.a.name} -> {diff.b.name}", "", "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows(diff)]
    lines += ["", "| total | A | B | Δ |", "|---|---|---|---|"]
    lines += [f"| {label} | {a} | {b} | {delta} |" for label, a, b, delta in total_lines(diff)]
    changed = [d for d in diff.layers if d.changes]
    if changed:
        lines += ["", "Changed layers:", ""] + [
            f"- `{d.name}`: {_cell('; '.join(str(c) for c in d.changes))}" for d in changed
        ]
    lines += [
        "",
        f"**{weight_title(diff)}**: {', '.join(weight_counts(diff))}.",
        "",
        "| tensor | status | shape A | shape B | why |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| `{f.key}` | {f.status} | {_shape_or_dash(f.a_shape)} | {_shape_or_dash(f.b_shape)} | {_cell(f.reason)} |"
        for f in diff.tensors
    ]
    return "\n".join(lines) + "\n"


def _shape_or_dash(shape: Shape | None) -> str:
    return shape_text(shape) if shape else "-"


STYLES = {ADDED: "green", REMOVED: "red", CHANGED: "yellow", SAME: ""}


def print_table(diff: NetDiff, width: int | None = None) -> None:
    """Rich tables: layers, totals, then every tensor that does not carry over unchanged."""
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(width=width) if width else Console()
    if not width and not console.is_terminal:
        console = Console(width=110)
    title = Text(printable(f"{diff.a.name} ({diff.a.path}) -> {diff.b.name} ({diff.b.path})"))
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1))
    for column in COLUMNS:
        table.add_column(column, justify="right" if column.startswith(("params", "Δ")) else "left", no_wrap=True)
    for layer, row in zip(diff.layers, rows(diff), strict=True):
        table.add_row(*row, style=STYLES[layer.status])
    console.print(table)
    totals = Table(box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1))
    for column in ("total", "A", "B", "Δ"):
        totals.add_column(column, justify="left" if column == "total" else "right", no_wrap=True)
    for line in total_lines(diff):
        totals.add_row(*line)
    console.print(totals)
    for d in diff.layers:
        for change in d.changes:
            if change.field not in IN_TABLE:
                console.print(Text(printable(f"  {d.name} {change}")))
    console.print(Text(f"{weight_title(diff)}: " + ", ".join(weight_counts(diff)[:2])))
    console.print(Text("  " + ", ".join(weight_counts(diff)[2:])))
    for fate in diff.tensors:
        if fate.status != UNCHANGED:
            console.print(Text(printable(f"  {fate.status:<8} {fate.key}: {fate.reason}")))
