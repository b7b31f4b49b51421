"""`alexgen diagram`: the network as a picture, one box per layer, drawn with matplotlib (imported lazily)."""

from __future__ import annotations

import io
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alexgen.netview import INPUT, LayerView, NetView, shape_text, si

FORMATS = {".svg": "svg", ".png": "png"}
MAX_ROWS = 22  # ranks per column before a long network wraps into another column
BOX_W, BOX_H = 0.86, 0.70  # in lane and row units
LANE_IN, ROW_IN = 2.2, 0.62  # inches per lane and per row
SEGMENT_GAP = 0.55  # lanes between wrapped columns
TOP_IN, BOTTOM_IN = 0.45, 0.6  # title above, caption below
MIN_WIDTH_IN = 5.5
MARGIN = 0.15  # rows above and below the boxes, where wrapped edges run
DPI = 150
TITLE_CHARS = 30  # name and type on one line of a box
INPUT_COLOUR = "#ffffff"


class DiagramError(Exception):
    """A diagram that cannot be written (unknown extension, unwritable path)."""


@dataclass(frozen=True)
class Placed:
    """A box's position: centre x (lanes) and its rank, wrapped into column `segment`, row `row`."""

    x: float
    rank: int
    segment: int
    row: int


def output_format(path: Path) -> str:
    """`svg` or `png` from the file's extension, or DiagramError."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise DiagramError(
            f"{path}: unknown diagram format {path.suffix or '(no extension)'!r}; "
            "use a file name ending in .svg or .png"
        )
    return fmt


def ranks(net: NetView) -> dict[str, int]:
    """Longest-path layering: the input is rank 0, every layer one below its deepest input."""
    rank = {INPUT: 0}
    for layer in net.layers:  # a validated spec lists every input before its readers
        rank[layer.name] = 1 + max(rank[ref] for ref in layer.inputs)
    return rank


def _consumers(net: NetView) -> dict[str, list[str]]:
    readers: dict[str, list[str]] = {INPUT: []}
    for layer in net.layers:
        readers[layer.name] = []
        for ref in layer.inputs:
            readers[ref].append(layer.name)
    return readers


def lanes(net: NetView, rank: dict[str, int]) -> dict[str, float]:
    """Horizontal positions: a chain stays in its lane, branches fan out side by side, joins sit between."""
    readers = _consumers(net)
    x = {INPUT: 0.0}
    for layer in net.layers:
        if len(layer.inputs) == 1:
            siblings = readers[layer.inputs[0]]
            x[layer.name] = x[layer.inputs[0]] + siblings.index(layer.name) - (len(siblings) - 1) / 2
        else:
            x[layer.name] = sum(x[ref] for ref in layer.inputs) / len(layer.inputs)
    for level in range(max(rank.values()) + 1):
        _spread([name for name in x if rank[name] == level], x)
    low = min(x.values())
    return {name: value - low for name, value in x.items()}


def _spread(names: list[str], x: dict[str, float]) -> None:
    """Push the boxes of one rank at least a lane apart, keeping their mean position."""
    if len(names) < 2:
        return
    order = sorted(names, key=lambda n: x[n])
    wanted = sum(x[n] for n in order) / len(order)
    placed = [x[order[0]]]
    for name in order[1:]:
        placed.append(max(x[name], placed[-1] + 1.0))
    shift = wanted - sum(placed) / len(placed)
    for name, value in zip(order, placed, strict=True):
        x[name] = value + shift


def layout(net: NetView) -> dict[str, Placed]:
    """Every box's place; more than MAX_ROWS ranks wrap into side-by-side columns of equal height."""
    rank = ranks(net)
    x = lanes(net, rank)
    count = max(rank.values()) + 1
    segments = math.ceil(count / MAX_ROWS)
    rows = math.ceil(count / segments)
    width = max(x.values()) + 1 + SEGMENT_GAP
    return {
        name: Placed(x[name] + (rank[name] // rows) * width, rank[name], rank[name] // rows, rank[name] % rows)
        for name in x
    }


def _box_text(layer: LayerView) -> tuple[str, str, str]:
    """Name (shortened to fit), type, and the body: detail (kernel/stride, activation), output shape, parameters."""
    join = layer.op.multi_input
    room = TITLE_CHARS - (0 if join else len(layer.type))
    name = layer.name if len(layer.name) <= room else layer.name[: room - 1] + "…"
    numbers = shape_text(layer.shape) + (f"  ·  {layer.params:,} params" if layer.params else "")
    detail = layer.detail  # a join's own label ("concat (channels)", "add") comes from its op's describe hook
    return name, layer.type, f"{detail}\n{numbers}" if detail else numbers


def caption(net: NetView) -> str:
    """Totals under the picture."""
    frozen = net.params - net.trainable
    return (
        f"{len(net.layers)} layers · {net.params:,} parameters"
        + (f" ({frozen:,} non-trainable)" if frozen else "")
        + f"\n{net.macs:,} MACs ({si(net.macs)}) per example · input {shape_text(net.input_shape)}"
        f" → output {shape_text(net.output_shape)}"
    )


class _Canvas:
    """Data coordinates: x in lanes, y in rows growing downward; boxes centred on (x, row)."""

    def __init__(self, ax: Any, places: dict[str, Placed]) -> None:
        self.ax, self.places = ax, places

    def box(self, gid: str, name: str, look: tuple[str, bool], label: str, kind_label: str, body: str) -> None:
        """One layer's box: its label and type on top, the body below; `look` is its fill and whether it joins."""
        from matplotlib.patches import FancyBboxPatch

        place = self.places[name]
        colour, join = look
        width = BOX_W * (0.8 if join else 1.0)
        patch = FancyBboxPatch(
            (place.x - width / 2, place.row - BOX_H / 2),
            width,
            BOX_H,
            boxstyle="round,pad=0,rounding_size=" + ("0.3" if join else "0.06"),
            facecolor=colour,
            edgecolor="#444444",
            linewidth=0.8,
            gid=gid,
        )
        self.ax.add_patch(patch)
        high = place.row - BOX_H / 2 + 0.06
        if join:  # a join is a small rounded node, its text centred
            self.ax.text(place.x, high, label, fontsize=7, fontweight="bold", va="top", ha="center", parse_math=False)
            self.ax.text(
                place.x, high + 0.22, body, fontsize=6.5, va="top", ha="center", linespacing=1.25, parse_math=False
            )
            return
        left = place.x - width / 2 + 0.04
        self.ax.text(left, high, label, fontsize=7, fontweight="bold", va="top", ha="left", parse_math=False)
        self.ax.text(
            place.x + width / 2 - 0.04,
            high,
            kind_label,
            fontsize=6.5,
            style="italic",
            color="#555555",
            va="top",
            ha="right",
            parse_math=False,
        )
        self.ax.text(left, high + 0.22, body, fontsize=6.5, va="top", ha="left", linespacing=1.25, parse_math=False)

    def edge(self, source: str, target: str) -> None:
        """An arrow from one box to another (gid edge-SOURCE-TARGET)."""
        from matplotlib.patches import FancyArrowPatch
        from matplotlib.path import Path as MplPath

        style: dict[str, Any] = {
            "arrowstyle": "-|>",
            "mutation_scale": 7,
            "color": "#555555",
            "linewidth": 0.8,
            "gid": f"edge-{source}-{target}",
            "shrinkA": 0,
            "shrinkB": 0,
        }
        points = route(self.places, source, target)
        if len(points) == 2:
            self.ax.add_patch(FancyArrowPatch(points[0], points[1], **style))
        else:
            codes = [MplPath.MOVETO] + [MplPath.LINETO] * (len(points) - 1)
            self.ax.add_patch(FancyArrowPatch(path=MplPath(points, codes), **style))


Point = tuple[float, float]
CLEAR = 0.07  # lanes kept free beside a box for an edge running past it (half the gap between two lanes)


def _row_xs(places: dict[str, Placed], segment: int, rows: range) -> list[float]:
    return [p.x for p in places.values() if p.segment == segment and p.row in rows]


def _free(x: float, boxes: list[float]) -> bool:
    return all(abs(x - box) >= BOX_W / 2 + CLEAR - 1e-9 for box in boxes)


def _channel(places: dict[str, Placed], segment: int, rows: range, near: float) -> float:
    """An x where a vertical line passes no box of `rows` in `segment`, as close to `near` as can be."""
    boxes = _row_xs(places, segment, rows)
    candidates = [near] + [box + side * (BOX_W / 2 + CLEAR) for box in boxes for side in (-1, 1)]
    return min((c for c in candidates if _free(c, boxes)), key=lambda c: (abs(c - near), c))


def _clear_line(places: dict[str, Placed], a: Placed, b: Placed) -> bool:
    """True when the straight line from a's bottom to b's top passes no box of the rows between them."""
    (x0, y0), (x1, y1) = (a.x, a.row + BOX_H / 2), (b.x, b.row - BOX_H / 2)
    for row in range(a.row + 1, b.row):
        ends = [x0 + (x1 - x0) * (y - y0) / (y1 - y0) for y in (row - BOX_H / 2, row + BOX_H / 2)]
        for box in _row_xs(places, a.segment, range(row, row + 1)):
            if min(ends) < box + BOX_W / 2 + CLEAR and max(ends) > box - BOX_W / 2 - CLEAR:
                return False
    return True


def _gutter(places: dict[str, Placed], segment: int) -> float:
    """Midway between wrapped column `segment` and the one before it."""
    right = max(p.x for p in places.values() if p.segment == segment - 1) + BOX_W / 2
    left = min(p.x for p in places.values() if p.segment == segment) - BOX_W / 2
    return (left + right) / 2


def route(places: dict[str, Placed], source: str, target: str) -> list[Point]:
    """An edge's points: straight when nothing is in the way, else around boxes through the gaps between rows."""
    a, b = places[source], places[target]
    start, end = (a.x, a.row + BOX_H / 2), (b.x, b.row - BOX_H / 2)
    if a.segment == b.segment:
        if _clear_line(places, a, b):
            return [start, end]
        x = _channel(places, a.segment, range(a.row + 1, b.row), (a.x + b.x) / 2)
        points = [start, (a.x, a.row + 0.5), (x, a.row + 0.5), (x, b.row - 0.5), (b.x, b.row - 0.5), end]
    else:  # wrapped: down out of the source's column, along the bottom, up a gutter, along the top, down
        rows = max(p.row for p in places.values()) + 1
        down = _channel(places, a.segment, range(a.row + 1, rows), a.x)
        up = _channel(places, b.segment, range(0, b.row), b.x)
        gutter = _gutter(places, b.segment)
        points = [
            start,
            (a.x, a.row + 0.5),
            (down, a.row + 0.5),
            (down, rows - 0.5),
            (gutter, rows - 0.5),
            (gutter, -0.5),
            (up, -0.5),
            (up, b.row - 0.5),
            (b.x, b.row - 0.5),
            end,
        ]
    return [p for i, p in enumerate(points) if i == 0 or p != points[i - 1]]


def draw(net: NetView, fmt: str) -> bytes:
    """The picture as SVG or PNG bytes; the SVG is byte-for-byte deterministic."""
    try:
        import matplotlib
        from matplotlib.figure import Figure
    except ImportError:
        raise DiagramError("drawing needs matplotlib: pip install 'alexgen[diagram]'") from None

    places = layout(net)
    lanes_wide = max(p.x for p in places.values()) + 1
    rows = max(p.row for p in places.values()) + 1
    with matplotlib.rc_context({"svg.hashsalt": "alexgen", "svg.fonttype": "path", "font.family": "DejaVu Sans"}):
        height = rows * ROW_IN + TOP_IN + BOTTOM_IN
        width = max(lanes_wide * LANE_IN, MIN_WIDTH_IN)  # room for the caption; boxes keep their size
        fig = Figure(figsize=(width, height))
        ax = fig.add_axes((0.01, BOTTOM_IN / height, 0.98, rows * ROW_IN / height))
        visible = 0.98 * width / LANE_IN
        ax.set_xlim((lanes_wide - 1 - visible) / 2, (lanes_wide - 1 + visible) / 2)
        ax.set_ylim(rows - 0.5 + MARGIN, -0.5 - MARGIN)
        ax.set_axis_off()
        canvas = _Canvas(ax, places)
        canvas.box("input-node", INPUT, (INPUT_COLOUR, False), INPUT, "input", shape_text(net.input_shape))
        for layer in net.layers:
            canvas.box(f"layer-{layer.name}", layer.name, (layer.op.colour, layer.op.multi_input), *_box_text(layer))
        for layer in net.layers:
            for ref in dict.fromkeys(layer.inputs):
                canvas.edge(ref, layer.name)
        fig.text(
            0.5, 1 - 0.1 / height, net.name, ha="center", va="top", fontsize=10, fontweight="bold", parse_math=False
        )
        fig.text(
            0.5, 0.1 / height, caption(net), ha="center", va="bottom", fontsize=7.5, linespacing=1.4, parse_math=False
        )
        buffer = io.BytesIO()
        metadata = {"Date": None} if fmt == "svg" else {"Software": None}
        fig.savefig(buffer, format=fmt, dpi=DPI, metadata=metadata)
    return buffer.getvalue()


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write through a temporary file in the same folder and rename: the old file or the new, never a part."""
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes it private; the result is an ordinary file
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_diagram(net: NetView, path: Path) -> int:
    """Draw `net` into `path` (format from its extension); the number of bytes written."""
    fmt = output_format(path)
    if not path.parent.is_dir():
        raise DiagramError(f"{path}: the folder {path.parent} does not exist")
    data = draw(net, fmt)
    try:
        write_bytes_atomic(path, data)
    except OSError as exc:
        raise DiagramError(f"cannot write {path}: {exc.strerror or exc}") from None
    return len(data)
