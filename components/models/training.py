"""One training loop for every objective: base models, unlearning methods, the retrain oracle.

A method is a loss function plus the parameters it may update; the loop owns the rest (AdamW
with MAE-style weight-decay exclusions, linear warm-up then cosine decay, AMP, the finite-loss
check, progress, an optional early-stopping monitor), so no copy of it can drift.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
from torch import nn
from tqdm import tqdm

from components.device import autocast
from components.errors import NonFiniteLossError
from components.models.configs import FitConfig

log = logging.getLogger(__name__)

LossFn = Callable[[tuple[torch.Tensor, ...]], torch.Tensor]
BUDGET = "budget"  # FitResult.stop_reason when every planned step ran


@dataclass(frozen=True)
class FitResult:
    steps: int
    epoch_losses: tuple[float, ...]
    seconds: float
    stop_reason: str = BUDGET


@dataclass
class Monitor:
    """Checked every `every` steps (and before the first): `check(step)` returns a reason to stop, or None.
    `final(step)`, if given, runs once after the last step when that step was not a check, so the
    rules that must hold for the returned weights (not the ones that only end a run early) see them."""

    every: int
    check: Callable[[int], str | None]
    final: Callable[[int], str | None] | None = None


def batches(tensors: tuple[torch.Tensor, ...], batch_size: int, generator: torch.Generator) -> Iterable[tuple[torch.Tensor, ...]]:
    """Shuffled mini-batches over aligned tensors (all data sits in memory at this scale)."""
    order = torch.randperm(len(tensors[0]), generator=generator)
    for start in range(0, len(order), batch_size):
        index = order[start : start + batch_size]
        yield tuple(t[index] for t in tensors)


def steps_per_epoch(n: int, batch_size: int) -> int:
    return -(-n // batch_size)


def decay_groups(module: nn.Module, params: Iterable[nn.Parameter] | None = None, weight_decay: float = 0.05) -> list[dict]:
    """AdamW groups as in MAE/MAGE: no decay on norms, biases (any 1-d tensor) and on the names the
    module lists in `no_weight_decay()` (position embeddings, mask tokens). `params` restricts the
    groups to a subset (the encoder, for encoder-only unlearning)."""
    allowed = None if params is None else {id(p) for p in params}
    skip = module.no_weight_decay() if hasattr(module, "no_weight_decay") else set()
    decay, no_decay = [], []
    for name, p in module.named_parameters():
        if not p.requires_grad or (allowed is not None and id(p) not in allowed):
            continue
        (no_decay if p.ndim <= 1 or name in skip else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def lr_factor(step: int, total: int, warmup: int, cosine: bool) -> float:
    """Linear warm-up over `warmup` steps, then half a cosine down to 0 at `total` (or constant)."""
    if step < warmup:
        return (step + 1) / warmup
    if not cosine or total <= warmup:
        return 1.0
    return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / (total - warmup))))


def fit(
    groups: list[dict] | list[nn.Parameter],
    loss_fn: LossFn,
    epoch_batches: Callable[[int], Iterable[tuple[torch.Tensor, ...]]],
    cfg: FitConfig,
    device: torch.device,
    desc: str = "train",
    steps_per_epoch: int | None = None,
    monitor: Monitor | None = None,
) -> FitResult:
    """Minimise `loss_fn` over `epoch_batches(epoch)` with AdamW on `groups` only.

    `steps_per_epoch` is needed for the warm-up/cosine schedule (its length is epochs x steps).
    """
    groups = [g if isinstance(g, dict) else {"params": [g]} for g in groups]
    params = [p for g in groups for p in g["params"]]
    if not params:
        raise ValueError("fit() needs at least one parameter to update")
    scheduled = cfg.cosine or cfg.warmup_epochs > 0
    if scheduled and not steps_per_epoch:
        raise ValueError("a warm-up/cosine schedule needs steps_per_epoch")
    total = cfg.epochs * (steps_per_epoch or 0)
    warmup = round(cfg.warmup_epochs * (steps_per_epoch or 0))
    optimizer = torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.95), weight_decay=cfg.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, total, warmup, cfg.cosine))
    start, steps, epoch_losses = time.perf_counter(), 0, []
    reason = monitor.check(0) if monitor else None
    for epoch in range(cfg.epochs):
        if reason:
            break
        total_loss, count = 0.0, 0
        bar = tqdm(
            epoch_batches(epoch),
            desc=f"{desc} {epoch + 1}/{cfg.epochs}",
            unit="step",
            disable=None,
            leave=False,
            total=steps_per_epoch,
        )
        for batch in bar:
            batch = tuple(t.to(device, non_blocking=True) for t in batch)
            with autocast(device):
                loss = loss_fn(batch)
            if not torch.isfinite(loss):
                raise NonFiniteLossError(f"{desc}: epoch {epoch + 1}, step {steps + 1}: loss is {loss.item()}")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            optimizer.step()
            schedule.step()
            steps += 1
            total_loss, count = total_loss + loss.item(), count + 1
            bar.set_postfix(loss=f"{total_loss / count:.4f}")
            if monitor and steps % monitor.every == 0 and (reason := monitor.check(steps)):
                break
        if count == 0:
            raise ValueError(f"{desc}: epoch {epoch + 1} had no batches (empty data?)")
        epoch_losses.append(total_loss / count)
        log.info("%s epoch %d/%d loss %.5f", desc, epoch + 1, cfg.epochs, epoch_losses[-1])
    if monitor and not reason and steps % monitor.every and monitor.final:  # the steps after the last check
        reason = monitor.final(steps)
    if reason:
        log.info("%s stopped after %d steps: %s", desc, steps, reason)
    return FitResult(steps, tuple(epoch_losses), time.perf_counter() - start, reason or BUDGET)
