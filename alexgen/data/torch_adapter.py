"""PyTorch adapter: a DataLoader over a split (imports torch; import this module only when training with it).

In-memory splits at the input size take the fast path: the uint8 array is laid out NCHW once, and each batch is
one gather and one float conversion (`__getitems__`), no per-example Python. Other splits (image files, or any
split under augmentation) decode and transform per example in worker processes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from alexgen.data.augment import Transform, apply
from alexgen.data.base import ArraySplit, Split, epoch_order

Key = tuple[int, int]  # (epoch, index): the sampler tells each example its epoch, for its random stream
Batch = tuple[torch.Tensor, torch.Tensor]


class ArrayDataset(Dataset[Batch]):
    """uint8 images already in the model's layout; batches are gathered and scaled to [0, 1] in one go."""

    def __init__(self, split: ArraySplit, channels_first: bool) -> None:
        images = split.images.transpose(0, 3, 1, 2) if channels_first else split.images
        self.images = torch.from_numpy(np.ascontiguousarray(images))
        self.labels = torch.from_numpy(np.ascontiguousarray(split.labels, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> Batch:
        return self.images[index].float().div_(255.0), self.labels[index]

    def __getitems__(self, indices: list[int]) -> Batch:
        chosen = torch.as_tensor(indices, dtype=torch.int64)
        return self.images[chosen].float().div_(255.0), self.labels[chosen]


class TransformDataset(Dataset[tuple[torch.Tensor, int]]):
    """Examples loaded and transformed one by one (in workers), keyed by (epoch, index)."""

    def __init__(self, split: Split, transform: Transform, seed: int, channels_first: bool) -> None:
        self.split, self.transform, self.seed, self.channels_first = split, transform, seed, channels_first

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, key: Key) -> tuple[torch.Tensor, int]:
        epoch, index = key
        image = apply(self.split, self.transform, index, self.seed, epoch)
        if self.channels_first:
            image = image.transpose(2, 0, 1)
        return torch.from_numpy(np.ascontiguousarray(image)), int(self.split.labels[index])


class EpochSampler(Sampler[int | Key]):
    """The epoch's order from `epoch_order` (DistributedSampler's padding and striding); call set_epoch."""

    def __init__(self, size: int, *, shuffle: bool, seed: int, rank: int, world_size: int, keyed: bool) -> None:
        self.size, self.shuffle, self.seed, self.rank, self.world_size = size, shuffle, seed, rank, world_size
        self.keyed, self.epoch = keyed, 0

    def set_epoch(self, epoch: int) -> None:
        """Use the order (and augmentation) of `epoch` from now on."""
        self.epoch = epoch

    def indices(self) -> np.ndarray:
        """This rank's indices for the current epoch."""
        return epoch_order(
            self.size,
            shuffle=self.shuffle,
            seed=self.seed,
            epoch=self.epoch,
            rank=self.rank,
            world_size=self.world_size,
        )

    def __iter__(self) -> Iterator[int | Key]:
        for index in self.indices().tolist():
            yield (self.epoch, index) if self.keyed else index

    def __len__(self) -> int:
        return -(-self.size // self.world_size)


def as_batch(batch: Sequence[torch.Tensor]) -> Sequence[torch.Tensor]:
    """collate_fn of the fast path: `__getitems__` already made the (images, labels) batch."""
    return batch


def is_fast(split: Split, transform: Transform | None) -> bool:
    """True when the split is in memory at the input size and the transform only scales."""
    if not isinstance(split, ArraySplit):
        return False
    return transform is None or (
        transform.augmentation is None and split.images.shape[1:3] == (transform.height, transform.width)
    )


def default_workers() -> int:
    """Worker processes for per-example loading: one per core but one, at most 8."""
    return max(1, min(8, (os.cpu_count() or 2) - 1))


def torch_loader(
    split: Split,
    transform: Transform | None = None,
    *,
    batch_size: int,
    shuffle: bool,
    seed: int = 0,
    channels_first: bool = True,
    rank: int = 0,
    world_size: int = 1,
    drop_last: bool = False,
    workers: int | None = None,
    pin_memory: bool | None = None,
) -> DataLoader[Any]:
    """A DataLoader of (float32 images in [0, 1], int64 labels); call `set_epoch(loader, e)` before epoch e."""
    fast = is_fast(split, transform)
    sampler = EpochSampler(len(split), shuffle=shuffle, seed=seed, rank=rank, world_size=world_size, keyed=not fast)
    pin = torch.cuda.is_available() if pin_memory is None else pin_memory
    if fast:
        assert isinstance(split, ArraySplit)
        return DataLoader(
            ArrayDataset(split, channels_first),
            batch_size=batch_size,
            sampler=sampler,
            drop_last=drop_last,
            collate_fn=as_batch,
            num_workers=workers or 0,
            pin_memory=pin,
        )
    if transform is None:
        raise ValueError("a split of image files needs a Transform to reach the input size")
    count = default_workers() if workers is None else workers
    return DataLoader(
        TransformDataset(split, transform, seed, channels_first),
        batch_size=batch_size,
        sampler=sampler,
        drop_last=drop_last,
        num_workers=count,
        pin_memory=pin,
        persistent_workers=count > 0,
        prefetch_factor=4 if count > 0 else None,
    )


def set_epoch(loader: DataLoader[Any], epoch: int) -> None:
    """Make the loader produce epoch `epoch`'s order and augmentation."""
    sampler = loader.sampler
    assert isinstance(sampler, EpochSampler)
    sampler.set_epoch(epoch)
