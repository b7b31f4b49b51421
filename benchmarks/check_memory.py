"""Peak memory and wall time of a full-size `alexgen check` (issue 14's memory target).

Runs `python -m alexgen check SPEC --format json` and polls the resident memory of its whole process tree
(the check and its Keras worker) every 20 ms with psutil; prints one Markdown table row per spec: the peak of
the tree's summed RSS, the largest single process's peak, wall time, CPU load before the run, and whether
the check passed.

    .venv/bin/python benchmarks/check_memory.py spec/alexnet.yaml tests/specs/zfnet_like.yaml
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
POLL_SECONDS = 0.02


def tree_peak(pid: int, done: threading.Event, peaks: dict[str, int]) -> None:
    """Record the largest summed RSS of `pid` and its descendants, and the largest single RSS, until `done`."""
    import psutil

    root = psutil.Process(pid)
    while not done.is_set():
        total = 0
        try:
            processes = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return
        for process in processes:
            try:
                rss = int(process.memory_info().rss)
            except psutil.NoSuchProcess:
                continue
            total += rss
            peaks["process"] = max(peaks["process"], rss)
        peaks["tree"] = max(peaks["tree"], total)
        time.sleep(POLL_SECONDS)


def measure(spec: str, *extra: str) -> dict[str, float | bool]:
    """Peak tree and process RSS in GiB, wall seconds and the verdict of one check."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    load = os.getloadavg()[0]
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "alexgen", "check", spec, "--format", "json", *extra],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    done, peaks = threading.Event(), {"tree": 0, "process": 0}
    poller = threading.Thread(target=tree_peak, args=(process.pid, done, peaks), daemon=True)
    poller.start()
    stdout, _ = process.communicate()
    seconds = time.perf_counter() - start
    done.set()
    poller.join()
    passed = bool(stdout) and bool(json.loads(stdout)["passed"])
    return {
        "tree_gib": peaks["tree"] / 2**30,
        "process_gib": peaks["process"] / 2**30,
        "seconds": seconds,
        "load": load,
        "passed": passed,
    }


def main() -> None:
    """One row per spec given on the command line."""
    print("| spec | peak RSS, process tree | largest process | wall time | load before | passed |")
    print("|---|---:|---:|---:|---:|---|")
    for spec in sys.argv[1:] or ["spec/alexnet.yaml"]:
        m = measure(spec)
        print(
            f"| {spec} | {m['tree_gib']:.2f} GiB | {m['process_gib']:.2f} GiB | {m['seconds']:.0f} s | "
            f"{m['load']:.1f} | {m['passed']} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
