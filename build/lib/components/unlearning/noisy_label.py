"""NOISY LABEL baseline: the forget targets are Gaussian noise images, the retain targets the
images themselves; whole model (ALGORITHMS.md §4)."""

from __future__ import annotations

import torch

from components.models.mae import masked_mse
from components.unlearning.paired import noise_like, run_paired, training_masks

ENCODER_ONLY = False


def build(model, teacher, cfg, generator):
    def loss(batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        x_f, x_r, m_r, _ = batch
        m_f = training_masks(model, x_f, generator)
        noisy_target = noise_like(x_f, generator, torch.cat([x_f, x_r]))
        return masked_mse(model(x_r, m_r), x_r, m_r) + cfg.alpha * masked_mse(model(x_f, m_f), noisy_target, m_f)

    return loss


def run(model, teacher, forget, retain, cfg, device, generator):
    return run_paired(build, ENCODER_ONLY, model, teacher, forget, retain, cfg, device, generator)
