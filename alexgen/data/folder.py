"""ImageNet-style folders: DIR/train/<class>/*.jpg|png and DIR/val/<class>/... (DIR/test/ when present)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np

from alexgen.data.base import DataError, FileSplit, require

EXTENSIONS = frozenset({".jpg", ".jpeg", ".png"})
LAYOUT = "expected DIR/train/<class>/*.jpg|png and DIR/val/<class>/*.jpg|png"
Verify = Literal["none", "header", "full"]


def class_folders(split_dir: Path) -> list[Path]:
    """The class subfolders of one split, sorted by name; DataError when there are none."""
    if not split_dir.is_dir():
        raise DataError(f"{split_dir}: no such folder ({LAYOUT})")
    folders = sorted(p for p in split_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        raise DataError(f"{split_dir}: no class folders in it ({LAYOUT})")
    return folders


def images_in(folder: Path) -> list[Path]:
    """The image files of one class folder, sorted; DataError when there are none."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in EXTENSIONS)
    if not files:
        raise DataError(f"{folder}: this class has no images (.jpg, .jpeg or .png)")
    return files


def check_image(path: Path, verify: Verify) -> None:
    """Open (header) or decode (full) one image with Pillow; DataError naming the file when it fails."""
    if verify == "none":
        return
    pil = require("PIL.Image", "pillow")
    try:
        with pil.open(path) as image:
            if verify == "full":
                image.load()
    except (OSError, ValueError, SyntaxError) as exc:
        raise DataError(f"{path}: the image does not decode ({exc})") from exc


def read_split(split_dir: Path, classes: list[str] | None, channels: int, verify: Verify) -> FileSplit:
    """One split's files and labels; its classes must be among `classes` (None: this split defines them)."""
    folders = class_folders(split_dir)
    if classes is not None:
        unknown = [f.name for f in folders if f.name not in classes]
        if unknown:
            raise DataError(f"{split_dir}: class folders {unknown} are not in train/ ({len(classes)} classes)")
    index = {name: i for i, name in enumerate(classes or [f.name for f in folders])}
    paths: list[Path] = []
    labels: list[int] = []
    for folder in folders:
        files = images_in(folder)
        for path in files:
            check_image(path, verify)
        paths += files
        labels += [index[folder.name]] * len(files)
    return FileSplit(paths, np.asarray(labels, dtype=np.int64), channels)


def read_folder(
    root: Path, channels: int, verify: Verify = "header"
) -> tuple[list[str], FileSplit, FileSplit, FileSplit]:
    """Classes and the train, val and test splits (test is val unless DIR/test exists)."""
    if not root.is_dir():
        raise DataError(f"{root}: no such folder ({LAYOUT})")
    train = read_split(root / "train", None, channels, verify)
    classes = [p.name for p in class_folders(root / "train")]
    val = read_split(root / "val", classes, channels, verify)
    test = read_split(root / "test", classes, channels, verify) if (root / "test").is_dir() else val
    return classes, train, val, test
