"""RETAIN LABEL baseline: forget outputs are pushed toward the teacher's outputs for the batch's
retain samples (same masks), retain outputs toward the teacher's own outputs (distillation, as in
the official `engine_baseline.py`); whole model (ALGORITHMS.md §4)."""

from __future__ import annotations

import torch

from components.models.mae import masked_mse
from components.unlearning.paired import run_paired, training_masks

ENCODER_ONLY = False


def build(model, teacher, cfg, generator):
    def loss(batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        x_f, x_r, m_r, _ = batch
        n = min(len(x_f), len(x_r))
        x_f, x_r, m_r = x_f[:n], x_r[:n], m_r[:n]
        m_f = training_masks(model, x_f, generator)
        with torch.no_grad():
            borrowed = teacher(x_r, m_f)  # what the original model makes of a retain image under the forget mask
            kept = teacher(x_r, m_r)
        return masked_mse(model(x_r, m_r), kept, m_r) + cfg.alpha * masked_mse(model(x_f, m_f), borrowed, m_f)

    return loss


def run(model, teacher, forget, retain, cfg, device, generator):
    return run_paired(build, ENCODER_ONLY, model, teacher, forget, retain, cfg, device, generator)
