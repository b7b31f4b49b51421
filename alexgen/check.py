"""Prove that the Keras and PyTorch renderings of a spec are the same network and the same training step."""

from __future__ import annotations

import contextlib
import dataclasses
import math
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from alexgen import weights as w
from alexgen.graph import Graph, Node
from alexgen.spec import Adam, RMSprop
from alexgen.weights import read_neutral, write_neutral

ACTIVATIONS: dict[str, Callable[[Any], Any]] = {
    "relu": lambda a: np.maximum(a, 0),
    "sigmoid": lambda a: 1 / (1 + np.exp(-a)),
    "tanh": np.tanh,
    "softmax": lambda a: np.exp(a - a.max(1, keepdims=True)) / np.exp(a - a.max(1, keepdims=True)).sum(1,
                                                                                                           keepdims=True),
    "linear": lambda a: a,
}


@dataclass
class Row:
    """One check: what, whether it passed, and the measured errors."""

    check: str
    passed: bool
    detail: str = ""
    max_abs: float | None = None
    max_rel: float | None = None


def errors(reference: np.ndarray, other: np.ndarray) -> tuple[float, float]:
    """Max absolute error and max error relative to the reference's largest magnitude."""
    diff = float(np.abs(reference.astype(np.float64) - other.astype(np.float64)).max()) if reference.size else 0.0
    scale = float(np.abs(reference).max()) if reference.size else 0.0
    return diff, diff / scale if scale else diff


def random_weights(graph: Graph, seed: int) -> dict[str, np.ndarray]:
    """Seeded weights that keep activations of order one (He-scaled kernels, positive variances)."""
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


@contextlib.contextmanager
def floatx(dtype: str) -> Iterator[None]:
    """Keras's default float type and dtype policy set to `dtype` for the duration.

    The policy too: Keras caches the global policy from floatx when a first layer is built and then ignores floatx.
    """
    import keras

    previous, policy = keras.config.floatx(), keras.config.dtype_policy()
    keras.config.set_floatx(dtype)
    keras.config.set_dtype_policy(dtype)
    try:
        yield
    finally:
        keras.config.set_floatx(previous)
        keras.config.set_dtype_policy(policy)


class Pair:
    """The two generated modules of one graph, with models built from them."""

    def __init__(self, graph: Graph, spec_path: str, dtype: str = "float32") -> None:
        from alexgen.frameworks import generated_modules

        self.graph, self.dtype = graph, dtype
        self.keras_module, self.torch_module = generated_modules(graph, spec_path)
        with floatx(dtype):
            self.keras = self.keras_module.build_model()
        self.torch = self.torch_module.build_model().to(dtype=getattr(__import__("torch"), dtype))
        self.prefixes = w.torch_prefixes(self.torch)

    def load(self, tensors: dict[str, np.ndarray]) -> None:
        """Give both models the same neutral weights (PyTorch's through a neutral safetensors file)."""
        w.neutral_to_keras(self.graph, self.keras, tensors)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "weights.safetensors"
            write_neutral(path, tensors, self.graph)
            moved = read_neutral(path, self.graph)
        w.load_torch_state(self.torch, w.neutral_to_torch_state(self.graph, moved, self.prefixes))

    def keras_outputs(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Every layer's output in Keras, inference mode."""
        import keras

        nodes = self.graph.nodes
        probe = keras.Model(self.keras.inputs, [self.keras.get_layer(n.name).output for n in nodes])
        outputs = probe([x], training=False)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]  # one layer: a bare tensor
        return {n.name: np.asarray(o) for n, o in zip(nodes, outputs, strict=True)}

    def torch_outputs(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Every layer's output in PyTorch that a module produces, in channels-last layout, eval mode."""
        import torch

        captured: dict[str, np.ndarray] = {}
        handles = []
        modules = dict(self.torch.named_modules())
        for node in self.graph.nodes:
            path, activation = self._probe_point(node, modules)
            if path is None:
                continue

            def hook(_m: Any, _i: Any, out: Any, name: str = node.name, act: str | None = activation) -> None:
                value = out.detach().cpu().numpy().copy()
                captured[name] = ACTIVATIONS[act](value) if act else value
            handles.append(modules[path].register_forward_hook(hook))
        self.torch.eval()
        with torch.no_grad():
            final = self.torch(torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))).numpy()
        for handle in handles:
            handle.remove()
        captured[self.graph.output.name] = final
        return {name: to_channels_last(value) for name, value in captured.items()}

    def _probe_point(self, node: Node[Any], modules: dict[str, Any]) -> tuple[str | None, str | None]:
        """The module whose output is the layer's output, and an activation still to apply to it.

        A chain gives a layer its emitted modules in order (e.g. `gap`, `gap_flatten`; `conv`, `conv_relu`): the
        last one present is the output. A graph forward applies a fused activation as a call, done here in numpy.
        """
        from alexgen.targets.pytorch import node_modules

        path = self.prefixes.get(node.name)
        if path is None:
            return None, None
        parent = path[: -len(node.name)]
        names = [m.name for m in node_modules(self.graph, node)]
        present = [name for name in names if f"{parent}{name}" in modules]
        last = present[-1] if present else node.name
        activation = node.op.activation(node.layer) if node.op.fused_activation else None
        pending = activation if last == node.name and activation not in (None, "linear") else None
        return f"{parent}{last}", pending


