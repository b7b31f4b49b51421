"""Run every benchmark, each in its own process, and write BENCHMARKS.md at the repository root.

The peak is measured first and passed to the throughput scripts, so every figure is a fraction of the same peak.
Anything in BENCHMARKS.md below the notes marker (analysis written by hand) is kept when it is regenerated.
Run: python benchmarks/run.py [--quick | --tiny] [--only peak compiler ...] [--label TEXT] [--output BENCHMARKS.md]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python benchmarks/run.py` puts benchmarks/, not the root, on the path
    sys.path.insert(0, str(ROOT))

from benchmarks.common import ENV, METRICS_ENV, cpu_flags, cpu_model, load_average, table, versions  # noqa: E402

SCRIPTS = ("peak", "compiler", "scaling", "inference", "training", "torch_profile", "training_profile", "robustness")
NOTES = "<!-- notes: everything below this line is kept when run.py regenerates the file -->"


def run_script(name: str, arguments: list[str]) -> tuple[str, dict[str, float], float]:
    """Run `python -m benchmarks.<name>`; its Markdown, its metrics and its wall time."""
    with tempfile.TemporaryDirectory(prefix="alexgen-bench-") as folder:
        metrics_file = Path(folder) / "metrics.json"
        start = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", f"benchmarks.{name}", *arguments],
            cwd=ROOT,
            env={**ENV, METRICS_ENV: str(metrics_file)},
            capture_output=True,
            text=True,
        )
        seconds = time.perf_counter() - start
        if result.returncode != 0:
            raise SystemExit(f"benchmarks.{name} failed:\n{result.stderr[-4000:]}")
        metrics = json.loads(metrics_file.read_text()) if metrics_file.exists() else {}
    return result.stdout.strip() + "\n", metrics, seconds


def goal(text: str, measured: str, met: bool | None) -> tuple[str, str, str]:
    """One row of the goals table."""
    return text, measured, "n/a" if met is None else ("met" if met else "**not met**")


def goals(m: dict[str, float]) -> str:
    """Issue 13's goals against this run's metrics (rows whose benchmark did not run are left out)."""
    rows = []
    if "analyze_ratio" in m:
        rows.append(
            goal(
                "`analyze` cold start at least 15x faster than the framework way (repeat run, cached)",
                f"{m['analyze_ratio']:.1f}x ({m['analyze_ms']:.0f} vs {m['framework_way_ms']:,.0f} ms)",
                m["analyze_ratio"] >= 15,
            )
        )
    if "analyze_first_ratio" in m:
        rows.append(
            goal(
                "`analyze` cold start at least 15x faster than the framework way (first run, empty cache)",
                f"{m['analyze_first_ratio']:.1f}x ({m['analyze_first_ms']:.0f} vs {m['framework_way_ms']:,.0f} ms)",
                m["analyze_first_ratio"] >= 15,
            )
        )
    if "render_ms" in m:
        rows.append(
            goal(
                "`render` of every spec, both targets, formatted, under 1 s wall",
                f"{m['render_ms']:,.0f} ms",
                m["render_ms"] < 1000,
            )
        )
    sizes = sorted(int(k.rsplit("_", 1)[1]) for k in m if k.startswith("render_us_per_layer_"))
    if len(sizes) >= 2:
        small, big = sizes[-2], sizes[-1]
        for kind in ("analysis", "render"):
            growth = m[f"{kind}_us_per_layer_{big}"] / m[f"{kind}_us_per_layer_{small}"]
            rows.append(
                goal(
                    f"{kind} time linear in the chain length (time per layer flat)",
                    f"{growth:.2f}x per layer from {small:,} to {big:,} layers",
                    growth < 1.5,
                )
            )
    for key, text, target in (
        ("torch_generated_predict_b32_peak", "PyTorch generated `predict`, batch 32, at least 80% of peak", 0.8),
        (
            "keras_generated_predict_b32_peak",
            "Keras generated `make_predict_function`, batch 32, at least 90% of peak",
            0.9,
        ),
    ):
        if key in m:
            rows.append(goal(text, f"{m[key]:.0%}", m[key] >= target))
    for generated_key, reference_key, text in (
        ("torch_generated", "torch_reference", "PyTorch generated `model(x)` vs hand-written torchvision-style NCHW"),
        ("torch_generated_predict", "torch_reference_cl", "PyTorch generated `predict` vs hand-written channels_last"),
    ):
        if f"{generated_key}_b32_ms" in m and f"{reference_key}_b32_ms" in m:
            ratio = m[f"{reference_key}_b32_ms"] / m[f"{generated_key}_b32_ms"]
            rows.append(goal(f"{text}, batch 32: never slower", f"speed {ratio:.2f}x", ratio >= 0.97))
    for key, text, target in (
        ("torch_generated_b32_peak_train", "PyTorch training step at least 60% of peak", 0.6),
        ("keras_generated_b32_peak_train", "Keras training step at least 70% of peak", 0.7),
    ):
        if key in m:
            rows.append(goal(text, f"{m[key]:.0%}", m[key] >= target))
    return table(["goal (issue 13)", "measured", "status"], rows)


def machine() -> str:
    """CPU, cores, memory and library versions, as a Markdown list."""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    found = versions()
    return "\n".join(
        [
            f"- CPU: {cpu_model()}, {os.cpu_count()} logical cores ({cpu_flags()}), {memory:.0f} GiB memory, no GPU",
            "- " + ", ".join(f"{name} {version}" for name, version in found.items()),
        ]
    )


def main() -> None:
    """Run the scripts and write the report."""
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--quick", action="store_true", help="the short version of every benchmark")
    options.add_argument("--tiny", action="store_true", help="smoke test (tiny sizes, meaningless numbers)")
    options.add_argument("--only", nargs="+", choices=SCRIPTS, help="run only these scripts")
    options.add_argument("--label", default="", help="what this run is (e.g. 'phase-1 baseline')")
    options.add_argument("--output", type=Path, default=ROOT / "BENCHMARKS.md")
    args = options.parse_args()
    chosen = args.only or list(SCRIPTS)
    common = ["--tiny"] if args.tiny else ["--quick"] if args.quick else []
    load_before = load_average()
    sections, metrics, durations = [], {}, []
    peak = None
    for name in chosen:
        extra = ["--peak", f"{peak}"] if name in ("inference", "training") and peak else []
        text, found, seconds = run_script(name, [*common, *extra])
        print(text, flush=True)
        sections.append(text)
        if name in ("training",):
            found = {f"{k}_train": v for k, v in found.items()}  # the same model keys as inference
        metrics.update(found)
        peak = found.get("peak_gflops", peak)
        durations.append(f"{name} {seconds:.0f} s")
    command = (
        "python benchmarks/run.py"
        + "".join(f" {c}" for c in common)
        + (f" --only {' '.join(args.only)}" if args.only else "")
    )
    header = [
        "# Benchmarks" + (f": {args.label}" if args.label else ""),
        "",
        f"Generated by `{command}` on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC "
        f"({', '.join(durations)}). Regenerate with the same command after the README's set-up.",
        "",
        machine(),
        f"- Load average (1, 5, 15 min) before the run: {load_before}; after: {load_average()} "
        "(other jobs share this machine: read ratios measured in the same run rather than absolute times)",
        "",
        "## Goals",
        "",
        goals(metrics),
        "## Results",
        "",
    ]
    previous = args.output.read_text() if args.output.exists() else ""
    notes = previous[previous.index(NOTES) :] if NOTES in previous else f"{NOTES}\n"
    args.output.write_text("\n".join(header) + "\n" + "\n".join(sections) + "\n" + notes)
    print(f"wrote {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
