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


LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 10) + "]\n" for i in range(8))
HOSTILE = {
    "billion laughs (10^9 aliases)": LAUGHS,
    "nesting 400,000 deep": "a: " + "[" * 400_000 + "]" * 400_000,
    "6,000 broken layers": "alexgen: 1\nname: x\ninput_shape: [8, 8, 1]\nlayers:\n" + "".join(
        f"  - {{type: conv, name: l{i}, inputs: [nope{i}]}}\n" for i in range(6000)),
}


def hostile_rows() -> list[tuple[str, float, float]]:
    """In-process: seconds to refuse each hostile spec, and the ratio to validating the bundled AlexNet."""
    from alexgen.diagnostics import SpecError
    from alexgen.validate import graph_from_text

    reference_text = (ROOT / "spec" / "alexnet.yaml").read_text()
    start = time.perf_counter()
    graph_from_text(reference_text)
    reference = time.perf_counter() - start
    rows = [("validate + analyze spec/alexnet.yaml (reference)", reference, 1.0)]
    for label, text in HOSTILE.items():
        start = time.perf_counter()
        try:
            graph_from_text(text)
        except SpecError:
            pass
        seconds = time.perf_counter() - start
        rows.append((f"refuse: {label}", seconds, seconds / reference))
    return rows


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
    print("| in process | s | x reference |")
    print("|---|---:|---:|")
    for label, seconds, ratio in hostile_rows():
        print(f"| {label} | {seconds:.3f} | {ratio:.1f} |")
    print()
    print("| what | median s | x `python -c pass` | peak RSS |")
    print("|---|---:|---:|---:|")
    for label, seconds, peak in rows:
        memory = f"{peak / 1024:,.0f} MiB" if peak else ""
        print(f"| {label} | {seconds:.3f} | {seconds / baseline:.1f} | {memory} |")


if __name__ == "__main__":
    main()
