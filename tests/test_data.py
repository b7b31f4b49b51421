"""Data sources: MNIST IDX files and image folders the tests write, digits, synthetic, and the paper's augmentation."""

from __future__ import annotations

import gzip
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from alexgen.data import ArraySplit, DataError, FileSplit, load_data, parse_source, transforms
from alexgen.data.augment import centre_crop, pca_basis, resize, resize_shorter
from alexgen.data.base import epoch_order
from alexgen.data.idx import MNIST_FILES, read_idx
from alexgen.spec import Augmentation

Image = pytest.importorskip("PIL.Image")
pytest.importorskip("sklearn")


# --- MNIST IDX ------------------------------------------------------------------------------------------------------


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file of unsigned bytes, written by hand from the format's description."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + b"".join(struct.pack(">I", d) for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_mnist(folder: Path, train: int = 60, test: int = 20, gz: bool = False) -> dict[str, np.ndarray]:
    """Four small MNIST-format files of random 28x28 digits, labels 0..9 in turn; returns what was written."""
    rng = np.random.default_rng(7)
    arrays = {
        "train_images": rng.integers(0, 256, (train, 28, 28), dtype=np.uint8),
        "train_labels": (np.arange(train) % 10).astype(np.uint8),
        "test_images": rng.integers(0, 256, (test, 28, 28), dtype=np.uint8),
        "test_labels": (np.arange(test) % 10).astype(np.uint8),
    }
    folder.mkdir(parents=True, exist_ok=True)
    for key, stem in MNIST_FILES.items():
        data = idx_bytes(arrays[key])
        (folder / (stem + ".gz" if gz else stem)).write_bytes(gzip.compress(data) if gz else data)
    return arrays


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gzip"])
def test_mnist_idx_files_load_exactly(tmp_path: Path, gz: bool) -> None:
    written = write_mnist(tmp_path, gz=gz)
    data = load_data(f"mnist:{tmp_path}", (28, 28, 1), 10)
    assert data.classes == [str(d) for d in range(10)]
    np.testing.assert_array_equal(data.test.images[..., 0], written["test_images"])
    np.testing.assert_array_equal(data.test.labels, written["test_labels"])
    assert len(data.train) + len(data.val) == 60 and len(data.val) == 5
    seen = np.concatenate([data.train.images, data.val.images])[..., 0]
    order = np.lexsort(seen.reshape(60, -1).T)
    expected = written["train_images"][np.lexsort(written["train_images"].reshape(60, -1).T)]
    np.testing.assert_array_equal(seen[order], expected)  # train + val is exactly the training file
    assert data.train.images.dtype == np.uint8 and data.train.labels.dtype == np.int64


def test_mnist_is_resized_and_replicated_to_the_spec_input(tmp_path: Path) -> None:
    write_mnist(tmp_path)
    data = load_data(f"mnist:{tmp_path}", (32, 36, 3), 10)
    assert data.test.images.shape == (20, 32, 36, 3)
    np.testing.assert_array_equal(data.test.images[..., 0], data.test.images[..., 2])


def test_mnist_missing_file_says_where_to_get_it(tmp_path: Path) -> None:
    write_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte") as info:
        load_data(f"mnist:{tmp_path}", (28, 28, 1), 10)
    assert "yann.lecun.com" in str(info.value) and "train-images-idx3-ubyte" in str(info.value)
    with pytest.raises(DataError, match="no such folder"):
        load_data(f"mnist:{tmp_path / 'nope'}", (28, 28, 1), 10)


def test_idx_wrong_magic_truncated_and_mismatched_counts(tmp_path: Path) -> None:
    labels = tmp_path / "labels"
    labels.write_bytes(idx_bytes(np.arange(10, dtype=np.uint8)))
    with pytest.raises(DataError, match="magic number must be 0x00000803, found 0x00000801"):
        read_idx(labels, 3)
    images = idx_bytes(np.zeros((4, 28, 28), np.uint8))
    truncated = tmp_path / "truncated"
    truncated.write_bytes(images[:-5])
    with pytest.raises(DataError, match="truncated: dimensions 4x28x28 need 3152 bytes, the file has 3147"):
        read_idx(truncated, 3)
    short_gzip = tmp_path / "short.gz"
    short_gzip.write_bytes(gzip.compress(images)[:-12])
    with pytest.raises(DataError, match="gzip stream is damaged or truncated"):
        read_idx(short_gzip, 3)
    (tmp_path / "tiny").write_bytes(b"\x00\x00")
    with pytest.raises(DataError, match="shorter than its header"):
        read_idx(tmp_path / "tiny", 1)
    write_mnist(tmp_path / "m")
    (tmp_path / "m" / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(59, np.uint8)))
    with pytest.raises(DataError, match="train has 60 images but 59 labels"):
        load_data(f"mnist:{tmp_path / 'm'}", (28, 28, 1), 10)