def to_channels_last(value: np.ndarray) -> np.ndarray:
    """NCHW -> NHWC; other ranks unchanged."""
    return value.transpose(0, 2, 3, 1) if value.ndim == 4 else value


def compare_layers(graph: Graph, keras_out: dict[str, np.ndarray], torch_out: dict[str, np.ndarray],
                   tolerance: float) -> list[Row]:
    """One row per layer that both frameworks expose; 1-D outputs are compared in PyTorch's order."""
    orders = w.flat_orders(graph)
    rows = []
    for node in graph.nodes:
        if node.name not in torch_out:
            continue
        reference = keras_out[node.name]
        if reference.ndim == 2 and node.name in orders:
            reference = reference[:, orders[node.name]]
        got = torch_out[node.name]
        if got.shape != reference.shape:
            rows.append(Row(f"forward {node.name}", False, f"shape {got.shape} != {reference.shape}"))
            continue
        abs_err, rel_err = errors(reference, got)
        rows.append(Row(f"forward {node.name}", rel_err <= tolerance, "", abs_err, rel_err))
    return rows


def check_counts(pair: Pair) -> list[Row]:
    """Per-layer parameter counts and output shapes: Keras = PyTorch = analyzer."""
    graph, problems = pair.graph, []
    torch_counts = torch_parameter_counts(pair)
    for node in graph.nodes:
        layer = pair.keras.get_layer(node.name)
        keras_shape = tuple(layer.output.shape[1:])
        if layer.count_params() != node.params or keras_shape != node.shape:
            problems.append(f"{node.name}: keras {layer.count_params()} {keras_shape} vs analyzer {node.params} "
                            f"{node.shape}")
        if torch_counts.get(node.name, 0) != node.params:
            problems.append(f"{node.name}: pytorch {torch_counts.get(node.name, 0)} vs analyzer {node.params}")
    total = sum(torch_counts.values())
    detail = "; ".join(problems[:3]) or f"{graph.total_params:,} parameters in all three, per layer"
    return [Row("parameter counts and shapes", not problems and total == graph.total_params, detail)]


def torch_parameter_counts(pair: Pair) -> dict[str, int]:
    """Parameters plus batch-norm running statistics per layer of the PyTorch model."""
    counts: dict[str, int] = {}
    owners = {path: name for name, path in pair.prefixes.items()}
    for key, value in pair.torch.state_dict().items():
        if key.endswith("num_batches_tracked"):
            continue
        owner = owners.get(key.rsplit(".", 1)[0])
        if owner is not None:
            counts[owner] = counts.get(owner, 0) + value.numel()
    return counts


