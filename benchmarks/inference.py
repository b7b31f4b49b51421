<<<<<<< HEAD
"""Inference throughput: the generated PyTorch and Keras AlexNet against hand-written references in the same run,
at batch 32 and batch 1, as a fraction of the machine's measured peak.

FLOPs per image are twice the MACs `alexgen analyze` counts (1.136 GMAC for AlexNet at 227x227). The reference of
each framework (speed 1.00) is the hand-written model in the form people usually write it: a torchvision-style
nn.Module in NCHW, and a Keras functional model called through tf.function.
Run: python -m benchmarks.inference [--quick | --tiny] [--framework torch|keras|all] [--peak GFLOPS]
=======
"""Generated models' speed beside hand-written references, as fractions of the machine's measured peak.

PyTorch: batch-32 inference of generated/pytorch/alexnet.py (NCHW, channels_last, `predict` under
inference_mode, `compile=True`) against a torchvision-style AlexNet written by hand, and one training step.
Keras: `model(x)`, `model.predict(x)` and the generated `make_predict_function(model)` (a tf.function).
The peak is a large float32 matmul in the same process, so every figure is a ratio measured in one run.
Run: python -m benchmarks.inference [--part torch|keras|all] [--repeat 5] [--profile]
>>>>>>> tmpl
"""

from __future__ import annotations

import argparse
<<<<<<< HEAD
from collections.abc import Callable
from typing import Any

from benchmarks.common import (
    Metrics,
    Row,
    fraction_metrics,
    median_time,
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


def torch_rows(net: Net, batches: list[int], args: argparse.Namespace) -> list[Row]:
    """Generated model as generated (eval, no_grad) and the hand-written one in NCHW and channels_last."""
    import torch

    torch.manual_seed(0)
    module = generated(net, "pytorch")
    models: list[tuple[str, str, Any, Callable[[], Any], bool]] = [
        (
            "torch_generated",
            "generated, as generated (eval, no_grad)",
            module.build_model().eval(),
            torch.no_grad,
            False,
        ),
        (
            "torch_reference",
            "hand-written torchvision-style, NCHW (inference_mode)",
            torch_reference(net).eval(),
            torch.inference_mode,
            True,
        ),
        (
            "torch_reference_cl",
            "hand-written, channels_last (inference_mode)",
            torch_reference(net).eval().to(memory_format=torch.channels_last),
            torch.inference_mode,
            False,
        ),
    ]
    rows = []
    for batch in batches:
        x = torch.randn(batch, 3, net.size, net.size)
        for key, label, model, context, is_ref in models:
            inputs = x.contiguous(memory_format=torch.channels_last) if key.endswith("_cl") else x

            def step(model: Any = model, context: Callable[[], Any] = context, inputs: Any = inputs) -> None:
                with context():
                    model(inputs)

            warmup, repeat = repeats(batch, args)
            rows.append(Row("PyTorch", key, label, batch, median_time(step, repeat, warmup), is_ref))
    return rows


def keras_rows(net: Net, batches: list[int], args: argparse.Namespace) -> list[Row]:
    """Generated model called eagerly and through tf.function, and the hand-written functional model."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    module = generated(net, "keras")
    model, reference = module.build_model(), keras_reference(net)
    calls: list[tuple[str, str, Callable[[Any], Any], bool]] = [
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
        for key, label, call, is_ref in calls:
            warmup, repeat = repeats(batch, args)
            seconds = median_time(lambda call=call, x=x: call(x).numpy(), repeat, warmup)
            rows.append(Row("Keras", key, label, batch, seconds, is_ref))
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
=======
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SPEC = "spec/alexnet.yaml"
BATCH = 32


def median_seconds(step: Callable[[], Any], repeat: int, warmup: int = 2) -> float:
    """Median wall time of `step` after warm-up calls."""
    return interleaved({"step": step}, repeat, warmup)["step"]


def interleaved(steps: dict[str, Callable[[], Any]], repeat: int, warmup: int = 2) -> dict[str, float]:
    """Median wall time of each step, timed in rounds (one call of each per round), so a machine whose load
    drifts during the run slows every step alike and the ratios stay meaningful."""
    for step in steps.values():
        for _ in range(warmup):
            step()
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(repeat):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def forward_flops() -> int:
    """FLOPs of one forward pass of one image (2 per multiply-accumulate), from alexgen's analysis."""
    sys.path.insert(0, str(ROOT))
    from alexgen.validate import load_graph

    return 2 * load_graph(ROOT / SPEC, SPEC).macs


def row(name: str, seconds: float, flops: float, peak: float, reference: float | None = None) -> str:
    """One Markdown row: time, GFLOP/s, fraction of peak, ratio to the reference time."""
    rate = flops / seconds / 1e9
    ratio = f"{reference / seconds:.2f}" if reference else ""
    return f"| {name} | {seconds * 1e3:.1f} | {rate:.0f} | {rate / peak:.0%} | {ratio} |"


HEADER = "| what | median ms | GFLOP/s | of peak | speed vs reference |\n|---|---:|---:|---:|---:|"


# --- PyTorch --------------------------------------------------------------------------------------------------


def hand_written_alexnet(num_classes: int = 1000) -> Any:
    """AlexNet as torchvision writes it (227 x 227 input, no grouping, dropout in the classifier)."""
    from torch import nn

    class AlexNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(3, 96, kernel_size=11, stride=4), nn.ReLU(inplace=True),
                nn.MaxPool2d(kernel_size=3, stride=2),
                nn.Conv2d(96, 256, kernel_size=5, padding=2), nn.ReLU(inplace=True),
                nn.MaxPool2d(kernel_size=3, stride=2),
                nn.Conv2d(256, 384, kernel_size=3, padding=1), nn.ReLU(inplace=True),
                nn.Conv2d(384, 384, kernel_size=3, padding=1), nn.ReLU(inplace=True),
                nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
                nn.MaxPool2d(kernel_size=3, stride=2),
            )
            self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
            self.classifier = nn.Sequential(
                nn.Dropout(0.5), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),
                nn.Dropout(0.5), nn.Linear(4096, 4096), nn.ReLU(inplace=True),
                nn.Linear(4096, num_classes),
            )

        def forward(self, x: Any) -> Any:
            x = self.features(x)
            x = self.avgpool(x)
            x = self.classifier(x.flatten(1))
            return x.softmax(dim=1)

    return AlexNet()


