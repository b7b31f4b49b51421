"""Both generated models of one graph in this process, for tests and notebooks that probe one convention at a time."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from alexgen import weights as w
from alexgen.check.common import Row, errors, floatx
from alexgen.graph import Graph

if TYPE_CHECKING:
    from alexgen.check.common import Array


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
        from alexgen.check.keras_side import layer_outputs

        return layer_outputs(self.graph, self.keras, x)

    def torch_outputs(self, x: Array) -> dict[str, Array]:
        """Every layer's output in PyTorch that a module produces, in channels-last layout, eval mode."""
        from alexgen.check.torch_side import layer_outputs

        return layer_outputs(self.graph, self.torch, x)


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