def check_forward(pair: Pair, batch: int, seed: int, tolerance: float) -> list[Row]:
    """Same weights and input, eval mode: every layer's output and the final output agree."""
    pair.load(random_weights(pair.graph, seed))
    x = np.random.default_rng(seed + 1).normal(0.0, 1.0, (batch, *pair.graph.input_shape)).astype(np.float32)
    rows = compare_layers(pair.graph, pair.keras_outputs(x), pair.torch_outputs(x), tolerance)
    failing = next((r for r in rows if not r.passed), None)
    # the summary's columns and its detail quote the same row: the layer with the largest relative error
    worst = max(rows, key=lambda r: r.max_rel or 0.0) if rows else Row("forward", False, "no output compared")
    detail = f"first divergence at {failing.check.split()[-1]}" if failing else (
        f"{len(rows)} layer outputs compared; worst relative error {worst.max_rel or 0.0:.2e} at "
        f"{worst.check.split()[-1]}")
    return [Row("forward (eval)", failing is None and bool(rows), detail, worst.max_abs, worst.max_rel), *rows]


def check_round_trip(pair: Pair, seed: int) -> Row:
    """Keras -> neutral -> PyTorch -> neutral -> Keras gives bit-identical tensors."""
    graph = pair.graph
    start = random_weights(graph, seed + 2)
    pair.load(start)
    back = w.torch_state_to_neutral(graph, pair.torch.state_dict(), pair.prefixes)
    w.neutral_to_keras(graph, pair.keras, back)
    final = w.keras_to_neutral(graph, pair.keras)
    same = all(np.array_equal(start[k], final[k]) for k in start) and set(start) == set(final)
    return Row("weights round trip", same, f"{len(start)} tensors bit-identical" if same else "tensors changed")


def labels(graph: Graph, batch: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded class labels as (sparse ints, one-hot rows) for the network's output classes."""
    classes = graph.output.shape[0]
    sparse = np.random.default_rng(seed + 3).integers(0, classes, batch)
    return sparse.astype(np.int64), np.eye(classes, dtype=np.float32)[sparse]


def silence_dropout(pair: Pair) -> None:
    """Dropout rate 0 in both models, so one training step is deterministic."""
    import keras
    from torch import nn

    for layer in pair.keras.layers:
        if isinstance(layer, keras.layers.Dropout):
            layer.rate = 0.0
    for module in pair.torch.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0


def keras_step(pair: Pair, x: np.ndarray, y: np.ndarray) -> float:
    """One compiled training step in Keras; returns the loss including regularization."""
    model = pair.keras_module.compile_model(pair.keras)
    model.compile(optimizer=model.optimizer, loss=model.loss, metrics=[])  # TopK refuses float64 predictions
    logs = pair.keras.train_on_batch(x, y, return_dict=True)
    return float(logs["loss"])


def torch_step(pair: Pair, x: np.ndarray, y: np.ndarray) -> float:
    """One training step in PyTorch with the generated optimizer, loss and regularization."""
    import torch

    module, model = pair.torch_module, pair.torch
    model.train()
    optimizer = module.make_optimizer(model)
    optimizer.zero_grad()
    targets = torch.from_numpy(y if y.dtype == np.int64 else y.astype(pair.dtype))
    outputs = model(torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))))
    loss = module.loss_fn(outputs, targets) + module.regularization_loss(model)
    loss.backward()
    optimizer.step()
    return float(loss.detach())


def check_training_step(pair: Pair, batch: int, seed: int, tolerance: float) -> list[Row]:
    """One optimizer step from the same weights and batch: losses, updated weights and BN statistics agree.

    Run in float64: in float32, gradients that are rounding noise (ReLU kinks, a bias before batch norm) become
    full-size Adam steps of either sign, which would hide what is compared here: loss, regularization and rule.
    """
    graph = pair.graph
    if len(graph.output.shape) != 1:
        return [Row("training step", True, "skipped: the output is not a class vector")]
    with floatx(pair.dtype):  # Keras mixes dtypes in its loss sum unless floatx matches throughout
        return _training_rows(pair, batch, seed, tolerance)


