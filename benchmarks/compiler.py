"""The compiler's own speed: `analyze` cold start against learning the same facts the framework way, and
`render` of every spec in spec/ for both targets, formatting included.

Every command runs in a new process, as in an editor, a pre-commit hook or CI.
Run: python -m benchmarks.compiler [--quick]
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path

from alexgen.resources import spec_files
from benchmarks.common import (
    ENV,
    ROOT,
    Metrics,
    median_time,
    ms,
    parser,
    python,
    repetitions,
    run_time,
    script_main,
    table,
)

# The framework way: import torch, build AlexNet, run it layer by layer counting parameters and MACs (window
# reads of max pooling included, as the analyzer counts them).
FRAMEWORK_WAY = """
import torch
from torch import nn

model = nn.Sequential(
    nn.Conv2d(3, 96, 11, stride=4), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
    nn.Conv2d(96, 256, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
    nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(inplace=True),
    nn.Conv2d(384, 384, 3, padding=1), nn.ReLU(inplace=True),
    nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
    nn.Flatten(), nn.Dropout(0.5), nn.Linear(9216, 4096), nn.ReLU(inplace=True),
    nn.Dropout(0.5), nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Linear(4096, 1000), nn.Softmax(dim=1),
).eval()
macs = 0
x = torch.zeros(1, 3, 227, 227)
with torch.no_grad():
    for layer in model:
        x = layer(x)
        if isinstance(layer, nn.Conv2d):
            macs += x.numel() * layer.in_channels // layer.groups * layer.kernel_size[0] * layer.kernel_size[1]
        elif isinstance(layer, nn.Linear):
            macs += layer.in_features * layer.out_features
        elif isinstance(layer, nn.MaxPool2d):
            macs += x.numel() * layer.kernel_size * layer.kernel_size
        print(type(layer).__name__, tuple(x.shape))
params = sum(p.numel() for p in model.parameters())
print(params, macs)
assert params == 62378344 and macs == 1136358272, (params, macs)  # what alexgen analyze reports
"""
IMPORT_TIME = "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
# Specs in spec/ that declare parameters: rendering them decides which parameters become builder arguments by
# rebuilding the spec with each parameter changed (alexgen/targets/arguments.py).
WITH_PARAMS = ("alexnet.yaml", "alexnet_plain.yaml", "vgg16.yaml")


def import_seconds(module: str, repeat: int) -> float:
    """Median seconds to import `module` in a fresh interpreter (measured inside it, start-up excluded)."""
    times = []
    for _ in range(repeat):
        out = subprocess.run(
            [python(), "-c", IMPORT_TIME.format(module=module)],
            cwd=ROOT,
            env=ENV,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        times.append(float(out.split()[-1]))
    return statistics.median(times)


def cached_runs(command: list[str], repeat: int, warmup: int, cache: Path, first: bool) -> float:
    """Median wall seconds of `command` in a new process with $XDG_CACHE_HOME at `cache`: emptied before each run
    when `first` (a first run: validated, analysed, written to the analyze cache), else kept (a repeat run)."""
    env = {**ENV, "XDG_CACHE_HOME": str(cache)}
    env.pop("ALEXGEN_NO_CACHE", None)

    def once() -> None:
        if first:
            shutil.rmtree(cache, ignore_errors=True)
        subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    return median_time(once, repeat, warmup)


def cold_start(warmup: int, repeat: int, tiny: bool = False) -> tuple[str, Metrics]:
    """The cold-start table and the ratios framework way / analyze, first run and cached (`tiny`: those rows)."""
    py = python()
    analyze = [py, "-m", "alexgen", "analyze"]
    with tempfile.TemporaryDirectory(prefix="alexgen-bench-cache-") as folder:
        cache = Path(folder) / "xdg"
        first = cached_runs(analyze, repeat, warmup, cache, first=True)
        cached = cached_runs(analyze, repeat, warmup, cache, first=False)
        framework = run_time([py, "-c", FRAMEWORK_WAY], repeat, warmup=warmup)
        metrics = {
            "analyze_ms": cached * 1e3,
            "analyze_first_ms": first * 1e3,
            "framework_way_ms": framework * 1e3,
            "analyze_ratio": framework / cached,
            "analyze_first_ratio": framework / first,
        }
        rows = [
            (
                "`alexgen analyze`, first run (empty cache: validated, analysed, cached)",
                ms(first),
                f"{first / cached:.2f}",
            ),
            ("`alexgen analyze`, repeat run (cached)", ms(cached), "1.0"),
        ]
        if not tiny:
            json_cached = cached_runs([*analyze, "--format", "json"], repeat, warmup, cache, first=False)
            no_cache = run_time([*analyze, "--no-cache"], repeat, warmup=warmup)
            metrics["analyze_json_ms"] = json_cached * 1e3
            metrics["analyze_no_cache_ms"] = no_cache * 1e3
            rows = [
                (
                    "`python -c pass` (interpreter start-up)",
                    ms(run_time([py, "-c", "pass"], repeat, warmup=warmup)),
                    "",
                ),
                ("`alexgen --help`", ms(run_time([py, "-m", "alexgen", "--help"], repeat, warmup=warmup)), ""),
                *rows,
                (
                    "`alexgen analyze --format json`, repeat run (cached)",
                    ms(json_cached),
                    f"{json_cached / cached:.2f}",
                ),
                ("`alexgen analyze --no-cache` (always validates)", ms(no_cache), f"{no_cache / cached:.2f}"),
                ("of which `import alexgen.cli`", ms(import_seconds("alexgen.cli", repeat)), ""),
                (
                    "of which `import alexgen.validate` (pydantic models)",
                    ms(import_seconds("alexgen.validate", repeat)),
                    "",
                ),
            ]
    rows.append(
        (
            "the framework way: import torch, build AlexNet, forward layer by layer, count",
            ms(framework),
            f"{framework / cached:.1f}",
        )
    )
    if not tiny:
        rows.append(("of which `import torch`", ms(import_seconds("torch", repeat)), ""))
    return table(["new process", "median ms", "x cached analyze"], rows, right=(1, 2)), metrics


def render_all(warmup: int, repeat: int, tiny: bool = False) -> tuple[str, Metrics]:
    """Wall time of rendering every spec in spec/ for both targets: into an empty folder (not when `tiny`), and
    --check against generated/."""
    py = python()
    count = len(spec_files(ROOT / "spec"))
    rows, metrics = [], {}
    if not tiny:
        with tempfile.TemporaryDirectory(prefix="alexgen-bench-") as folder:

            def fresh() -> None:
                out = Path(folder) / "out"
                shutil.rmtree(out, ignore_errors=True)
                command = [py, "-m", "alexgen", "render", "--out", str(out)]
                subprocess.run(command, cwd=ROOT, env=ENV, check=True, capture_output=True)

            write = median_time(fresh, repeat, warmup)
        rows.append((f"`alexgen render` ({count} specs x 2 targets) into an empty folder", ms(write)))
        metrics["render_ms"] = write * 1e3
    check = run_time([py, "-m", "alexgen", "render", "--check"], repeat, warmup=warmup)
    rows.append((f"`alexgen render --check` ({count} specs x 2 targets, nothing written)", ms(check)))
    metrics["render_check_ms"] = check * 1e3
    if not tiny:
        specs = [f"spec/{name}" for name in WITH_PARAMS]
        params = run_time([py, "-m", "alexgen", "render", "--check", *specs], repeat, warmup=warmup)
        rows.append(
            (
                f"`alexgen render --check` of the {len(specs)} specs with parameters ({', '.join(WITH_PARAMS)})",
                ms(params),
            )
        )
        metrics["render_params_check_ms"] = params * 1e3
    return table(["new process, formatting included", "median ms"], rows, right=(1,)), metrics


def run(argv: list[str] | None = None) -> tuple[str, Metrics]:
    """The cold-start and render tables."""
    args = parser(__doc__.splitlines()[0]).parse_args(argv)
    warmup, repeat = repetitions(args, full=(1, 7), quick=(1, 3))
    start, metrics = cold_start(warmup, repeat, args.tiny)
    render, render_metrics = render_all(warmup, repeat, args.tiny)
    text = (
        f"### Compiler: `analyze` cold start\n\n{start}\n**A repeat `analyze` (cached) is "
        f"{metrics['analyze_ratio']:.1f}x faster than the framework way; a first run (empty cache) "
        f"{metrics['analyze_first_ratio']:.1f}x** (goal: at least 15x)\n\n### Compiler: render every spec\n\n{render}"
    )
    return text, {**metrics, **render_metrics}


def main() -> None:
    """Print the report."""
    script_main(run)


if __name__ == "__main__":
    main()
