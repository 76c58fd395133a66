"""The shared machinery of loss-based methods: a step budget over paired (forget, retain) batches,
the official schedule, cached teacher latents, and early stopping on training-side probes.

Budget: `forget_passes` passes over D_F (half of each batch is forget images), clamped to
[`min_steps`, `max_steps`] — so the cost grows with |D_F|, never with |D|. Every `check_every`
steps a monitor looks at fixed probes drawn from the *training-side* sets (forget images and
the retain pool; never the evaluation sets) and stops when

- `forgotten`: the forget latents' squared distance to their noise targets fell to `stop_gap` of
  its starting value (Li et al.'s objective is met), or
- `plateau`: its best value improved by less than `stop_plateau` over the last `patience` checks
  (single readings are noisy: each step draws new masks, so one check may read worse than the last), or
- `retain`: the masked PSNR of the retain probes stayed more than `max_retain_drop_pct` % below
  the original model's on the same images and masks at the last `patience` checks (mean of per-image
  drops; training-style masks, where the retain gate reads the centre hole of held-out images —
  same unit, not the same reading). One reading past the limit does not stop the run: at the
  top of the warm-up the probes dip and then recover as the retain term pulls the encoder back
  (demo batch, 2026-11-29: -1.02 % at step 8 in one run, -0.64 % then down to -0.17 % in a run with
  another summation order), and stopping there kept 4 steps where the other kept 48.
  The probes come from the retain pool (training images; proxy images for the proxy variant) but
  are held out of the retain term: a drift measured on images the loss pins down reads too low.
  Whatever ends the run, the returned weights are within the limit: when the last reading (taken
  after the final step too) is past it, the weights of the last check within it are put back
  (step 0: the original's). The latent drift is recorded next to it.

Schedule as in `i2i_mage/main_unlearn.py`: lr = blr x batch / 256, linear warm-up then cosine
over the budget, no weight decay on norms/biases/embeddings/mask token, noise images drawn with the
whole batch's mean and std. What does not change is computed once: each retain image gets one
fixed training mask and its teacher latent; probe targets are fixed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

import torch
from torch import nn

from components.evaluation.metrics import masked_psnr
from components.models.configs import FitConfig
from components.models.masking import random_training_mask
from components.models.training import FitResult, LossFn, Monitor, decay_groups, fit
from components.unlearning.config import UnlearnConfig

LossBuilder = Callable[[nn.Module, nn.Module, UnlearnConfig, torch.Generator], LossFn]
Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]  # x_f, x_r, fixed m_r, teacher latent of x_r
PROBE = 64  # images per probe set


def training_masks(model: nn.Module, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return random_training_mask(len(x), model.config.image_size, model.config.patch_size, generator).to(x.device)


def noise_like(x: torch.Tensor, generator: torch.Generator, stats: torch.Tensor | None = None) -> torch.Tensor:
    """Gaussian images with the scalar mean/std of `stats` (the whole batch; default `x`), clamped to
    [0, 1], as in i2i_mage."""
    stats = x if stats is None else stats
    noise = torch.randn(x.shape, generator=generator).to(x.device)
    return (noise * stats.std() + stats.mean()).clamp(0, 1)


def budget_steps(n_forget: int, cfg: UnlearnConfig) -> int:
    half = max(1, cfg.batch_size // 2)
    return int(min(cfg.max_steps, max(cfg.min_steps, math.ceil(cfg.forget_passes * n_forget / half))))


def encoder_objective(
    model: nn.Module,
    teacher: nn.Module,
    cfg: UnlearnConfig,
    generator: torch.Generator,
    forget_target: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
) -> LossFn:
    """||E(T(x_r)) - E0(T(x_r))||^2 + alpha * ||E(T(x_f)) - forget_target(x_f, mask_f, batch)||^2 (encoder methods)."""

    def loss(batch: Batch) -> torch.Tensor:
        x_f, x_r, m_r, z_r = batch
        m_f = training_masks(model, x_f, generator)
        with torch.no_grad():
            target_f = forget_target(x_f, m_f, torch.cat([x_f, x_r]))
        d_forget = ((model.encode(x_f, m_f) - target_f) ** 2).mean()
        d_retain = ((model.encode(x_r, m_r) - z_r) ** 2).mean()
        return d_retain + cfg.alpha * d_forget

    return loss


def paired_batches(
    forget: torch.Tensor,
    retain: torch.Tensor,
    retain_masks: torch.Tensor,
    retain_latents: torch.Tensor,
    steps: int,
    batch_size: int,
    generator: torch.Generator,
) -> Iterator[Batch]:
    """`steps` batches of half forget, half retain images; both sets are cycled in fresh permutations."""
    half = max(1, batch_size // 2)

    def cycle(n: int) -> Iterator[torch.Tensor]:
        while True:
            order = torch.randperm(n, generator=generator)
            for start in range(0, n, half):
                yield order[start : start + half]

    forget_order, retain_order = cycle(len(forget)), cycle(len(retain))
    for _ in range(steps):
        i_f, i_r = next(forget_order), next(retain_order)
        yield forget[i_f], retain[i_r], retain_masks[i_r], retain_latents[i_r]


@dataclass
class Probes:
    """Training-side stopping criterion (see the module docstring); `history` is what it saw."""

    model: nn.Module
    cfg: UnlearnConfig
    x_f: torch.Tensor
    m_f: torch.Tensor
    z_noise: torch.Tensor
    x_r: torch.Tensor
    m_r: torch.Tensor
    z_r: torch.Tensor
    psnr_r: torch.Tensor  # the original model's per-image PSNR on the retain probes
    scale: float
    history: list[dict[str, float]] = field(default_factory=list)
    last_good: tuple[int, dict[str, torch.Tensor]] | None = None
    restored_step: int | None = None  # set when settle() put back the weights of an earlier check

    @torch.no_grad()
    def measure(self) -> dict[str, float]:
        was_training = self.model.training
        self.model.eval()
        gap = ((self.model.encode(self.x_f, self.m_f) - self.z_noise) ** 2).mean().item() / self.scale
        z_r = self.model.encode(self.x_r, self.m_r)
        drift = ((z_r - self.z_r) ** 2).mean().item() / self.scale
        psnr = masked_psnr(self.model.decode(z_r, self.m_r).float(), self.x_r, self.m_r)
        self.model.train(was_training)
        drop = 100 * ((self.psnr_r - psnr) / self.psnr_r).mean().item()
        return {"forget_gap": gap, "retain_drift": drift, "retain_psnr_drop_pct": drop}

    def within_limit(self, reading: dict[str, float]) -> bool:
        return reading["step"] == 0 or reading["retain_psnr_drop_pct"] <= self.cfg.max_retain_drop_pct

    def read(self, step: int) -> None:
        """Record a reading; remember these weights if the retain probes are within the limit."""
        self.history.append({"step": step, **self.measure()})
        if self.within_limit(self.history[-1]):
            self.last_good = (step, {k: v.detach().clone() for k, v in self.model.state_dict().items()})

    def check(self, step: int) -> str | None:
        self.read(step)
        if step == 0:
            return None
        reading, recent = self.history[-1], self.history[-self.cfg.patience :]
        if not any(self.within_limit(h) for h in recent):
            return (
                f"retain: probe PSNR more than {self.cfg.max_retain_drop_pct}% below the original's at the last "
                f"{len(recent)} checks ({reading['retain_psnr_drop_pct']:.2f}% at step {step})"
            )
        gap = reading["forget_gap"]
        if gap <= self.cfg.stop_gap and self.within_limit(reading):
            return f"forgotten: forget gap {gap:.3f} <= {self.cfg.stop_gap}"
        gaps = [h["forget_gap"] for h in self.history]
        if len(gaps) > self.cfg.patience + 1:
            before, now = min(gaps[: -self.cfg.patience]), min(gaps)
            if before - now < self.cfg.stop_plateau:
                return f"plateau: best forget gap {before:.3f} -> {now:.3f} in the last {self.cfg.patience} checks"
        return None

    def final(self, step: int) -> None:
        """The read after a last step that was not a check: it may only restore, never stop."""
        self.read(step)

    def settle(self) -> int | None:
        """If the last reading is past the retain limit, put back the last check within it; its step."""
        if self.within_limit(self.history[-1]):
            return None
        self.restored_step, state = self.last_good
        self.model.load_state_dict(state)
        return self.restored_step


def hold_out_probes(retain: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(retain term's images, retain probes): the last PROBE images stay out of the loss when the pool
    has at least twice as many (tiny pools, as in tests, share them)."""
    if len(retain) >= 2 * PROBE:
        return retain[:-PROBE], retain[-PROBE:]
    return retain, retain[:PROBE]