# --- image folders --------------------------------------------------------------------------------------------------


def write_image(path: Path, value: int, size: tuple[int, int] = (40, 30)) -> np.ndarray:
    """A solid-ish RGB image (value, a gradient, 255 - value) as PNG or JPEG by suffix; returns its pixels."""
    width, height = size
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[..., 0] = value
    pixels[..., 1] = np.linspace(0, 255, width, dtype=np.uint8)[None, :]
    pixels[..., 2] = 255 - value
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return pixels


def write_folder(root: Path) -> None:
    """train/{cat,dog} and val/{cat,dog}, PNG and JPEG mixed."""
    for split, count in (("train", 3), ("val", 2)):
        for label, name in enumerate(("cat", "dog")):
            for i in range(count):
                write_image(root / split / name / f"{i}.{'png' if i % 2 == 0 else 'jpg'}", 40 * label + i)


def test_folder_loads_classes_labels_and_pixels(tmp_path: Path) -> None:
    write_folder(tmp_path)
    data = load_data(f"folder:{tmp_path}", (24, 24, 3), 2)
    assert data.classes == ["cat", "dog"]
    assert isinstance(data.train, FileSplit) and data.test is data.val
    assert data.train.labels.tolist() == [0, 0, 0, 1, 1, 1] and data.val.labels.tolist() == [0, 0, 1, 1]
    png = data.train.load(0)
    assert png.shape == (30, 40, 3) and png.dtype == np.uint8
    assert (png[..., 0] == 0).all() and (png[..., 2] == 255).all()  # PNG is lossless
    gray = FileSplit(data.train.paths, data.train.labels, 1).load(3)
    assert gray.shape == (30, 40, 1)


def test_folder_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such folder"):
        load_data(f"folder:{tmp_path / 'missing'}", (24, 24, 3), 2)
    (tmp_path / "train").mkdir()
    with pytest.raises(DataError, match="no class folders"):
        load_data(f"folder:{tmp_path}", (24, 24, 3), 2)
    write_image(tmp_path / "train" / "cat" / "0.png", 1)
    (tmp_path / "train" / "dog").mkdir()
    (tmp_path / "train" / "dog" / "notes.txt").write_text("not an image")
    with pytest.raises(DataError, match=r"dog: this class has no images"):
        load_data(f"folder:{tmp_path}", (24, 24, 3), 2)
    write_image(tmp_path / "train" / "dog" / "0.jpg", 2)
    with pytest.raises(DataError, match=r"val: no such folder"):
        load_data(f"folder:{tmp_path}", (24, 24, 3), 2)
    write_image(tmp_path / "val" / "bird" / "0.png", 3)
    with pytest.raises(DataError, match=r"\['bird'\] are not in train/"):
        load_data(f"folder:{tmp_path}", (24, 24, 3), 2)


