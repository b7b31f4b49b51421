"""Image transforms on uint8 H x W x C arrays: resizing (Pillow), the paper's augmentation, evaluation crops."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from alexgen.data.base import DataError, Split, item_rng, require
from alexgen.spec import Augmentation

PCA_SAMPLE_IMAGES = 256  # images read to estimate the colour covariance
PCA_SAMPLE_PIXELS = 4096  # pixels taken from each of them


def resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """uint8 H x W x C resized to height x width with Pillow's antialiased bilinear filter."""
    if image.shape[:2] == (height, width):
        return image
    pil = require("PIL.Image", "pillow")
    if image.shape[2] == 3:
        return np.asarray(pil.fromarray(image, "RGB").resize((width, height), pil.Resampling.BILINEAR))
    planes = [
        np.asarray(
            pil.fromarray(np.ascontiguousarray(image[..., c]), "L").resize((width, height), pil.Resampling.BILINEAR)
        )
        for c in range(image.shape[2])
    ]
    return np.stack(planes, axis=-1)


def resize_shorter(image: np.ndarray, side: int) -> np.ndarray:
    """Resize so that the shorter side is `side`, keeping the aspect ratio."""
    height, width = image.shape[:2]
    scale = side / min(height, width)
    return resize(image, max(side, round(height * scale)), max(side, round(width * scale)))


def crop(image: np.ndarray, top: int, left: int, height: int, width: int) -> np.ndarray:
    """The height x width window at (top, left)."""
    return image[top : top + height, left : left + width]


def centre_crop(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """The centred height x width window."""
    return crop(image, (image.shape[0] - height) // 2, (image.shape[1] - width) // 2, height, width)


def pca_basis(split: Split, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues and eigenvectors (columns) of the channel covariance of training pixels scaled to [0, 1]."""
    rng = np.random.default_rng([seed, 0xC0])
    chosen = np.sort(rng.choice(len(split), size=min(len(split), PCA_SAMPLE_IMAGES), replace=False))
    samples = []
    for index in chosen:
        pixels = split.load(int(index))
        flat = pixels.reshape(-1, pixels.shape[-1])
        take = rng.choice(len(flat), size=min(len(flat), PCA_SAMPLE_PIXELS), replace=False)
        samples.append(flat[take].astype(np.float64) / 255.0)
    data = np.concatenate(samples)
    covariance = np.atleast_2d(np.cov(data, rowvar=False))
    values, vectors = np.linalg.eigh(covariance)
    return np.clip(values, 0.0, None), vectors


@dataclass(frozen=True)
class Transform:
    """Turns one stored uint8 image into the network's float32 H x W x C input in [0, 1]."""

    height: int
    width: int
    augmentation: Augmentation | None = None
    training: bool = False
    pca_values: np.ndarray | None = None
    pca_vectors: np.ndarray | None = None

    def __call__(self, image: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        """Resize (and crop, flip, jitter when training with augmentation); rng is needed only then."""
        aug = self.augmentation
        if aug is None:
            return resize(image, self.height, self.width).astype(np.float32) / 255.0
        image = resize_shorter(image, aug.resize)
        if not self.training:
            return centre_crop(image, self.height, self.width).astype(np.float32) / 255.0
        assert rng is not None, "a training transform needs the example's random stream"
        if aug.random_crop:
            top = int(rng.integers(0, image.shape[0] - self.height + 1))
            left = int(rng.integers(0, image.shape[1] - self.width + 1))
            image = crop(image, top, left, self.height, self.width)
        else:
            image = centre_crop(image, self.height, self.width)
        if aug.horizontal_flip and rng.random() < 0.5:
            image = image[:, ::-1]
        pixels = image.astype(np.float32) / 255.0
        if aug.pca_jitter and self.pca_values is not None and self.pca_vectors is not None:
            alpha = rng.normal(0.0, aug.pca_jitter, size=len(self.pca_values))
            # the paper adds p·(α·λ); with λ as the covariance's eigenvalues that is in squared pixel units,
            # so as common implementations do the noise is scaled by sqrt(λ), the standard deviation
            pixels = pixels + (self.pca_vectors @ (alpha * np.sqrt(self.pca_values))).astype(np.float32)
        return np.ascontiguousarray(pixels, dtype=np.float32)

    @property
    def is_random(self) -> bool:
        """True when the output depends on the example's random stream."""
        return self.training and self.augmentation is not None


def transforms(
    shape: Sequence[int], augmentation: Augmentation | None, train: Split, seed: int = 0
) -> tuple[Transform, Transform]:
    """The training and the evaluation transform for input `shape` (H, W, C); checks the resize fits."""
    height, width = int(shape[0]), int(shape[1])
    if augmentation is None:
        plain = Transform(height, width)
        return plain, plain
    if augmentation.resize < max(height, width):
        raise DataError(
            f"training.augmentation.resize is {augmentation.resize}, smaller than the input "
            f"{height}x{width}: nothing to crop from; use resize >= {max(height, width)}"
        )
    values = vectors = None
    if augmentation.pca_jitter:
        values, vectors = pca_basis(train, seed)
    return (
        Transform(height, width, augmentation, True, values, vectors),
        Transform(height, width, augmentation, False),
    )


def apply(split: Split, transform: Transform, index: int, seed: int, epoch: int) -> np.ndarray:
    """The transformed example `index` of `split` in `epoch`."""
    rng = item_rng(seed, epoch, index) if transform.is_random else None
    return transform(split.load(index), rng)
