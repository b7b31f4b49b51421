"""Peak memory and wall time of a full-size `alexgen check` (issue 14's memory target).

Runs `python -m alexgen check SPEC --format json` under `/usr/bin/time -v` (Linux) and prints one Markdown
table row per spec: peak resident memory of the largest process (the check and its Keras worker run one after
the other, so that is the peak the machine sees), wall time, and whether the check passed.

    .venv/bin/python benchmarks/check_memory.py spec/alexnet.yaml tests/specs/zfnet_like.yaml
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def measure(spec: str, *extra: str) -> tuple[float, str, bool]:
    """(peak GiB, wall clock, passed) of one check."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(["/usr/bin/time", "-v", sys.executable, "-m", "alexgen", "check", spec,
                             "--format", "json", *extra], cwd=ROOT, capture_output=True, text=True, env=env,
                            check=False)
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr)
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", result.stderr)
    passed = bool(result.stdout) and json.loads(result.stdout)["passed"]
    return (int(peak.group(1)) / 2**20 if peak else float("nan")), (wall.group(1) if wall else "?"), passed


def main() -> None:
    """One row per spec given on the command line."""
    print("| spec | peak memory | wall time | passed |\n|---|---|---|---|")
    for spec in sys.argv[1:] or ["spec/alexnet.yaml"]:
        peak, wall, passed = measure(spec)
        print(f"| {spec} | {peak:.2f} GiB | {wall} | {passed} |", flush=True)


if __name__ == "__main__":
    main()
