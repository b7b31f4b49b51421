"""Inference throughput: the generated PyTorch and Keras AlexNet against hand-written references in the same run,
at batch 32 and batch 1, as a fraction of the machine's measured peak.

FLOPs per image are twice the MACs `alexgen analyze` counts (1.136 GMAC for AlexNet at 227x227). The reference of
each framework (speed 1.00) is the hand-written model in the form people usually write it: a torchvision-style
nn.Module in NCHW, and a Keras functional model called through tf.function.
Run: python -m benchmarks.inference [--quick | --tiny] [--framework torch|keras|all] [--peak GFLOPS]
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Callable
from typing import Any

from benchmarks.common import (
    Metrics,
    Row,
    fraction_metrics,
    interleaved_medians,
    parser,
    peak_or_measure,
    repetitions,
    script_main,
    throughput_table,
)
from benchmarks.models import Net, generated, keras_reference, network, torch_reference


def repeats(batch: int, args: argparse.Namespace) -> tuple[int, int]:
    """(warm-up calls, timed calls) for a batch size."""
    if batch == 1:
        return repetitions(args, full=(5, 30), quick=(3, 10))
    return repetitions(args, full=(2, 7), quick=(1, 3))


def compiled_model(module: Any, net: Net, batch: int) -> tuple[Any, float]:
    """The generated model through torch.compile, and the seconds its first call (the compilation) took."""
    import torch

    model = module.build_model(compile=True).eval()
    start = time.perf_counter()
    with torch.inference_mode():
        model(torch.randn(batch, 3, net.size, net.size))
    return model, time.perf_counter() - start


def torch_rows(net: Net, batches: list[int], args: argparse.Namespace) -> list[Row]:
    """Generated model as generated (eval, no_grad), through `predict`, and the hand-written one in NCHW and
    channels_last; every model of a batch timed in turn (interleaved)."""
    import torch

    torch.manual_seed(0)
    module = generated(net, "pytorch")
    fast = module.build_model()
    # (key, label, model, context, input in channels_last, reference)
    models: list[tuple[str, str, Any, Callable[[], Any], bool, bool]] = [
        (
            "torch_generated_predict",
            "generated `predict(model, x)` (channels_last, inference_mode)",
            lambda x: module.predict(fast, x),
            contextlib.nullcontext,
            False,
            False,
        ),
        (
            "torch_generated_predict_cl_input",
            "generated `predict(model, x)`, x already channels_last (as the channels_last reference gets it)",
            lambda x: module.predict(fast, x),
            contextlib.nullcontext,
            True,
            False,
        ),
        (
            "torch_generated",
            "generated, as generated (eval, no_grad)",
            module.build_model().eval(),
            torch.no_grad,
            False,
            False,
        ),
        (
            "torch_reference",
            "hand-written torchvision-style, NCHW (inference_mode)",
            torch_reference(net).eval(),
            torch.inference_mode,
            False,
            True,
        ),
        (
            "torch_reference_cl",
            "hand-written, channels_last (inference_mode)",
            torch_reference(net).eval().to(memory_format=torch.channels_last),
            torch.inference_mode,
            True,
            False,
        ),
    ]
    if not args.tiny:  # torch.compile's first call takes tens of seconds even for the tiny network
        compiled, seconds = compiled_model(module, net, batches[0])
        label = f"generated `build_model(compile=True)`, inference_mode (first call compiles: {seconds:.0f} s)"
        models.insert(2, ("torch_generated_compiled", label, compiled, torch.inference_mode, False, False))
    rows = []
    for batch in batches:
        x = torch.randn(batch, 3, net.size, net.size)
        x_cl = x.contiguous(memory_format=torch.channels_last)
        steps = []
        for _, _, model, context, channels_last, _ in models:

            def step(model: Any = model, context: Callable[[], Any] = context,
                     inputs: Any = x_cl if channels_last else x) -> None:
                with context():
                    model(inputs)

            steps.append(step)
        warmup, repeat = repeats(batch, args)
        seconds = interleaved_medians(steps, repeat, warmup)
        rows += [Row("PyTorch", key, label, batch, spent, is_ref)
                 for (key, label, *_, is_ref), spent in zip(models, seconds, strict=True)]
    return rows


def keras_rows(net: Net, batches: list[int], args: argparse.Namespace) -> list[Row]:
    """Generated model called eagerly and through tf.function, and the hand-written functional model; every
    model of a batch timed in turn (interleaved)."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    module = generated(net, "keras")
    model, reference = module.build_model(), keras_reference(net)
    calls: list[tuple[str, str, Callable[[Any], Any], bool]] = [
        ("keras_generated_predict", "generated `make_predict_function(model)` (tf.function)",
         module.make_predict_function(model), False),
        ("keras_generated", "generated, `model(x)` eager", lambda x: model(x, training=False), False),
        (
            "keras_generated_tf_function",
            "generated, wrapped in tf.function by the benchmark",
            tf.function(lambda x: model(x, training=False)),
            False,
        ),
        (
            "keras_reference",
            "hand-written functional, tf.function",
            tf.function(lambda x: reference(x, training=False)),
            True,
        ),
    ]
    rows = []
    for batch in batches:
        x = tf.random.normal((batch, net.size, net.size, 3), seed=0)
        steps = [lambda call=call, x=x: call(x).numpy() for _, _, call, _ in calls]
        warmup, repeat = repeats(batch, args)
        seconds = interleaved_medians(steps, repeat, warmup)
        rows += [Row("Keras", key, label, batch, spent, is_ref)
                 for (key, label, _, is_ref), spent in zip(calls, seconds, strict=True)]
    return rows


def run(argv: list[str] | None = None) -> tuple[str, Metrics]:
    """The inference table."""
    options = parser(__doc__.splitlines()[0])
    options.add_argument("--framework", choices=["torch", "keras", "all"], default="all")
    args = options.parse_args(argv)
    peak = peak_or_measure(args)
    net = network(args.tiny)
    batches = [2] if args.tiny else [32, 1]
    rows = []
    if args.framework in ("torch", "all"):
        rows += torch_rows(net, batches, args)
    if args.framework in ("keras", "all"):
        rows += keras_rows(net, batches, args)
    text = (
        f"### Inference ({net.graph.name}, {net.flops / 1e9:.3f} GFLOP per image, peak {peak:,.0f} GFLOP/s)\n\n"
        + throughput_table(rows, net.flops, peak)
    )
    return text, fraction_metrics(rows, net.flops, peak)


def main() -> None:
    """Print the report."""
    script_main(run)


if __name__ == "__main__":
    main()
