"""Data sets as plain numpy: splits held in memory or as image files, the error type, and the shuffling order."""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

Shape = tuple[int, int, int]


class DataError(Exception):
    """A data source that cannot be read: the message says what is wrong and how to fix it."""


WRAPPED_DATA_ERROR = re.compile(r"DataError: (.+)")


def unwrap_data_error(text: str) -> str | None:
    """The message of a DataError that a DataLoader worker or tf.data passed on as traceback text (None: none)."""
    found = WRAPPED_DATA_ERROR.findall(text)
    return found[-1].strip() if found else None


def require(module: str, package: str, extra: str = "train") -> ModuleType:
    """Import `module`, or raise DataError naming the package and the alexgen extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise DataError(
            f"{package} is needed here but is not installed: pip install '{package}' "
            f"(or pip install 'alexgen[{extra}]')"
        ) from exc


@dataclass
class ArraySplit:
    """Examples held in memory: uint8 images N x H x W x C (channels-last) and int64 labels."""

    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def load(self, index: int) -> np.ndarray:
        """One image, uint8 H x W x C."""
        image: np.ndarray = self.images[index]
        return image

    def head(self, count: int) -> ArraySplit:
        """The first `count` examples."""
        return ArraySplit(self.images[:count], self.labels[:count])


@dataclass
class FileSplit:
    """Examples as image files decoded on demand (with Pillow) into `channels` channels, native size."""

    paths: list[Path]
    labels: np.ndarray
    channels: int

    def __len__(self) -> int:
        return len(self.labels)

    def load(self, index: int) -> np.ndarray:
        """One image, uint8 H x W x C, decoded now; a file that does not decode is a DataError naming it."""
        image_module = require("PIL.Image", "pillow")
        path = self.paths[index]
        try:
            with image_module.open(path) as image:
                pixels = np.asarray(image.convert("RGB" if self.channels == 3 else "L"))
        except (OSError, ValueError, SyntaxError) as exc:  # Pillow's decoders raise all three
            raise DataError(f"{path}: the image does not decode ({exc})") from exc
        return pixels if pixels.ndim == 3 else pixels[..., None]

    def head(self, count: int) -> FileSplit:
        """The first `count` examples."""
        return FileSplit(self.paths[:count], self.labels[:count], self.channels)


Split = ArraySplit | FileSplit


@dataclass
class Data:
    """A data source's train, validation and test splits, ready for a network with `input_shape` (H, W, C)."""

    name: str
    input_shape: Shape
    classes: list[str]
    train: Split
    val: Split
    test: Split
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        """How many classes the labels range over."""
        return len(self.classes)

    def limited(self, count: int | None) -> Data:
        """The same data with at most `count` examples per split (None: all)."""
        if count is None:
            return self
        return Data(
            self.name,
            self.input_shape,
            self.classes,
            self.train.head(count),
            self.val.head(count),
            self.test.head(count),
            self.notes,
        )


def epoch_order(size: int, *, shuffle: bool, seed: int, epoch: int, rank: int = 0, world_size: int = 1) -> np.ndarray:
    """The example indices one rank visits in one epoch, shared by the PyTorch and tf.data adapters.

    Like torch's DistributedSampler: the order is padded by wrapping around to a multiple of `world_size`
    and rank r takes every world_size-th index from r, so each rank sees the same number of examples.
    """
    if not 0 <= rank < world_size:
        raise DataError(f"rank {rank} is outside 0..{world_size - 1}")
    order = np.random.default_rng([seed, epoch]).permutation(size) if shuffle else np.arange(size)
    total = -(-size // world_size) * world_size
    if total > size:
        order = np.concatenate([order, np.resize(order, total - size)])
    return order[rank:total:world_size].astype(np.int64)


def item_rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    """The random stream of one example in one epoch (independent of workers and batch order)."""
    return np.random.default_rng([seed, epoch, index, 0xA1E])
