"""tf.data adapter for Keras (imports tensorflow; import this module only when training with it).

Channels-last throughout, as Keras expects. In-memory splits at the input size are converted to a tensor once;
each batch is one gather and one cast inside the tf.data graph. Other splits run the numpy transform per
example through `tf.numpy_function`, in parallel. Every pipeline ends with `prefetch(AUTOTUNE)`.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from alexgen.data.augment import Transform, apply
from alexgen.data.base import ArraySplit, Split, epoch_order

AUTOTUNE = tf.data.AUTOTUNE


class TfPipeline:
    """Makes each epoch's tf.data.Dataset of (float32 N x H x W x C in [0, 1], int64 labels)."""

    def __init__(
        self,
        split: Split,
        transform: Transform | None = None,
        *,
        batch_size: int,
        shuffle: bool,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        drop_last: bool = False,
    ) -> None:
        self.split, self.transform, self.batch_size, self.shuffle = split, transform, batch_size, shuffle
        self.seed, self.rank, self.world_size, self.drop_last = seed, rank, world_size, drop_last
        self.fast = isinstance(split, ArraySplit) and (
            transform is None
            or (transform.augmentation is None and split.images.shape[1:3] == (transform.height, transform.width))
        )
        if not self.fast and transform is None:
            raise ValueError("a split of image files needs a Transform to reach the input size")
        if self.fast:
            assert isinstance(split, ArraySplit)
            self.images = tf.convert_to_tensor(split.images)
            self.labels = tf.convert_to_tensor(split.labels.astype(np.int64))

    def order(self, epoch: int) -> np.ndarray:
        """This rank's example indices in `epoch` (the same as the PyTorch loader's)."""
        return epoch_order(
            len(self.split),
            shuffle=self.shuffle,
            seed=self.seed,
            epoch=epoch,
            rank=self.rank,
            world_size=self.world_size,
        )

    def epoch(self, epoch: int) -> tf.data.Dataset:
        """The batches of `epoch`, prefetched."""
        indices = tf.data.Dataset.from_tensor_slices(self.order(epoch))
        if self.fast:
            batches = indices.batch(self.batch_size, drop_remainder=self.drop_last).map(
                self._gather, num_parallel_calls=AUTOTUNE, deterministic=True
            )
        else:
            examples = indices.map(lambda i: self._example(i, epoch), num_parallel_calls=AUTOTUNE, deterministic=True)
            batches = examples.batch(self.batch_size, drop_remainder=self.drop_last)
        return batches.prefetch(AUTOTUNE)

    def _gather(self, chosen: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        images = tf.cast(tf.gather(self.images, chosen), tf.float32) / 255.0
        return images, tf.gather(self.labels, chosen)

    def _example(self, index: tf.Tensor, epoch: int) -> tuple[tf.Tensor, tf.Tensor]:
        assert self.transform is not None
        transform, split, seed = self.transform, self.split, self.seed

        def load(i: np.int64) -> tuple[np.ndarray, np.int64]:
            return apply(split, transform, int(i), seed, epoch), np.int64(split.labels[int(i)])

        image, label = tf.numpy_function(load, [index], [tf.float32, tf.int64], stateful=False)
        image.set_shape((transform.height, transform.width, self.split_channels()))
        label.set_shape(())
        return image, label

    def split_channels(self) -> int:
        """Channels of the split's images."""
        return self.split.images.shape[-1] if isinstance(self.split, ArraySplit) else self.split.channels


def tf_dataset(
    split: Split,
    transform: Transform | None = None,
    *,
    batch_size: int,
    shuffle: bool,
    seed: int = 0,
    epoch: int = 0,
    rank: int = 0,
    world_size: int = 1,
    drop_last: bool = False,
) -> tf.data.Dataset:
    """One epoch of a split as a prefetched tf.data.Dataset (build a TfPipeline to reuse it across epochs)."""
    return TfPipeline(
        split,
        transform,
        batch_size=batch_size,
        shuffle=shuffle,
        seed=seed,
        rank=rank,
        world_size=world_size,
        drop_last=drop_last,
    ).epoch(epoch)
