"""The benchmark scripts still run: each one end to end in its tiny mode (numbers meaningless, never asserted)."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TINY = {
    "peak": ["--tiny"],
    "compiler": ["--tiny"],
    "scaling": ["--tiny"],
    "robustness": ["--tiny"],
    "torch_profile": ["--tiny"],
    "training_profile": ["--tiny"],
    "inference": ["--tiny", "--peak", "100"],
    "training": ["--tiny", "--peak", "100"],
}


@pytest.mark.parametrize("name", list(TINY))
def test_each_benchmark_runs_in_its_tiny_mode(name: str) -> None:
    if name in ("inference", "training", "torch_profile", "training_profile"):
        pytest.importorskip("torch")
        pytest.importorskip("keras")
    module = importlib.import_module(f"benchmarks.{name}")
    text, metrics = module.run(TINY[name])
    assert text.startswith("### ") and "|---" in text, text
    assert metrics and all(value > 0 for value in metrics.values()), metrics


def test_the_tiny_inference_run_measures_every_model_at_each_batch() -> None:
    pytest.importorskip("torch")
    from benchmarks import inference

    text, metrics = inference.run(["--tiny", "--peak", "100", "--framework", "torch"])
    keys = {key.rsplit("_b", 1)[0] for key in metrics}
    assert keys == {"torch_generated_predict", "torch_generated_predict_cl_input", "torch_generated",
                    "torch_reference", "torch_reference_cl"}, keys
    assert text.count("| PyTorch |") == 5, text  # five models at batch 2 (torch.compile only outside --tiny)


def test_run_writes_the_report_and_keeps_the_notes(tmp_path: Path) -> None:
    output = tmp_path / "BENCHMARKS.md"
    from benchmarks.run import NOTES

    output.write_text(f"old numbers\n{NOTES}\nhand-written analysis\n")
    result = subprocess.run(
        [sys.executable, "benchmarks/run.py", "--tiny", "--only", "scaling", "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = output.read_text()
    assert "old numbers" not in report
    assert report.endswith(f"{NOTES}\nhand-written analysis\n")
    for heading in ("## Goals", "### Scaling", "python benchmarks/run.py --tiny --only scaling", "- CPU: "):
        assert heading in report, heading


def test_interleaved_medians_warms_every_step_then_times_them_in_turn_rotating(monkeypatch: pytest.MonkeyPatch) -> None:
    from benchmarks import common

    clock = [0.0]
    calls: list[str] = []

    def step(name: str, seconds: float) -> object:
        def run() -> None:
            calls.append(name)
            clock[0] += seconds

        return run

    monkeypatch.setattr(common.time, "perf_counter", lambda: clock[0])
    medians = common.interleaved_medians([step("a", 1.0), step("b", 3.0)], repeat=3, warmup=2)
    # two warm-up rounds, then three timed rounds, each starting one step later; never a block of one step
    assert calls == ["a", "b", "a", "b", "a", "b", "b", "a", "a", "b"], calls
    assert medians == [1.0, 3.0], medians


def test_profile_self_times_subtract_nested_events_and_group_by_family() -> None:
    from benchmarks.training_profile import by_family, family, self_times

    # an outer call (0-100) holding two ops (10-40 and 50-60), one of which holds a child (20-30)
    events = [(0, 100, "call"), (10, 30, "a:Conv2D"), (20, 10, "b:Mul"), (50, 10, "c:MatMul")]
    assert self_times(events) == {"call": 60, "a:Conv2D": 20, "b:Mul": 10, "c:MatMul": 10}
    assert family("gradient_tape/conv1/Conv2DBackpropFilter:_MklNativeConv2DBackpropFilterWithBias") == (
        "convolution, backward")
    assert family("adam/Mul_3:Mul") == "optimizer update" != family("loss/Mul:Mul")
    assert by_family({"aten::mm": 6.0, "aten::convolution_backward": 4.0}, repeat=2) == {
        "dense (matmul), forward and backward": 3.0, "convolution, backward": 2.0}
