"""Membership-inference audit: can a loss-based attacker tell forgotten training samples from
unseen samples of the same classes? AUC 0.5 means indistinguishable (the retrain oracle's level)."""

from __future__ import annotations

from dataclasses import asdict

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


def membership_auc(
    model: nn.Module, members: torch.Tensor, non_members: torch.Tensor, mask_spec: tuple[str, int], device: torch.device
) -> float:
    """AUROC of score = -loss separating `members` (label 1) from `non_members` (label 0)."""
    from torchmetrics.functional.classification import binary_auroc

    if len(members) == 0 or len(non_members) == 0:
        raise ValueError("membership audit needs both members and non-members")
    scores = -torch.cat(
        [reconstruction_losses(model, members, mask_spec, device), reconstruction_losses(model, non_members, mask_spec, device)]
    )
    labels = torch.cat([torch.ones(len(members)), torch.zeros(len(non_members))]).long()
    return float(binary_auroc(scores, labels))


MIA_MASKS = (("centre", 8), ("centre", 12), ("centre", 16), ("border", 4), ("border", 8))


def multi_mask_losses(
    model: nn.Module, x: torch.Tensor, device: torch.device, masks: tuple[tuple[str, int], ...] = MIA_MASKS
) -> torch.Tensor:
    """Per-image hidden-pixel MSE averaged over several masks: one mask is a noisy reading."""
    return torch.stack([reconstruction_losses(model, x, spec, device) for spec in masks]).mean(0)


def mann_whitney_auc(members: torch.Tensor, non_members: torch.Tensor) -> torch.Tensor:
    """P(score of a member > score of a non-member), ties count half (the Mann-Whitney AUC)."""
    diff = members.unsqueeze(1) - non_members.unsqueeze(0)
    return (diff > 0).double().mean() + 0.5 * (diff == 0).double().mean()


def calibrated_attack(
    model: nn.Module,
    references: list[nn.Module],
    members: torch.Tensor,
    non_members: torch.Tensor,
    device: torch.device,
    seed: int = 0,
) -> dict[str, dict]:
    """Loss attack, raw and calibrated by reference models that never saw the members (oracles).

    Calibrated score = mean reference loss - target loss (Carlini et al.'s offline calibration,
    reduced to a difference): an image that is simply easy has a low loss under every model, so
    only the *extra* ease the target shows counts as evidence of membership. AUC 0.5 = chance;
    95% CI by bootstrap over the images.
    """
    from components.evaluation.stats import bootstrap

    if len(members) == 0 or len(non_members) == 0:
        raise ValueError("membership audit needs both members and non-members")
    target = [multi_mask_losses(model, x, device) for x in (members, non_members)]
    scores = {"raw": [-t for t in target]}
    if references:
        ref = [torch.stack([multi_mask_losses(r, x, device) for r in references]).mean(0) for x in (members, non_members)]
        scores["calibrated"] = [r - t for r, t in zip(ref, target, strict=True)]
    return {
        name: asdict(bootstrap((m.double(), n.double()), mann_whitney_auc, seed, resamples=1000))
        for name, (m, n) in scores.items()
    }