def _training_rows(pair: Pair, batch: int, seed: int, tolerance: float) -> list[Row]:
    graph = pair.graph
    pair.load(random_weights(graph, seed + 4))
    silence_dropout(pair)
    x = np.random.default_rng(seed + 5).normal(0.0, 1.0, (batch, *graph.input_shape)).astype(pair.dtype)
    sparse, onehot = labels(graph, batch, seed)
    training = graph.spec.training
    y = sparse if training is not None and training.loss.startswith("sparse") else onehot
    keras_loss, torch_loss = keras_step(pair, x, y), torch_step(pair, x, y)
    after_keras = w.keras_to_neutral(graph, pair.keras)
    after_torch = w.torch_state_to_neutral(graph, pair.torch.state_dict(), pair.prefixes)
    skipped = noise_gradients(pair) if (training and isinstance(training.optimizer, NORMALIZING)) else []
    loss_abs, loss_rel = errors(np.array([keras_loss]), np.array([torch_loss]))
    optimizer = f"{training.optimizer.type if training else 'sgd'}, {pair.dtype}"
    rows = [Row(f"training loss ({optimizer})", loss_rel <= tolerance, f"keras {keras_loss:.6g}, pytorch "
                f"{torch_loss:.6g}", loss_abs, loss_rel)]
    for label, moving in (("updated parameters", False), ("batch-norm moving statistics", True)):
        keys = [k for k in after_keras if k.split(".")[-1].startswith("moving_") == moving and k not in skipped]
        if not keys:
            continue
        worst = max(((k, *errors(after_keras[k], after_torch[k])) for k in keys), key=lambda r: r[2])
        note = f"; not compared (gradient is rounding noise): {', '.join(skipped)}" if skipped and not moving else ""
        rows.append(Row(f"{label} ({optimizer})", worst[2] <= tolerance, f"worst: {worst[0]}{note}", worst[1],
                        worst[2]))
    return rows


NORMALIZING = (Adam, RMSprop)
NOISE_GRADIENT = 1e-6


def noise_gradients(pair: Pair) -> list[str]:
    """Tensors whose gradient is rounding noise (e.g. a bias right before batch norm).

    Adam and RMSprop divide a gradient by its own magnitude, so noise there becomes a full-size step whose sign
    differs between frameworks; those tensors say nothing about equivalence.
    """
    names = []
    owners = {path: name for name, path in pair.prefixes.items()}
    for key, parameter in pair.torch.named_parameters():
        path, slot = key.rsplit(".", 1)
        if parameter.grad is not None and float(parameter.grad.abs().max()) < NOISE_GRADIENT and path in owners:
            node = pair.graph.node(owners[path])
            neutral = next(s.name for s in node.slots if s.torch == slot)
            names.append(f"{node.name}.{neutral}")
    return names


def run_check(graph: Graph, spec_path: str, tolerance: float = 1e-5, batch: int = 2, seed: int = 0) -> list[Row]:
    """Every check of `alexgen check`, in order."""
    # The float64 training step first, then float32: `floatx` resets Keras's global dtype policy either way.
    training = check_training_step(Pair(graph, spec_path, "float64"), batch, seed, tolerance)
    pair = Pair(graph, spec_path)
    rows = check_counts(pair)
    rows += check_forward(pair, batch, seed, tolerance)
    rows.append(check_round_trip(pair, seed))
    return rows + training


def _sci(value: float | None) -> str:
    return "" if value is None else f"{value:.2e}"


def rows_json(graph: Graph, rows: list[Row], tolerance: float) -> str:
    """The report as JSON."""
    import json

    return json.dumps({"spec": graph.name, "tolerance": tolerance, "passed": all(r.passed for r in rows),
                       "checks": [dataclasses.asdict(r) for r in rows]}, indent=2)


def print_rows(graph: Graph, rows: list[Row], tolerance: float) -> None:
    """The report as a rich table."""
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if Console().is_terminal else 110)
    table = Table(title=f"alexgen check {graph.name} (tolerance {tolerance:g})")
    for column in ("check", "result", "max abs err", "max rel err", "detail"):
        table.add_column(column, no_wrap=column != "detail")
    for row in rows:
        table.add_row(row.check, "[green]pass[/]" if row.passed else "[red]FAIL[/]", _sci(row.max_abs),
                      _sci(row.max_rel), row.detail)
    console.print(table)
    failed = sum(not r.passed for r in rows)
    console.print(f"{len(rows) - failed} passed, {failed} failed")