@torch.no_grad()
def make_probes(
    model: nn.Module,
    teacher: nn.Module,
    forget: torch.Tensor,
    probe_retain: torch.Tensor,
    cfg: UnlearnConfig,
    generator: torch.Generator,
) -> Probes:
    x_f = forget[:PROBE]
    m_f = training_masks(model, x_f, generator)
    x_r = probe_retain[:PROBE]
    m_r = training_masks(model, x_r, generator)
    z_r = teacher.encode(x_r, m_r)
    psnr_r = masked_psnr(teacher.decode(z_r, m_r).float(), x_r, m_r)
    z_noise = teacher.encode(noise_like(x_f, generator, torch.cat([x_f, x_r])), m_f)
    scale = ((teacher.encode(x_f, m_f) - z_noise) ** 2).mean().item()
    return Probes(model, cfg, x_f, m_f, z_noise, x_r, m_r, z_r, psnr_r, max(scale, 1e-12))


def fit_config(cfg: UnlearnConfig) -> FitConfig:
    """The budget as one 'epoch' of `steps` steps, warm-up `warmup_fraction` of it, then cosine."""
    return FitConfig(
        epochs=1,
        batch_size=cfg.batch_size,
        lr=cfg.blr * cfg.batch_size / 256,
        weight_decay=cfg.weight_decay,
        grad_clip=cfg.grad_clip,
        seed=cfg.seed,
        warmup_epochs=cfg.warmup_fraction,
        cosine=True,
    )


