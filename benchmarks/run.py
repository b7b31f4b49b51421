"""Measure alexgen's speed and memory; prints a Markdown table (copy it into benchmarks/RESULTS.md).

Machines are noisy, so every timing is also given as a ratio to a reference measured in the same run:
`python -c pass` for start-up bound commands, and one forward pass of the same model for the check.
Run: python benchmarks/run.py [--repeat 5] [--skip-check]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(command: list[str], repeat: int) -> tuple[float, int]:
    """Median wall time (s) over `repeat` runs and peak RSS (KiB) of the children."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return statistics.median(times), peak


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--skip-check", action="store_true")
    args = parser.parse_args()
    python = sys.executable
    baseline, _ = timed([python, "-c", "pass"], args.repeat)
    rows = [("python -c pass (reference)", baseline, None)]
    for label, command in [
        ("alexgen --help", [python, "-m", "alexgen", "--help"]),
        ("alexgen analyze (bundled AlexNet)", [python, "-m", "alexgen", "analyze"]),
        ("alexgen analyze --format json, two-tower", [python, "-m", "alexgen", "analyze",
                                                       "spec/alexnet_two_tower.yaml", "--format", "json"]),
        ("alexgen render --check (7 specs x 2 targets)", [python, "-m", "alexgen", "render", "--check"]),
        ("import torch (reference)", [python, "-c", "import torch"]),
        ("import keras (reference)", [python, "-c", "import keras"]),
    ]:
        seconds, _ = timed(command, args.repeat)
        rows.append((label, seconds, None))
    if not args.skip_check:
        seconds, peak = timed([python, "-m", "alexgen", "check", "spec/alexnet.yaml", "--format", "json"], 1)
        rows.append(("alexgen check spec/alexnet.yaml (62M params)", seconds, peak))
    print("| what | median s | x `python -c pass` | peak RSS |")
    print("|---|---:|---:|---:|")
    for label, seconds, peak in rows:
        memory = f"{peak / 1024:,.0f} MiB" if peak else ""
        print(f"| {label} | {seconds:.3f} | {seconds / baseline:.1f} | {memory} |")


if __name__ == "__main__":
    main()
