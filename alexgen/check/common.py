"""What both sides of the check share: rows, errors, rounding bounds, seeded weights and data."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from alexgen import weights as w
from alexgen.graph import Graph, Node

if TYPE_CHECKING:
    from numpy.typing import NDArray

    Array = NDArray[Any]

TOLERANCE = 1e-9  # float64 verdict: see docs/check.md, "Why 1e-9"
LAMBDA = 6.0  # probabilistic rounding-error bound: exceeded with probability below 2·exp(-λ²/2) ≈ 3e-8 per value
EPSILON = {"float32": 2.0**-23, "float64": 2.0**-52}


@dataclass
class Row:
    """One check: what, whether it passed, the measured errors and the bound they are judged against."""

    check: str
    passed: bool
    detail: str = ""
    max_abs: float | None = None
    max_rel: float | None = None
    bound: float | None = None


def errors(reference: Array, other: Array, scale: float | None = None, scratch: bool = False) -> tuple[float, float]:
    """Max absolute error and that error relative to `scale` (default: the reference's largest magnitude).

    `scratch`: `other` is a float64 array the caller no longer needs, used for the difference (no temporary).
    """
    import numpy as np

    if not reference.size:
        return 0.0, 0.0
    reuse = scratch and other.dtype == np.float64 and other.shape == np.broadcast_shapes(reference.shape, other.shape)
    difference = np.subtract(reference, other, out=other if reuse else None, dtype=np.float64)
    diff = float(np.abs(difference, out=difference).max())
    del difference
    scale = float(np.abs(reference).max()) if scale is None else scale
    return diff, diff / scale if scale else diff


def fan_in(node: Node[Any]) -> int:
    """Terms summed per output value: the layer's multiply-accumulates over its output size, at least 1."""
    return max(1, math.ceil(node.macs / max(1, node.size)))


def condition(activation: str | None, preactivation_max: float, output_max: float) -> float:
    """How much the final activation magnifies an error of its input, relative to the output's magnitude.

    softmax: dp_i = p_i (dz_i - sum_j p_j dz_j), so |dp| <= 2 max|dz| relative to max p; others are 1-Lipschitz.
    """
    if activation == "softmax":
        return max(1.0, 2.0 * preactivation_max)
    if activation in {"sigmoid", "tanh"} and output_max:
        return max(1.0, preactivation_max / output_max)
    return 1.0


def rounding_bound(node: Node[Any], dtype: str, kappa: float = 1.0) -> float:
    """λ·sqrt(n)·ε·κ + ε: two frameworks' rounding of an n-term sum, relative to the output's magnitude."""
    eps = EPSILON[dtype]
    return LAMBDA * math.sqrt(fan_in(node)) * eps * kappa + eps


def random_weights(graph: Graph, seed: int) -> dict[str, Array]:
    """Seeded weights that keep activations of order one (He-scaled kernels, positive variances)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    tensors = {}
    for key, shape in w.neutral_shapes(graph).items():
        slot = key.rsplit(".", 1)[1]
        if slot in {"gamma", "moving_variance"}:
            tensors[key] = rng.random(shape, dtype=np.float32) + np.float32(0.5)
            continue
        scale = math.sqrt(2.0 / math.prod(shape[:-1])) if slot == "kernel" else 0.1
        tensors[key] = rng.standard_normal(shape, dtype=np.float32) * np.float32(scale)  # float32: 60M draws fast
    return tensors


def inputs(graph: Graph, batch: int, seed: int) -> Array:
    """The seeded float64 input batch, channels-last."""
    import numpy as np

    return np.random.default_rng(seed + 1).normal(0.0, 1.0, (batch, *graph.input_shape))


def targets(graph: Graph, batch: int, seed: int) -> Array | None:
    """Seeded labels in the spec's loss format (sparse ints or one-hot rows); None without a class vector."""
    import numpy as np

    if len(graph.output.shape) != 1:
        return None
    classes = graph.output.shape[0]
    sparse = np.random.default_rng(seed + 3).integers(0, classes, batch).astype(np.int64)
    training = graph.spec.training
    if training is not None and training.loss.startswith("sparse"):
        return sparse
    return np.eye(classes, dtype=np.float64)[sparse]


def to_channels_last(value: Array) -> Array:
    """NCHW -> NHWC; other ranks unchanged."""
    return value.transpose(0, 2, 3, 1) if value.ndim == 4 else value


ACTIVATIONS: dict[str, Callable[[Any], Any]] = {
    "relu": lambda a: a.clamp_min(0),
    "sigmoid": lambda a: a.sigmoid(),
    "tanh": lambda a: a.tanh(),
    "softmax": lambda a: a.softmax(1),
    "linear": lambda a: a,
}


@contextlib.contextmanager
def floatx(dtype: str) -> Iterator[None]:
    """Keras's default float type and dtype policy set to `dtype` for the duration.

    The policy too: Keras caches the global policy from floatx when a first layer is built and then ignores floatx.
    And float64 promotion: off TensorFlow, Keras's type promotion maps float64 to float32 (to mimic JAX without x64),
    so `ops.tanh`, `ops.sqrt`, ... of a float64 tensor (a tanh Dense, a BatchNormalization) came back float32 and a
    float64 reference on JAX or torch differed by ~1e-7; the mapping is set to float64 for the duration.
    """
    import keras
    from keras.src.backend.common import dtypes

    previous, policy = keras.config.floatx(), keras.config.dtype_policy()
    promotion = dict(dtypes.BIT64_TO_BIT32_DTYPE)
    keras.config.set_floatx(dtype)
    keras.config.set_dtype_policy(dtype)
    if dtype == "float64":
        dtypes.BIT64_TO_BIT32_DTYPE["float64"] = "float64"
    try:
        yield
    finally:
        keras.config.set_floatx(previous)
        keras.config.set_dtype_policy(policy)
        dtypes.BIT64_TO_BIT32_DTYPE.clear()
        dtypes.BIT64_TO_BIT32_DTYPE.update(promotion)


def layer_rows_summary(label: str, rows: list[Row]) -> Row:
    """One row naming the first failing layer, or the worst one."""
    failing = next((r for r in rows if not r.passed), None)
    worst = max(rows, key=lambda r: (r.max_rel or 0.0) / (r.bound or 1.0)) if rows else None
    if worst is None:
        return Row(label, False, "no layer compared")
    if failing is not None:
        return Row(
            label,
            False,
            f"first divergence at {failing.check.split()[1]}",
            failing.max_abs,
            failing.max_rel,
            failing.bound,
        )
    return Row(
        label,
        True,
        f"{len(rows)} layers compared; worst {worst.max_rel or 0.0:.2e} at {worst.check.split()[1]}",
        worst.max_abs,
        worst.max_rel,
        worst.bound,
    )
