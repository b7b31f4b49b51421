"""The framework-neutral weights layout and the conversions to and from Keras and PyTorch.

Neutral layout = the spec's channels-last view, which is Keras's: conv kernels (kh, kw, in/groups, out),
dense kernels (in, out) with input rows in channels-last flatten order, 1-D vectors as they are.
Keys are `<layer>.<kernel|bias|gamma|beta|moving_mean|moving_variance>`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from alexgen.graph import Graph, Node
from alexgen.layout import (  # noqa: F401
    FORMAT_VERSION,
    KERAS_SLOTS,
    TORCH_NAMES,
    flat_segments,
    neutral_shapes,
    permuted_inputs,
    slots,
    weighted_nodes,
)


def check_torch_state(model: Any, state: dict[str, Any], where: str) -> None:
    """Raise WeightsError on the first key or shape of a state_dict that does not fit the model."""
    from alexgen.neutral import WeightsError

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


def order_from_segments(segments: list[tuple[int, ...]]) -> np.ndarray:
    """`order[i]` = the channels-last position of PyTorch's i-th flat element (CHW flatten per map)."""
    parts, offset = [], 0
    for shape in segments:
        size = math.prod(shape)
        part = np.arange(size).reshape(shape).transpose(2, 0, 1).ravel() if len(shape) == 3 else np.arange(size)
        parts.append(part + offset)
        offset += size
    return np.concatenate(parts)


def flat_orders(graph: Graph) -> dict[str, np.ndarray]:
    """For each 1-D output: `order[i]` = the channels-last position of PyTorch's i-th element."""
    return {name: order_from_segments(segs) for name, segs in flat_segments(graph).items()}


def _input_order(graph: Graph, node: Node, orders: dict[str, np.ndarray]) -> np.ndarray | None:
    order = orders.get(node.inputs[0])
    if order is None or np.array_equal(order, np.arange(len(order))):
        return None
    return order


def to_torch_tensor(graph: Graph, node: Node, slot: str, value: np.ndarray,
                    orders: dict[str, np.ndarray]) -> np.ndarray:
    """One neutral tensor in PyTorch's layout."""
    order = _input_order(graph, node, orders)
    if node.type == "conv2d" and slot == "kernel":
        return np.ascontiguousarray(value.transpose(3, 2, 0, 1))
    if node.type == "dense" and slot == "kernel":
        return np.ascontiguousarray((value if order is None else value[order]).T)
    if node.type == "batch_norm" and len(node.shape) == 1 and order is not None:
        return np.ascontiguousarray(value[order])
    return value


def from_torch_tensor(graph: Graph, node: Node, slot: str, value: np.ndarray,
                      orders: dict[str, np.ndarray]) -> np.ndarray:
    """One PyTorch tensor in the neutral layout (inverse of to_torch_tensor)."""
    order = _input_order(graph, node, orders)
    if node.type == "conv2d" and slot == "kernel":
        return np.ascontiguousarray(value.transpose(2, 3, 1, 0))
    if node.type == "dense" and slot == "kernel":
        kernel = value.T
        if order is not None:
            restored = np.empty_like(kernel)
            restored[order] = kernel
            kernel = restored
        return np.ascontiguousarray(kernel)
    if node.type == "batch_norm" and len(node.shape) == 1 and order is not None:
        restored = np.empty_like(value)
        restored[order] = value
        return restored
    return value


def torch_prefixes(model: Any) -> dict[str, str]:
    """Layer name -> its module path in a generated PyTorch model (`features.conv1` or `conv1`)."""
    return {path.rsplit(".", 1)[-1]: path for path, _ in model.named_modules() if path}


def neutral_to_torch_state(graph: Graph, tensors: dict[str, np.ndarray], prefixes: dict[str, str]) -> dict[str, Any]:
    """A PyTorch state_dict (numpy values) from neutral tensors."""
    orders = flat_orders(graph)
    state = {}
    for node in weighted_nodes(graph):
        for slot in slots(node):
            value = to_torch_tensor(graph, node, slot, tensors[f"{node.name}.{slot}"], orders)
            state[f"{prefixes[node.name]}.{TORCH_NAMES[slot]}"] = value
    return state


def torch_state_to_neutral(graph: Graph, state: dict[str, Any], prefixes: dict[str, str]) -> dict[str, np.ndarray]:
    """Neutral tensors from a PyTorch state_dict (tensors or arrays)."""
    orders = flat_orders(graph)
    tensors = {}
    for node in weighted_nodes(graph):
        for slot in slots(node):
            raw = state[f"{prefixes[node.name]}.{TORCH_NAMES[slot]}"]
            value = raw.detach().cpu().numpy() if hasattr(raw, "detach") else np.asarray(raw)
            tensors[f"{node.name}.{slot}"] = from_torch_tensor(graph, node, slot, value, orders)
    return tensors


def keras_to_neutral(graph: Graph, model: Any) -> dict[str, np.ndarray]:
    """Neutral tensors from a built Keras model (its layout already is the neutral one)."""
    tensors = {}
    for node in weighted_nodes(graph):
        values = model.get_layer(node.name).get_weights()
        for slot, value in zip(slots(node), values, strict=True):
            tensors[f"{node.name}.{slot}"] = np.asarray(value)
    return tensors


def neutral_to_keras(graph: Graph, model: Any, tensors: dict[str, np.ndarray]) -> None:
    """Set a built Keras model's weights from neutral tensors."""
    for node in weighted_nodes(graph):
        model.get_layer(node.name).set_weights([tensors[f"{node.name}.{slot}"] for slot in slots(node)])


def load_torch_state(model: Any, state: dict[str, Any]) -> None:
    """Load a numpy state into a PyTorch model, strictly (every parameter and buffer present)."""
    import torch

    current = model.state_dict()
    full = {k: torch.as_tensor(np.asarray(v)) for k, v in state.items()}
    for key, value in current.items():
        full.setdefault(key, value)  # num_batches_tracked is not a weight
    model.load_state_dict(full, strict=True)
