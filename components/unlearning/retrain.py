"""The oracle: train a fresh model of the same architecture on D \\ D_F with the base recipe.

`retain` must be the whole retained training set here (not a sample); its cost is what the
other methods must beat.
"""

from __future__ import annotations

import torch

from components.models.configs import FitConfig
from components.models.recipes import train_inpainter
from components.models.training import FitResult

ENCODER_ONLY = False


def run(model, teacher, forget, retain, cfg, device, generator) -> FitResult:
    torch.manual_seed(cfg.seed)
    fresh = type(model)(model.config)
    recipe = FitConfig(epochs=cfg.retrain_epochs, batch_size=cfg.retrain_batch_size, lr=cfg.retrain_lr,
                       weight_decay=cfg.weight_decay, grad_clip=cfg.grad_clip, seed=cfg.seed)
    result = train_inpainter(fresh, retain, recipe, device, generator, desc="retrain")
    model.load_state_dict(fresh.state_dict())
    return result
