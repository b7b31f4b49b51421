"""Shared helpers: repeated timing with medians, subprocess timing, Markdown tables, machine facts."""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "spec" / "alexnet.yaml"
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": os.environ.get("KERAS_BACKEND", "tensorflow")}
# Commands run as after an install, with bytecode: pip compiles it for an installed package (and torch's), while
# PYTHONDONTWRITEBYTECODE (set in some CI and sandbox shells) makes every start compile alexgen from source (~50
# ms of CPU, a sixth of a first `analyze` here). The warm-up runs write alexgen's __pycache__ (git-ignored).
ENV.pop("PYTHONDONTWRITEBYTECODE", None)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def parser(description: str) -> argparse.ArgumentParser:
    """Arguments every benchmark takes: --quick (a short run), --tiny (a smoke test: smallest sizes, one
    repetition, for the test suite) and --peak (GFLOP/s, measured when omitted)."""
    result = argparse.ArgumentParser(description=description)
    result.add_argument("--quick", action="store_true", help="fewer repetitions and smaller sizes")
    result.add_argument(
        "--tiny", action="store_true", help="smoke test: tiny sizes, one repetition (numbers meaningless)"
    )
    result.add_argument("--peak", type=float, help="machine peak in GFLOP/s (measured by benchmarks.peak if omitted)")
    return result


def repetitions(args: argparse.Namespace, full: tuple[int, int], quick: tuple[int, int]) -> tuple[int, int]:
    """(warm-up runs, timed runs) for the mode chosen on the command line."""
    return (0, 1) if args.tiny else quick if args.quick else full


def timings(step: Callable[[], object], repeat: int, warmup: int = 1) -> list[float]:
    """Wall seconds of `repeat` calls of `step`, after `warmup` untimed calls."""
    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return times


def median_time(step: Callable[[], object], repeat: int, warmup: int = 1) -> float:
    """Median wall seconds of `step` over `repeat` calls, after `warmup` untimed calls."""
    return statistics.median(timings(step, repeat, warmup))


def interleaved_medians(steps: Sequence[Callable[[], object]], repeat: int, warmup: int = 1) -> list[float]:
    """Median wall seconds of each step, all warmed up first and then timed in turn, one call each per round,
    each round starting one step later than the one before.

    Steps compared with each other must be timed this way: timed one after the other, in blocks, the first
    block paid for the process's memory allocator still growing its heap (up to 2.6x the page faults per
    PyTorch AlexNet call), and a change in the machine's load hit some blocks and not others. The rotation
    keeps a step off a fixed place in the allocator's cycle (its page faults alternated call by call, so in a
    fixed order of an even number of steps the same steps always got the expensive calls)."""
    for _ in range(warmup):
        for step in steps:
            step()
    times: list[list[float]] = [[] for _ in steps]
    for round_ in range(repeat):
        for index in range(len(steps)):
            turn = (index + round_) % len(steps)
            start = time.perf_counter()
            steps[turn]()
            times[turn].append(time.perf_counter() - start)
    return [statistics.median(spent) for spent in times]


def run_time(command: Sequence[str], repeat: int, cwd: Path = ROOT, warmup: int = 1) -> float:
    """Median wall seconds of a command run in a new process (stdout discarded; a failure raises)."""

    def once() -> None:
        subprocess.run(list(command), cwd=cwd, env=ENV, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    return median_time(once, repeat, warmup)


def table(header: Sequence[str], rows: Sequence[Sequence[object]], right: Sequence[int] = ()) -> str:
    """A GitHub Markdown table; columns whose index is in `right` are right-aligned."""
    align = ["---:" if i in right else "---" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def ms(seconds: float) -> str:
    """Seconds as milliseconds with sensible precision."""
    return f"{seconds * 1e3:,.1f}" if seconds < 10 else f"{seconds * 1e3:,.0f}"


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (platform.processor() elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_flags() -> str:
    """The vector extensions that matter for peak FLOP/s."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""
    flags = set(next((line for line in text.splitlines() if line.startswith("flags")), "").split())
    return ", ".join(f for f in ("avx2", "fma", "avx512f", "avx512_bf16", "amx_tile") if f in flags)


def load_average() -> str:
    """The 1, 5 and 15 minute load averages."""
    try:
        return ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def versions() -> dict[str, str]:
    """Python and the versions of the libraries that are measured (without importing the heavy ones)."""
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version()}
    for name in ("alexgen", "pydantic", "jinja2", "ruff", "numpy", "torch", "tensorflow-cpu", "tensorflow", "keras"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def peak_or_measure(args: argparse.Namespace) -> float:
    """The peak GFLOP/s passed on the command line, or a fresh measurement."""
    if args.peak:
        return float(args.peak)
    from benchmarks.peak import measure

    return max(gflops for _, gflops in measure(args))


def python() -> str:
    """The interpreter running the benchmarks (the project's venv)."""
    return sys.executable


class Row(NamedTuple):
    """One measured model: its framework, a short key for the metrics, a label, the batch and the median time."""

    framework: str
    key: str
    label: str
    batch: int
    seconds: float
    reference: bool = False


def throughput_table(rows: Sequence[Row], flops_per_image: float, peak: float) -> str:
    """Rows as a table: time, images/s, GFLOP/s, fraction of peak and speed relative to the same framework's
    reference at the same batch (above 1: faster than the reference)."""
    reference = {(r.framework, r.batch): r.seconds for r in rows if r.reference}
    lines = []
    for row in rows:
        gflops = flops_per_image * row.batch / row.seconds / 1e9
        ref = reference.get((row.framework, row.batch))
        lines.append(
            (
                row.framework,
                row.label,
                row.batch,
                ms(row.seconds),
                f"{row.batch / row.seconds:,.1f}",
                f"{gflops:,.0f}",
                f"{gflops / peak:.0%}",
                f"{ref / row.seconds:.2f}" if ref else "",
            )
        )
    return table(
        ["framework", "model", "batch", "ms / batch", "images/s", "GFLOP/s", "of peak", "speed vs reference"],
        lines,
        right=(2, 3, 4, 5, 6, 7),
    )


def fraction_metrics(rows: Sequence[Row], flops_per_image: float, peak: float) -> dict[str, float]:
    """`<key>_b<batch>_peak` (fraction of peak) and `<key>_b<batch>_ms` for every row."""
    metrics = {}
    for row in rows:
        metrics[f"{row.key}_b{row.batch}_peak"] = flops_per_image * row.batch / row.seconds / 1e9 / peak
        metrics[f"{row.key}_b{row.batch}_ms"] = row.seconds * 1e3
    return metrics


Metrics = dict[str, float]
METRICS_ENV = "ALEXGEN_BENCH_METRICS"  # run.py sets it: a JSON file each script writes its key numbers to


def script_main(run: Callable[[list[str] | None], tuple[str, Metrics]]) -> None:
    """A benchmark script's entry point: print the Markdown report; save the metrics when run.py asks."""
    text, metrics = run(None)
    print(text)
    target = os.environ.get(METRICS_ENV)
    if target:
        import json

        Path(target).write_text(json.dumps(metrics, indent=1))
