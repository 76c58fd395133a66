"""Model-free inpainting baselines: what an inpainter must beat before its forgetting means anything.

A model that barely beats a lookup table has little to forget, so a drop in its forget-set quality
is not evidence. Three baselines fill the hidden pixels from the training images alone:

- `mean`: the mean training image (knows the data distribution, nothing about the input);
- `1nn`: the hidden pixels of the training image closest on the *visible* pixels (memorisation);
- `10nn`: the mean of the 10 closest (a non-parametric conditional mean, the MSE-optimal shape).

Scores are the same per-image masked PSNR the models get (`metrics.masked_psnr`).
"""

from __future__ import annotations

import torch

from components.evaluation.metrics import masked_psnr

BASELINES = ("mean", "1nn", "10nn")


@torch.no_grad()
def nearest_fill(train: torch.Tensor, x: torch.Tensor, mask: torch.Tensor, k: int, chunk: int = 1024) -> torch.Tensor:
    """Fill the hidden pixels of `x` (mask (1, 1, H, W), 1 = hidden) with the mean of its `k` nearest
    training images, distance measured on the visible pixels only."""
    if not 1 <= k <= len(train):
        raise ValueError(f"k={k} needs 1..{len(train)} training images")
    visible = mask.flatten() == 0
    bank = train.flatten(1)[:, visible].float()
    bank_sq = (bank**2).sum(1)
    outputs = []
    for start in range(0, len(x), chunk):
        query = x[start : start + chunk].flatten(1)[:, visible].float()
        # ||q - b||^2 = |q|^2 - 2 q.b + |b|^2; |q|^2 is constant per row, so it does not change the ranking
        distance = bank_sq.unsqueeze(0) - 2 * query @ bank.T
        nearest = distance.topk(k, dim=1, largest=False).indices  # (chunk, k)
        outputs.append(train[nearest].mean(1))
    fill = torch.cat(outputs)
    return x * (1 - mask) + fill * mask


def baseline_psnr(train: torch.Tensor, x: torch.Tensor, mask: torch.Tensor) -> dict[str, float]:
    """Mean masked PSNR (dB) of each baseline on `x` with one mask (1, 1, H, W)."""
    if len(train) == 0 or len(x) == 0:
        raise ValueError("baselines need training images and evaluation images")
    expanded = mask.expand_as(x)
    fills = {
        "mean": x * (1 - mask) + train.mean(0, keepdim=True) * mask,
        "1nn": nearest_fill(train, x, mask, 1),
        "10nn": nearest_fill(train, x, mask, min(10, len(train))),
    }
    return {name: masked_psnr(fill, x, expanded).mean().item() for name, fill in fills.items()}
