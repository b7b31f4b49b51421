"""The training-loop version of `alexgen check`: both generated loops, same data order, same start, float64.

`compare_loops` trains the spec for a few epochs in Keras and in PyTorch from one neutral weights file, with
dropout off and both loaders fed `epoch_order`'s batches, and reports how far the per-epoch losses and the final
weights are apart. `alexgen train SPEC --deterministic-compare` prints it.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alexgen import weights as w
from alexgen.data import Data
from alexgen.graph import Graph
from alexgen.train.common import Outcome, Plan, relative_error
from alexgen.train.settings import resolve_settings

LOSS_TOLERANCE, WEIGHT_TOLERANCE = 1e-4, 1e-6


@dataclass
class Comparison:
    """Per-epoch losses of both frameworks and the worst weight difference after the last epoch."""

    epochs: list[dict[str, float]] = field(default_factory=list)
    weights_rel: float = 0.0
    worst_tensor: str = ""

    @property
    def losses_rel(self) -> float:
        """The largest relative difference of any epoch's training or validation loss."""
        return max((max(e["loss_rel"], e["val_loss_rel"]) for e in self.epochs), default=0.0)

    @property
    def passed(self) -> bool:
        """Losses within 1e-4 and weights within 1e-6 (relative)."""
        return self.losses_rel <= LOSS_TOLERANCE and self.weights_rel <= WEIGHT_TOLERANCE


def initial_weights(graph: Graph, spec_path: str, seed: int, path: Path) -> None:
    """The PyTorch module's own seeded initialization, written as the neutral file both loops start from."""
    import torch

    from alexgen.frameworks import generated_module

    torch.manual_seed(seed)
    model = generated_module(graph, spec_path, "pytorch").build_model()
    tensors = w.torch_state_to_neutral(graph, model.state_dict(), w.torch_prefixes(model))
    w.write_neutral(path, tensors, graph)


def rel(a: float, b: float) -> float:
    """|a - b| relative to |a|."""
    return abs(a - b) / abs(a) if a else abs(a - b)


def compare_loops(graph: Graph, spec_path: str, data: Data, flags: dict[str, Any]) -> Comparison:
    """Train with both loops in float64 from the same weights and batches; compare losses and final weights."""
    from alexgen.train import loop_keras, loop_torch

    outcomes: dict[str, Outcome] = {}
    with tempfile.TemporaryDirectory(prefix="alexgen-compare-") as folder:
        start = Path(folder) / "initial.safetensors"
        initial_weights(graph, spec_path, int(flags.get("seed") or 0), start)
        for target, loop in (("keras", loop_keras.train), ("pytorch", loop_torch.train)):
            settings = resolve_settings(graph, {**flags, "target": target})
            plan = Plan(
                graph,
                spec_path,
                settings,
                data,
                dtype="float64",
                dropout=False,
                initial_weights=start,
                progress=False,
                echo=False,
            )
            outcomes[target] = loop(plan)
    keras, torch = outcomes["keras"], outcomes["pytorch"]
    result = Comparison()
    for a, b in zip(keras.history, torch.history, strict=True):
        result.epochs.append(
            {
                "epoch": a["epoch"],
                "keras_loss": a["loss"],
                "pytorch_loss": b["loss"],
                "loss_rel": rel(a["loss"], b["loss"]),
                "keras_val_loss": a["val_loss"],
                "pytorch_val_loss": b["val_loss"],
                "val_loss_rel": rel(a["val_loss"], b["val_loss"]),
            }
        )
    errors = {key: relative_error(keras.final_weights[key], torch.final_weights[key]) for key in keras.final_weights}
    result.worst_tensor = max(errors, key=lambda k: errors[k]) if errors else ""
    result.weights_rel = errors.get(result.worst_tensor, 0.0)
    return result


def print_comparison(graph: Graph, result: Comparison) -> None:
    """The comparison as a table on stdout."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"alexgen train {graph.name} --deterministic-compare (float64, same weights and batches)")
    for column in ("epoch", "keras loss", "pytorch loss", "rel err", "keras val_loss", "pytorch val_loss", "rel err"):
        table.add_column(column, justify="right")
    for e in result.epochs:
        table.add_row(
            str(e["epoch"]),
            f"{e['keras_loss']:.10g}",
            f"{e['pytorch_loss']:.10g}",
            f"{e['loss_rel']:.2e}",
            f"{e['keras_val_loss']:.10g}",
            f"{e['pytorch_val_loss']:.10g}",
            f"{e['val_loss_rel']:.2e}",
        )
    console = Console(width=None if Console().is_terminal else 130)
    console.print(table)
    verdict = "[green]pass[/]" if result.passed else "[red]FAIL[/]"
    console.print(
        f"losses: worst relative error {result.losses_rel:.2e} (tolerance {LOSS_TOLERANCE:g}); final "
        f"weights: worst {result.weights_rel:.2e} at {result.worst_tensor} (tolerance {WEIGHT_TOLERANCE:g})"
        f" -> {verdict}"
    )
