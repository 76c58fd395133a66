"""RANDOM ENCODER baseline (Li et al.'s Table; `engine_baseline.py`): forget latents pushed to
random vectors drawn from N(mean, std) of the teacher's latent, retain latents kept; encoder only.

The released code applies the noise term to *retain* samples (`1 + labels`); we apply it to the
forget set, as the paper describes (ALGORITHMS.md §4).
"""

from __future__ import annotations

import torch

from components.unlearning.paired import run_paired, training_masks

ENCODER_ONLY = True


def build(model, teacher, cfg, generator):
    def loss(batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x_f, x_r = batch
        m_f, m_r = training_masks(model, x_f, generator), training_masks(model, x_r, generator)
        with torch.no_grad():
            t_f, t_r = teacher.encode(x_f, m_f), teacher.encode(x_r, m_r)
            target_f = torch.randn(t_f.shape, generator=generator).to(t_f.device) * t_f.std() + t_f.mean()
        return ((model.encode(x_r, m_r) - t_r) ** 2).mean() + cfg.alpha * ((model.encode(x_f, m_f) - target_f) ** 2).mean()

    return loss


def run(model, teacher, forget, retain, cfg, device, generator):
    return run_paired(build, ENCODER_ONLY, model, teacher, forget, retain, cfg, device, generator)
