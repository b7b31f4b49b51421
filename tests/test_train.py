"""`alexgen train`: both loops, run folders, reproducibility, resume, bad input, every spec, equivalence, torchrun."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result

from alexgen.cli import cli
from alexgen.validate import load_graph
from tests.conftest import ROOT, SMALL, SPEC_DIR, small_variant

pytestmark = [pytest.mark.keras, pytest.mark.torch]
pytest.importorskip("torch")
pytest.importorskip("keras")
pytest.importorskip("sklearn")

TINY = """\
alexgen: 1
name: tiny_train
input_shape: [8, 8, 1]
layers:
  - {type: conv2d, name: conv1, filters: 4, kernel_size: 3, activation: relu, kernel_regularizer: {l2: 0.001}}
  - {type: max_pool2d, name: pool1}
  - {type: flatten, name: flatten}
  - {type: dense, name: fc, units: 16, activation: relu}
DROPOUT
  - {type: dense, name: predictions, units: 10, activation: softmax}
training:
  optimizer: {type: sgd, learning_rate: 0.05, momentum: 0.9, weight_decay: 0.0005}
  loss: categorical_crossentropy
  metrics: [accuracy, top5_accuracy]
  batch_size: 16
  epochs: 2
  lr_schedule: {type: reduce_on_plateau, factor: 0.5, patience: 1, monitor: val_accuracy}
"""
DROPOUT = "  - {type: dropout, name: drop, rate: 0.25}"
TARGETS = ["pytorch", "keras"]


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    """One intra-op thread: on a shared 2-core machine PyTorch's spinning second thread makes steps up to 5x slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    """The tiny spec with dropout (reproducibility must cover the dropout masks)."""
    path = tmp_path / "tiny_train.yaml"
    path.write_text(TINY.replace("DROPOUT", DROPOUT))
    return path


@pytest.fixture
def tiny_plain(tmp_path: Path) -> Path:
    """The tiny spec without dropout (Keras's dropout stream is not part of its checkpoint)."""
    path = tmp_path / "tiny_plain.yaml"
    path.write_text(TINY.replace("DROPOUT\n", ""))
    return path


def train(*args: str | Path) -> Result:
    """`alexgen train ARGS` in this process."""
    return CliRunner().invoke(cli, ["train", *map(str, args)], catch_exceptions=False)


def epochs_of(run: Path) -> list[dict[str, float]]:
    """metrics.json's epochs without the timings."""
    records = json.loads((run / "metrics.json").read_text())["epochs"]
    return [{k: v for k, v in r.items() if k != "seconds"} for r in records]


