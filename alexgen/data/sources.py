"""`--data` sources: digits, mnist:DIR, folder:DIR, synthetic[:N], turned into Data for an input shape."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from alexgen.data.augment import resize
from alexgen.data.base import ArraySplit, Data, DataError, Shape, require
from alexgen.data.folder import Verify, read_folder
from alexgen.data.idx import read_mnist

SOURCES = "digits, mnist:DIR, folder:DIR, synthetic or synthetic:N"
DIGITS_TEST, DIGITS_VAL = 0.2, 0.1  # fractions of the 1,797 digits
MNIST_VAL = 5000  # of MNIST's 60,000 training images, as Keras's validation_split=1/12 would take
SYNTHETIC_TRAIN = 256


def parse_source(text: str) -> tuple[str, str | None]:
    """('digits'|'mnist'|'folder'|'synthetic', argument or None) from a `--data` string."""
    kind, _, argument = text.partition(":")
    kind = kind.strip().lower()
    if kind in ("digits",) and not argument:
        return kind, None
    if kind in ("mnist", "folder"):
        if not argument:
            raise DataError(f"--data {text}: give the folder, as {kind}:DIR")
        return kind, argument
    if kind == "synthetic":
        if argument and not (argument.isdigit() and int(argument) > 0):
            raise DataError(f"--data {text}: synthetic:N needs a positive whole number of training examples")
        return kind, argument or None
    raise DataError(f"--data {text}: unknown data source; use one of {SOURCES}")


def fit_images(images: np.ndarray, shape: Shape) -> np.ndarray:
    """uint8 N x h x w (x c) images resized to H x W with channels made C (replicated from 1, or averaged)."""
    if images.ndim == 3:
        images = images[..., None]
    height, width, channels = shape
    out = (
        np.stack([resize(image, height, width) for image in images]) if images.shape[1:3] != (height, width) else images
    )
    if out.shape[-1] == channels:
        return np.ascontiguousarray(out)
    if out.shape[-1] == 1:
        return np.ascontiguousarray(np.repeat(out, channels, axis=-1))
    return np.ascontiguousarray(out.mean(axis=-1, keepdims=True).round().astype(np.uint8).repeat(channels, -1))


def stratified(labels: np.ndarray, fraction: float | int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (kept, taken) with `fraction` of the examples taken, every class in proportion."""
    selection = require("sklearn.model_selection", "scikit-learn")
    kept, taken = selection.train_test_split(
        np.arange(len(labels)), test_size=fraction, random_state=seed, stratify=labels
    )
    return np.sort(kept), np.sort(taken)


def digits(shape: Shape, split_seed: int) -> Data:
    """scikit-learn's bundled 8x8 digits, resized to the input shape, split 70/10/20 by class."""
    datasets = require("sklearn.datasets", "scikit-learn")
    bunch = datasets.load_digits()
    images = fit_images(np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8), shape)
    labels = bunch.target.astype(np.int64)
    rest, test = stratified(labels, DIGITS_TEST, split_seed)
    train, val = stratified(labels[rest], DIGITS_VAL / (1 - DIGITS_TEST), split_seed)
    train, val = rest[train], rest[val]
    return Data(
        "digits",
        shape,
        [str(d) for d in range(10)],
        ArraySplit(images[train], labels[train]),
        ArraySplit(images[val], labels[val]),
        ArraySplit(images[test], labels[test]),
    )


def mnist(folder: Path, shape: Shape, split_seed: int) -> Data:
    """The four MNIST IDX files in `folder`; the last-5000-like validation split is stratified."""
    train_images, train_labels, test_images, test_labels = read_mnist(folder)
    classes = int(max(train_labels.max(), test_labels.max())) + 1
    labels = train_labels.astype(np.int64)
    val_size = MNIST_VAL if len(labels) > 2 * MNIST_VAL else max(1, len(labels) // 12)
    if val_size < classes or len(labels) - val_size < classes:
        train, val = np.arange(len(labels) - val_size), np.arange(len(labels) - val_size, len(labels))
    else:
        train, val = stratified(labels, val_size, split_seed)
    return Data(
        f"mnist:{folder}",
        shape,
        [str(d) for d in range(classes)],
        ArraySplit(fit_images(train_images[train], shape), labels[train]),
        ArraySplit(fit_images(train_images[val], shape), labels[val]),
        ArraySplit(fit_images(test_images, shape), test_labels.astype(np.int64)),
    )


def synthetic(shape: Shape, num_classes: int, train_size: int, seed: int) -> Data:
    """Uniform random uint8 images and labels of the right shape, seeded."""
    rng = np.random.default_rng([seed, 0x5E])
    eval_size = max(1, train_size // 4)

    def split(size: int) -> ArraySplit:
        return ArraySplit(
            rng.integers(0, 256, size=(size, *shape), dtype=np.uint8),
            rng.integers(0, num_classes, size=size, dtype=np.int64),
        )

    return Data(
        "synthetic", shape, [str(c) for c in range(num_classes)], split(train_size), split(eval_size), split(eval_size)
    )


def load_data(
    source: str,
    input_shape: Sequence[int],
    num_classes: int,
    *,
    seed: int = 0,
    split_seed: int = 0,
    verify: Verify = "header",
) -> Data:
    """The data of a `--data` string for a network with `input_shape` (H, W, C) and `num_classes` outputs."""
    shape: Shape = (int(input_shape[0]), int(input_shape[1]), int(input_shape[2]))
    kind, argument = parse_source(source)
    if kind == "digits":
        data = digits(shape, split_seed)
    elif kind == "mnist":
        data = mnist(Path(argument or "."), shape, split_seed)
    elif kind == "folder":
        classes, train, val, test = read_folder(Path(argument or "."), shape[2], verify)
        data = Data(f"folder:{argument}", shape, classes, train, val, test)
    else:
        data = synthetic(shape, num_classes, int(argument or SYNTHETIC_TRAIN), seed)
    if data.num_classes > num_classes:
        raise DataError(f"--data {source} has {data.num_classes} classes but the network has {num_classes} outputs")
    return data
