"""Images per second of the input pipelines (PyTorch DataLoader, tf.data) against a hand-written slicing loop.

Run: python benchmarks/data_pipeline.py [--images 2048] [--batch 128]; prints a Markdown table (see DATA.md).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Iterable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from alexgen.data import ArraySplit, load_data, transforms  # noqa: E402
from alexgen.spec import Augmentation  # noqa: E402

SHAPE = (227, 227, 3)


def rate(make: Callable[[], Iterable], count: int, repeat: int = 3) -> float:
    """Best images per second over `repeat` full passes (each pass touches every batch)."""
    best = 0.0
    for _ in range(repeat):
        start = time.perf_counter()
        for batch in make():
            images = batch[0]
            _ = images.shape  # tf tensors are materialized by iteration; torch ones already are
        best = max(best, count / (time.perf_counter() - start))
    return best


def main() -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=2048)
    parser.add_argument("--batch", type=int, default=128)
    args = parser.parse_args()
    data = load_data(f"synthetic:{args.images}", SHAPE, 1000, seed=0)
    split = data.train
    rows: list[tuple[str, float]] = []

    import torch

    from alexgen.data.torch_adapter import set_epoch, torch_loader

    def by_hand() -> Iterable:
        order = np.random.default_rng(0).permutation(len(split))
        for start in range(0, len(split), args.batch):
            chosen = np.sort(order[start : start + args.batch])
            batch = torch.from_numpy(split.images[chosen]).permute(0, 3, 1, 2).float().div_(255.0).contiguous()
            yield batch, torch.from_numpy(split.labels[chosen])

    rows.append(("hand-written numpy gather + torch permute/float (reference)", rate(by_hand, len(split))))
    loader = torch_loader(split, batch_size=args.batch, shuffle=True, seed=0)
    set_epoch(loader, 0)
    rows.append(("torch_loader, in memory (NCHW once, __getitems__)", rate(lambda: loader, len(split))))

    import tensorflow as tf

    from alexgen.data.tf_adapter import TfPipeline

    tf.config.threading.set_inter_op_parallelism_threads(2)
    pipeline = TfPipeline(split, batch_size=args.batch, shuffle=True, seed=0)
    name = "tf.data TfPipeline, in memory (gather + cast, prefetch)"
    rows.append((name, rate(lambda: pipeline.epoch(0), len(split))))

    small = ArraySplit(
        np.random.default_rng(1).integers(0, 256, (256, 256, 256, 3), dtype=np.uint8), np.zeros(256, np.int64)
    )
    train, _ = transforms(SHAPE, Augmentation(), small, seed=0)
    for workers in (0, 2):
        augmented = torch_loader(small, train, batch_size=64, shuffle=True, seed=0, workers=workers)
        rows.append(
            (f"torch_loader, paper augmentation from 256x256, {workers} workers", rate(lambda a=augmented: a, 256, 2))
        )
    augmented_tf = TfPipeline(small, train, batch_size=64, shuffle=True, seed=0)
    name = "tf.data, paper augmentation from 256x256 (numpy_function)"
    rows.append((name, rate(lambda: augmented_tf.epoch(0), 256, 2)))

    reference = rows[0][1]
    size = "x".join(map(str, SHAPE))
    print(f"{args.images} synthetic images {size}, batch {args.batch}, {os.cpu_count()} cores\n")
    print("| pipeline | images/s | x reference |\n|---|---:|---:|")
    for name, value in rows:
        print(f"| {name} | {value:,.0f} | {value / reference:.2f} |")


if __name__ == "__main__":
    main()
