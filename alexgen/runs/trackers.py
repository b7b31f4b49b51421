"""Experiment trackers behind one tiny interface: TensorBoard, Weights & Biases, MLflow (each optional)."""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

from alexgen.runs.folder import RunError

TRACKERS = ("tensorboard", "wandb", "mlflow")


class TrackerError(RunError):
    """A tracker that cannot start, usually because its library is not installed."""


class Tracker(Protocol):
    """What the training loop calls: the config once, metrics per epoch, close at the end."""

    def log_config(self, config: dict[str, Any]) -> None: ...

    def log_metrics(self, metrics: dict[str, float], step: int) -> None: ...

    def close(self) -> None: ...


def not_installed(what: str, package: str, extra: str, after: str = "") -> TrackerError:
    """The error for an optional library that is missing: what needs it and how to install it."""
    return TrackerError(
        f"{what} needs the '{package}' package, which is not installed: "
        f"pip install {package} (or pip install 'alexgen[{extra}]'){after}"
    )


def needs(module: str, package: str) -> ModuleType:
    """Import a tracker's library, or raise TrackerError naming the package and the alexgen extra."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise not_installed(f"the {package} tracker", package, package) from exc


LIBRARIES = {"tensorboard": "tensorboard", "wandb": "wandb", "mlflow": "mlflow"}


def check_tracker(name: str | None) -> None:
    """TrackerError now, before a run folder exists, for an unknown tracker or one whose library is missing."""
    if name is None:
        return
    if name not in LIBRARIES:
        raise TrackerError(f"unknown tracker '{name}'; use one of {', '.join(TRACKERS)}")
    package = LIBRARIES[name]
    if importlib.util.find_spec(package) is None:  # found without importing it (wandb alone takes seconds)
        raise not_installed(f"the {name} tracker", package, package, "; nothing was written")


def numbers(metrics: dict[str, Any]) -> dict[str, float]:
    """The numeric entries of a record, as floats (the epoch is the step, not a metric)."""
    return {k: float(v) for k, v in metrics.items() if k != "epoch" and isinstance(v, int | float)}


def flat(config: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested config flattened to 'a.b' -> text, for trackers that want flat parameters."""
    out: dict[str, str] = {}
    for key, value in config.items():
        if isinstance(value, dict):
            out.update(flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value if isinstance(value, str) else json.dumps(value)
    return out


class NullTracker:
    """No tracking."""

    def log_config(self, config: dict[str, Any]) -> None:
        """Nothing."""

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        """Nothing."""

    def close(self) -> None:
        """Nothing."""


class TensorBoardTracker:
    """Event files in RUN_DIR/tensorboard, through torch.utils.tensorboard or tf.summary (per framework)."""

    def __init__(self, run_dir: Path, framework: str) -> None:
        self.logdir = run_dir / "tensorboard"
        self.framework = framework
        needs("tensorboard", "tensorboard")
        if framework == "pytorch":
            self.writer = needs("torch.utils.tensorboard", "tensorboard").SummaryWriter(str(self.logdir))
        else:
            self.tf = needs("tensorflow", "tensorflow")
            self.writer = self.tf.summary.create_file_writer(str(self.logdir))

    def log_config(self, config: dict[str, Any]) -> None:
        """The config as a text summary."""
        text = "```\n" + json.dumps(config, indent=2, default=str) + "\n```"
        if self.framework == "pytorch":
            self.writer.add_text("config", text, 0)
        else:
            with self.writer.as_default():
                self.tf.summary.text("config", text, step=0)

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        """One scalar per metric at `step`."""
        for key, value in numbers(metrics).items():
            if self.framework == "pytorch":
                self.writer.add_scalar(key, value, step)
            else:
                with self.writer.as_default():
                    self.tf.summary.scalar(key, value, step=step)

    def close(self) -> None:
        """Flush and close the event file."""
        self.writer.flush()
        self.writer.close()


class WandbTracker:
    """A Weights & Biases run in RUN_DIR (offline when asked, or when WANDB_MODE says so)."""

    def __init__(self, run_dir: Path, name: str, project: str, offline: bool) -> None:
        wandb = needs("wandb", "wandb")
        mode = "offline" if offline else os.environ.get("WANDB_MODE", "online")
        self.run = wandb.init(project=project, name=name, dir=str(run_dir), mode=mode, reinit="finish_previous")

    def log_config(self, config: dict[str, Any]) -> None:
        """The config as the run's config."""
        self.run.config.update(config, allow_val_change=True)

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        """The epoch's metrics at `step`."""
        self.run.log(numbers(metrics), step=step)

    def close(self) -> None:
        """Finish the run."""
        self.run.finish()


def mlflow_store(run_dir: Path) -> str:
    """RUN_DIR/mlflow.db as an SQLite tracking URI (MLflow 3 refuses a plain folder store)."""
    return "sqlite:///" + (run_dir / "mlflow.db").resolve().as_posix()  # sqlite:////abs/path on POSIX


class MlflowTracker:
    """An MLflow run in RUN_DIR/mlflow.db (artifacts in RUN_DIR/mlartifacts) unless MLFLOW_TRACKING_URI is set."""

    def __init__(self, run_dir: Path, name: str, project: str) -> None:
        self.mlflow = needs("mlflow", "mlflow")
        if not os.environ.get("MLFLOW_TRACKING_URI"):
            self.mlflow.set_tracking_uri(mlflow_store(run_dir))
            if self.mlflow.get_experiment_by_name(project) is None:
                artifacts = (run_dir / "mlartifacts").resolve().as_uri()
                self.mlflow.create_experiment(project, artifact_location=artifacts)
        self.mlflow.set_experiment(project)
        self.run = self.mlflow.start_run(run_name=name)

    def log_config(self, config: dict[str, Any]) -> None:
        """The config as flat parameters."""
        self.mlflow.log_params(flat(config))

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        """The epoch's metrics at `step`."""
        self.mlflow.log_metrics(numbers(metrics), step=step)

    def close(self) -> None:
        """End the run."""
        self.mlflow.end_run()


def make_tracker(
    name: str | None, run_dir: Path, *, run_name: str, framework: str, project: str = "alexgen", offline: bool = False
) -> Tracker:
    """The tracker called `name` (None: no tracking); TrackerError for an unknown name or a missing library."""
    if name is None:
        return NullTracker()
    if name == "tensorboard":
        return TensorBoardTracker(run_dir, framework)
    if name == "wandb":
        return WandbTracker(run_dir, run_name, project, offline)
    if name == "mlflow":
        return MlflowTracker(run_dir, run_name, project)
    raise TrackerError(f"unknown tracker '{name}'; use one of {', '.join(TRACKERS)}")
