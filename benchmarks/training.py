"""Training throughput: one optimizer step at batch 32 (forward, backward, Adam update), the generated PyTorch and
Keras AlexNet against hand-written references in the same run, as a fraction of the machine's measured peak.

A training step is counted as 3x the forward FLOPs (forward, and a backward pass twice as costly).
Run: python -m benchmarks.training [--quick | --tiny] [--framework torch|keras|all] [--peak GFLOPS]
"""

from __future__ import annotations

import argparse
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

TRAINING_FACTOR = 3


def torch_batch(net: Net, batch: int) -> tuple[Any, Any]:
    """A seeded batch of random images (NCHW) and class labels."""
    import torch

    torch.manual_seed(0)
    return torch.randn(batch, 3, net.size, net.size), torch.randint(0, net.classes, (batch,))


def torch_generated_step(net: Net, x: Any, y: Any) -> Callable[[], None]:
    """One training step of the generated PyTorch model with its own optimizer, loss and regularization."""
    module = generated(net, "pytorch")
    model = module.build_model().train()
    optimizer = module.make_optimizer(model)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        loss = module.loss_fn(model(x), y) + module.regularization_loss(model)
        loss.backward()
        optimizer.step()

    return step


def keras_generated_model(net: Net, batch: int) -> tuple[Any, Any, Any]:
    """The generated Keras model compiled by its compile_model, and a seeded batch (NHWC images, labels)."""
    import keras
    import numpy as np
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    module = generated(net, "keras")
    x = tf.random.normal((batch, net.size, net.size, 3), seed=0)
    y = tf.constant(np.random.default_rng(0).integers(0, net.classes, batch))
    return module.compile_model(module.build_model()), x, y


def torch_rows(net: Net, batch: int, args: argparse.Namespace) -> list[Row]:
    """The generated model with its own optimizer and loss, and the hand-written one (NCHW, channels_last)."""
    import torch
    from torch import nn

    x, y = torch_batch(net, batch)

    def reference_step(channels_last: bool) -> Callable[[], None]:
        model = torch_reference(net).train()
        inputs = x
        if channels_last:
            model, inputs = model.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
        optimizer, criterion = torch.optim.Adam(model.parameters(), lr=1e-4), nn.CrossEntropyLoss()

        def step() -> None:
            optimizer.zero_grad(set_to_none=True)
            criterion(model(inputs), y).backward()
            optimizer.step()

        return step

    warmup, repeat = repetitions(args, full=(2, 5), quick=(1, 3))
    steps = [
        ("torch_generated", "generated: build_model, make_optimizer, loss_fn", torch_generated_step(net, x, y), False),
        ("torch_reference", "hand-written torchvision-style, NCHW", reference_step(False), True),
        ("torch_reference_cl", "hand-written, channels_last", reference_step(True), False),
    ]
    return [
        Row("PyTorch", key, label, batch, median_time(step, repeat, warmup), is_ref)
        for key, label, step, is_ref in steps
    ]


def keras_rows(net: Net, batch: int, args: argparse.Namespace) -> list[Row]:
    """The generated model compiled by its compile_model (train_on_batch), and a hand-written tf.function step."""
    import keras
    import tensorflow as tf

    model, x, y = keras_generated_model(net, batch)
    reference = keras_reference(net)
    optimizer = keras.optimizers.Adam(learning_rate=1e-4)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function
    def reference_step() -> Any:
        with tf.GradientTape() as tape:
            loss = loss_fn(y, reference(x, training=True))
        gradients = tape.gradient(loss, reference.trainable_variables)
        optimizer.apply_gradients(zip(gradients, reference.trainable_variables, strict=True))
        return loss

    warmup, repeat = repetitions(args, full=(2, 5), quick=(1, 3))
    steps: list[tuple[str, str, Callable[[], Any], bool]] = [
        ("keras_generated", "generated: compile_model, train_on_batch", lambda: model.train_on_batch(x, y), False),
        (
            "keras_reference",
            "hand-written functional, tf.function GradientTape step",
            lambda: reference_step().numpy(),
            True,
        ),
    ]
    return [
        Row("Keras", key, label, batch, median_time(step, repeat, warmup), is_ref) for key, label, step, is_ref in steps
    ]


def run(argv: list[str] | None = None) -> tuple[str, Metrics]:
    """The training table."""
    options = parser(__doc__.splitlines()[0])
    options.add_argument("--framework", choices=["torch", "keras", "all"], default="all")
    args = options.parse_args(argv)
    peak = peak_or_measure(args)
    net = network(args.tiny)
    batch = 4 if args.tiny else 32
    rows = []
    if args.framework in ("torch", "all"):
        rows += torch_rows(net, batch, args)
    if args.framework in ("keras", "all"):
        rows += keras_rows(net, batch, args)
    flops = TRAINING_FACTOR * net.flops
    text = (
        f"### Training step ({net.graph.name}, batch {batch}, 3 x {net.flops / 1e9:.3f} GFLOP per image, "
        f"peak {peak:,.0f} GFLOP/s)\n\n" + throughput_table(rows, flops, peak)
    )
    return text, fraction_metrics(rows, flops, peak)


def main() -> None:
    """Print the report."""
    script_main(run)


if __name__ == "__main__":
    main()
