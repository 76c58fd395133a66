"""Membership-inference audit: can a loss-based attacker tell forgotten training samples from
unseen samples of the same classes? AUC 0.5 means indistinguishable (the retrain oracle's level)."""

from __future__ import annotations

import torch
from torch import nn

from components.evaluation.metrics import predict_batched
from components.models.masking import make_mask


@torch.no_grad()
def reconstruction_losses(model: nn.Module, x: torch.Tensor, mask_spec: tuple[str, int], device: torch.device) -> torch.Tensor:
    """Per-image MSE on the hidden pixels (the attacker's score: low loss -> 'was trained on')."""
    mask = make_mask(mask_spec[0], x.shape[-1], mask_spec[1])
    model.eval().to(device)
    out = predict_batched(lambda b: model(b, mask.to(b.device).expand(len(b), -1, -1, -1)), x, device=device)
    m = mask.expand_as(x)
    return ((out - x) ** 2 * m).flatten(1).sum(1) / m.flatten(1).sum(1)


def membership_auc(model: nn.Module, members: torch.Tensor, non_members: torch.Tensor, mask_spec: tuple[str, int],
                   device: torch.device) -> float:
    """AUROC of score = -loss separating `members` (label 1) from `non_members` (label 0)."""
    from torchmetrics.functional.classification import binary_auroc

    if len(members) == 0 or len(non_members) == 0:
        raise ValueError("membership audit needs both members and non-members")
    scores = -torch.cat([reconstruction_losses(model, members, mask_spec, device),
                         reconstruction_losses(model, non_members, mask_spec, device)])
    labels = torch.cat([torch.ones(len(members)), torch.zeros(len(non_members))]).long()
    return float(binary_auroc(scores, labels))
