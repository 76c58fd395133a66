"""Pixel masks for inpainting (centre hole) and outpainting (border), 1 = hidden pixel.

Masks are (B, 1, H, W) float tensors aligned to the patch grid, so a patch is either fully
visible or fully hidden and the same mask drives both the model input and the metrics.
"""

from __future__ import annotations

import torch

MASK_KINDS = ("centre", "border")


def centre_mask(size: int, hole: int, batch: int = 1) -> torch.Tensor:
    """A hole x hole square in the middle of a size x size image (inpainting)."""
    if not 0 < hole <= size:
        raise ValueError(f"hole {hole} must be in 1..{size}")
    mask = torch.zeros(batch, 1, size, size)
    start = (size - hole) // 2
    mask[:, :, start : start + hole, start : start + hole] = 1.0
    return mask


def border_mask(size: int, width: int, batch: int = 1) -> torch.Tensor:
    """Hide a border of `width` pixels on all four sides (outpainting)."""
    if not 0 < width < size // 2:
        raise ValueError(f"border width {width} must be in 1..{size // 2 - 1}")
    mask = torch.ones(batch, 1, size, size)
    mask[:, :, width : size - width, width : size - width] = 0.0
    return mask


def make_mask(kind: str, size: int, extent: int, batch: int = 1) -> torch.Tensor:
    """`kind` is 'centre' (extent = hole side) or 'border' (extent = border width), in pixels."""
    if kind == "centre":
        return centre_mask(size, extent, batch)
    if kind == "border":
        return border_mask(size, extent, batch)
    raise ValueError(f"unknown mask kind {kind!r}; expected one of {MASK_KINDS}")


def random_training_mask(batch: int, size: int, patch: int, generator: torch.Generator) -> torch.Tensor:
    """A mix of the tasks the model must serve: random patches, random boxes and random borders.

    One third each, so a single model learns inpainting and outpainting (ALGORITHMS.md §7).
    """
    grid = size // patch
    kind = torch.randint(0, 3, (batch,), generator=generator)
    ratio = 0.25 + 0.5 * torch.rand(batch, 1, generator=generator)
    patches = (torch.rand(batch, grid * grid, generator=generator) < ratio).float().view(batch, 1, grid, grid)
    side = torch.randint(2, grid - 1, (batch,), generator=generator)
    top = (torch.rand(batch, generator=generator) * (grid - side + 1)).long()
    left = (torch.rand(batch, generator=generator) * (grid - side + 1)).long()
    width = torch.randint(1, grid // 2, (batch,), generator=generator)
    rows = torch.arange(grid).view(1, grid, 1)
    cols = torch.arange(grid).view(1, 1, grid)
    box = (
        (
            (rows >= top.view(-1, 1, 1))
            & (rows < (top + side).view(-1, 1, 1))
            & (cols >= left.view(-1, 1, 1))
            & (cols < (left + side).view(-1, 1, 1))
        )
        .float()
        .unsqueeze(1)
    )
    w = width.view(-1, 1, 1)
    border = ((rows < w) | (rows >= grid - w) | (cols < w) | (cols >= grid - w)).float().unsqueeze(1)
    chosen = torch.where(kind.view(-1, 1, 1, 1) == 0, patches, torch.where(kind.view(-1, 1, 1, 1) == 1, box, border))
    return chosen.repeat_interleave(patch, dim=2).repeat_interleave(patch, dim=3)


def composite(x: torch.Tensor, prediction: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Keep the visible pixels of `x` and take the hidden ones from `prediction`."""
    return x * (1 - mask) + prediction * mask