@dataclass(frozen=True)
class PairedRun:
    fit: FitResult
    budget: int
    probes: list[dict[str, float]]
    restored_step: int | None = None  # the retain limit put back the weights of this step (0: none kept)

    @property
    def kept_steps(self) -> int:
        return self.fit.steps if self.restored_step is None else self.restored_step


def run_paired(
    build: LossBuilder,
    encoder_only: bool,
    model: nn.Module,
    teacher: nn.Module,
    forget: torch.Tensor,
    retain: torch.Tensor,
    cfg: UnlearnConfig,
    device: torch.device,
    generator: torch.Generator,
) -> PairedRun:
    """Minimise `build(...)`'s loss over paired batches within the budget, on the encoder or on every parameter."""
    forget, (retain, probe_retain) = forget.to(device), hold_out_probes(retain.to(device))
    retain_masks = training_masks(model, retain, generator)
    with torch.no_grad():
        retain_latents = torch.cat(
            [teacher.encode(retain[i : i + 512], retain_masks[i : i + 512]) for i in range(0, len(retain), 512)]
        )
    probes = make_probes(model, teacher, forget, probe_retain, cfg, generator)
    steps = budget_steps(len(forget), cfg)
    groups = decay_groups(model, model.encoder_parameters() if encoder_only else None, cfg.weight_decay)
    result = fit(
        groups,
        build(model, teacher, cfg, generator),
        lambda _: paired_batches(forget, retain, retain_masks, retain_latents, steps, cfg.batch_size, generator),
        fit_config(cfg),
        device,
        desc=cfg.method,
        steps_per_epoch=steps,
        monitor=Monitor(cfg.check_every, probes.check, probes.final),
    )
    if (restored := probes.settle()) is not None:
        result = replace(
            result,
            stop_reason=f"{result.stop_reason}; retain probes past the limit at the end: weights of step {restored} restored",
        )
    return PairedRun(result, steps, probes.history, probes.restored_step)
