"""Varshney & Torra (2025): decoupling, then knowledge retention (ALGORITHMS.md §3).

No code was released; the details below are our reading of the abstract, each a parameter:
1. *Decoupling* — gradient ascent on the I2I loss over D_F, whole model, until the outputs on a
   forget probe are at least `decouple_threshold` x (the original model's own error on that probe)
   away from the original outputs (the OOD threshold lambda), or `decouple_max_steps` pass.
2. Optional Gaussian noise of std `dp_sigma` on the weights (the (epsilon, delta) mechanism;
   off by default, unverified).
3. *Knowledge retention* — distillation to the original model's outputs on D_R, for the same
   step budget as the paired methods (`paired.budget_steps`).
"""

from __future__ import annotations

from dataclasses import replace

import torch

from components.models.mae import masked_mse
from components.models.training import FitResult, batches, decay_groups, fit
from components.unlearning.paired import PairedRun, budget_steps, fit_config, training_masks

ENCODER_ONLY = False


def run(model, teacher, forget, retain, cfg, device, generator) -> PairedRun:
    probe = forget[:256].to(device)
    probe_mask = training_masks(model, probe, generator)
    with torch.no_grad():
        reference = teacher(probe, probe_mask)
        threshold = cfg.decouple_threshold * masked_mse(reference, probe, probe_mask).item()

    def distance() -> float:
        with torch.no_grad():
            return masked_mse(model(probe, probe_mask), reference, probe_mask).item()

    def ascent_batches(_):
        steps = 0
        while steps < cfg.decouple_max_steps:
            for batch in batches((forget,), cfg.batch_size, generator):
                if steps >= cfg.decouple_max_steps or (steps % 5 == 0 and distance() >= threshold):
                    return
                steps += 1
                yield batch

    def ascent_loss(batch):
        (x,) = batch
        mask = training_masks(model, x, generator)
        return -masked_mse(model(x, mask), x, mask)

    def retention_loss(batch):
        (x,) = batch
        mask = training_masks(model, x, generator)
        with torch.no_grad():
            target = teacher(x, mask)
        return masked_mse(model(x, mask), target, mask)

    phases = []
    constant = replace(fit_config(cfg), warmup_epochs=0.0, cosine=False)
    if distance() < threshold:
        phases.append(
            fit(
                decay_groups(model, weight_decay=cfg.weight_decay), ascent_loss, ascent_batches, constant, device, desc="decouple"
            )
        )
    if cfg.dp_sigma > 0:
        with torch.no_grad():
            for p in (q for q in model.parameters() if q.requires_grad):  # not fixed position embeddings
                p.add_(torch.randn(p.shape, generator=generator).to(p.device) * cfg.dp_sigma)
    steps = budget_steps(len(forget), cfg)

    def retention_batches(_):
        produced = 0
        while True:
            for batch in batches((retain,), cfg.batch_size, generator):
                if produced == steps:
                    return
                produced += 1
                yield batch

    phases.append(
        fit(
            decay_groups(model, weight_decay=cfg.weight_decay),
            retention_loss,
            retention_batches,
            fit_config(cfg),
            device,
            desc="retain",
            steps_per_epoch=steps,
        )
    )
    total = FitResult(
        sum(p.steps for p in phases),
        tuple(x for p in phases for x in p.epoch_losses),
        sum(p.seconds for p in phases),
        phases[-1].stop_reason,
    )
    return PairedRun(total, cfg.decouple_max_steps + steps, [])
