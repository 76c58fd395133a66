"""Image grids people can look at: rows of samples, columns such as ground truth | masked | output."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch


def save_grid(columns: list[torch.Tensor], path: Path, scale: int = 3, pad: int = 2) -> Path:
    """Write a PNG with one column per tensor (each (N, 1, H, W) in [0, 1]), upscaled `scale`x."""
    from PIL import Image

    if not columns or any(c.shape != columns[0].shape for c in columns):
        raise ValueError("grid columns must be non-empty tensors of one shape")
    n, _, h, w = columns[0].shape
    canvas = np.full((n * (h + pad) + pad, len(columns) * (w + pad) + pad), 255, np.uint8)
    for j, column in enumerate(columns):
        pixels = (column.detach().float().clamp(0, 1).cpu().numpy()[:, 0] * 255).round().astype(np.uint8)
        for i in range(n):
            y, x = pad + i * (h + pad), pad + j * (w + pad)
            canvas[y : y + h, x : x + w] = pixels[i]
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(canvas).resize((canvas.shape[1] * scale, canvas.shape[0] * scale), Image.Resampling.NEAREST).save(path)
    return path
