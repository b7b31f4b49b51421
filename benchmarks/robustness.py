"""Hostile and heavy input: how fast hostile specs are refused (in process, against validating the bundled
AlexNet), and what `alexgen check` of the 62M-parameter AlexNet costs in a new process (time and peak memory).

Run: python -m benchmarks.robustness [--quick | --tiny]   (--quick and --tiny skip the `check` run)
"""

from __future__ import annotations

from benchmarks.common import ROOT, Metrics, median_time, ms, parser, repetitions, script_main, table

LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 10) + "]\n" for i in range(8)
)


def hostile_specs(scale: int = 1) -> dict[str, str]:
    """Hostile documents; `scale` divides the nesting depth and the broken-layer count (for the smoke test)."""
    depth, broken = 400_000 // scale, 6000 // scale
    return {
        "billion laughs (10^9 aliases)": LAUGHS,
        f"nesting {depth:,} deep": "a: " + "[" * depth + "]" * depth,
        f"{broken:,} broken layers": "alexgen: 1\nname: x\ninput_shape: [8, 8, 1]\nlayers:\n"
        + "".join(f"  - {{type: conv, name: l{i}, inputs: [nope{i}]}}\n" for i in range(broken)),
    }


def hostile(warmup: int, repeat: int, scale: int = 1) -> tuple[str, Metrics]:
    """Median seconds to refuse each hostile spec, and the ratio to validating spec/alexnet.yaml."""
    from alexgen.diagnostics import SpecError
    from alexgen.validate import graph_from_text

    def refuse(text: str) -> None:
        try:
            graph_from_text(text)
        except SpecError:
            return
        raise AssertionError("a hostile spec was accepted")

    spec = ROOT / "spec" / "alexnet.yaml"
    alexnet = spec.read_text()  # named by its path, so that `extends:` finds its base
    reference = median_time(lambda: graph_from_text(alexnet, str(spec)), max(repeat, 5), max(warmup, 1))
    rows = [("validate + analyze spec/alexnet.yaml (reference)", ms(reference), "1")]
    metrics = {"validate_alexnet_ms": reference * 1e3}
    for label, text in hostile_specs(scale).items():
        seconds = median_time(lambda text=text: refuse(text), repeat, warmup)
        rows.append((f"refuse: {label}", ms(seconds), f"{seconds / reference:,.0f}"))
        metrics[f"refuse {label} ms"] = seconds * 1e3
    return table(["in process", "median ms", "x reference"], rows, right=(1, 2)), metrics


def check_cost() -> tuple[str, Metrics]:
    """`alexgen check spec/alexnet.yaml` once, in a new process: wall time and the peak RSS of its process tree (the
    check and its Keras worker, polled by benchmarks.check_memory)."""
    from benchmarks.check_memory import measure

    m = measure("spec/alexnet.yaml")
    if not m["passed"]:
        raise SystemExit("alexgen check spec/alexnet.yaml failed")
    seconds, peak = float(m["seconds"]), float(m["tree_gib"]) * 1024
    row = ("`alexgen check spec/alexnet.yaml` (62M parameters, both frameworks)", f"{seconds:,.1f}", f"{peak:,.0f}")
    header = ["new process", "s", "peak RSS MiB (process tree)"]
    return table(header, [row], right=(1, 2)), {"check_s": seconds, "check_mib": peak}


def run(argv: list[str] | None = None) -> tuple[str, Metrics]:
    """The hostile-input table and, in a full run, the cost of `check`."""
    args = parser(__doc__.splitlines()[0]).parse_args(argv)
    text, metrics = hostile(*repetitions(args, full=(1, 5), quick=(1, 3)), scale=100 if args.tiny else 1)
    text = f"### Robustness: hostile specs\n\n{text}"
    if not (args.quick or args.tiny):
        check, check_metrics = check_cost()
        text += f"\n### Robustness: `alexgen check` of the full AlexNet\n\n{check}"
        metrics.update(check_metrics)
    return text, metrics


def main() -> None:
    """Print the report."""
    script_main(run)


if __name__ == "__main__":
    main()
