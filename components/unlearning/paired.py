"""The shared machinery of loss-based methods: paired (forget, retain) batches through `fit`."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from components.models.configs import FitConfig
from components.models.masking import random_training_mask
from components.models.training import FitResult, LossFn, fit
from components.unlearning.config import UnlearnConfig

LossBuilder = Callable[[nn.Module, nn.Module, UnlearnConfig, torch.Generator], LossFn]


def training_masks(model: nn.Module, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return random_training_mask(len(x), model.config.image_size, model.config.patch_size, generator).to(x.device)


def noise_like(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Gaussian images with the batch's scalar mean/std, clamped to [0, 1] (as in i2i_mage)."""
    noise = torch.randn(x.shape, generator=generator).to(x.device)
    return (noise * x.std() + x.mean()).clamp(0, 1)


def encoder_objective(model: nn.Module, teacher: nn.Module, cfg: UnlearnConfig, generator: torch.Generator,
                      forget_target: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> LossFn:
    """||E(T(x_r)) - E0(T(x_r))||^2 + alpha * ||E(T(x_f)) - forget_target(x_f, mask_f)||^2 (encoder methods)."""

    def loss(batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x_f, x_r = batch
        m_f, m_r = training_masks(model, x_f, generator), training_masks(model, x_r, generator)
        with torch.no_grad():
            target_f, target_r = forget_target(x_f, m_f), teacher.encode(x_r, m_r)
        d_forget = ((model.encode(x_f, m_f) - target_f) ** 2).mean()
        d_retain = ((model.encode(x_r, m_r) - target_r) ** 2).mean()
        return d_retain + cfg.alpha * d_forget

    return loss


def paired_batches(forget: torch.Tensor, retain: torch.Tensor, batch_size: int, generator: torch.Generator):
    """One epoch of (forget, retain) pairs; the forget set is cycled to match the retain set's size."""
    order_r = torch.randperm(len(retain), generator=generator)
    repeats = -(-len(retain) // len(forget))
    order_f = torch.cat([torch.randperm(len(forget), generator=generator) for _ in range(repeats)])[: len(retain)]
    half = max(1, batch_size // 2)
    for start in range(0, len(retain), half):
        yield forget[order_f[start : start + half]], retain[order_r[start : start + half]]


def fit_config(cfg: UnlearnConfig, epochs: int | None = None) -> FitConfig:
    return FitConfig(epochs=cfg.epochs if epochs is None else epochs, batch_size=cfg.batch_size, lr=cfg.lr,
                     weight_decay=cfg.weight_decay, grad_clip=cfg.grad_clip, seed=cfg.seed)


def run_paired(build: LossBuilder, encoder_only: bool, model: nn.Module, teacher: nn.Module, forget: torch.Tensor,
               retain: torch.Tensor, cfg: UnlearnConfig, device: torch.device, generator: torch.Generator) -> FitResult:
    """Minimise `build(...)`'s loss over paired batches, on the encoder or on every parameter."""
    params = model.encoder_parameters() if encoder_only else list(model.parameters())
    return fit(params, build(model, teacher, cfg, generator),
               lambda _: paired_batches(forget, retain, cfg.batch_size, generator), fit_config(cfg), device, desc=cfg.method)
