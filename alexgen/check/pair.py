"""Both generated models of one graph in this process, for tests and notebooks that probe one convention at a time."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alexgen import weights as w
from alexgen.check.common import Row, errors, floatx, to_channels_last
from alexgen.graph import Graph, Node

if TYPE_CHECKING:
    from alexgen.check.common import Array


def _softmax(a: Any) -> Any:
    """Row-wise softmax, shifted for stability."""
    import numpy as np

    e = np.exp(a - a.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def _sigmoid(a: Any) -> Any:
    import numpy as np

    return 1 / (1 + np.exp(-a))


def _tanh(a: Any) -> Any:
    import numpy as np

    return np.tanh(a)


NUMPY_ACTIVATIONS: dict[str, Callable[[Any], Any]] = {
    "relu": lambda a: a.clip(0, None),
    "sigmoid": _sigmoid,
    "tanh": _tanh,
    "softmax": _softmax,
    "linear": lambda a: a,
}


class Pair:
    """The two generated modules of one graph, with models built from them."""

    def __init__(self, graph: Graph, spec_path: str, dtype: str = "float32") -> None:
        import torch

        from alexgen.frameworks import generated_modules

        self.graph, self.dtype = graph, dtype
        self.keras_module, self.torch_module = generated_modules(graph, spec_path)
        with floatx(dtype):
            self.keras = self.keras_module.build_model()
        self.torch = self.torch_module.build_model().to(dtype=getattr(torch, dtype))
        self.prefixes = w.torch_prefixes(self.torch)

    def load(self, tensors: dict[str, Array]) -> None:
        """Give both models the same neutral weights (PyTorch's through a neutral safetensors file)."""
        w.neutral_to_keras(self.graph, self.keras, tensors)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "weights.safetensors"
            w.write_neutral(path, tensors, self.graph)
            moved = w.read_neutral(path, self.graph)
        w.load_torch_state(self.torch, w.neutral_to_torch_state(self.graph, moved, self.prefixes))

    def keras_outputs(self, x: Array) -> dict[str, Array]:
        """Every layer's output in Keras, inference mode."""
        import keras
        import numpy as np

        nodes = self.graph.nodes
        probe = keras.Model(self.keras.inputs, [self.keras.get_layer(n.name).output for n in nodes])
        outputs = probe([x], training=False)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]  # one layer: a bare tensor
        return {n.name: np.asarray(o) for n, o in zip(nodes, outputs, strict=True)}

    def torch_outputs(self, x: Array) -> dict[str, Array]:
        """Every layer's output in PyTorch that a module produces, in channels-last layout, eval mode."""
        import numpy as np
        import torch

        captured: dict[str, Array] = {}
        handles = []
        modules = dict(self.torch.named_modules())
        for node in self.graph.nodes:
            path, activation = self._probe_point(node, modules)
            if path is None:
                continue

            def hook(_m: Any, _i: Any, out: Any, name: str = node.name, act: str | None = activation) -> None:
                value = out.detach().cpu().numpy().copy()
                captured[name] = NUMPY_ACTIVATIONS[act](value) if act else value

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

        A chain gives a layer its emitted modules in order (e.g. `conv`, `conv_relu`): the last one present is the
        output. A graph forward applies a fused activation as a call, done here in numpy.
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


def compare_layers(
    graph: Graph, keras_out: dict[str, Array], torch_out: dict[str, Array], tolerance: float
) -> list[Row]:
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
