"""Li et al. (ICLR'24): train only the encoder so that forget inputs embed like Gaussian noise
while retain inputs keep their original embeddings (ALGORITHMS.md §2).

    L = ||E(T(x_r)) - E0(T(x_r))||^2 + alpha * ||E(T(x_f)) - E0(T(n))||^2,  n ~ N(mean, std) of x_f

E0 is the frozen original encoder (same masks as the student) and the decoder is never updated.
The retain-free variant (`encoder-noise-proxy`) is this loss with proxy images in place of x_r.
"""

from __future__ import annotations

import torch

from components.unlearning.paired import noise_like, run_paired, training_masks

ENCODER_ONLY = True


def build(model, teacher, cfg, generator):
    def loss(batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x_f, x_r = batch
        m_f, m_r = training_masks(model, x_f, generator), training_masks(model, x_r, generator)
        with torch.no_grad():
            target_f = teacher.encode(noise_like(x_f, generator), m_f)
            target_r = teacher.encode(x_r, m_r)
        d_forget = ((model.encode(x_f, m_f) - target_f) ** 2).mean()
        d_retain = ((model.encode(x_r, m_r) - target_r) ** 2).mean()
        return d_retain + cfg.alpha * d_forget

    return loss


def run(model, teacher, forget, retain, cfg, device, generator):
    return run_paired(build, ENCODER_ONLY, model, teacher, forget, retain, cfg, device, generator)
