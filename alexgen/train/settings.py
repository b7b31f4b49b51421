"""Training settings: the spec's `training` section, then the saved run's config on --resume, then flags."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from alexgen.graph import Graph
from alexgen.runs.folder import RunError
from alexgen.spec import ReduceOnPlateau, Training

TARGETS = ("keras", "pytorch")
STRATEGIES = ("none", "mirrored", "multiworker")
DEFAULT_DATA = "digits"


class SettingsError(RunError):
    """Flags that do not fit together (or do not fit the saved run)."""


@dataclass(frozen=True)
class Settings:
    """Everything a training loop needs besides the network and the data, resolved and explicit."""

    target: str
    data: str
    epochs: int
    batch_size: int
    seed: int
    limit: int | None
    sparse_labels: bool
    metrics: tuple[str, ...]
    schedule_monitor: str | None  # what ReduceLROnPlateau watches; None: a step schedule or none
    strategy: str = "none"
    workers: int | None = None

    @property
    def best_metric(self) -> str:
        """The validation measure that decides the best checkpoint: accuracy when measured, else the loss."""
        return "val_accuracy" if "accuracy" in self.metrics else "val_loss"

    @property
    def top5(self) -> bool:
        """Whether top-5 accuracy is one of the spec's metrics."""
        return "top5_accuracy" in self.metrics

    def as_config(self) -> dict[str, Any]:
        """The settings as plain data for config.yaml (what --resume reads back)."""
        config = asdict(self)
        config["metrics"] = list(self.metrics)
        return config


def pick(flag: Any, saved: dict[str, Any], key: str, spec_value: Any) -> Any:
    """A flag when given, else the saved run's value, else the spec's."""
    if flag is not None:
        return flag
    return saved.get(key, spec_value)


def resolve_settings(graph: Graph, flags: dict[str, Any], saved: dict[str, Any] | None = None) -> Settings:
    """Settings from the spec's training section, a resumed run's saved settings and the given flags (None: unset)."""
    training = graph.spec.training or Training()
    saved = saved or {}
    target = pick(flags.get("target"), saved, "target", None)
    if target is None:
        raise SettingsError("give the framework to train with: --target keras or --target pytorch")
    if saved and flags.get("target") not in (None, saved.get("target")):
        raise SettingsError(
            f"this run was trained with --target {saved.get('target')}; its optimizer state does not carry over "
            f"to {flags.get('target')}. Resume it with --target {saved.get('target')}, or start a new run "
            "(the neutral weights file best.safetensors loads into either framework)"
        )
    strategy = pick(flags.get("strategy"), saved, "strategy", "none")
    if strategy != "none" and target != "keras":
        raise SettingsError("--strategy is for Keras; PyTorch runs distributed under torchrun (see docs/training.md)")
    schedule = training.lr_schedule
    return Settings(
        target=str(target),
        data=str(pick(flags.get("data"), saved, "data", DEFAULT_DATA)),
        epochs=int(pick(flags.get("epochs"), saved, "epochs", training.epochs)),
        batch_size=int(pick(flags.get("batch_size"), saved, "batch_size", training.batch_size)),
        seed=int(pick(flags.get("seed"), saved, "seed", 0)),
        limit=pick(flags.get("limit"), saved, "limit", None),
        sparse_labels=training.loss.startswith("sparse"),
        metrics=tuple(training.metrics),
        schedule_monitor=schedule.monitor if isinstance(schedule, ReduceOnPlateau) else None,
        strategy=str(strategy),
        workers=pick(flags.get("workers"), saved, "workers", None),
    )
