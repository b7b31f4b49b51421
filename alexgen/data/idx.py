"""MNIST's IDX files (gzip or raw), read with numpy and checked: magic number, dimensions and length."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from alexgen.data.base import DataError

MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
MNIST_HELP = (
    "MNIST is published at https://yann.lecun.com/exdb/mnist/ (mirrors: "
    "https://ossci-datasets.s3.amazonaws.com/mnist/ and torchvision's or Keras's download caches); "
    "put the four files " + ", ".join(MNIST_FILES.values()) + " (each raw or with .gz) in the folder"
)
UBYTE = 0x08


def read_idx(path: Path, ndim: int) -> np.ndarray:
    """An IDX file of unsigned bytes with `ndim` dimensions, as a uint8 array; DataError when malformed."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(f"{path}: the gzip stream is damaged or truncated ({exc})") from exc
    if len(raw) < 4 or raw[:2] != b"\x00\x00" or raw[2] != UBYTE or raw[3] != ndim:
        expected = 0x800 | ndim
        found = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else None
        shown = "the file is shorter than its header" if found is None else f"found 0x{found:08x}"
        raise DataError(
            f"{path}: not an IDX file of {ndim}-d unsigned bytes: the magic number must be 0x{expected:08x}, {shown}"
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: truncated: the header needs {header} bytes, the file has {len(raw)}")
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected_bytes = header + int(np.prod(dims, dtype=np.int64))
    if len(raw) != expected_bytes:
        problem = "truncated" if len(raw) < expected_bytes else "has trailing bytes"
        raise DataError(
            f"{path}: {problem}: dimensions {'x'.join(map(str, dims))} need {expected_bytes} bytes, "
            f"the file has {len(raw)}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def find_file(folder: Path, stem: str) -> Path:
    """folder/stem or folder/stem.gz; DataError saying where to get MNIST when neither exists."""
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    raise DataError(f"{folder}: {stem} (or {stem}.gz) is missing. {MNIST_HELP}")


def read_mnist(folder: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Train images, train labels, test images, test labels (uint8) from the four IDX files in `folder`."""
    if not folder.is_dir():
        raise DataError(f"{folder}: no such folder. {MNIST_HELP}")
    arrays = {}
    for key, stem in MNIST_FILES.items():
        arrays[key] = read_idx(find_file(folder, stem), 3 if key.endswith("images") else 1)
    for part in ("train", "test"):
        images, labels = arrays[f"{part}_images"], arrays[f"{part}_labels"]
        if len(images) != len(labels):
            raise DataError(f"{folder}: {part} has {len(images)} images but {len(labels)} labels")
        if len(images) == 0:
            raise DataError(f"{folder}: the {part} files hold no examples")
    if arrays["train_images"].shape[1:] != arrays["test_images"].shape[1:]:
        raise DataError(
            f"{folder}: train images are {arrays['train_images'].shape[1:]}, "
            f"test images {arrays['test_images'].shape[1:]}"
        )
    return arrays["train_images"], arrays["train_labels"], arrays["test_images"], arrays["test_labels"]
