"""Images per second of `alexgen train`'s loops against a minimal hand-written loop, same model, same run.

PyTorch: TorchTrainer.train_epoch (DataLoader over epoch_order, one-hot targets, generated loss + regularization,
metric sums) against `for x, y in slices: zero_grad; loss_fn(model(x), y).backward(); step`. Keras: KerasTrainer's
model.fit over the TfPipeline with its callbacks against `model.fit(x, y, batch_size)` on numpy arrays and against
`model.fit` over a minimal `from_tensor_slices(...).batch(...).prefetch(...)` pipeline. Both
sides use the generated module of the spec and the same data; passes alternate and the best of each is kept.

Run: python benchmarks/train_loop.py [--spec spec/alexnet_mnist.yaml] [--images 512] [--batch 32] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from alexgen.data import load_data  # noqa: E402
from alexgen.train.common import Plan  # noqa: E402
from alexgen.train.settings import resolve_settings  # noqa: E402
from alexgen.validate import load_graph  # noqa: E402


def best_rates(runs: dict[str, Callable[[], None]], images: int, repeat: int) -> dict[str, float]:
    """Images per second of each run, best of `repeat` alternating passes."""
    best = dict.fromkeys(runs, 0.0)
    for _ in range(repeat):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            best[name] = max(best[name], images / (time.perf_counter() - start))
    return best


def torch_rows(plan: Plan, repeat: int) -> dict[str, float]:
    """The generated PyTorch loop against a hand-written one."""
    import torch

    from alexgen.train.loop_torch import TorchTrainer

    trainer = TorchTrainer(plan)
    loader, _ = trainer.loaders()
    module, model, optimizer = trainer.module, trainer.model, trainer.optimizer
    split, batch, classes = plan.data.train, plan.settings.batch_size, plan.num_classes
    images = torch.from_numpy(np.ascontiguousarray(split.images.transpose(0, 3, 1, 2))).float().div_(255.0)
    targets = torch.nn.functional.one_hot(torch.from_numpy(split.labels), classes).float()
    epoch = iter(range(10**6))

    def generated() -> None:
        trainer.train_epoch(loader, next(epoch))

    def by_hand() -> None:
        model.train()
        for start in range(0, len(images), batch):
            optimizer.zero_grad()
            loss = module.loss_fn(model(images[start : start + batch]), targets[start : start + batch])
            loss.backward()
            optimizer.step()

    return best_rates({"alexgen train loop": generated, "hand-written loop": by_hand}, len(images), repeat)


def keras_rows(plan: Plan, repeat: int) -> dict[str, float]:
    """The generated Keras loop (model.fit over tf.data with the recorder) against model.fit on arrays and tf.data."""
    import tensorflow as tf

    from alexgen.train.loop_keras import EpochRecorder, KerasTrainer

    trainer = KerasTrainer(plan)
    train, _ = trainer.pipelines()
    model, split, classes = trainer.model, plan.data.train, plan.num_classes
    x = split.images.astype(np.float32) / 255.0
    y = np.eye(classes, dtype=np.float32)[split.labels]
    epoch = iter(range(10**6))

    def generated() -> None:
        dataset = trainer.labelled(train.epoch(next(epoch)))
        model.fit(dataset, epochs=1, callbacks=[*trainer.callbacks, EpochRecorder(trainer)], shuffle=False, verbose=0)

    def by_hand() -> None:
        model.fit(x, y, batch_size=plan.settings.batch_size, epochs=1, shuffle=False, verbose=0)

    batches = tf.data.Dataset.from_tensor_slices((x, y)).batch(plan.settings.batch_size).prefetch(tf.data.AUTOTUNE)

    def by_hand_tf_data() -> None:
        model.fit(batches, epochs=1, verbose=0)

    generated(), by_hand(), by_hand_tf_data()  # trace each once
    runs = {"alexgen train loop": generated, "hand-written loop": by_hand, "hand-written, tf.data": by_hand_tf_data}
    return best_rates(runs, len(x), repeat)


def main() -> None:
    """Measure and print a Markdown table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--spec", default="spec/alexnet_mnist.yaml")
    parser.add_argument("--images", type=int, default=512)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    graph = load_graph(args.spec)
    data = load_data(f"synthetic:{args.images}", graph.input_shape, int(graph.output.shape[0]))
    print(f"{graph.name}, {args.images} synthetic images, batch {args.batch}, best of {args.repeat}\n")
    print("| framework | loop | images/s | x hand-written |\n|---|---|---:|---:|")
    for target, rows in (("pytorch", torch_rows), ("keras", keras_rows)):
        settings = resolve_settings(graph, {"target": target, "batch_size": args.batch, "epochs": 1})
        plan = Plan(graph, args.spec, settings, data, progress=False, echo=False)
        rates = rows(plan, args.repeat)
        reference = rates["hand-written loop"]
        for name, rate in rates.items():
            print(f"| {target} | {name} | {rate:,.0f} | {rate / reference:.3f} |")


if __name__ == "__main__":
    main()
