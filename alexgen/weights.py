"""The neutral weights file, in one place: its layout, reading and writing, checks and framework conversions.

Neutral layout = the spec's channels-last view, which is Keras's: conv kernels (kh, kw, in/groups, out),
dense kernels (in, out) with input rows in channels-last flatten order, 1-D vectors as they are. Keys are
`<layer>.<slot>`; each op's analysis rule lists its slots (alexgen.analysis.Slot). The file is safetensors with
metadata naming the spec and its sha256. numpy and safetensors are imported only by the functions that move
tensors, so rendering (which needs the layout facts) works without them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alexgen.analysis import LAYOUT_AXES, Shape, Slot
from alexgen.files import give_usual_permissions
from alexgen.graph import Graph, Node

if TYPE_CHECKING:
    from numpy.typing import NDArray

    Array = NDArray[Any]

FORMAT = "alexgen-neutral"
FORMAT_VERSION = "1"


class WeightsError(Exception):
    """A weights file that does not fit the spec; the message names the first mismatch."""


class LayoutError(Exception):
    """A layer whose flat inputs are ordered differently in PyTorch (a flatten's C, H, W) and Keras, so no weight
    conversion can make the two networks agree."""

    def __init__(self, layer: str, message: str) -> None:
        super().__init__(message)
        self.layer = layer


def metadata(graph: Graph) -> dict[str, str]:
    """The metadata block stored in every neutral file."""
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "spec_name": graph.name,
            "spec_sha256": graph.sha256, "layout": "channels_last", "total_params": str(graph.total_params)}


def weighted_nodes(graph: Graph) -> list[Node[Any]]:
    """Layers that own tensors, in order."""
    return graph.weighted


def neutral_shapes(graph: Graph) -> dict[str, Shape]:
    """The neutral shape of every tensor."""
    return {f"{node.name}.{slot.name}": slot.shape for node in graph.weighted for slot in node.slots}


# --- flatten order --------------------------------------------------------------------------------------------


def flat_segments(graph: Graph) -> dict[str, list[Shape]]:
    """For each 1-D output, the blocks it was flattened from, in order: (h, w, c) maps or (n,) vectors."""
    segments: dict[str, list[Shape]] = {}
    shapes = {"input": graph.input_shape, **{n.name: n.shape for n in graph.nodes}}
    for node in graph.nodes:
        if len(node.shape) != 1:
            continue
        source = shapes[node.inputs[0]]
        if node.op.flat == "flatten" and len(source) == 3:
            segments[node.name] = [source]
        elif node.op.flat == "join":
            segments[node.name] = [s for ref in node.inputs for s in segments[ref]]
        elif node.op.flat in ("keep", "flatten") and node.inputs[0] in segments:
            segments[node.name] = segments[node.inputs[0]]
            _same_order(node, [segments.get(ref, [shapes[ref]]) for ref in node.inputs])
        else:
            segments[node.name] = [node.shape]
    return segments


def _same_order(node: Node[Any], orders: list[list[Shape]]) -> None:
    """Element-wise layers on several flat inputs need one element order for all of them."""
    if any(order != orders[0] for order in orders[1:]):
        blocks = " vs ".join("+".join("x".join(map(str, s)) for s in order) for order in orders)
        raise LayoutError(node.name, f"its flat inputs come from different flattens ({blocks}), whose elements "
                          "PyTorch orders channels-first and Keras channels-last")


def permuted_inputs(graph: Graph) -> dict[str, list[Shape]]:
    """Layers with tensors whose 1-D input is not in the same order in both frameworks, with its segments."""
    segments = flat_segments(graph)
    return {n.name: segments[n.inputs[0]] for n in graph.weighted
            if n.inputs[0] in segments and any(len(s) == 3 for s in segments[n.inputs[0]])}


def order_from_segments(segments: list[Shape]) -> Array:
    """`order[i]` = the channels-last position of PyTorch's i-th flat element (CHW flatten per map)."""
    import numpy as np

    parts, offset = [], 0
    for shape in segments:
        size = math.prod(shape)
        part = np.arange(size).reshape(shape).transpose(2, 0, 1).ravel() if len(shape) == 3 else np.arange(size)
        parts.append(part + offset)
        offset += size
    return np.concatenate(parts)


def flat_orders(graph: Graph) -> dict[str, Array]:
    """For each 1-D output: `order[i]` = the channels-last position of PyTorch's i-th element."""
    return {name: order_from_segments(segs) for name, segs in flat_segments(graph).items()}


def _input_order(graph: Graph, node: Node[Any], orders: dict[str, Array]) -> Array | None:
    import numpy as np

    order = orders.get(node.inputs[0])
    if order is None or np.array_equal(order, np.arange(len(order))):
        return None
    return order


# --- one tensor, between layouts ----------------------------------------------------------------------------------


def to_torch_tensor(slot: Slot, value: Array, order: Array | None) -> Array:
    """One neutral tensor in PyTorch's layout: input rows reordered, then axes moved (and grouped, e.g. depthwise)."""
    import numpy as np

    if order is not None and slot.follows_input:
        value = value[order]
    axes = LAYOUT_AXES[slot.layout]
    grouped = value.reshape([slot.torch_shape[i] for i in np.argsort(axes)])
    return np.ascontiguousarray(grouped.transpose(axes))


def from_torch_tensor(slot: Slot, value: Array, order: Array | None) -> Array:
    """One PyTorch tensor in the neutral layout (inverse of to_torch_tensor)."""
    import numpy as np

    value = value.transpose(np.argsort(LAYOUT_AXES[slot.layout])).reshape(slot.shape)
    if order is not None and slot.follows_input:
        restored = np.empty_like(value)
        restored[order] = value
        value = restored
    return np.ascontiguousarray(value)


# --- whole models -----------------------------------------------------------------------------------------------


def torch_prefixes(model: Any) -> dict[str, str]:
    """Layer name -> its module path in a generated PyTorch model (`features.conv1` or `conv1`)."""
    return {path.rsplit(".", 1)[-1]: path for path, _ in model.named_modules() if path}


def torch_slots(graph: Graph, prefixes: dict[str, str]) -> Iterator[tuple[str, str, Slot, Array | None]]:
    """Every tensor as (neutral key, state_dict key, slot, the order of its layer's flat input or None)."""
    orders = flat_orders(graph)
    for node in graph.weighted:
        order = _input_order(graph, node, orders)
        for slot in node.slots:
            yield f"{node.name}.{slot.name}", f"{prefixes[node.name]}.{slot.torch}", slot, order


def neutral_to_torch_state(graph: Graph, tensors: dict[str, Array], prefixes: dict[str, str]) -> dict[str, Array]:
    """A PyTorch state_dict (numpy values) from neutral tensors."""
    return {state_key: to_torch_tensor(slot, tensors[key], order)
            for key, state_key, slot, order in torch_slots(graph, prefixes)}


def torch_state_to_neutral(graph: Graph, state: dict[str, Any], prefixes: dict[str, str]) -> dict[str, Array]:
    """Neutral tensors from a PyTorch state_dict (tensors or arrays)."""
    import numpy as np

    def array(raw: Any) -> Array:
        return raw.detach().cpu().numpy() if hasattr(raw, "detach") else np.asarray(raw)

    return {key: from_torch_tensor(slot, array(state[state_key]), order)
            for key, state_key, slot, order in torch_slots(graph, prefixes)}


def keras_to_neutral(graph: Graph, model: Any) -> dict[str, Array]:
    """Neutral tensors from a built Keras model (its layout already is the neutral one)."""
    import numpy as np

    tensors = {}
    for node in graph.weighted:
        values = model.get_layer(node.name).get_weights()
        for slot, value in zip(node.slots, values, strict=True):
            tensors[f"{node.name}.{slot.name}"] = np.asarray(value)
    return tensors


def neutral_to_keras(graph: Graph, model: Any, tensors: dict[str, Array]) -> None:
    """Set a built Keras model's weights from neutral tensors."""
    for node in graph.weighted:
        model.get_layer(node.name).set_weights([tensors[f"{node.name}.{slot.name}"] for slot in node.slots])


def load_torch_state(model: Any, state: dict[str, Any]) -> None:
    """Load a numpy state into a PyTorch model, strictly (every parameter and buffer present)."""
    import numpy as np
    import torch

    current = model.state_dict()
    full = {k: torch.as_tensor(np.asarray(v)) for k, v in state.items()}
    for key, value in current.items():
        full.setdefault(key, value)  # num_batches_tracked is not a weight
    model.load_state_dict(full, strict=True)


def check_torch_state(model: Any, state: dict[str, Any], where: str) -> None:
    """Raise WeightsError on the first key or shape of a state_dict that does not fit the model."""
    if not isinstance(state, dict):
        raise WeightsError(f"{where}: expected a state_dict (a mapping of names to tensors)")
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    for key, shape in expected.items():
        if key not in state:
            raise WeightsError(f"{where}: missing {key!r} (shape {shape})")
        if tuple(state[key].shape) != shape:
            raise WeightsError(f"{where}: {key!r} has shape {tuple(state[key].shape)}, expected {shape}")
    extra = sorted(k for k in state if k not in expected and not k.endswith("num_batches_tracked"))
    if extra:
        raise WeightsError(f"{where}: unexpected {extra[0]!r}: not a state_dict of this spec's model")


# --- the file ---------------------------------------------------------------------------------------------------


def write_neutral(path: Path, tensors: dict[str, Array], graph: Graph) -> None:
    """Save neutral tensors with their metadata."""
    import numpy as np
    from safetensors.numpy import save_file

    save_file({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in tensors.items()}, str(path),
              metadata=metadata(graph))
    give_usual_permissions(path)  # safetensors creates its files 0600


def read_neutral(path: Path, graph: Graph, expected: dict[str, Shape] | None = None,
                 check_hash: bool = True) -> dict[str, Array]:
    """Load a neutral file, checking its format, spec hash and (when given) every tensor's shape."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="numpy") as handle:
            meta = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    except Exception as exc:  # safetensors raises its own error types for corrupt files
        raise WeightsError(f"{path}: not a readable safetensors file ({exc})") from None
    if meta.get("format") != FORMAT:
        raise WeightsError(f"{path}: not an alexgen neutral weights file (format {meta.get('format')!r})")
    if check_hash and meta.get("spec_sha256") != graph.sha256:
        raise WeightsError(f"{path}: made for spec {meta.get('spec_name')!r} with sha256 "
                           f"{meta.get('spec_sha256')}, but this spec ({graph.name}) has sha256 {graph.sha256}")
    if expected is not None:
        check_shapes(tensors, expected, str(path))
    return tensors


def check_shapes(tensors: dict[str, Array], expected: dict[str, Shape], where: str) -> None:
    """Raise on the first missing, unexpected or wrongly shaped tensor."""
    for key, shape in expected.items():
        if key not in tensors:
            raise WeightsError(f"{where}: missing tensor {key!r} (expected shape {shape})")
        if tuple(tensors[key].shape) != tuple(shape):
            raise WeightsError(f"{where}: tensor {key!r} has shape {tuple(tensors[key].shape)}, expected {shape}")
    extra = sorted(set(tensors) - set(expected))
    if extra:
        raise WeightsError(f"{where}: unexpected tensor {extra[0]!r}")


# --- what a generated module's tables hold ------------------------------------------------------------------------


def torch_table(graph: Graph, paths: dict[str, str]) -> list[tuple[str, tuple[object, ...]]]:
    """Per neutral key: its neutral shape, its state_dict key, the neutral axes in PyTorch's order, and (for rows
    that follow a flatten) the flattened blocks."""
    permuted = permuted_inputs(graph)
    rows: list[tuple[str, tuple[object, ...]]] = []
    for node in graph.weighted:
        for slot in node.slots:
            blocks = permuted.get(node.name) if slot.follows_input else None
            value: tuple[object, ...] = (slot.shape, f"{paths[node.name]}.{slot.torch}", LAYOUT_AXES[slot.layout])
            rows.append((f"{node.name}.{slot.name}", (*value, tuple(blocks)) if blocks else value))
    return rows
