"""`alexgen check`: every row, in order, with the Keras reference in this process or in a worker process."""

from __future__ import annotations

import gc
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from alexgen.check import keras_side
from alexgen.check.common import TOLERANCE, Row, inputs, random_weights, targets
from alexgen.check.forward import count_rows, forward_rows
from alexgen.check.torch_side import TorchSide, torch_module
from alexgen.check.training import no_training, training_rows
from alexgen.graph import Graph

if TYPE_CHECKING:
    from alexgen.check.common import Array


@dataclass
class Options:
    """What `alexgen check` was asked to do."""

    tolerance: float = TOLERANCE
    batch: int = 2
    seed: int = 0
    steps: int = 3
    keras_backend: str | None = None  # None: Keras in this process, on its current backend
    sets: tuple[str, ...] = ()
    versions: dict[str, str] = field(default_factory=dict)  # filled in by run_check


class Reference:
    """Where the Keras records come from: computed here, or read from a worker's files."""

    def __init__(self, graph: Graph, spec_path: str, options: Options, folder: Path | None) -> None:
        self.graph, self.spec_path, self.options, self.folder = graph, spec_path, options, folder
        self.module: ModuleType | None = None if folder else keras_side.keras_module(graph, spec_path)
        if folder is not None:
            from alexgen.check.worker import spawn

            spawn(
                {
                    "folder": str(folder),
                    "spec": spec_path,
                    "display": spec_path,
                    "sets": list(options.sets),
                    "seed": options.seed,
                    "batch": options.batch,
                    "steps": options.steps,
                },
                options.keras_backend or "tensorflow",
            )

    def forward(self, dtype: str, tensors: dict[str, Array], x: Array) -> Mapping[str, Array]:
        """Every layer's Keras output in `dtype`, with counts and the round trip."""
        if self.folder is not None:
            from alexgen.check.worker import StoredRecords

            return StoredRecords(self.folder / f"forward-{dtype}")
        assert self.module is not None
        return keras_side.forward(self.graph, self.module, dtype, tensors, x)

    def steps(self, tensors: dict[str, Array], x: Array, y: Array) -> Iterator[Mapping[str, Array]]:
        """The Keras training steps' records, one step at a time."""
        if self.module is not None:
            for records in keras_side.steps(self.graph, self.module, tensors, x, y, self.options.steps):
                yield dict(records)
            return
        from alexgen.check.worker import StoredRecords

        assert self.folder is not None
        for step in range(1, self.options.steps + 1):
            yield StoredRecords(self.folder / f"step-{step}")


def run_check(
    graph: Graph,
    spec_path: str,
    tolerance: float = TOLERANCE,
    batch: int = 2,
    seed: int = 0,
    steps: int = 3,
    keras_backend: str | None = None,
    sets: tuple[str, ...] = (),
    options: Options | None = None,
) -> list[Row]:
    """Every row of `alexgen check`: counts, float64 layers (the verdict), float32 layers, round trip, training."""
    options = options or Options(tolerance, batch, seed, steps, keras_backend, sets)
    if options.keras_backend is None:
        return _rows(graph, spec_path, options, None)
    with tempfile.TemporaryDirectory(prefix="alexgen-check-") as folder:
        return _rows(graph, spec_path, options, Path(folder))


def _rows(graph: Graph, spec_path: str, options: Options, folder: Path | None) -> list[Row]:
    reference = Reference(graph, spec_path, options, folder)
    module = torch_module(graph, spec_path)
    tensors = random_weights(graph, options.seed)
    x = inputs(graph, options.batch, options.seed)
    rows: list[Row] = []
    for dtype in ("float64", "float32"):
        records = reference.forward(dtype, tensors, x)
        side = TorchSide(graph, module, dtype)
        side.load(tensors)
        if dtype == "float32":
            rows.append(count_rows(graph, side, records))
            same = bool(records["roundtrip"][0]) and side.round_trip(tensors)
            rows.append(
                Row(
                    "weights round trip",
                    same,
                    f"{len(tensors)} tensors bit-identical through both frameworks" if same else "tensors changed",
                )
            )
        rows += forward_rows(side, records, x, options.tolerance)
        del side, records
        gc.collect()
    y = targets(graph, options.batch, options.seed)
    if y is None:
        rows += no_training(graph)
    elif options.steps:
        rows += training_rows(graph, module, tensors, x, y, reference.steps(tensors, x, y), options.tolerance)
    options.versions = versions(folder)
    return rows


def versions(folder: Path | None) -> dict[str, str]:
    """Framework versions of both sides."""
    import json

    import torch

    found = {"torch": torch.__version__}
    if folder is not None and (folder / "versions.json").exists():
        return {**found, **json.loads((folder / "versions.json").read_text(encoding="utf-8"))}
    from alexgen.check.worker import keras_versions

    return {**found, **keras_versions()}
