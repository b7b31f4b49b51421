"""The machine's float32 peak, measured here: large matrix products in numpy and PyTorch on all cores.

A matmul of n x n by n x n does 2n^3 floating-point operations (one FMA = 2 FLOPs). Each probe reports its
fastest repetition (a peak is the best the machine does; on a shared machine the median would measure the
neighbours). Every other benchmark reports its throughput as a fraction of the best of these probes.
Run: python -m benchmarks.peak [--quick]
"""

from __future__ import annotations

import argparse

from benchmarks.common import Metrics, parser, repetitions, script_main, table, timings


def _size(args: argparse.Namespace) -> int:
    return 256 if args.tiny else 2048 if args.quick else 4096


def _numpy_probe(n: int, warmup: int, repeat: int) -> float:
    import numpy as np

    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, n), dtype=np.float32), rng.standard_normal((n, n), dtype=np.float32)
    out = np.empty((n, n), dtype=np.float32)
    return 2 * n**3 / min(timings(lambda: np.matmul(a, b, out=out), repeat, warmup)) / 1e9


def _torch_probe(n: int, warmup: int, repeat: int, threads: int | None = None) -> float:
    import torch

    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        generator = torch.Generator().manual_seed(0)
        a, b = torch.randn(n, n, generator=generator), torch.randn(n, n, generator=generator)
        out = torch.empty(n, n)
        return 2 * n**3 / min(timings(lambda: torch.mm(a, b, out=out), repeat, warmup)) / 1e9
    finally:
        torch.set_num_threads(before)


def measure(args: argparse.Namespace) -> list[tuple[str, float]]:
    """(probe, GFLOP/s) on all cores: numpy's BLAS and PyTorch's, float32."""
    n = _size(args)
    warmup, repeat = repetitions(args, full=(2, 15), quick=(2, 7))
    return [
        (f"numpy float32 matmul {n}x{n}, all cores", _numpy_probe(n, warmup, repeat)),
        (f"torch float32 matmul {n}x{n}, all cores", _torch_probe(n, warmup, repeat)),
    ]


def run(argv: list[str] | None = None) -> tuple[str, Metrics]:
    """The probes as a Markdown table, and the peak: the best all-core probe."""
    args = parser(__doc__.splitlines()[0]).parse_args(argv)
    import torch

    rows = measure(args)
    n = _size(args)
    warmup, repeat = repetitions(args, full=(2, 5), quick=(2, 3))
    single = _torch_probe(n, warmup, repeat, threads=1)
    peak = max(g for _, g in rows)
    lines = [
        *((name, f"{g:,.0f}", f"{g / peak:.0%}") for name, g in rows),
        (f"torch float32 matmul {n}x{n}, 1 core", f"{single:,.0f}", f"{single / peak:.0%}"),
    ]
    text = (
        f"### Peak (float32 matmul)\n\n{table(['probe', 'GFLOP/s', 'of peak'], lines, right=(1, 2))}\n"
        f"**peak = {peak:,.0f} GFLOP/s** (the best all-core probe; {torch.get_num_threads()} threads)\n"
    )
    return text, {"peak_gflops": peak}


def main() -> None:
    """Print the report."""
    script_main(run)


if __name__ == "__main__":
    main()
