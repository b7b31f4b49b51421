"""What every importer shares: the draft spec, exact convention conversions, folding, YAML writing, validation."""

from __future__ import annotations

import json
import keyword
import math
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from alexgen import __version__
from alexgen.diagnostics import SpecError
from alexgen.importers.draft import Draft, Item, Origin, Problems
from alexgen.ops import Op
from alexgen.textsafe import printable

HEADER_MARK = "# Imported by alexgen"
WIDTH = 118
ACTIVATIONS = ("relu", "softmax", "sigmoid", "tanh", "linear")
_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}
_KEY_ORDER = ("type", "name")

Pads = tuple[tuple[int, int], tuple[int, int]]
T = TypeVar("T")


# --- exact convention conversions ------------------------------------------------------------------


def same_pads(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow's 'same' (before, after) pads on one axis."""
    out = -(-size // stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def int_or_pair(values: tuple[int, int] | list[int]) -> int | list[int]:
    """An int when both axes agree, else [h, w]."""
    return values[0] if values[0] == values[1] else list(values)


def padding_value(pads: Pads) -> int | list[int] | list[list[int]]:
    """The spec's shortest spelling of ((top, bottom), (left, right))."""
    (top, bottom), (left, right) = pads
    if top == bottom and left == right:
        return int_or_pair((top, left))
    return [[top, bottom], [left, right]]


def conv_padding(pads: Pads, size: tuple[int, int], kernel: tuple[int, int], strides: tuple[int, int],
                 dilation: tuple[int, int]) -> str | int | list[int] | list[list[int]]:
    """Explicit conv pads as the spec says them: `valid`, `same` when TensorFlow's rule pads exactly so, else
    the pads themselves."""
    if not any(sum(p) for p in pads):
        return "valid"
    same = tuple(same_pads(*axis) for axis in zip(size, kernel, strides, dilation, strict=True))
    return "same" if same == pads else padding_value(pads)


def pool_modes(size: int, kernel: int, stride: int, before: int, out: int) -> set[str]:
    """The spec pool paddings (`valid`, `same`) that reproduce a source pool on one axis: `before` padded cells,
    `out` outputs, padded cells never counted. Empty when neither does."""
    modes = set()
    if before == 0 and out == (size - kernel) // stride + 1:
        modes.add("valid")
    if out == -(-size // stride) and before == same_pads(size, kernel, stride)[0]:
        modes.add("same")
    return modes


def literal(value: float) -> float:
    """A computed float without binary noise (0.00010000000000000002 -> 0.0001)."""
    return float(f"{value:.12g}")


# --- names -------------------------------------------------------------------------------------------


def snake_name(text: str, fallback: str = "imported") -> str:
    """A spec name (lower snake_case) from a model, class or file name: `AlexNet` -> `alex_net`."""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", text)
    words = re.sub(r"[^a-z0-9]+", "_", words.lower()).strip("_")
    words = re.sub(r"_+", "_", words)
    if not words or not words[0].isalpha():
        words = f"{fallback}_{words}".strip("_")
    return words if not keyword.iskeyword(words) else f"{words}_"


# --- shared passes -----------------------------------------------------------------------------------


def consumers(items: list[Item]) -> dict[str, int]:
    """How many layers read each layer."""
    counts: dict[str, int] = {}
    for item in items:
        for ref in item.keys["inputs"]:
            counts[ref] = counts.get(ref, 0) + 1
    return counts


def _has(item: Item, flag: Callable[[Op[Any]], bool]) -> bool:
    """Whether the op of the item's layer type sets a flag (never for a type no op defines)."""
    op = item.op
    return op is not None and flag(op)


def fold_activations(items: list[Item]) -> list[Item]:
    """Fold a foldable activation layer into the weighted layer it alone reads, when that layer has none."""
    by_name, counts = {item.name: item for item in items}, consumers(items)
    renamed: dict[str, str] = {}
    kept = []
    for item in items:
        item.keys["inputs"] = [renamed.get(ref, ref) for ref in item.keys["inputs"]]
        source = by_name.get(item.keys["inputs"][0]) if len(item.keys["inputs"]) == 1 else None
        if (item.fold and source is not None and _has(item, lambda op: op.folds_into_previous)
                and _has(source, lambda op: op.folds_activation) and source.keys.get("activation") in (None, "linear")
                and counts.get(source.name) == 1):
            source.keys["activation"] = item.keys["activation"]
            source.shape = item.shape or source.shape
            source.probe = item.probe or source.probe
            renamed[item.name] = source.name
            continue
        kept.append(item)
    return kept


def output_order(items: list[Item], output: str) -> list[Item]:
    """The order a reader writes a graph in: each layer right after its inputs, taken in order, walking back from
    the output (towers stay together, in the order they are merged); layers the output does not read come last."""
    by_name = {item.name: item for item in items}
    ordered: list[Item] = []
    done: set[str] = {"input"}
    stack: list[tuple[str, int]] = [(output, 0)]
    while stack:
        name, next_input = stack.pop()
        item = by_name[name]
        refs = item.keys["inputs"]
        while next_input < len(refs) and refs[next_input] in done:
            next_input += 1
        if next_input < len(refs):
            stack += [(name, next_input + 1), (refs[next_input], 0)]
        elif name not in done:
            done.add(name)
            ordered.append(item)
    return ordered + [item for item in items if item.name not in done]


def fuse_pads(items: list[Item], sizes: dict[str, tuple[int, int]] | None = None) -> list[Item]:
    """Fold a zero_padding2d named `<conv>_pad` (how alexgen writes explicit conv padding) into that conv, when
    the conv reads only it and it feeds only the conv. With `sizes` (input height and width of each pad), pads
    that TensorFlow's `same` would choose become `same`."""
    counts, by_name = consumers(items), {item.name: item for item in items}
    dropped = set()
    for item in items:
        pad = by_name.get(item.keys["inputs"][0]) if len(item.keys["inputs"]) == 1 else None
        if (pad is None or not _has(pad, lambda op: op.explicit_pad) or pad.name != f"{item.name}_pad"
                or not _has(item, lambda op: op.absorbs_pad) or item.keys.get("padding", "valid") != "valid"
                or counts.get(pad.name) != 1):
            continue
        pads = explicit(pad.keys.get("padding", 1))
        item.keys["inputs"] = pad.keys["inputs"]
        item.keys["padding"] = padding_value(pads)
        if sizes is not None and pad.name in sizes:
            item.keys["padding"] = conv_padding(pads, sizes[pad.name], *window(item.keys))
        dropped.add(pad.name)
    return [item for item in items if item.name not in dropped]


def explicit(value: Any) -> Pads:
    """A spec padding value (int, [h, w] or [[t, b], [l, r]]) as ((top, bottom), (left, right))."""
    if isinstance(value, int):
        return (value, value), (value, value)
    if isinstance(value[0], int):
        return (value[0], value[0]), (value[1], value[1])
    return (value[0][0], value[0][1]), (value[1][0], value[1][1])


def pair_of(value: Any) -> tuple[int, int]:
    """An int or [h, w] as (h, w)."""
    return (value, value) if isinstance(value, int) else (value[0], value[1])


def window(keys: dict[str, Any]) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    """A conv2d's kernel, strides and dilation as pairs."""
    return (pair_of(keys["kernel_size"]), pair_of(keys.get("strides", 1)), pair_of(keys.get("dilation_rate", 1)))


# --- YAML --------------------------------------------------------------------------------------------


def flow(value: Any) -> str:
    """A value in YAML flow style, read back exactly by alexgen's loader."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = repr(value)
        return text if ("e" in text or "." in text) else f"{text}.0"
    if isinstance(value, str):
        plain = _PLAIN.match(value) and value.lower() not in _YAML_WORDS
        return value if plain else json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(flow(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {flow(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {type(value).__name__} into a spec")


def layer_line(keys: dict[str, Any]) -> list[str]:
    """`  - {type: ..., name: ..., ...}`, wrapped at item boundaries when long."""
    ordered = {k: keys[k] for k in _KEY_ORDER if k in keys} | {k: v for k, v in keys.items() if k not in _KEY_ORDER
                                                               and k != "inputs"}
    ordered |= {"inputs": keys["inputs"]} if "inputs" in keys else {}
    parts = [f"{k}: {flow(v)}" for k, v in ordered.items()]
    lines, current = [], "  - {"
    for i, part in enumerate(parts):
        piece = part + ("}" if i == len(parts) - 1 else ",")
        if current not in ("  - {", "     ") and len(current) + 1 + len(piece) > WIDTH:
            lines.append(current)
            current = "     "
        current += piece if current in ("  - {", "     ") else " " + piece
    return [*lines, current]


def layer_keys(items: list[Item]) -> list[dict[str, Any]]:
    """Each layer's keys, `inputs` left out where it is the layer before (or `input` for the first)."""
    out, previous = [], "input"
    for item in items:
        keys = dict(item.keys)
        if keys["inputs"] == [previous] and not _has(item, lambda op: op.multi_input):
            del keys["inputs"]
        out.append(keys)
        previous = item.name
    return out


def comment_lines(text: str) -> list[str]:
    """`# text`, wrapped, with anything unprintable escaped (a source path may hold a newline)."""
    words, lines, current = printable(text).split(" "), [], "#"
    for word in words:
        if len(current) + 1 + len(word) > WIDTH and current != "#":
            lines.append(current)
            current = "#  "
        current += " " + word
    return [*lines, current]


def to_yaml(draft: Draft, source: str, fmt: str) -> str:
    """The spec document: a header naming the source, then readable YAML (one flow mapping per layer)."""
    lines = comment_lines(f"Imported by alexgen {__version__} from the {fmt} model {source}.")
    for note in draft.notes:
        lines += comment_lines(note)
    lines += ["alexgen: 1", f"name: {flow(draft.name)}"]
    if draft.description:
        lines.append(f"description: {json.dumps(draft.description, ensure_ascii=False)}")
    lines += [f"input_shape: {flow(list(draft.input_shape))}", "layers:"]
    for keys in layer_keys(draft.items):
        lines += layer_line(keys)
    if draft.training is not None:
        lines.append("training:" if draft.training else "training: {}")
        lines += [f"  {key}: {flow(value)}" for key, value in draft.training.items()]
    return "\n".join(lines) + "\n"


# --- validation --------------------------------------------------------------------------------------


def check_shapes(draft: Draft, graph: Any, problems: Problems) -> None:
    """The spec's analysed shapes must be the source's own: any difference is an importer bug, reported."""
    nodes = {node.name: node for node in graph.nodes}
    for item in draft.items:
        node = nodes.get(item.name)
        if item.shape is not None and node is not None and tuple(node.shape) != tuple(item.shape):
            problems.add(item.origin.problem(
                f"internal error: the imported layer's output is {node.shape} in the spec but {item.shape} in the "
                "source", "this is a bug in alexgen's importer; please report it"))


def validated(draft: Draft, source: str, fmt: str, display: str) -> tuple[str, Any]:
    """The YAML text and its analysed graph; the spec's own diagnostics are reported at the source layers."""
    from alexgen.validate import graph_from_text

    text = to_yaml(draft, source, fmt)
    origins = {item.name: item.origin for item in draft.items}
    problems = Problems()
    try:
        graph = graph_from_text(text, display)
    except SpecError as exc:
        for d in exc.diagnostics:
            origin = origins.get(d.layer or "", Origin(source))
            problems.add(origin.problem(f"the imported spec is invalid: {d.message}", d.hint, d.level))
        problems.raise_if_errors()
        raise
    check_shapes(draft, graph, problems)
    problems.raise_if_errors()
    return text, graph


def dispatch(table: Mapping[str, T], kind: str, origin: Origin, what: str, problems: Problems) -> T | None:
    """The converter for a source layer kind, or None with a diagnostic listing what is supported."""
    converter = table.get(kind)
    if converter is None:
        problems.add(origin.problem(f"unsupported {what} '{printable(kind)}'",
                                    f"supported: {', '.join(sorted(table))}"))
    return converter


def spatial_out(size: int, kernel: int, stride: int, before: int, after: int, dilation: int = 1,
                ceil: bool = False) -> int:
    """Output length of a window over `size` cells padded by `before` and `after`."""
    span = size + before + after - (kernel - 1) * dilation - 1
    return (math.ceil if ceil else math.floor)(span / stride) + 1