def torch_part(repeat: int, profile: bool) -> list[str]:
    """Inference and training rows for the generated PyTorch AlexNet and the hand-written one."""
    import torch

    sys.path.insert(0, str(ROOT))
    from generated.pytorch import alexnet as generated

    torch.manual_seed(0)
    flops = forward_flops()
    x = torch.randn(BATCH, 3, 227, 227)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    hand = hand_written_alexnet().eval()
    hand_cl = hand_written_alexnet().eval().to(memory_format=torch.channels_last)
    ours_nchw = generated.build_model(channels_last=False).eval()
    ours = generated.build_model().eval()

    def infer(model: Any, data: Any) -> Callable[[], Any]:
        def step() -> Any:
            with torch.inference_mode():
                return model(data)
        return step

    start = time.perf_counter()
    compiled = generated.build_model(compile=True).eval()
    infer(compiled, x)()
    compile_seconds = time.perf_counter() - start
    a, b = torch.randn(4096, 4096), torch.randn(4096, 4096)
    reference_name = "hand-written, NCHW, batch 32 (reference)"
    steps = {
        "peak": lambda: a @ b,
        reference_name: infer(hand, x),
        "hand-written, channels_last input and weights": infer(hand_cl, x_cl),
        "generated, build_model(channels_last=False), NCHW": infer(ours_nchw, x),
        "generated, build_model() (channels_last weights), NCHW input": infer(ours, x),
        "generated, build_model(), channels_last input": infer(ours, x_cl),
        "generated predict(model, x) (inference_mode, eval)": lambda: generated.predict(ours, x),
        f"generated, build_model(compile=True) (compiled in {compile_seconds:.0f} s)": infer(compiled, x),
    }
    results = interleaved(steps, repeat)
    peak = 2 * 4096**3 / results.pop("peak") / 1e9
    lines = [f"peak (4096^2 float32 matmul, torch {torch.__version__}, {torch.get_num_threads()} threads): "
             f"{peak:.0f} GFLOP/s; AlexNet forward {flops / 1e9:.2f} GFLOP per image", "", HEADER]
    reference = results[reference_name]
    batch_flops = flops * BATCH
    lines += [row(name, seconds, batch_flops, peak, reference) for name, seconds in results.items()]
    one = x[:1]
    hand_one = median_seconds(infer(hand, one), repeat * 4)
    lines.append(row("batch 1: hand-written, NCHW (reference)", hand_one, flops, peak, hand_one))
    lines.append(row("batch 1: generated predict(model, x)", median_seconds(lambda: generated.predict(ours, one),
                                                                            repeat * 4), flops, peak, hand_one))
    lines += ["", HEADER.replace("speed vs reference", "speed vs hand-written NCHW")]
    lines += training_rows(generated, hand_written_alexnet, x, peak, flops, repeat)
    if profile:
        lines += ["", "```", profile_table(ours, x), "```"]
    return lines


