"""What both training loops share: the plan they run, the per-epoch bookkeeping, checkpoint names, test metrics."""

from __future__ import annotations

import json
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from alexgen.data import Data, transforms
from alexgen.data.augment import apply
from alexgen.graph import Graph
from alexgen.runs import EpochProgress, RunError, RunFolder, Tracker
from alexgen.runs.folder import write_atomic
from alexgen.runs.progress import format_metrics
from alexgen.train.settings import Settings

NEUTRAL_FINAL, NEUTRAL_BEST = "final.safetensors", "best.safetensors"
CHECKPOINT_DIR, STATE = "checkpoint", "state.json"
NATIVE = {
    "pytorch": {"final": "final.pt", "best": "best.pt", "last": "last.pt"},
    "keras": {"final": "final.weights.h5", "best": "best.weights.h5", "last": "last.weights.h5"},
}
KERAS_OPTIMIZER = "optimizer.npz"


@dataclass
class Plan:
    """One training run: the network, its settings and data, where it records, and how exact it must be."""

    graph: Graph
    spec_path: str
    settings: Settings
    data: Data
    run: RunFolder | None = None
    tracker: Tracker | None = None
    start_epoch: int = 0  # epochs already trained (from the checkpoint on --resume)
    dtype: str = "float32"
    dropout: bool = True  # False: every dropout rate 0 (the deterministic comparison)
    initial_weights: Path | None = None  # a neutral file both frameworks start from
    progress: bool | None = None  # None: a bar when stdout is a terminal
    echo: bool = True  # one line per epoch on stderr

    @property
    def num_classes(self) -> int:
        """Outputs of the network's last layer."""
        return int(self.graph.output.shape[0])

    def native(self, which: str) -> Path:
        """The run folder's native checkpoint file `which` (final, best, last) for this plan's framework."""
        assert self.run is not None
        folder = self.run.path / CHECKPOINT_DIR if which == "last" else self.run.path
        return folder / NATIVE[self.settings.target][which]


@dataclass
class Outcome:
    """What a loop hands back: the epochs it ran, the test metrics and the final weights (neutral layout)."""

    history: list[dict[str, Any]]
    test: dict[str, float]
    final_weights: dict[str, np.ndarray]
    extra: dict[str, Any] = field(default_factory=dict)


def seed_everything(seed: int) -> None:
    """Python's and numpy's global generators (each loop seeds its own framework too)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)


class Recorder:
    """Per-epoch bookkeeping shared by both loops: the run folder, the tracker, the best epoch, the epoch line."""

    def __init__(self, plan: Plan, lead: bool = True) -> None:
        self.plan, self.lead = plan, lead
        self.history: list[dict[str, Any]] = []
        self.best: float | None = None

    def improved(self, record: dict[str, Any]) -> bool:
        """Whether this epoch beats the best so far on the settings' best metric (and remember it)."""
        key = self.plan.settings.best_metric
        value = record.get(key)
        if value is None:
            return False
        better = self.best is None or (value > self.best if key.endswith("accuracy") else value < self.best)
        if better:
            self.best = float(value)
        return better

    def epoch_end(self, record: dict[str, Any]) -> None:
        """Record one epoch: history, metrics files and curves, the tracker, a line on stderr (lead rank only)."""
        self.history.append(record)
        if not self.lead:
            return
        if self.plan.run is not None:
            self.plan.run.log_epoch(record)
        if self.plan.tracker is not None:
            self.plan.tracker.log_metrics(record, int(record["epoch"]))
        if self.plan.echo:
            epochs = self.plan.settings.epochs
            print(
                f"epoch {record['epoch']}/{epochs}: {format_metrics(record)} ({record['seconds']:.1f} s)",
                file=sys.stderr,
                flush=True,
            )

    def progress(self, epoch: int, steps: int) -> EpochProgress:
        """The epoch's progress bar (shown by the lead rank on a terminal only)."""
        enabled = self.plan.progress if self.lead else False
        return EpochProgress(epoch, self.plan.settings.epochs, steps, enabled=enabled)

    def write_state(self, epoch: int, extra: dict[str, Any]) -> None:
        """checkpoint/state.json: the epochs done, the best value so far and the loop's own state."""
        assert self.plan.run is not None
        body = {"epoch": epoch, "best": self.best, "target": self.plan.settings.target, **extra}
        write_atomic(self.plan.run.path / CHECKPOINT_DIR / STATE, json.dumps(body, indent=2) + "\n")


def read_state(run_dir: Path) -> dict[str, Any]:
    """The checkpoint state of a run folder; RunError when there is none to resume from."""
    path = run_dir / CHECKPOINT_DIR / STATE
    if not path.is_file():
        raise RunError(f"{run_dir}: no checkpoint to resume from ({CHECKPOINT_DIR}/{STATE} is missing)")
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise RunError(f"{path}: unreadable ({exc})") from exc
    if not isinstance(state, dict) or not isinstance(state.get("epoch"), int):
        raise RunError(f"{path}: not a checkpoint state (no epoch)")
    return state


def score_test(probabilities: np.ndarray, labels: np.ndarray, top5: bool) -> dict[str, float]:
    """Test loss (cross-entropy, no regularization), accuracy and top-5 accuracy from predicted probabilities."""
    probabilities = probabilities.astype(np.float64)
    picked = probabilities[np.arange(len(labels)), labels]
    metrics = {
        "test_loss": float(-np.log(np.clip(picked, np.finfo(np.float64).tiny, None)).mean()),
        "test_accuracy": float((probabilities.argmax(1) == labels).mean()),
    }
    if top5:
        k = min(5, probabilities.shape[1])
        best = np.argpartition(-probabilities, k - 1, axis=1)[:, :k]
        metrics["test_top5_accuracy"] = float((best == labels[:, None]).any(1).mean())
    return metrics


def relative_error(reference: np.ndarray, other: np.ndarray) -> float:
    """Largest absolute difference relative to the reference's largest magnitude."""
    reference, other = reference.astype(np.float64), other.astype(np.float64)
    diff = float(np.abs(reference - other).max()) if reference.size else 0.0
    scale = float(np.abs(reference).max()) if reference.size else 0.0
    return diff / scale if scale else diff


def images_of_test_split(plan: Plan) -> np.ndarray:
    """The test split as float32 channels-last images in [0, 1], through the evaluation transform."""
    data = plan.data
    training = plan.graph.spec.training
    _, evaluation = transforms(
        data.input_shape, training.augmentation if training else None, data.train, plan.settings.seed
    )
    return np.stack([apply(data.test, evaluation, i, plan.settings.seed, 0) for i in range(len(data.test))])
