"""Metrics on masked regions. Hand-written where torchmetrics has no notion of a mask."""

from __future__ import annotations

import torch


def masked_psnr(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Per-image PSNR (dB) over the hidden pixels only: the visible ones are copied, not generated.

    An exact reconstruction is capped at 100 dB instead of returning inf.
    """
    if prediction.shape != target.shape or mask.shape[-2:] != target.shape[-2:]:
        raise ValueError(
            f"shape mismatch: prediction {tuple(prediction.shape)}, target {tuple(target.shape)}, mask {tuple(mask.shape)}"
        )
    mask = mask.expand_as(target)
    hidden = mask.flatten(1).sum(1)
    if (hidden == 0).any():
        raise ValueError("mask hides no pixel for at least one image")
    mse = ((prediction - target) ** 2 * mask).flatten(1).sum(1) / hidden
    return (10 * torch.log10(data_range**2 / mse.clamp(min=1e-10))).clamp(max=100.0)


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    if len(labels) == 0:
        raise ValueError("accuracy of an empty set is undefined")
    return (logits.argmax(1) == labels).float().mean().item()


@torch.no_grad()
def predict_batched(fn, x: torch.Tensor, batch_size: int = 512, device: torch.device | None = None) -> torch.Tensor:
    """Apply `fn` to `x` in chunks on `device` and return the results on the CPU, concatenated."""
    device = device or torch.device("cpu")
    return torch.cat([fn(x[i : i + batch_size].to(device)).float().cpu() for i in range(0, len(x), batch_size)])
