"""The PyTorch DataLoader and tf.data adapters: shapes, dtypes, layouts, epoch orders, shards; the same batches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from alexgen.data import ArraySplit, FileSplit, epoch_order, load_data, transforms
from alexgen.spec import Augmentation

Image = pytest.importorskip("PIL.Image")

AUG = Augmentation(resize=20, pca_jitter=0.2)


def array_split(count: int = 37, shape: tuple[int, int, int] = (16, 16, 3)) -> ArraySplit:
    """Random uint8 images with labels equal to their index (so a batch shows which examples it holds)."""
    rng = np.random.default_rng(0)
    return ArraySplit(rng.integers(0, 256, (count, *shape), dtype=np.uint8), np.arange(count, dtype=np.int64))


def file_split(root: Path, count: int = 6) -> FileSplit:
    """PNG files of random 18x22 RGB images."""
    rng = np.random.default_rng(1)
    paths = []
    for i in range(count):
        path = root / f"{i}.png"
        Image.fromarray(rng.integers(0, 256, (18, 22, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    return FileSplit(paths, np.arange(count, dtype=np.int64), 3)


# --- PyTorch ------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def torch_adapter():
    """The PyTorch adapter module (skipped without torch)."""
    pytest.importorskip("torch")
    from alexgen.data import torch_adapter

    return torch_adapter


@pytest.mark.torch
def test_torch_fast_path_is_nchw_float_in_epoch_order(torch_adapter) -> None:
    split = array_split()
    loader = torch_adapter.torch_loader(split, batch_size=8, shuffle=True, seed=5)
    assert isinstance(loader.dataset, torch_adapter.ArrayDataset)
    assert loader.dataset.images.shape == (37, 3, 16, 16) and loader.dataset.images.is_contiguous()  # converted once
    for epoch in (0, 1):
        torch_adapter.set_epoch(loader, epoch)
        batches = list(loader)
        assert [len(y) for _, y in batches] == [8, 8, 8, 8, 5]
        labels = np.concatenate([y.numpy() for _, y in batches])
        np.testing.assert_array_equal(labels, epoch_order(37, shuffle=True, seed=5, epoch=epoch))
        x, y = batches[0]
        assert x.dtype.is_floating_point and str(x.dtype) == "torch.float32" and str(y.dtype) == "torch.int64"
        expected = split.images[y.numpy()].transpose(0, 3, 1, 2).astype(np.float32) / 255.0
        np.testing.assert_array_equal(x.numpy(), expected)
    last = torch_adapter.torch_loader(split, batch_size=8, shuffle=False, channels_first=False, drop_last=True)
    x, _ = next(iter(last))
    assert tuple(x.shape) == (8, 16, 16, 3) and len(last) == 4


@pytest.mark.torch
def test_torch_ranks_split_the_epoch_like_distributed_sampler(torch_adapter) -> None:
    split = array_split(40)
    seen = []
    for rank in range(2):
        loader = torch_adapter.torch_loader(split, batch_size=7, shuffle=True, seed=2, rank=rank, world_size=2)
        torch_adapter.set_epoch(loader, 3)
        seen.append(np.concatenate([y.numpy() for _, y in loader]))
    assert len(seen[0]) == len(seen[1]) == 20
    assert sorted(np.concatenate(seen).tolist()) == list(range(40))


@pytest.mark.torch
def test_torch_augmented_files_are_the_same_with_or_without_workers(torch_adapter, tmp_path: Path) -> None:
    split = file_split(tmp_path)
    train, evaluate = transforms((16, 16, 3), AUG, split, seed=0)
    runs = []
    for workers in (0, 2):
        loader = torch_adapter.torch_loader(split, train, batch_size=4, shuffle=True, seed=1, workers=workers)
        torch_adapter.set_epoch(loader, 1)
        runs.append([(x.numpy(), y.numpy()) for x, y in loader])
    for (x0, y0), (x2, y2) in zip(*runs, strict=True):
        assert x0.shape[1:] == (3, 16, 16) and x0.dtype == np.float32
        np.testing.assert_array_equal(x0, x2)
        np.testing.assert_array_equal(y0, y2)
    loader = torch_adapter.torch_loader(split, evaluate, batch_size=6, shuffle=False, workers=0)
    x, y = next(iter(loader))
    np.testing.assert_array_equal(x.numpy()[2], evaluate(split.load(2)).transpose(2, 0, 1))


# --- tf.data --------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tf_adapter():
    """The tf.data adapter module (skipped without tensorflow)."""
    pytest.importorskip("tensorflow")
    from alexgen.data import tf_adapter

    return tf_adapter


@pytest.mark.keras
def test_tf_fast_path_is_nhwc_float_prefetched_in_epoch_order(tf_adapter) -> None:
    split = array_split()
    pipeline = tf_adapter.TfPipeline(split, batch_size=8, shuffle=True, seed=5)
    dataset = pipeline.epoch(1)
    assert "Prefetch" in type(dataset).__name__
    assert dataset.element_spec[0].shape.as_list() == [None, 16, 16, 3]
    batches = [(x.numpy(), y.numpy()) for x, y in dataset]
    assert [len(y) for _, y in batches] == [8, 8, 8, 8, 5]
    labels = np.concatenate([y for _, y in batches])
    np.testing.assert_array_equal(labels, epoch_order(37, shuffle=True, seed=5, epoch=1))
    x, y = batches[0]
    assert x.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_array_equal(x, split.images[y].astype(np.float32) / 255.0)


@pytest.mark.keras
@pytest.mark.torch
def test_tf_and_torch_yield_the_same_batches(tf_adapter, torch_adapter, tmp_path: Path) -> None:
    for split, aug in ((array_split(), None), (file_split(tmp_path), AUG)):
        train, _ = transforms((16, 16, 3), aug, split, seed=0)
        loader = torch_adapter.torch_loader(split, train, batch_size=4, shuffle=True, seed=3, workers=0)
        torch_adapter.set_epoch(loader, 2)
        dataset = tf_adapter.tf_dataset(split, train, batch_size=4, shuffle=True, seed=3, epoch=2)
        pairs = list(zip(loader, dataset, strict=True))
        assert pairs
        for (tx, ty), (fx, fy) in pairs:
            np.testing.assert_array_equal(ty.numpy(), fy.numpy())
            np.testing.assert_allclose(tx.numpy().transpose(0, 2, 3, 1), fx.numpy(), rtol=0, atol=1e-7)


@pytest.mark.keras
def test_tf_shards_and_augmented_files(tf_adapter, tmp_path: Path) -> None:
    split = file_split(tmp_path, 5)
    train, _ = transforms((16, 16, 3), AUG, split, seed=0)
    shards = [
        tf_adapter.tf_dataset(split, train, batch_size=2, shuffle=True, seed=0, rank=r, world_size=2) for r in range(2)
    ]
    labels = [np.concatenate([y.numpy() for _, y in shard]) for shard in shards]
    assert len(labels[0]) == len(labels[1]) == 3 and set(np.concatenate(labels).tolist()) == set(range(5))
    x, _ = next(iter(shards[0]))
    assert x.shape == (2, 16, 16, 3) and x.dtype.name == "float32"


@pytest.mark.torch
def test_digits_through_the_torch_adapter_is_nchw_in_unit_range() -> None:
    data = load_data("digits", (28, 28, 1), 10)
    pytest.importorskip("torch")
    from alexgen.data.torch_adapter import torch_loader

    x, y = next(iter(torch_loader(data.train, batch_size=32, shuffle=True)))
    assert tuple(x.shape) == (32, 1, 28, 28) and 0.0 <= float(x.min()) and float(x.max()) <= 1.0
