"""RANDOM ENCODER baseline (Li et al.'s Table; `engine_baseline.py`): forget latents pushed to
random vectors drawn from N(mean, std) of the teacher's latent, retain latents kept; encoder only.

The released code applies the noise term to *retain* samples (`1 + labels`); we apply it to the
forget set, as the paper describes (ALGORITHMS.md §4).
"""

from __future__ import annotations

import torch

from components.unlearning.paired import encoder_objective, run_paired

ENCODER_ONLY = True


def build(model, teacher, cfg, generator):
    def random_latent(x_f, m_f, _batch):
        latent = teacher.encode(x_f, m_f)
        return torch.randn(latent.shape, generator=generator).to(latent.device) * latent.std() + latent.mean()

    return encoder_objective(model, teacher, cfg, generator, random_latent)


def run(model, teacher, forget, retain, cfg, device, generator):
    return run_paired(build, ENCODER_ONLY, model, teacher, forget, retain, cfg, device, generator)
