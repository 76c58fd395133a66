"""The oracle: train a fresh model of the same architecture on D \\ D_F with the base recipe.

`retain` must be the whole retained training set here (not a sample); its cost is what the
other methods must beat.
"""

from __future__ import annotations

import torch

from components.models.configs import FitConfig
from components.models.recipes import train_inpainter
from components.models.training import steps_per_epoch
from components.unlearning.paired import PairedRun

ENCODER_ONLY = False


def run(model, teacher, forget, retain, cfg, device, generator) -> PairedRun:
    torch.manual_seed(cfg.seed)
    fresh = type(model)(model.config)
    recipe = FitConfig(epochs=cfg.retrain_epochs, batch_size=cfg.retrain_batch_size, lr=cfg.retrain_lr,
                       weight_decay=cfg.retrain_weight_decay, grad_clip=cfg.grad_clip, seed=cfg.seed,
                       warmup_epochs=cfg.retrain_warmup_epochs, cosine=True)
    result = train_inpainter(fresh, retain, recipe, device, generator, desc="retrain")
    model.load_state_dict(fresh.state_dict())
    return PairedRun(result, cfg.retrain_epochs * steps_per_epoch(len(retain), cfg.retrain_batch_size), [])
