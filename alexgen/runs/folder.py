"""A training run's folder: resolved config, per-epoch metrics (CSV and JSON), curves, summary; never clobbered."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import platform
import shutil
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from alexgen.spec import Spec

CONFIG, METRICS_CSV, METRICS_JSON, CURVES, SUMMARY = (
    "config.yaml",
    "metrics.csv",
    "metrics.json",
    "curves.png",
    "summary.json",
)
ARTIFACTS = (CONFIG, METRICS_CSV, METRICS_JSON, CURVES, SUMMARY)
COLUMNS = (
    "epoch",
    "loss",
    "accuracy",
    "top5_accuracy",
    "val_loss",
    "val_accuracy",
    "val_top5_accuracy",
    "lr",
    "seconds",
)
VERSIONED = ("alexgen", "numpy", "torch", "tensorflow", "tensorflow-cpu", "keras", "pillow", "scikit-learn")


class RunError(Exception):
    """A run folder that cannot be used: the message says why and what to do instead."""


def spec_hash(spec: Spec) -> str:
    """SHA-256 of the network (name, input shape, layers) in canonical JSON: what a checkpoint must fit.

    Training settings are left out on purpose, so that a run can be resumed with more epochs or a flag changed.
    """
    network = spec.model_dump(mode="json", include={"name", "input_shape", "layers"})
    return hashlib.sha256(json.dumps(network, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def versions() -> dict[str, str]:
    """Python, the platform and the installed versions of the packages a run depends on (nothing imported)."""
    found = {"python": platform.python_version(), "platform": platform.platform()}
    for package in VERSIONED:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return found


def write_atomic(path: Path, text: str | bytes) -> None:
    """Write through a temporary file and rename, so a crash never leaves half a file."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    os.replace(temporary, path)


def columns(history: list[dict[str, Any]]) -> list[str]:
    """The CSV header: the known columns present, in their order, then any others as they first appear."""
    present = {key for record in history for key in record}
    extra = [key for record in history for key in record if key not in COLUMNS]
    return [c for c in COLUMNS if c in present] + list(dict.fromkeys(extra))


def metrics_csv(history: list[dict[str, Any]]) -> str:
    """The history as CSV text (a blank cell where an epoch lacks a column)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns(history), restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    return buffer.getvalue()


@dataclass
class RunFolder:
    """The folder of one run; create() or resume() it, then log_epoch() and write_summary()."""

    path: Path
    spec_hash: str
    history: list[dict[str, Any]] = field(default_factory=list)
    plot: bool = True
    created: bool = False  # create() made the folder itself (it did not exist before)

    @classmethod
    def create(cls, path: Path, spec_hash: str, config: dict[str, Any], plot: bool = True) -> RunFolder:
        """A new run in `path` (created); RunError when it holds any file already, which stays untouched."""
        if path.exists() and not path.is_dir():
            raise RunError(f"{path}: exists and is not a folder; choose another --out")
        taken = sorted(p.name for p in path.iterdir()) if path.is_dir() else []
        if taken:
            what = "a run" if any(name in ARTIFACTS for name in taken) else "files"
            raise RunError(
                f"{path}: already holds {what} ({', '.join(taken[:5])}{', ...' if len(taken) > 5 else ''}); "
                f"nothing was overwritten. Continue a run with --resume {path}, or choose a new or empty --out"
            )
        created = not path.exists()
        path.mkdir(parents=True, exist_ok=True)
        resolved = {"spec_hash": spec_hash, "versions": versions(), **config}
        write_atomic(path / CONFIG, yaml.safe_dump(resolved, sort_keys=False, allow_unicode=True))
        return cls(path, spec_hash, [], plot, created)

    def discard(self) -> None:
        """Undo create() of a run that recorded no epoch: the folder is removed, or emptied when it was there."""
        if self.history:
            raise RunError(f"{self.path}: holds {self.last_epoch} trained epochs; it is not discarded")
        for item in self.path.iterdir():
            shutil.rmtree(item) if item.is_dir() and not item.is_symlink() else item.unlink()
        if self.created:
            self.path.rmdir()

    @classmethod
    def resume(cls, path: Path, spec_hash: str, plot: bool = True) -> RunFolder:
        """The run in `path`, with its history; RunError unless it was made for the same network."""
        if not (path / CONFIG).is_file():
            raise RunError(f"{path}: not a run folder (no {CONFIG}); start a new run with --out {path}")
        try:
            config = yaml.safe_load((path / CONFIG).read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise RunError(f"{path / CONFIG}: unreadable ({exc})") from exc
        found = config.get("spec_hash") if isinstance(config, dict) else None
        if found != spec_hash:
            raise RunError(
                f"{path}: this run was trained from a different network (spec hash {str(found)[:12]}, "
                f"this spec {spec_hash[:12]}); resume it with its own spec, or start a new run with --out"
            )
        history = []
        if (path / METRICS_JSON).is_file():
            try:
                history = json.loads((path / METRICS_JSON).read_text(encoding="utf-8"))["epochs"]
            except (ValueError, KeyError, TypeError) as exc:
                raise RunError(f"{path / METRICS_JSON}: unreadable ({exc})") from exc
        return cls(path, spec_hash, history, plot)

    @property
    def config(self) -> dict[str, Any]:
        """The resolved config as written."""
        config: dict[str, Any] = yaml.safe_load((self.path / CONFIG).read_text(encoding="utf-8"))
        return config

    @property
    def last_epoch(self) -> int:
        """The last epoch recorded (0 before the first)."""
        return int(self.history[-1]["epoch"]) if self.history else 0

    def truncate(self, epoch: int) -> None:
        """Forget epochs after `epoch` (resuming from an older checkpoint than the last metrics)."""
        self.history = [r for r in self.history if int(r["epoch"]) <= epoch]
        self.write_metrics()

    def log_epoch(self, record: dict[str, Any]) -> None:
        """Append one epoch's metrics (must include `epoch`) and rewrite the CSV, JSON and curves."""
        if "epoch" not in record:
            raise ValueError("an epoch record needs its 'epoch'")
        if int(record["epoch"]) <= self.last_epoch:
            raise ValueError(f"epoch {record['epoch']} is not after the last one recorded ({self.last_epoch})")
        self.history.append(dict(record))
        self.write_metrics()

    def write_metrics(self) -> None:
        """metrics.csv, metrics.json and (when plotting) curves.png from the history."""
        write_atomic(self.path / METRICS_CSV, metrics_csv(self.history))
        write_atomic(self.path / METRICS_JSON, json.dumps({"epochs": self.history}, indent=2) + "\n")
        if self.plot and self.history:
            from alexgen.runs.plot import curves_png

            write_atomic(self.path / CURVES, curves_png(self.history, self.path.name))

    def write_summary(self, summary: dict[str, Any]) -> Path:
        """summary.json: the given results (test accuracy, wall time, ...) plus versions and epochs run."""
        body = {**summary, "epochs": self.last_epoch, "spec_hash": self.spec_hash, "versions": versions()}
        write_atomic(self.path / SUMMARY, json.dumps(body, indent=2) + "\n")
        return self.path / SUMMARY
