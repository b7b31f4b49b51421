"""Where the training time goes: TensorFlow's op profile of the generated Keras model's `train_on_batch` beside
torch.profiler's of the generated PyTorch training step, at batch 32 (AlexNet), grouped into the same families.

Run: python -m benchmarks.training_profile [--quick | --tiny]
"""

from __future__ import annotations

import glob
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from benchmarks.common import Metrics, parser, repetitions, script_main, table
from benchmarks.models import Net, network
from benchmarks.training import keras_generated_model, torch_batch, torch_generated_step

# (family, test on a lower-case op name), first match wins; the names are TensorFlow op types and aten operators
FAMILIES: tuple[tuple[str, Callable[[str], bool]], ...] = (
    ("convolution, backward", lambda op: "conv" in op and ("backprop" in op or "backward" in op)),
    ("convolution, forward", lambda op: "conv" in op),
    ("dense (matmul), forward and backward", lambda op: "matmul" in op or op.endswith(("::mm", "::addmm"))),
    ("max pooling, forward and backward", lambda op: "maxpool" in op or "max_pool" in op),
    ("bias, ReLU and their gradients", lambda op: any(k in op for k in ("bias", "relu", "clamp", "threshold"))),
    # TensorFlow's update runs under the optimizer's name scope; PyTorch's as in-place tensor operators
    ("optimizer update", lambda op: "adam" in op or op.endswith(("::addcdiv_", "::lerp_", "::sqrt", "::div", "::mul_",
                                                                  "::add_", "::sqrt_", "::div_")) or "_foreach" in op),
)
OTHER = "everything else"


def family(op: str) -> str:
    """The family an op belongs to, from its full name (a TensorFlow op's name scope counts)."""
    name = op.lower()
    return next((label for label, test in FAMILIES if test(name)), OTHER)


def op_type(name: str) -> str:
    """A TensorFlow op's type from its "scope/name:OpType"; an aten operator's name as it is."""
    return name if "::" in name else name.rsplit(":", 1)[-1]


def self_times(events: Iterable[tuple[int, int, str]]) -> dict[str, float]:
    """Self time (ps) per name on one timeline line, from (start, duration, name) events that nest."""
    totals: dict[str, float] = defaultdict(float)
    stack: list[list[Any]] = []  # [end, name, self time so far]
    for start, duration, name in sorted(events, key=lambda e: (e[0], -e[1])):
        while stack and stack[-1][0] <= start:
            end, done, own = stack.pop()
            totals[done] += own
        if stack:
            stack[-1][2] -= duration
        stack.append([start + duration, name, float(duration)])
    for _, name, own in stack:
        totals[name] += own
    return totals


def tensorflow_ops(log_dir: str) -> dict[str, float]:
    """Self ms per TensorFlow op ("scope/name:OpType"), summed over every thread in a profiler log."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    ops: dict[str, float] = defaultdict(float)
    for path in glob.glob(f"{log_dir}/**/*.xplane.pb", recursive=True):
        space = xplane_pb2.XSpace()
        with open(path, "rb") as handle:
            space.ParseFromString(handle.read())
        for plane in space.planes:
            names = {key: meta.name for key, meta in plane.event_metadata.items()}
            for line in plane.lines:
                events = ((e.offset_ps, e.duration_ps, names.get(e.metadata_id, "")) for e in line.events)
                for name, ps in self_times(events).items():
                    if ":" in name and "::" not in name:  # "scope/op_name:OpType"; the rest is bookkeeping
                        ops[name] += ps / 1e9
    return ops


def keras_ops(net: Net, batch: int, warmup: int, repeat: int) -> dict[str, float]:
    """Self ms per op over `repeat` train_on_batch calls of the generated Keras model."""
    import tensorflow as tf

    model, x, y = keras_generated_model(net, batch)
    for _ in range(max(warmup, 1)):  # the first call traces the step function
        model.train_on_batch(x, y)
    with tempfile.TemporaryDirectory(prefix="alexgen-tf-profile-") as log_dir:
        tf.profiler.experimental.start(log_dir)
        for _ in range(repeat):
            model.train_on_batch(x, y)
        tf.profiler.experimental.stop()
        return tensorflow_ops(log_dir)


def pytorch_ops(net: Net, batch: int, warmup: int, repeat: int) -> dict[str, float]:
    """Self ms per aten operator over `repeat` steps of the generated PyTorch model, optimizer and loss."""
    from torch.profiler import ProfilerActivity, profile

    step = torch_generated_step(net, *torch_batch(net, batch))
    for _ in range(warmup):
        step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(repeat):
            step()
    return {e.key: e.self_cpu_time_total / 1e3 for e in prof.key_averages() if e.key.startswith("aten::")}


def by_family(ops: dict[str, float], repeat: int) -> dict[str, float]:
    """ms per batch in each family."""
    totals: dict[str, float] = defaultdict(float)
    for op, total in ops.items():
        totals[family(op)] += total / repeat
    return totals


def top_rows(ops: dict[str, float], repeat: int, count: int = 8) -> list[tuple[str, str, str]]:
    """The `count` slowest op types: name, ms per batch, share."""
    types: dict[str, float] = defaultdict(float)
    for op, ms in ops.items():
        types[op_type(op)] += ms
    total = sum(types.values())
    ranked = sorted(types.items(), key=lambda item: item[1], reverse=True)[:count]
    return [(f"`{op}`", f"{ms / repeat:,.1f}", f"{ms / total:.0%}") for op, ms in ranked]


def run(argv: list[str] | None = None) -> tuple[str, Metrics]:
    """The family table for both frameworks, then each framework's slowest ops."""
    args = parser(__doc__.splitlines()[0]).parse_args(argv)
    net = network(args.tiny)
    batch = 2 if args.tiny else 32
    warmup, repeat = repetitions(args, full=(2, 3), quick=(1, 2))
    profiles = {"Keras (TensorFlow)": keras_ops(net, batch, warmup, repeat),
                "PyTorch": pytorch_ops(net, batch, warmup, repeat)}
    families = {name: by_family(ops, repeat) for name, ops in profiles.items()}
    keras_ms, torch_ms = families.values()
    labels = [label for label, _ in FAMILIES] + [OTHER]
    rows = [(label, f"{keras_ms[label]:,.1f}", f"{torch_ms[label]:,.1f}",
             f"{keras_ms[label] / torch_ms[label]:.2f}" if torch_ms[label] else "") for label in labels]
    rows.append(("**total op self time**", f"{sum(keras_ms.values()):,.1f}", f"{sum(torch_ms.values()):,.1f}",
                 f"{sum(keras_ms.values()) / sum(torch_ms.values()):.2f}"))
    parts = [f"### Profile: training step by op family ({net.graph.name}, batch {batch}, generated models)\n\n"
             + table(["family", "Keras ms / batch", "PyTorch ms / batch", "Keras / PyTorch"], rows,
                     right=(1, 2, 3))]
    for name, ops in profiles.items():
        parts.append(f"{name}, slowest ops:\n\n"
                     + table(["op", "self ms / batch", "share"], top_rows(ops, repeat), right=(1, 2)))
    metrics = {"keras_train_profiled_ms": sum(keras_ms.values()), "torch_train_profiled_ms": sum(torch_ms.values())}
    note = ("Op self times are summed over threads (both frameworks run ops on two threads at once), so a total "
            "can exceed the step's wall time; compare the families across frameworks.")
    return "\n\n".join([parts[0], note, *parts[1:]]), metrics


def main() -> None:
    """Print the report."""
    script_main(run)


if __name__ == "__main__":
    main()
