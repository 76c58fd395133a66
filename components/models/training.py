"""One training loop for every objective: base models now, unlearning methods later.

A method is a loss function plus the parameters it may update; the loop owns the rest
(optimiser, AMP, the finite-loss check, progress), so no copy of it can drift.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
from tqdm import tqdm

from components.device import autocast
from components.errors import NonFiniteLossError
from components.models.configs import FitConfig

log = logging.getLogger(__name__)

LossFn = Callable[[tuple[torch.Tensor, ...]], torch.Tensor]


@dataclass(frozen=True)
class FitResult:
    steps: int
    epoch_losses: tuple[float, ...]
    seconds: float


def batches(tensors: tuple[torch.Tensor, ...], batch_size: int, generator: torch.Generator) -> Iterable[tuple[torch.Tensor, ...]]:
    """Shuffled mini-batches over aligned tensors (all data sits in memory at this scale)."""
    order = torch.randperm(len(tensors[0]), generator=generator)
    for start in range(0, len(order), batch_size):
        index = order[start : start + batch_size]
        yield tuple(t[index] for t in tensors)


def fit(params: list[torch.nn.Parameter], loss_fn: LossFn, epoch_batches: Callable[[int], Iterable[tuple[torch.Tensor, ...]]],
        cfg: FitConfig, device: torch.device, desc: str = "train") -> FitResult:
    """Minimise `loss_fn` over `epoch_batches(epoch)` with AdamW on `params` only."""
    import time

    if not params:
        raise ValueError("fit() needs at least one parameter to update")
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, betas=(0.9, 0.95), weight_decay=cfg.weight_decay)
    start, steps, epoch_losses = time.perf_counter(), 0, []
    for epoch in range(cfg.epochs):
        total, count = 0.0, 0
        bar = tqdm(epoch_batches(epoch), desc=f"{desc} {epoch + 1}/{cfg.epochs}", unit="batch", disable=None, leave=False)
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
            steps += 1
            total, count = total + loss.item(), count + 1
            bar.set_postfix(loss=f"{total / count:.4f}")
        if count == 0:
            raise ValueError(f"{desc}: epoch {epoch + 1} had no batches (empty data?)")
        epoch_losses.append(total / count)
        log.info("%s epoch %d/%d loss %.5f", desc, epoch + 1, cfg.epochs, epoch_losses[-1])
    return FitResult(steps, tuple(epoch_losses), time.perf_counter() - start)
