"""One entry point for every method: `unlearn(model, forget, retain, cfg, device)`.

Each method is a module with `run(model, teacher, forget, retain, cfg, device, generator)` and
`ENCODER_ONLY`; loss-based ones share the paired loop in `paired.py`. `retain` is D_R for most
methods, proxy images for `encoder-noise-proxy`, and the whole retained training set for the
`retrain` oracle.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from types import ModuleType

import torch
from torch import nn

from components.errors import DataValidationError
from components.models.training import FitResult
from components.unlearning import decoupling, encoder_noise, max_loss, noisy_label, random_encoder, retain_label, retrain
from components.unlearning.config import UnlearnConfig

MODULES: dict[str, ModuleType] = {
    "encoder-noise": encoder_noise,
    "encoder-noise-proxy": encoder_noise,  # same loss; the caller passes proxy images as `retain`
    "decoupling": decoupling,
    "max-loss": max_loss,
    "noisy-label": noisy_label,
    "retain-label": retain_label,
    "random-encoder": random_encoder,
    "retrain": retrain,
}


@dataclass(frozen=True)
class UnlearnResult:
    fit: FitResult
    n_forget: int
    n_retain: int
    budget: int  # steps the method was allowed
    probes: list[dict[str, float]]  # the stopping monitor's readings (step, forget_gap, retain_drift, retain_psnr_drop_pct)
    kept_steps: int  # steps whose updates the returned weights hold (fewer than run after a retain stop)


def unlearn(
    model: nn.Module, forget: torch.Tensor, retain: torch.Tensor, cfg: UnlearnConfig, device: torch.device
) -> UnlearnResult:
    """Update `model` in place with `cfg.method`; the original is kept frozen as the teacher."""
    if len(forget) == 0:
        raise DataValidationError("the forget set is empty: nothing to unlearn")
    if len(retain) == 0:
        raise DataValidationError("the retain (or proxy) set is empty: the retain term needs images")
    if forget.shape[1:] != retain.shape[1:]:
        raise DataValidationError(
            f"forget images {tuple(forget.shape[1:])} and retain images {tuple(retain.shape[1:])} differ in shape"
        )
    generator = torch.Generator().manual_seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    model.to(device)
    teacher = copy.deepcopy(model).eval().requires_grad_(False)
    model.train()
    run = MODULES[cfg.method].run(model, teacher, forget, retain, cfg, device, generator)
    model.eval()
    return UnlearnResult(run.fit, len(forget), len(retain), run.budget, run.probes, run.kept_steps)
