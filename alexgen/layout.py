"""Pure-Python facts about the neutral weights layout (no numpy: rendering needs them too)."""

from __future__ import annotations

from alexgen.graph import Graph, Node

FORMAT_VERSION = "1"
KERAS_SLOTS = {"conv2d": ("kernel", "bias"), "dense": ("kernel", "bias"),
               "batch_norm": ("gamma", "beta", "moving_mean", "moving_variance")}
TORCH_NAMES = {"kernel": "weight", "bias": "bias", "gamma": "weight", "beta": "bias", "moving_mean": "running_mean",
               "moving_variance": "running_var"}


def weighted_nodes(graph: Graph) -> list[Node]:
    """Layers that own tensors, in order."""
    return [n for n in graph.nodes if n.type in KERAS_SLOTS]


def slots(node: Node) -> list[str]:
    """The tensor names of a layer (no bias when use_bias is false)."""
    names = KERAS_SLOTS[node.type]
    if node.type != "batch_norm" and not node.layer.use_bias:  # type: ignore[attr-defined]
        names = names[:1]
    return list(names)


def neutral_shapes(graph: Graph) -> dict[str, tuple[int, ...]]:
    """The neutral shape of every tensor."""
    shapes = {}
    for node in weighted_nodes(graph):
        channels_in = node.input_shapes[0][-1]
        if node.type == "conv2d":
            kernel = (*node.window.kernel, channels_in // node.layer.groups, node.shape[-1])  # type: ignore[union-attr,attr-defined]
        elif node.type == "dense":
            kernel = (channels_in, node.shape[0])
        else:
            kernel = (node.shape[-1],)
        for slot in slots(node):
            shapes[f"{node.name}.{slot}"] = kernel if slot == "kernel" else (node.shape[-1],)
    return shapes


def flat_segments(graph: Graph) -> dict[str, list[tuple[int, ...]]]:
    """For each 1-D output, the blocks it was flattened from, in order: (h, w, c) maps or (n,) vectors."""
    segments: dict[str, list[tuple[int, ...]]] = {}
    shapes = {"input": graph.input_shape, **{n.name: n.shape for n in graph.nodes}}
    for node in graph.nodes:
        if len(node.shape) != 1:
            continue
        source = shapes[node.inputs[0]]
        if node.type == "flatten" and len(source) == 3:
            segments[node.name] = [source]
        elif node.type == "concatenate":
            segments[node.name] = [s for ref in node.inputs for s in segments[ref]]
        elif node.type in {"dropout", "activation", "batch_norm", "flatten"} and node.inputs[0] in segments:
            segments[node.name] = segments[node.inputs[0]]
        else:
            segments[node.name] = [node.shape]
    return segments


def permuted_inputs(graph: Graph) -> dict[str, list[tuple[int, ...]]]:
    """Layers with tensors whose 1-D input is not in the same order in both frameworks, with its segments."""
    segments = flat_segments(graph)
    return {n.name: segments[n.inputs[0]] for n in weighted_nodes(graph)
            if n.inputs[0] in segments and any(len(s) == 3 for s in segments[n.inputs[0]])}
