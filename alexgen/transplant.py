"""`alexgen convert-weights --from-spec A`: move spec A's trained tensors into spec B (fine-tuning).

Every tensor that carries over unchanged (alexgen.diff.carried_over: same layer name and type, same shape, same
meaning of its input rows) is copied; every other tensor of B starts as B's spec says, drawn in numpy with a seed
with Keras's semantics (fans of the neutral shape, glorot/he truncated normals cut at two standard deviations).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from alexgen.diff import NEW, REMOVED, UNCHANGED, weight_fates
from alexgen.netview import from_graph, shape_text

if TYPE_CHECKING:
    from alexgen.analysis import Shape, Slot
    from alexgen.graph import Graph, Node
    from alexgen.weights import Array

TRUNCATION = 0.87962566103423978  # stddev of a unit normal cut at two stddev: Keras divides by it
DEFAULTS = {"bias": "zeros", "beta": "zeros", "moving_mean": "zeros", "gamma": "ones", "moving_variance": "ones"}
CARRIED, INITIALIZED, DROPPED = "carried", "initialized", "dropped"


@dataclass(frozen=True)
class Moved:
    """What happened to one tensor: carried from A, initialized as B says, or dropped (only in A)."""

    key: str
    action: str
    shape: Shape
    detail: str

    def __str__(self) -> str:
        return f"{self.action:<11} {self.key} ({shape_text(self.shape)}){': ' + self.detail if self.detail else ''}"


def fans(shape: Shape) -> tuple[int, int]:
    """Keras's (fan_in, fan_out): vectors their size, kernels receptive field x input / output channels."""
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2])
    return receptive * shape[-2], receptive * shape[-1]


def truncated(rng: Any, shape: Shape, mean: float, stddev: float) -> Array:
    """N(mean, stddev) samples, each beyond two stddev redrawn (Keras's TruncatedNormal)."""
    values = rng.standard_normal(shape)
    outside = abs(values) > 2
    while outside.any():
        values[outside] = rng.standard_normal(int(outside.sum()))
        outside = abs(values) > 2
    return mean + stddev * values  # type: ignore[no-any-return]


def initial(value: Any, shape: Shape, rng: Any) -> Array:
    """One tensor drawn as a spec initializer says (a name, or random_normal / truncated_normal /
    random_uniform / constant with their values)."""
    import numpy as np

    if value in ("zeros", "ones"):
        return np.zeros(shape) if value == "zeros" else np.ones(shape)
    if isinstance(value, str):  # glorot_* / he_*: variance scaling over Keras's fans
        fan_in, fan_out = fans(shape)
        scale = 2 / (fan_in + fan_out) if value.startswith("glorot") else 2 / fan_in
        if value.endswith("uniform"):
            limit = math.sqrt(3 * scale)
            return rng.uniform(-limit, limit, shape)  # type: ignore[no-any-return]
        return truncated(rng, shape, 0.0, math.sqrt(scale) / TRUNCATION)
    kind = value.type
    if kind == "random_normal":
        return rng.normal(value.mean, value.stddev, shape)  # type: ignore[no-any-return]
    if kind == "truncated_normal":
        return truncated(rng, shape, value.mean, value.stddev)
    if kind == "random_uniform":
        return rng.uniform(value.minval, value.maxval, shape)  # type: ignore[no-any-return]
    return np.full(shape, float(value.value))


def initializer_of(node: Node[Any], slot: Slot) -> Any:
    """The spec's initializer of a tensor: the layer's `<slot>_initializer`, else the usual default."""
    value = getattr(node.layer, f"{slot.name}_initializer", None)
    return value if value is not None else DEFAULTS.get(slot.name, "glorot_uniform")


def describe(value: Any) -> str:
    """An initializer as text: `glorot_uniform`, `random_normal(mean=0.0, stddev=0.01)`."""
    if isinstance(value, str):
        return value
    values = ", ".join(f"{k}={v}" for k, v in value.model_dump(exclude={"type"}).items())
    return f"{value.type}({values})"


def transplant(a: Graph, b: Graph, tensors: dict[str, Array], seed: int = 0) -> tuple[dict[str, Array], list[Moved]]:
    """B's tensors: those that carry over from A copied, the rest initialized as B says (seeded, in B's order)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    fates = {fate.key: fate for fate in weight_fates(from_graph(a), from_graph(b))}
    result: dict[str, Array] = {}
    moved: list[Moved] = []
    for node in b.weighted:
        for slot in node.slots:
            key = f"{node.name}.{slot.name}"
            fate = fates[key]
            if fate.status == UNCHANGED:
                result[key] = tensors[key]
                moved.append(Moved(key, CARRIED, slot.shape, ""))
                continue
            value = initializer_of(node, slot)
            result[key] = initial(value, slot.shape, rng).astype(np.float32)
            why = "only in B" if fate.status == NEW else fate.reason.removesuffix(": initialised as B says")
            moved.append(Moved(key, INITIALIZED, slot.shape, f"{describe(value)} ({why})"))
    moved += [Moved(f.key, DROPPED, f.a_shape or (), "only in A") for f in fates.values() if f.status == REMOVED]
    return result, moved
