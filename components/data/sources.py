"""Where raw images come from: Debian's Fashion-MNIST package, an IDX directory, or ImageFolder.

Every source is read into the same in-memory form (`RawDataset`): 28x28 uint8 greyscale arrays
per split, integer labels and class names. Nothing here downloads anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from components.data.idx import read_idx
from components.errors import DataSourceError

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
INSTALL_HINT = "sudo apt-get install -y dataset-fashion-mnist   (Debian/Ubuntu package with the IDX files)"
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
IMAGE_SIZE = 28
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}
SPLITS = ("train", "test")
_IDX_STEMS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_FLAT_TEST_EVERY = 7  # flat ImageFolder: every 7th image of a class goes to test (Fashion-MNIST's 6:1 ratio)


@dataclass(frozen=True)
class RawDataset:
    """Images (N, 28, 28) uint8, labels (N,) int64 and an id prefix, per split."""

    images: dict[str, np.ndarray]
    labels: dict[str, np.ndarray]
    class_names: tuple[str, ...]
    id_prefix: str  # sample ids are f"{id_prefix}-{split}-{index:06d}"


def load_source(source: Path | None = None) -> RawDataset:
    """Read `source` (default: the Debian Fashion-MNIST package), detecting IDX vs ImageFolder."""
    if source is None:
        if not DEBIAN_FASHION_MNIST.is_dir():
            raise DataSourceError(f"Fashion-MNIST is not installed ({DEBIAN_FASHION_MNIST} missing). Run: {INSTALL_HINT}")
        source = DEBIAN_FASHION_MNIST
    source = Path(source)
    if not source.is_dir():
        raise DataSourceError(f"{source}: source directory not found")
    if _find_idx(source, _IDX_STEMS["train"][0]) is not None:
        return load_idx_dir(source)
    return load_image_folder(source)


def load_idx_dir(directory: Path) -> RawDataset:
    """Read the four Fashion-MNIST IDX files (``.gz`` or raw, torchvision's raw layout too)."""
    images, labels = {}, {}
    for split, (image_stem, label_stem) in _IDX_STEMS.items():
        image_path, label_path = _find_idx(directory, image_stem), _find_idx(directory, label_stem)
        if image_path is None or label_path is None:
            raise DataSourceError(f"{directory}: missing {image_stem} or {label_stem} (.gz or raw)")
        x, y = read_idx(image_path), read_idx(label_path)
        if x.ndim != 3 or x.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE) or x.dtype != np.uint8:
            raise DataSourceError(f"{image_path}: expected N x 28 x 28 uint8 images, got {x.dtype} {x.shape}")
        if y.ndim != 1 or len(y) != len(x):
            raise DataSourceError(f"{label_path}: {y.shape} labels for {len(x)} images")
        if y.size and y.max() >= len(FASHION_MNIST_CLASSES):
            raise DataSourceError(f"{label_path}: label {int(y.max())} out of range 0..9")
        images[split], labels[split] = x, y.astype(np.int64)
    return RawDataset(images, labels, FASHION_MNIST_CLASSES, id_prefix="fm")


def load_image_folder(directory: Path) -> RawDataset:
    """Read ``DIR/{train,test}/<class>/*.png|jpg`` or flat ``DIR/<class>/*`` (deterministic split).

    Images are converted to greyscale and resized to 28x28 so that user data fits the same models.
    """
    if all((directory / split).is_dir() for split in SPLITS):
        per_split = {split: _class_files(directory / split) for split in SPLITS}
        class_names = tuple(sorted(per_split["train"]))
        if set(per_split["test"]) - set(class_names):
            raise DataSourceError(f"{directory}: test has classes that train lacks")
    else:
        files = _class_files(directory)
        class_names = tuple(sorted(files))
        per_split = {
            "train": {
                c: [f for i, f in enumerate(fs) if i % _FLAT_TEST_EVERY != _FLAT_TEST_EVERY - 1] for c, fs in files.items()
            },
            "test": {c: [f for i, f in enumerate(fs) if i % _FLAT_TEST_EVERY == _FLAT_TEST_EVERY - 1] for c, fs in files.items()},
        }
    images, labels = {}, {}
    for split, files_by_class in per_split.items():
        paths = [(class_names.index(c), f) for c in sorted(files_by_class) for f in files_by_class[c]]
        images[split] = np.stack([_read_image(f) for _, f in paths]) if paths else np.zeros((0, 28, 28), np.uint8)
        labels[split] = np.array([label for label, _ in paths], dtype=np.int64)
    return RawDataset(images, labels, class_names, id_prefix="img")


def _find_idx(directory: Path, stem: str) -> Path | None:
    for candidate in (directory / f"{stem}.gz", directory / stem):
        if candidate.is_file():
            return candidate
    return None


def _class_files(directory: Path) -> dict[str, list[Path]]:
    classes = {
        d.name: sorted(f for f in d.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
        for d in sorted(directory.iterdir())
        if d.is_dir()
    }
    classes = {name: files for name, files in classes.items() if files}
    if not classes:
        raise DataSourceError(f"{directory}: no IDX files and no class folders with PNG/JPEG images")
    return classes


def _read_image(path: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            grey = image.convert("L")
            if grey.size != (IMAGE_SIZE, IMAGE_SIZE):
                grey = grey.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BILINEAR)
            return np.asarray(grey, dtype=np.uint8)
    except (UnidentifiedImageError, OSError) as exc:
        raise DataSourceError(f"{path}: unreadable image ({exc})") from exc