def training_rows(generated: Any, hand_factory: Callable[[], Any], x: Any, peak: float, flops: int,
                  repeat: int) -> list[str]:
    """One optimizer step at batch 32 (3 x forward FLOPs), generated and hand-written, both layouts."""
    import torch

    labels = torch.randint(0, 1000, (BATCH,))

    def step_of(model: Any, data: Any, loss: Callable[[Any, Any], Any]) -> Callable[[], None]:
        optimizer = generated.make_optimizer(model)

        def step() -> None:
            optimizer.zero_grad(set_to_none=True)
            loss(model(data), labels).backward()
            optimizer.step()
        return step

    train_flops = 3 * flops * BATCH
    cl = x.contiguous(memory_format=torch.channels_last)
    reference_name = "training step, hand-written, NCHW (reference)"
    steps = {
        reference_name: step_of(hand_factory().train(), x, generated.loss_fn),
        "training step, hand-written, channels_last": step_of(
            hand_factory().train().to(memory_format=torch.channels_last), cl, generated.loss_fn),
        "training step, generated, build_model(channels_last=False)": step_of(
            generated.build_model(channels_last=False).train(), x, generated.loss_fn),
        "training step, generated, build_model()": step_of(generated.build_model().train(), x, generated.loss_fn),
    }
    results = interleaved(steps, repeat)
    return [row(name, seconds, train_flops, peak, results[reference_name]) for name, seconds in results.items()]


def profile_table(model: Any, x: Any) -> str:
    """torch.profiler's table of one batch-32 inference: where the time goes."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    with torch.inference_mode():
        model(x)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            model(x)
    return str(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12))


# --- Keras ----------------------------------------------------------------------------------------------------


def keras_part(repeat: int) -> list[str]:
    """model(x), model.predict(x) and the generated tf.function prediction path at batch 32 and 1."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import numpy as np
    import tensorflow as tf

    sys.path.insert(0, str(ROOT))
    from generated.keras import alexnet as generated

    a, b = tf.random.normal((4096, 4096)), tf.random.normal((4096, 4096))
    matmul = tf.function(lambda: tf.linalg.matmul(a, b))
    flops = forward_flops()
    model = generated.build_model()
    x = np.random.default_rng(0).standard_normal((BATCH, 227, 227, 3)).astype("float32")
    predict_fn = generated.make_predict_function(model)
    predict_xla = generated.make_predict_function(model, jit_compile=True)
    reference_name = "model(x), batch 32 (reference)"
    results = interleaved({
        "peak": lambda: matmul().numpy(),
        reference_name: lambda: np.asarray(model(x, training=False)),
        "model.predict(x, batch_size=32)": lambda: model.predict(x, batch_size=BATCH, verbose=0),
        "generated make_predict_function(model)(x)": lambda: np.asarray(predict_fn(x)),
        "generated make_predict_function(model, jit_compile=True)(x)": lambda: np.asarray(predict_xla(x)),
    }, repeat)
    peak = 2 * 4096**3 / results.pop("peak") / 1e9
    lines = [f"peak (4096^2 float32 matmul, tf.function, TensorFlow {tf.__version__}): {peak:.0f} GFLOP/s", "",
             HEADER]
    reference = results[reference_name]
    batch_flops = flops * BATCH
    lines += [row(name, seconds, batch_flops, peak, reference) for name, seconds in results.items()]
    one = x[:1]
    ref_one = median_seconds(lambda: np.asarray(model(one, training=False)), repeat * 4)
    lines.append(row("batch 1: model(x) (reference)", ref_one, flops, peak, ref_one))
    lines.append(row("batch 1: generated make_predict_function(model)(x)",
                     median_seconds(lambda: np.asarray(predict_fn(one)), repeat * 4), flops, peak, ref_one))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["torch", "keras", "all"], default="all")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="print torch.profiler's table of one inference")
    args = parser.parse_args()
    if args.part == "all":  # one process per framework, so their thread pools never compete
        for part in ("torch", "keras"):
            command = [sys.executable, "-m", "benchmarks.inference", "--part", part, "--repeat", str(args.repeat)]
            subprocess.run(command + (["--profile"] if args.profile else []), cwd=ROOT, check=True)
        return
    lines = torch_part(args.repeat, args.profile) if args.part == "torch" else keras_part(args.repeat)
    print(f"## {'PyTorch' if args.part == 'torch' else 'Keras'}\n")
    print("\n".join(lines) + "\n")
>>>>>>> tmpl


if __name__ == "__main__":
    main()