def test_an_image_that_does_not_decode_is_named(tmp_path: Path) -> None:
    write_folder(tmp_path)
    garbage = tmp_path / "train" / "cat" / "broken.png"
    garbage.write_bytes(b"\x89PNG but not really an image")
    with pytest.raises(DataError, match="broken.png: the image does not decode"):
        load_data(f"folder:{tmp_path}", (24, 24, 3), 2)
    garbage.unlink()
    jpeg = tmp_path / "train" / "dog" / "1.jpg"
    noise = np.random.default_rng(0).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    Image.fromarray(noise).save(jpeg)
    jpeg.write_bytes(jpeg.read_bytes()[: jpeg.stat().st_size // 2])  # the header survives, the pixels do not
    data = load_data(f"folder:{tmp_path}", (24, 24, 3), 2)  # the header check passes...
    index = data.train.paths.index(jpeg)
    with pytest.raises(DataError, match=r"1\.jpg: the image does not decode"):
        data.train.load(index)  # ...decoding names the file
    with pytest.raises(DataError, match=r"1\.jpg: the image does not decode"):
        load_data(f"folder:{tmp_path}", (24, 24, 3), 2, verify="full")


# --- digits, synthetic, parsing -------------------------------------------------------------------------------------


def test_digits_shapes_stratified_split_and_determinism() -> None:
    data = load_data("digits", (28, 28, 1), 10)
    sizes = (len(data.train), len(data.val), len(data.test))
    assert sum(sizes) == 1797 and sizes == (1257, 180, 360)
    assert data.train.images.shape == (1257, 28, 28, 1) and data.train.images.dtype == np.uint8
    assert 0 < data.train.images.max() <= 255
    for split, size in ((data.test, 360), (data.val, 180)):
        counts = np.bincount(split.labels, minlength=10)
        assert counts.min() >= size // 10 - 1 and counts.max() <= size // 10 + 1, counts  # stratified
    again = load_data("digits", (28, 28, 1), 10)
    np.testing.assert_array_equal(again.test.images, data.test.images)
    np.testing.assert_array_equal(again.train.labels, data.train.labels)
    other = load_data("digits", (28, 28, 1), 10, split_seed=1)
    assert not np.array_equal(other.test.labels, data.test.labels)
    rgb = load_data("digits", (16, 20, 3), 10)
    assert rgb.test.images.shape == (360, 16, 20, 3)
    np.testing.assert_array_equal(rgb.test.images[..., 0], rgb.test.images[..., 1])
    with pytest.raises(DataError, match="has 10 classes but the network has 5 outputs"):
        load_data("digits", (8, 8, 1), 5)


def test_synthetic_is_seeded_and_shaped() -> None:
    data = load_data("synthetic", (12, 10, 3), 7, seed=3)
    assert data.train.images.shape == (256, 12, 10, 3) and len(data.val) == len(data.test) == 64
    assert data.train.labels.max() < 7 and data.num_classes == 7
    np.testing.assert_array_equal(load_data("synthetic", (12, 10, 3), 7, seed=3).train.images, data.train.images)
    assert not np.array_equal(load_data("synthetic", (12, 10, 3), 7, seed=4).train.images, data.train.images)
    assert len(load_data("synthetic:40", (4, 4, 1), 2).train) == 40
    assert len(data.limited(5).train) == 5 and len(data.limited(5).test) == 5


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("imagenet", "unknown data source"),
        ("mnist", "give the folder"),
        ("synthetic:x", "positive whole number"),
        ("folder:", "give the folder"),
        ("synthetic:0", "positive whole number"),
    ],
)
def test_bad_sources_are_clear_errors(text: str, message: str) -> None:
    with pytest.raises(DataError, match=message):
        parse_source(text)


def test_parse_source_reads_the_argument() -> None:
    assert parse_source("digits") == ("digits", None)
    assert parse_source("mnist:/data/mnist") == ("mnist", "/data/mnist")
    assert parse_source("folder:C:/x") == ("folder", "C:/x")
    assert parse_source("synthetic:12") == ("synthetic", "12")


