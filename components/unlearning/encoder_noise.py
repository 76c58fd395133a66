"""Li et al. (ICLR'24): train only the encoder so that forget inputs embed like Gaussian noise
while retain inputs keep their original embeddings (ALGORITHMS.md §2).

    L = ||E(T(x_r)) - E0(T(x_r))||^2 + alpha * ||E(T(x_f)) - E0(T(n))||^2,  n ~ N(mean, std) of the batch

E0 is the frozen original encoder (same masks as the student) and the decoder is never updated.
The retain-free variant (`encoder-noise-proxy`) is this loss with proxy images in place of x_r.
"""

from __future__ import annotations

from components.unlearning.paired import encoder_objective, noise_like, run_paired

ENCODER_ONLY = True


def build(model, teacher, cfg, generator):
    return encoder_objective(
        model, teacher, cfg, generator, lambda x_f, m_f, batch: teacher.encode(noise_like(x_f, generator, batch), m_f)
    )


def run(model, teacher, forget, retain, cfg, device, generator):
    return run_paired(build, ENCODER_ONLY, model, teacher, forget, retain, cfg, device, generator)
