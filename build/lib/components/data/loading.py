"""Load materialised samples as model-ready tensors: (N, 1, 32, 32) float32 in [0, 1].

Fashion-MNIST's 28x28 images are zero-padded to 32x32 so the patch-4 models tile them exactly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from components.data.manifest import Sample
from components.data.sources import IMAGE_SIZE
from components.errors import DataValidationError

MODEL_IMAGE_SIZE = 32
_PAD = (MODEL_IMAGE_SIZE - IMAGE_SIZE) // 2


def read_pixels(data_dir: Path, samples: list[Sample]) -> np.ndarray:
    """Decode each sample's PNG into an (N, 28, 28) uint8 array, rejecting corrupt or mis-shaped files."""
    from PIL import Image, UnidentifiedImageError

    out = np.empty((len(samples), IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    for i, sample in enumerate(samples):
        path = data_dir / sample.relpath
        try:
            with Image.open(path) as image:
                pixels = np.asarray(image.convert("L"))
        except (FileNotFoundError, UnidentifiedImageError, OSError) as exc:
            raise DataValidationError(f"{sample.sample_id}: cannot read {sample.relpath} ({exc})") from exc
        if pixels.shape != (IMAGE_SIZE, IMAGE_SIZE):
            raise DataValidationError(f"{sample.sample_id}: {sample.relpath} is {pixels.shape}, expected 28x28")
        out[i] = pixels
    return out


def to_tensor(pixels: np.ndarray):
    """uint8 (N, 28, 28) -> float32 (N, 1, 32, 32) in [0, 1], zero-padded."""
    import torch

    x = torch.from_numpy(pixels.astype(np.float32) / 255.0).unsqueeze(1)
    return torch.nn.functional.pad(x, (_PAD, _PAD, _PAD, _PAD))


def load_images(data_dir: Path, samples: list[Sample]):
    """Model-ready tensor for `samples` (the manifest order is kept)."""
    return to_tensor(read_pixels(data_dir, samples))


def load_labels(samples: list[Sample]):
    import torch

    return torch.tensor([s.label for s in samples], dtype=torch.long)
