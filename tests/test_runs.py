"""Run folders (config, metrics CSV/JSON, curves.png, summary; no overwrite; resume checks), progress, trackers."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import pytest
import yaml
from rich.console import Console

from alexgen.runs import EpochProgress, RunError, RunFolder, TrackerError, make_tracker, spec_hash
from alexgen.validate import graph_from_text

SPEC = """\
alexgen: 1
name: tiny
input_shape: [8, 8, 1]
layers:
  - {type: flatten}
  - {type: dense, units: 3, activation: softmax}
training:
  epochs: 2
"""
RECORDS = [
    {"epoch": 1, "loss": 1.5, "accuracy": 0.5, "val_loss": 1.25, "val_accuracy": 0.625, "lr": 0.01, "seconds": 2.5},
    {"epoch": 2, "loss": 0.75, "accuracy": 0.875, "val_loss": 1.0, "val_accuracy": 0.75, "lr": 0.001, "seconds": 2.0},
]


def test_spec_hash_covers_the_network_not_the_training() -> None:
    base = spec_hash(graph_from_text(SPEC).spec)
    assert base == spec_hash(graph_from_text(SPEC.replace("epochs: 2", "epochs: 9")).spec)
    assert base == spec_hash(graph_from_text("# a comment\n" + SPEC).spec)
    assert base != spec_hash(graph_from_text(SPEC.replace("units: 3", "units: 4")).spec)
    assert len(base) == 64


def test_a_run_writes_config_metrics_curves_and_summary(tmp_path: Path) -> None:
    run = RunFolder.create(tmp_path / "run", "h" * 64, {"spec": "tiny.yaml", "training": {"epochs": 2}})
    config = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert config["spec_hash"] == "h" * 64 and config["training"] == {"epochs": 2}
    assert "python" in config["versions"]
    for record in RECORDS:
        run.log_epoch(record)
    rows = list(csv.DictReader(io.StringIO((tmp_path / "run" / "metrics.csv").read_text())))
    assert list(rows[0]) == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds"]
    assert [float(r["val_accuracy"]) for r in rows] == [0.625, 0.75] and rows[1]["epoch"] == "2"
    assert json.loads((tmp_path / "run" / "metrics.json").read_text()) == {"epochs": RECORDS}
    png = (tmp_path / "run" / "curves.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    image_module = pytest.importorskip("PIL.Image")
    with image_module.open(tmp_path / "run" / "curves.png") as image:
        assert image.format == "PNG" and image.size[0] > 2 * image.size[1]  # two panels side by side
    run.write_summary({"test_accuracy": 0.75, "wall_seconds": 4.5})
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["test_accuracy"] == 0.75 and summary["epochs"] == 2 and "numpy" in summary["versions"]
    with pytest.raises(ValueError, match="not after the last one"):
        run.log_epoch(RECORDS[0])


def test_csv_keeps_extra_columns_and_blank_cells(tmp_path: Path) -> None:
    run = RunFolder.create(tmp_path, "h", {}, plot=False)
    run.log_epoch({"epoch": 1, "loss": 1.0, "top5_accuracy": 0.9})
    run.log_epoch({"epoch": 2, "loss": 0.5, "val_top5_accuracy": 0.95, "grad_norm": 3.0})
    lines = (tmp_path / "metrics.csv").read_text().splitlines()
    assert lines == ["epoch,loss,top5_accuracy,val_top5_accuracy,grad_norm", "1,1.0,0.9,,", "2,0.5,,0.95,3.0"]
    assert not (tmp_path / "curves.png").exists()


def test_an_existing_run_is_never_overwritten(tmp_path: Path) -> None:
    run = RunFolder.create(tmp_path / "run", "h", {"a": 1})
    run.log_epoch(RECORDS[0])
    before = {p.name: p.read_bytes() for p in (tmp_path / "run").iterdir()}
    with pytest.raises(RunError, match=r"already holds a run .*nothing was overwritten.*--resume"):
        RunFolder.create(tmp_path / "run", "h", {"a": 2})
    assert {p.name: p.read_bytes() for p in (tmp_path / "run").iterdir()} == before
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(RunError, match=r"already holds files \(notes.txt\)"):
        RunFolder.create(tmp_path / "other", "h", {})
    (tmp_path / "file").write_text("x")
    with pytest.raises(RunError, match="is not a folder"):
        RunFolder.create(tmp_path / "file", "h", {})


def test_resume_checks_the_network_and_continues_the_history(tmp_path: Path) -> None:
    run = RunFolder.create(tmp_path, "a" * 64, {})
    run.log_epoch(RECORDS[0])
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(RunError, match=r"different network \(spec hash aaaaaaaaaaaa, this spec bbbbbbbbbbbb\)"):
        RunFolder.resume(tmp_path, "b" * 64)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    resumed = RunFolder.resume(tmp_path, "a" * 64)
    assert resumed.last_epoch == 1 and resumed.history == RECORDS[:1]
    resumed.log_epoch(RECORDS[1])
    assert json.loads((tmp_path / "metrics.json").read_text())["epochs"] == RECORDS
    resumed.truncate(1)
    assert RunFolder.resume(tmp_path, "a" * 64).history == RECORDS[:1]
    with pytest.raises(RunError, match="not a run folder"):
        RunFolder.resume(tmp_path / "empty", "a" * 64)


def test_progress_shows_on_a_terminal_and_is_silent_otherwise(capsys) -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    with EpochProgress(2, 5, steps=3, enabled=True, console=console) as bar:
        for _ in range(3):
            bar.advance(1, loss=0.25, accuracy=0.5)
    shown = out.getvalue()
    assert "epoch 2/5" in shown and "3/3" in shown and "loss 0.25" in shown
    with EpochProgress(1, 1, steps=2) as bar:  # stdout is captured here: not a terminal
        bar.advance(2, loss=1.0)
    assert not sys.stdout.isatty() and capsys.readouterr().out == ""


# --- trackers -------------------------------------------------------------------------------------------------------


def test_unknown_and_missing_trackers_say_what_to_install(tmp_path: Path, monkeypatch) -> None:
    with pytest.raises(TrackerError, match="unknown tracker 'comet'; use one of tensorboard, wandb, mlflow"):
        make_tracker("comet", tmp_path, run_name="r", framework="pytorch")
    for name in ("mlflow", "wandb"):
        monkeypatch.setitem(sys.modules, name, None)  # importing it now raises ImportError
        with pytest.raises(TrackerError, match=rf"needs the '{name}' package.*pip install 'alexgen\[{name}\]'"):
            make_tracker(name, tmp_path, run_name="r", framework="pytorch")
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    with pytest.raises(TrackerError, match="pip install tensorboard"):
        make_tracker("tensorboard", tmp_path, run_name="r", framework="keras")
    assert make_tracker(None, tmp_path, run_name="r", framework="keras").log_metrics({"loss": 1.0}, 1) is None


def scalars(logdir: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar of the event files in `logdir`, read back with TensorBoard's own reader."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.util import tensor_util

    events = EventAccumulator(str(logdir), size_guidance={"scalars": 0, "tensors": 0})
    events.Reload()
    found = {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}
    for tag in events.Tags().get("tensors", []):  # tf.summary writes scalars as 0-d float tensors
        arrays = [(e.step, tensor_util.make_ndarray(e.tensor_proto)) for e in events.Tensors(tag)]
        if all(a.shape == () and a.dtype.kind == "f" for _, a in arrays):
            found[tag] = [(step, float(a)) for step, a in arrays]
    return found


@pytest.mark.parametrize("framework", ["keras", "pytorch"])
def test_tensorboard_tracker_writes_scalars(tmp_path: Path, framework: str) -> None:
    pytest.importorskip("tensorboard")
    pytest.importorskip("tensorflow" if framework == "keras" else "torch")
    tracker = make_tracker("tensorboard", tmp_path, run_name="r", framework=framework)
    tracker.log_config({"optimizer": {"type": "sgd"}})
    for record in RECORDS:
        tracker.log_metrics(record, record["epoch"])
    tracker.close()
    found = scalars(tmp_path / "tensorboard")
    assert found["val_accuracy"] == [(1, 0.625), (2, 0.75)] and "epoch" not in found


def test_wandb_tracker_offline(tmp_path: Path, monkeypatch) -> None:
    pytest.importorskip("wandb")
    for variable in ("WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR"):
        monkeypatch.setenv(variable, str(tmp_path / "home"))
    monkeypatch.setenv("WANDB_SILENT", "true")
    tracker = make_tracker("wandb", tmp_path, run_name="r", framework="pytorch", offline=True)
    tracker.log_config({"optimizer": {"type": "sgd"}})
    for record in RECORDS:
        tracker.log_metrics(record, record["epoch"])
    tracker.close()
    runs = list((tmp_path / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(runs) == 1 and runs[0].stat().st_size > 0


def test_mlflow_tracker_writes_an_sqlite_store_in_the_run_folder(tmp_path: Path, monkeypatch) -> None:
    mlflow = pytest.importorskip("mlflow")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    tracker = make_tracker("mlflow", tmp_path, run_name="r", framework="pytorch")
    tracker.log_config({"optimizer": {"type": "sgd"}})
    for record in RECORDS:
        tracker.log_metrics(record, record["epoch"])
    tracker.close()
    assert (tmp_path / "mlflow.db").is_file()
    client = mlflow.tracking.MlflowClient(tracking_uri=f"sqlite:///{(tmp_path / 'mlflow.db').as_posix()}")
    (run,) = client.search_runs([client.get_experiment_by_name("alexgen").experiment_id])
    assert run.info.run_name == "r" and run.data.params["optimizer.type"] == "sgd"
    history = client.get_metric_history(run.info.run_id, "val_accuracy")
    assert [(m.step, m.value) for m in history] == [(1, 0.625), (2, 0.75)]
    assert run.info.artifact_uri.startswith((tmp_path / "mlartifacts").resolve().as_uri())
