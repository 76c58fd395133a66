"""The oracle: train a fresh model of the same architecture on D \\ D_F with the base recipe.

`retain` must be the whole retained training set here (not a sample); its cost is what the
other methods must beat.
"""

from __future__ import annotations

import torch

from components.models.configs import FitConfig
from components.models.recipes import train_inpainter
from components.models.training import steps_per_epoch
from components.unlearning.config import UnlearnConfig
from components.unlearning.paired import PairedRun

ENCODER_ONLY = False


def recipe(cfg: UnlearnConfig) -> FitConfig:
    """The base recipe (`train:`, copied into the `retrain_*` fields by flows/params.py), seeded by the unlearning run."""
    return FitConfig(
        epochs=cfg.retrain_epochs,
        batch_size=cfg.retrain_batch_size,
        lr=cfg.retrain_lr,
        weight_decay=cfg.retrain_weight_decay,
        grad_clip=cfg.retrain_grad_clip,
        seed=cfg.seed,
        warmup_epochs=cfg.retrain_warmup_epochs,
        cosine=cfg.retrain_cosine,
    )


def run(model, teacher, forget, retain, cfg, device, generator) -> PairedRun:
    torch.manual_seed(cfg.seed)
    fresh = type(model)(model.config)
    fit_cfg = recipe(cfg)
    result = train_inpainter(fresh, retain, fit_cfg, device, generator, desc="retrain")
    model.load_state_dict(fresh.state_dict())
    return PairedRun(result, fit_cfg.epochs * steps_per_epoch(len(retain), fit_cfg.batch_size), [])