def folder_digest(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under `folder`, by relative path."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


# --- one run, its folder, the same seed twice --------------------------------------------------------------------


@pytest.mark.parametrize("target", TARGETS)
def test_same_seed_gives_the_same_run_and_a_complete_run_folder(tiny: Path, tmp_path: Path, target: str) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    for out in (first, second):
        result = train(tiny, "--target", target, "--data", "digits", "--limit", "240", "--seed", "3", "--out", out)
        assert result.exit_code == 0, result.output
    assert epochs_of(first) == epochs_of(second)
    records = epochs_of(first)
    assert [r["epoch"] for r in records] == [1, 2]
    assert set(records[0]) == {
        "epoch",
        "loss",
        "accuracy",
        "top5_accuracy",
        "val_loss",
        "val_accuracy",
        "val_top5_accuracy",
        "lr",
    }
    assert records[1]["loss"] < records[0]["loss"]  # it learns
    native = {
        "pytorch": ("final.pt", "best.pt", "last.pt"),
        "keras": ("final.weights.h5", "best.weights.h5", "last.weights.h5"),
    }[target]
    for name in (
        "config.yaml",
        "metrics.csv",
        "curves.png",
        "summary.json",
        "final.safetensors",
        "best.safetensors",
        native[0],
        native[1],
        f"checkpoint/{native[2]}",
        "checkpoint/state.json",
    ):
        assert (first / name).is_file(), name
    summary = json.loads((first / "summary.json").read_text())
    assert summary["target"] == target and summary["epochs"] == 2 and 0.0 <= summary["test_accuracy"] <= 1.0
    assert summary["test_accuracy"] > 0.3  # chance is 0.1
    assert summary["best_val_accuracy"] == max(r["val_accuracy"] for r in records)
    third = tmp_path / "c"
    assert (
        train(tiny, "--target", target, "--data", "digits", "--limit", "240", "--seed", "4", "--out", third).exit_code
        == 0
    )
    assert epochs_of(third) != epochs_of(first)


def test_final_weights_load_into_the_other_framework(tiny: Path, tmp_path: Path) -> None:
    from alexgen.frameworks import generated_module

    out = tmp_path / "run"
    assert (
        train(tiny, "--target", "pytorch", "--data", "digits", "--limit", "64", "--epochs", "1", "--out", out).exit_code
        == 0
    )
    graph = load_graph(tiny)
    keras_module = generated_module(graph, str(tiny), "keras")
    model = keras_module.build_model(weights=str(out / "final.safetensors"))
    import torch

    torch_module = generated_module(graph, str(tiny), "pytorch")
    reference = torch_module.build_model()
    reference.load_state_dict(torch.load(out / "final.pt", weights_only=True))
    x = np.random.default_rng(0).random((4, 8, 8, 1), dtype=np.float32)
    expected = reference.eval()(torch.from_numpy(x.transpose(0, 3, 1, 2))).detach().numpy()
    np.testing.assert_allclose(np.asarray(model(x, training=False)), expected, rtol=1e-5, atol=1e-6)


# --- resume --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("target", TARGETS)
def test_resume_continues_from_the_checkpoint_as_if_never_stopped(
    tiny_plain: Path, tmp_path: Path, target: str
) -> None:
    straight, stopped = tmp_path / "straight", tmp_path / "stopped"
    common = ["--target", target, "--data", "digits", "--limit", "200", "--seed", "1"]
    assert train(tiny_plain, *common, "--epochs", "3", "--out", straight).exit_code == 0
    assert train(tiny_plain, *common, "--epochs", "1", "--out", stopped).exit_code == 0
    result = train(tiny_plain, "--resume", stopped, "--epochs", "3")
    assert result.exit_code == 0, result.output
    a, b = epochs_of(straight), epochs_of(stopped)
    assert [r["epoch"] for r in b] == [1, 2, 3]
    for x, y in zip(a, b, strict=True):
        for key in x:
            assert y[key] == pytest.approx(x[key], rel=1e-6, abs=1e-9), (x["epoch"], key)
    state = json.loads((stopped / "checkpoint" / "state.json").read_text())
    assert state["epoch"] == 3 and state["target"] == target
    again = train(tiny_plain, "--resume", stopped)
    assert again.exit_code == 0 and "nothing to do" in again.stderr


def test_resume_refuses_another_spec_or_framework_and_changes_nothing(
    tiny: Path, tiny_plain: Path, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    assert (
        train(tiny, "--target", "pytorch", "--data", "digits", "--limit", "64", "--epochs", "1", "--out", run).exit_code
        == 0
    )
    before = folder_digest(run)
    other = train(tiny_plain, "--resume", run, "--epochs", "2")
    assert other.exit_code == 2 and "different network" in other.stderr
    framework = train(tiny, "--resume", run, "--target", "keras", "--epochs", "2")
    assert framework.exit_code == 2 and "--target pytorch" in framework.stderr
    bad_data = train(tiny, "--resume", run, "--epochs", "2", "--data", f"folder:{tmp_path / 'missing'}")
    assert bad_data.exit_code == 2 and "no such folder" in bad_data.stderr
    taken = train(tiny, "--target", "pytorch", "--data", "digits", "--out", run)
    assert taken.exit_code == 2 and "nothing was overwritten" in taken.stderr
    assert folder_digest(run) == before


# --- bad input -----------------------------------------------------------------------------------------------------


def idx(array: np.ndarray, magic: int | None = None) -> bytes:
    """An IDX file of unsigned bytes (with a wrong magic number when given)."""
    header = (magic if magic is not None else 0x0800 | array.ndim).to_bytes(4, "big")
    return header + b"".join(n.to_bytes(4, "big") for n in array.shape) + array.astype(np.uint8).tobytes()


def bad_mnist(folder: Path) -> str:
    """MNIST files whose training images have the wrong magic number."""
    folder.mkdir()
    for stem, array in (
        ("train-images-idx3-ubyte", np.zeros((20, 28, 28))),
        ("train-labels-idx1-ubyte", np.arange(20) % 10),
        ("t10k-images-idx3-ubyte", np.zeros((5, 28, 28))),
        ("t10k-labels-idx1-ubyte", np.arange(5)),
    ):
        (folder / stem).write_bytes(idx(array, 0x0999 if stem.startswith("train-images") else None))
    return f"mnist:{folder}"


def image_folder(root: Path, broken: str) -> str:
    """A train/val image folder with one problem: an empty class or a file that does not decode."""
    from PIL import Image

    for split in ("train", "val"):
        for label in ("cat", "dog"):
            (root / split / label).mkdir(parents=True)
            Image.new("L", (10, 10), 30 if label == "cat" else 200).save(root / split / label / "a.png")
    if broken == "empty":
        (root / "train" / "dog" / "a.png").unlink()
    else:
        (root / "train" / "dog" / "b.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really an image")
    return f"folder:{root}"


@pytest.mark.parametrize("case", ["missing", "idx", "empty", "undecodable"])
def test_bad_data_is_a_clear_error_and_writes_no_run(tiny: Path, tmp_path: Path, case: str) -> None:
    source, message = {
        "missing": (lambda: f"folder:{tmp_path / 'nowhere'}", "no such folder"),
        "idx": (lambda: bad_mnist(tmp_path / "mnist"), "magic"),
        "empty": (lambda: image_folder(tmp_path / "images", "empty"), "has no images"),
        "undecodable": (lambda: image_folder(tmp_path / "images", "undecodable"), "does not decode"),
    }[case]
    out = tmp_path / "run"
    result = train(tiny, "--target", "pytorch", "--data", source(), "--out", out)
    assert result.exit_code == 2
    assert result.stderr.startswith("alexgen: error:") and message in result.stderr
    assert "Traceback" not in result.output
    assert not out.exists()


def truncated_folder(root: Path, split: str) -> str:
    """A train/val(/test) folder whose `split` holds a JPEG cut in half: its header reads, its pixels do not."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for name in ("train", "val", "test"):
        for label in ("cat", "dog"):
            (root / name / label).mkdir(parents=True)
            for i in range(4):
                pixels = rng.integers(0, 256, (12, 12), dtype=np.uint8)
                Image.fromarray(pixels, "L").save(root / name / label / f"{i}.png")
    broken = root / split / "dog" / "broken.jpg"
    Image.fromarray(rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)).save(broken)
    broken.write_bytes(broken.read_bytes()[: broken.stat().st_size // 2])
    return f"folder:{root}"


@pytest.mark.parametrize("target", TARGETS)
def test_an_image_that_fails_mid_epoch_is_one_line_and_removes_the_new_run(
    tiny: Path, tmp_path: Path, target: str
) -> None:
    source = truncated_folder(tmp_path / "images", "train")
    out = tmp_path / "run"
    if target == "keras":
        out.mkdir()  # an empty --out that was there before stays, empty
    result = train(tiny, "--target", target, "--data", source, "--epochs", "2", "--batch-size", "4", "--out", out)
    assert result.exit_code == 2, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("alexgen: error:")]
    broken = tmp_path / "images" / "train" / "dog" / "broken.jpg"
    assert len(errors) == 1 and errors[0].startswith(f"alexgen: error: {broken}: the image does not decode (")
    assert "Traceback" not in result.output and "Caught DataError" not in result.output
    assert "no epoch finished, so the new run folder was removed" in result.stderr
    assert (list(out.iterdir()) == []) if target == "keras" else not out.exists()


def test_an_image_that_fails_after_an_epoch_keeps_the_epochs_done(tiny: Path, tmp_path: Path) -> None:
    source = truncated_folder(tmp_path / "images", "test")  # read when scoring the test split, after training
    out = tmp_path / "run"
    result = train(tiny, "--target", "pytorch", "--data", source, "--epochs", "1", "--batch-size", "4", "--out", out)
    assert result.exit_code == 2 and "broken.jpg: the image does not decode" in result.stderr
    assert f"keeps its checkpoint after epoch 1; fix the data and continue with --resume {out}" in result.stderr
    assert len(json.loads((out / "metrics.json").read_text())["epochs"]) == 1
    assert (out / "checkpoint" / "state.json").is_file() and not (out / "summary.json").exists()


def test_a_tracker_or_strategy_that_cannot_start_writes_no_run(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from alexgen.runs import trackers

    monkeypatch.setitem(trackers.LIBRARIES, "wandb", "alexgen_no_such_package")
    monkeypatch.delenv("TF_CONFIG", raising=False)
    out = tmp_path / "run"
    result = train(tiny, "--target", "pytorch", "--data", "synthetic:8", "--tracker", "wandb", "--out", out)
    assert result.exit_code == 2 and "needs the 'alexgen_no_such_package' package" in result.stderr
    result = train(tiny, "--target", "keras", "--data", "synthetic:8", "--strategy", "multiworker", "--out", out)
    assert result.exit_code == 2 and "--strategy multiworker needs TF_CONFIG" in result.stderr
    assert not out.exists()


def test_a_new_run_needs_a_target(tiny: Path, tmp_path: Path) -> None:
    result = train(tiny, "--data", "digits", "--out", tmp_path / "run")
    assert result.exit_code == 2 and "--target keras or --target pytorch" in result.stderr
    assert not (tmp_path / "run").exists()


# --- every spec, real data ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", sorted([*SMALL, "alexnet_mnist"]))
def test_every_spec_trains_an_epoch_on_synthetic(tmp_path: Path, name: str, target: str) -> None:
    spec = SPEC_DIR / "alexnet_mnist.yaml" if name == "alexnet_mnist" else small_variant(tmp_path, name)
    out = tmp_path / "run"
    result = train(
        spec,
        "--target",
        target,
        "--data",
        "synthetic:4",
        "--limit",
        "4",
        "--batch-size",
        "2",
        "--epochs",
        "1",
        "--out",
        out,
    )
    assert result.exit_code == 0, result.output
    (record,) = json.loads((out / "metrics.json").read_text())["epochs"]
    assert np.isfinite(record["loss"]) and np.isfinite(record["val_loss"])
    assert (out / "final.safetensors").is_file()


@pytest.mark.parametrize("target", TARGETS)
def test_digits_trains_the_mnist_spec(tmp_path: Path, target: str) -> None:
    """A real accuracy on real data in a short test: all 1,257 training digits, 3 epochs, batch 16 (chance: 10%)."""
    out = tmp_path / "run"
    result = train(
        SPEC_DIR / "alexnet_mnist.yaml",
        "--target",
        target,
        "--data",
        "digits",
        "--batch-size",
        "16",
        "--epochs",
        "3",
        "--out",
        out,
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    print(f"{target}: test accuracy {summary['test_accuracy']:.3f} in {summary['wall_seconds']:.1f} s")
    assert summary["test_accuracy"] >= 0.6  # 0.85 measured (PyTorch); 12 epochs reach 0.95+ (docs/training.md)


# --- the same semantics in both frameworks -------------------------------------------------------------------------


def test_both_loops_agree_epoch_by_epoch_in_float64(tiny: Path) -> None:
    from alexgen.data import load_data
    from alexgen.train.compare import compare_loops

    graph = load_graph(tiny)
    data = load_data("digits", graph.input_shape, 10).limited(300)
    result = compare_loops(graph, str(tiny), data, {"epochs": 3, "seed": 0})
    assert [e["epoch"] for e in result.epochs] == [1, 2, 3]
    assert result.epochs[-1]["keras_loss"] < result.epochs[0]["keras_loss"]  # it trained
    assert result.losses_rel <= 1e-4, result.epochs
    assert result.weights_rel <= 1e-6, (result.worst_tensor, result.weights_rel)
    assert result.passed


@pytest.mark.slow
def test_deterministic_compare_of_the_mnist_spec_on_digits(alexgen_cli) -> None:  # type: ignore[no-untyped-def]
    # 75 s measured alone; a loaded CI machine can take several times that
    result = alexgen_cli("train", "spec/alexnet_mnist.yaml", "--deterministic-compare", "--limit", "256", timeout=900)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "pass" in result.stdout


# --- distributed ---------------------------------------------------------------------------------------------------


def test_torchrun_two_processes_average_gradients_and_checkpoint_once(tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        "2",
        "-m",
        "alexgen",
        "train",
        str(tiny),
        "--target",
        "pytorch",
        "--data",
        "synthetic:64",
        "--batch-size",
        "16",
        "--epochs",
        "1",
        "--out",
        str(out),
    ]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120, env=env, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    digests = summary["rank_weights_sha256"]
    assert summary["world_size"] == 2 and len(digests) == 2 and digests[0] == digests[1]
    assert result.stderr.count("epoch 1/1:") == 1  # rank 0 alone reports
    assert sorted(p.name for p in out.iterdir() if p.name.startswith("final")) == ["final.pt", "final.safetensors"]
    assert json.loads((out / "checkpoint" / "state.json").read_text())["epoch"] == 1
    assert len(json.loads((out / "metrics.json").read_text())["epochs"]) == 1


def test_keras_trains_under_mirrored_strategy(tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = train(
        tiny,
        "--target",
        "keras",
        "--strategy",
        "mirrored",
        "--data",
        "digits",
        "--limit",
        "64",
        "--epochs",
        "1",
        "--out",
        out,
    )
    assert result.exit_code == 0, result.output
    assert yaml_settings(out)["strategy"] == "mirrored"
    assert (out / "final.weights.h5").is_file()


def free_ports(count: int) -> list[int]:
    """Ports the system has just handed out as free (closed again, for the workers to bind)."""
    import socket

    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_keras_multiworker_trains_as_one_process_on_the_same_global_batches(tiny_plain: Path, tmp_path: Path) -> None:
    workers = [f"localhost:{port}" for port in free_ports(2)]
    out, single = tmp_path / "run", tmp_path / "single"
    options = ["--target", "keras", "--data", "synthetic:64", "--batch-size", "16", "--epochs", "2"]
    command = [sys.executable, "-m", "alexgen", "train", str(tiny_plain), *options, "--out", str(out)]
    processes = []
    for index in range(2):
        config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        env = {**os.environ, "TF_CONFIG": json.dumps(config), "OMP_NUM_THREADS": "1"}
        processes.append(
            subprocess.Popen(
                [*command, "--strategy", "multiworker"], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True
            )
        )
    errors = [p.communicate(timeout=240)[1] for p in processes]
    assert [p.returncode for p in processes] == [0, 0], errors[0][-3000:] + errors[1][-3000:]
    assert errors[0].count("epoch 2/2:") == 1 and "epoch" not in errors[1]  # the chief alone reports and writes
    assert train(tiny_plain, *options, "--out", single).exit_code == 0
    distributed, alone = epochs_of(out), epochs_of(single)
    for both in zip(distributed, alone, strict=True):
        for key in ("loss", "val_loss", "accuracy", "val_accuracy"):
            assert both[0][key] == pytest.approx(both[1][key], rel=1e-5), key
    summary = json.loads((out / "summary.json").read_text())
    assert summary["world_size"] == 2 and yaml_settings(out)["strategy"] == "multiworker"
    alone_summary = json.loads((single / "summary.json").read_text())
    assert summary["test_loss"] == pytest.approx(alone_summary["test_loss"], rel=1e-5)


def test_tf_config_gives_the_chief_rank_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    from alexgen.runs import RunError
    from alexgen.train.distributed import tf_config_ranks

    def ranks(cluster: dict[str, list[str]], kind: str, index: int) -> tuple[int, int, bool]:
        monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": kind, "index": index}}))
        found = tf_config_ranks()
        return found.rank, found.world_size, found.lead

    workers = {"worker": ["a:1", "b:1"]}
    assert ranks(workers, "worker", 0) == (0, 2, True) and ranks(workers, "worker", 1) == (1, 2, False)
    with_chief = {"chief": ["c:1"], "worker": ["a:1", "b:1"]}
    assert ranks(with_chief, "chief", 0) == (0, 3, True) and ranks(with_chief, "worker", 0) == (1, 3, False)
    with pytest.raises(RunError, match="task worker 2 is not in the cluster"):
        ranks(workers, "worker", 2)
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(RunError, match="TF_CONFIG is not a cluster description"):
        tf_config_ranks()


def test_strategy_is_refused_for_pytorch(tiny: Path, tmp_path: Path) -> None:
    result = train(tiny, "--target", "pytorch", "--strategy", "mirrored", "--out", tmp_path / "run")
    assert result.exit_code == 2 and "torchrun" in result.stderr


def yaml_settings(run: Path) -> dict[str, object]:
    """The resolved settings config.yaml recorded."""
    import yaml

    settings: dict[str, object] = yaml.safe_load((run / "config.yaml").read_text())["settings"]
    return settings


def test_tensorboard_flag_writes_event_files(tiny: Path, tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    out = tmp_path / "run"
    assert (
        train(
            tiny,
            "--target",
            "pytorch",
            "--data",
            "digits",
            "--limit",
            "32",
            "--epochs",
            "1",
            "--tensorboard",
            "--out",
            out,
        ).exit_code
        == 0
    )
    assert list((out / "tensorboard").glob("events.out.tfevents.*"))


def test_emissions_are_measured_offline_into_the_run_folder(
    tiny: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("codecarbon")
    out = tmp_path / "run"
    options = ["--data", "synthetic:32", "--epochs", "1", "--batch-size", "8", "--emissions", "FRA", "--out", out]
    result = train(tiny, "--target", "pytorch", *options)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["energy_kwh"] > 0 and summary["emissions_kg_co2eq"] > 0
    assert " Wh, " in result.stderr and "g CO2eq" in result.stderr
    assert "codecarbon" not in result.stderr + capfd.readouterr().err  # its logging writes to the real stderr
    with (out / "emissions.csv").open() as handle:
        (row,) = list(__import__("csv").DictReader(handle))
    assert row["country_iso_code"] == "FRA" and float(row["emissions"]) == pytest.approx(
        summary["emissions_kg_co2eq"], rel=1e-6
    )


def test_emissions_country_and_library_are_checked_before_the_run_folder(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "run"
    result = train(tiny, "--target", "pytorch", "--data", "synthetic:8", "--emissions", "France", "--out", out)
    assert result.exit_code == 2 and "ISO 3166 alpha-3 code" in result.stderr
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "codecarbon" else real(name, *a))
    result = train(tiny, "--target", "pytorch", "--data", "synthetic:8", "--emissions", "FRA", "--out", out)
    assert result.exit_code == 2 and "pip install 'alexgen[emissions]'" in result.stderr
    assert not out.exists()

