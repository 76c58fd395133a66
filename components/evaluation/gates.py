"""Quality gates: is an unlearned model good enough to become champion without a person?

Two questions, both relative to the model it replaces: did the forget set's outputs move away
from their ground truth by at least a margin, and did the retain set's quality stay within a
tolerance. Metric names are any key that `forgetting.evaluate_set` produces.
"""

from __future__ import annotations

from dataclasses import dataclass

HIGHER_IS_BETTER = ("psnr", "ssim", "cosine", "accuracy")


@dataclass(frozen=True)
class GateConfig:
    forget_metric: str = "cosine_centre"
    forget_min_drop: float = 0.05     # original - unlearned, on the forget set, at least this
    retain_metric: str = "psnr_centre"
    retain_max_drop_pct: float = 5.0  # unlearned within this % of the original, on the retain set


@dataclass(frozen=True)
class GateResult:
    name: str
    passed: bool
    detail: str


def check_gates(cfg: GateConfig, forget_before: dict[str, float], forget_after: dict[str, float],
                retain_before: dict[str, float], retain_after: dict[str, float]) -> list[GateResult]:
    for metric in (cfg.forget_metric, cfg.retain_metric):
        if not metric.startswith(HIGHER_IS_BETTER):
            raise ValueError(f"gate metric {metric!r} must be one where higher is better: {HIGHER_IS_BETTER}")
        if metric not in forget_before or metric not in retain_before:
            raise ValueError(f"gate metric {metric!r} was not measured (have: {sorted(forget_before)})")
    drop = forget_before[cfg.forget_metric] - forget_after[cfg.forget_metric]
    floor = retain_before[cfg.retain_metric] * (1 - cfg.retain_max_drop_pct / 100)
    return [
        GateResult("forget", drop >= cfg.forget_min_drop,
                   f"forget {cfg.forget_metric} dropped by {drop:.4f} (need >= {cfg.forget_min_drop})"),
        GateResult("retain", retain_after[cfg.retain_metric] >= floor,
                   f"retain {cfg.retain_metric} {retain_after[cfg.retain_metric]:.4f} "
                   f"(need >= {floor:.4f}, {cfg.retain_max_drop_pct}% below {retain_before[cfg.retain_metric]:.4f})"),
    ]