def test_importing_the_data_and_run_modules_imports_no_heavy_library() -> None:
    code = (
        "import sys, alexgen.data, alexgen.runs; heavy = [m for m in ('torch', 'tensorflow', 'keras', "
        "'matplotlib', 'PIL', 'sklearn', 'wandb', 'mlflow') if m in sys.modules]; assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# --- the shuffling order ------------------------------------------------------------------------------------------


def test_epoch_order_is_seeded_per_epoch_and_shards_like_distributed_sampler() -> None:
    first = epoch_order(10, shuffle=True, seed=1, epoch=0)
    assert sorted(first.tolist()) == list(range(10))
    np.testing.assert_array_equal(first, epoch_order(10, shuffle=True, seed=1, epoch=0))
    assert not np.array_equal(first, epoch_order(10, shuffle=True, seed=1, epoch=1))
    assert epoch_order(5, shuffle=False, seed=0, epoch=3).tolist() == [0, 1, 2, 3, 4]
    ranks = [epoch_order(10, shuffle=True, seed=1, epoch=0, rank=r, world_size=3) for r in range(3)]
    assert [len(r) for r in ranks] == [4, 4, 4]
    assert set(np.concatenate(ranks).tolist()) == set(range(10))  # two examples repeated to pad 10 to 12
    with pytest.raises(DataError, match="rank 2 is outside 0..1"):
        epoch_order(10, shuffle=True, seed=1, epoch=0, rank=2, world_size=2)


# --- augmentation ---------------------------------------------------------------------------------------------------

PAPER = Augmentation(resize=40, random_crop=True, horizontal_flip=True, pca_jitter=0.1)


def photo_split(count: int = 6, shape: tuple[int, int] = (30, 50)) -> ArraySplit:
    """Colourful random-ish RGB images with correlated channels, not square."""
    rng = np.random.default_rng(0)
    base = rng.integers(0, 200, (count, *shape, 1))
    images = np.concatenate([base, base // 2 + rng.integers(0, 40, (count, *shape, 1)), 255 - base], axis=-1)
    return ArraySplit(images.astype(np.uint8), np.arange(count) % 2)


def test_resize_shorter_side_and_centre_crop() -> None:
    image = photo_split().images[0]
    resized = resize_shorter(image, 40)
    assert resized.shape == (40, 67, 3)
    assert centre_crop(resized, 32, 32).shape == (32, 32, 3)
    np.testing.assert_array_equal(centre_crop(resized, 32, 32), resized[4:36, 17:49])
    assert resize(image, 30, 50) is image


def test_training_crop_is_a_window_of_the_resized_image_and_varies() -> None:
    split = photo_split()
    train, _ = transforms((32, 32, 3), Augmentation(resize=40, horizontal_flip=False, pca_jitter=0.0), split)
    resized = resize_shorter(split.images[0], 40).astype(np.float32) / 255.0
    corners = set()
    for seed in range(12):
        out = train(split.images[0], np.random.default_rng(seed))
        assert out.shape == (32, 32, 3) and out.dtype == np.float32
        hits = [
            (t, left)
            for t in range(9)
            for left in range(36)
            if np.array_equal(resized[t : t + 32, left : left + 32], out)
        ]
        assert hits, "the crop is not a window of the resized image"
        corners.add(hits[0])
    assert len(corners) > 3


def test_flip_is_an_exact_mirror_half_the_time() -> None:
    split = photo_split()
    train, evaluate = transforms((32, 32, 3), Augmentation(resize=40, random_crop=False, pca_jitter=0.0), split)
    centre = evaluate(split.images[1])
    flips = 0
    for seed in range(40):
        out = train(split.images[1], np.random.default_rng(seed))
        if np.array_equal(out, centre[:, ::-1]):
            flips += 1
        else:
            np.testing.assert_array_equal(out, centre)
    assert 10 <= flips <= 30


def test_pca_jitter_adds_one_colour_per_image_from_the_principal_components() -> None:
    split = photo_split()
    train, evaluate = transforms(
        (32, 32, 3), Augmentation(resize=40, random_crop=False, horizontal_flip=False, pca_jitter=0.5), split, seed=0
    )
    values, vectors = train.pca_values, train.pca_vectors
    assert values is not None and vectors is not None
    np.testing.assert_allclose(vectors.T @ vectors, np.eye(3), atol=1e-9)
    shift = train(split.images[2], np.random.default_rng(5)) - evaluate(split.images[2])
    offset = shift.reshape(-1, 3)
    np.testing.assert_allclose(offset, np.broadcast_to(offset[0], offset.shape), atol=1e-6)  # same for every pixel
    alpha_scaled = vectors.T @ offset[0]  # coordinates along the eigenvectors: alpha_i * sqrt(lambda_i)
    assert np.abs(alpha_scaled).max() > 1e-3
    assert np.all(np.abs(alpha_scaled) <= 5 * 0.5 * np.sqrt(values) + 1e-6)
    np.testing.assert_array_equal(
        train(split.images[2], np.random.default_rng(5)), train(split.images[2], np.random.default_rng(5))
    )  # deterministic under a seed


def test_pca_basis_finds_the_colour_axis() -> None:
    rng = np.random.default_rng(1)
    grey = rng.integers(0, 256, (8, 10, 10, 1))
    split = ArraySplit(np.repeat(grey, 3, axis=-1).astype(np.uint8), np.zeros(8, np.int64))
    values, vectors = pca_basis(split)
    np.testing.assert_allclose(np.abs(vectors[:, -1]), np.full(3, 1 / np.sqrt(3)), atol=1e-9)
    assert values[-1] > 0.01 and values[:2].max() < 1e-12


def test_augmentation_is_deterministic_per_seed_epoch_and_example() -> None:
    from alexgen.data.augment import apply

    split = photo_split()
    train, _ = transforms((32, 32, 3), PAPER, split)
    same = apply(split, train, 3, seed=9, epoch=2)
    np.testing.assert_array_equal(same, apply(split, train, 3, seed=9, epoch=2))
    assert not np.array_equal(same, apply(split, train, 3, seed=9, epoch=3))
    assert not np.array_equal(same, apply(split, train, 3, seed=10, epoch=2))


def test_evaluation_is_the_centre_crop_and_resize_must_cover_the_input() -> None:
    split = photo_split()
    _, evaluate = transforms((32, 32, 3), PAPER, split)
    expected = centre_crop(resize_shorter(split.images[4], 40), 32, 32).astype(np.float32) / 255.0
    np.testing.assert_array_equal(evaluate(split.images[4]), expected)
    with pytest.raises(DataError, match="resize is 24, smaller than the input 32x32"):
        transforms((32, 32, 3), Augmentation(resize=24), split)
    plain, plain_eval = transforms((20, 20, 3), None, split)
    assert plain is plain_eval and plain(split.images[0]).shape == (20, 20, 3)
