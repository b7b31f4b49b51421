"""Where the PyTorch inference time goes: torch.profiler's operator table for the generated model (NCHW, as
generated) and for the hand-written one in channels_last, at batch 32 (AlexNet).

Run: python -m benchmarks.torch_profile [--quick | --tiny]
"""

from __future__ import annotations

from typing import Any

from benchmarks.common import Metrics, parser, repetitions, script_main, table
from benchmarks.models import generated, network, torch_reference

TOP = 8


def operator_rows(model: Any, x: Any, warmup: int, repeat: int) -> tuple[list[tuple[str, str, str]], float]:
    """The TOP operators by self CPU time per batch, as (operator, ms, share), and the total ms per batch."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    with torch.inference_mode():
        for _ in range(warmup):
            model(x)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(repeat):
                model(x)
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events) / repeat / 1e3
    rows = [
        (
            f"`{e.key}`",
            f"{e.self_cpu_time_total / repeat / 1e3:,.1f}",
            f"{e.self_cpu_time_total / repeat / 1e3 / total:.0%}",
        )
        for e in events[:TOP]
    ]
    return rows, total


def run(argv: list[str] | None = None) -> tuple[str, Metrics]:
    """Two operator tables side by side in one report."""
    args = parser(__doc__.splitlines()[0]).parse_args(argv)
    import torch

    torch.manual_seed(0)
    net = network(args.tiny)
    batch = 2 if args.tiny else 32
    warmup, repeat = repetitions(args, full=(2, 5), quick=(1, 3))
    x = torch.randn(batch, 3, net.size, net.size)
    cases = [
        ("generated, NCHW (as generated)", generated(net, "pytorch").build_model().eval(), x),
        (
            "hand-written, channels_last",
            torch_reference(net).eval().to(memory_format=torch.channels_last),
            x.contiguous(memory_format=torch.channels_last),
        ),
    ]
    parts, metrics = [], {}
    for label, model, inputs in cases:
        rows, total = operator_rows(model, inputs, warmup, repeat)
        parts.append(
            f"{label}: {total:,.1f} ms of operator self time per batch of {batch}\n\n"
            + table(["operator", "self ms / batch", "share"], rows, right=(1, 2))
        )
        metrics[f"{'generated' if label.startswith('generated') else 'reference_cl'}_profiled_ms"] = total
    return f"### Profile: PyTorch inference operators ({net.graph.name}, batch {batch})\n\n" + "\n".join(parts), metrics


def main() -> None:
    """Print the report."""
    script_main(run)


if __name__ == "__main__":
    main()
