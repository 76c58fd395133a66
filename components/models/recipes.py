"""The base training recipe for inpainters, shared by `train_base` and the retrain oracle."""

from __future__ import annotations

import torch
from torch import nn

from components.models.configs import FitConfig
from components.models.mae import masked_mse
from components.models.masking import random_training_mask
from components.models.training import FitResult, batches, decay_groups, fit, steps_per_epoch


def train_inpainter(
    model: nn.Module, images: torch.Tensor, cfg: FitConfig, device: torch.device, generator: torch.Generator, desc: str = "train"
) -> FitResult:
    """Masked reconstruction on a mix of random patch, box and border masks (all parameters)."""
    model.to(device).train()
    size, patch = model.config.image_size, model.config.patch_size

    def loss_fn(batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        (x,) = batch
        mask = random_training_mask(len(x), size, patch, generator).to(x.device)
        return masked_mse(model(x, mask), x, mask)

    result = fit(
        decay_groups(model, weight_decay=cfg.weight_decay),
        loss_fn,
        lambda _: batches((images,), cfg.batch_size, generator),
        cfg,
        device,
        desc,
        steps_per_epoch=steps_per_epoch(len(images), cfg.batch_size),
    )
    model.eval()
    return result


def memorising_recipe(lr: float, epochs: int, seed: int) -> FitConfig:
    """The positive controls' fine-tuning: constant lr, no weight decay, many passes over a few
    images, so the model certainly remembers them (the benchmarks' attacks must see that)."""
    return FitConfig(
        epochs=epochs, batch_size=32, lr=lr, weight_decay=0.0, grad_clip=3.0, seed=seed, warmup_epochs=0.0, cosine=False
    )
