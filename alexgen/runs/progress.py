"""A progress bar per epoch (rich), silent when stdout is not a terminal."""

from __future__ import annotations

import sys
from numbers import Real
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


def format_metrics(metrics: dict[str, Any]) -> str:
    """'loss 0.1234 · accuracy 0.9650' for the numbers of a record (epoch and seconds left out)."""
    shown = [
        f"{k} {v:.4g}"
        for k, v in metrics.items()
        if k not in ("epoch", "seconds") and isinstance(v, Real) and not isinstance(v, bool)
    ]
    return " · ".join(shown)


class EpochProgress:
    """Context manager: `advance(steps, **metrics)` per batch; shows nothing when disabled."""

    def __init__(
        self, epoch: int, epochs: int, steps: int, enabled: bool | None = None, console: Console | None = None
    ) -> None:
        self.enabled = sys.stdout.isatty() if enabled is None else enabled
        self.progress = Progress(
            TextColumn("epoch {task.fields[epoch]}/{task.fields[epochs]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[metrics]}"),
            console=console,
            disable=not self.enabled,
            transient=False,
        )
        self.task = self.progress.add_task("train", total=steps, epoch=epoch, epochs=epochs, metrics="")

    def __enter__(self) -> EpochProgress:
        self.progress.start()
        return self

    def advance(self, steps: int = 1, **metrics: float) -> None:
        """Count `steps` batches done and show the running metrics."""
        self.progress.update(self.task, advance=steps, metrics=format_metrics(metrics))

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.progress.stop()
