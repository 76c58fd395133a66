"""Li et al. (ICLR'24): train only the encoder so that forget inputs embed like Gaussian noise
while retain inputs keep their original embeddings (ALGORITHMS.md §2).

    L = ||E(T(x_r)) - E0(T(x_r))||^2 + alpha * ||E(T(x_f)) - E0(T(n))||^2,  n ~ N(mean, std) of x_f

E0 is a frozen copy of the original encoder and the decoder is never updated. The retain-free
variant is the same loss with proxy images in place of x_r; the choice of images is the caller's.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch

from components.errors import DataValidationError
from components.models.configs import FitConfig
from components.models.mae import MaskedAutoencoder
from components.models.masking import random_training_mask
from components.models.training import FitResult, fit
from components.unlearning.config import UnlearnConfig


@dataclass(frozen=True)
class UnlearnResult:
    fit: FitResult
    n_forget: int
    n_retain: int


def noise_like(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Gaussian images with the batch's scalar mean/std, clamped to [0, 1] (as in i2i_mage)."""
    noise = torch.randn(x.shape, generator=generator).to(x.device)
    return (noise * x.std() + x.mean()).clamp(0, 1)


def encoder_noise_loss(model: MaskedAutoencoder, teacher: MaskedAutoencoder, alpha: float, generator: torch.Generator):
    size, patch = model.config.image_size, model.config.patch_size

    def loss(batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x_forget, x_retain = batch
        mask_f = random_training_mask(len(x_forget), size, patch, generator).to(x_forget.device)
        mask_r = random_training_mask(len(x_retain), size, patch, generator).to(x_retain.device)
        with torch.no_grad():  # same masks for the teacher, as in the paper's code
            target_f = teacher.encode(noise_like(x_forget, generator), mask_f)
            target_r = teacher.encode(x_retain, mask_r)
        d_forget = ((model.encode(x_forget, mask_f) - target_f) ** 2).mean()
        d_retain = ((model.encode(x_retain, mask_r) - target_r) ** 2).mean()
        return d_retain + alpha * d_forget

    return loss


def paired_batches(forget: torch.Tensor, retain: torch.Tensor, batch_size: int, generator: torch.Generator):
    """One epoch of (forget, retain) pairs; the forget set is cycled to match the retain set's size."""
    order_r = torch.randperm(len(retain), generator=generator)
    repeats = -(-len(retain) // len(forget))
    order_f = torch.cat([torch.randperm(len(forget), generator=generator) for _ in range(repeats)])[: len(retain)]
    half = max(1, batch_size // 2)
    for start in range(0, len(retain), half):
        yield forget[order_f[start : start + half]], retain[order_r[start : start + half]]


def unlearn(model: MaskedAutoencoder, forget: torch.Tensor, retain: torch.Tensor, cfg: UnlearnConfig,
            device: torch.device) -> UnlearnResult:
    """Update `model`'s encoder in place. `retain` is D_R, or proxy images for the retain-free variant."""
    if len(forget) == 0:
        raise DataValidationError("the forget set is empty: nothing to unlearn")
    if len(retain) == 0:
        raise DataValidationError("the retain (or proxy) set is empty: the retain term needs images")
    if forget.shape[1:] != retain.shape[1:]:
        raise DataValidationError(f"forget images {tuple(forget.shape[1:])} and retain images {tuple(retain.shape[1:])} differ in shape")
    generator = torch.Generator().manual_seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    model.to(device)
    teacher = copy.deepcopy(model).eval().requires_grad_(False)
    model.train()
    fit_cfg = FitConfig(epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, weight_decay=cfg.weight_decay,
                        grad_clip=cfg.grad_clip, seed=cfg.seed)
    result = fit(model.encoder_parameters(), encoder_noise_loss(model, teacher, cfg.alpha, generator),
                 lambda _: paired_batches(forget, retain, cfg.batch_size, generator), fit_cfg, device, desc=cfg.method)
    model.eval()
    return UnlearnResult(result, len(forget), len(retain))
