"""Quality gates: is an unlearned model good enough to become champion without a person?

Two questions, both relative to the model it replaces: did the forget set's outputs move away
from their ground truth by at least a margin, and did the retain set's quality stay within a
tolerance. Metric names are any key that `forgetting.evaluate_set` produces (FID/KID count as
lower-is-better, so "worse" means higher for them).
"""

from __future__ import annotations

from dataclasses import dataclass

HIGHER_IS_BETTER = ("psnr", "ssim", "cosine", "accuracy", "is")
LOWER_IS_BETTER = ("fid", "kid")


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
    signs = {m: _sign(m) for m in (cfg.forget_metric, cfg.retain_metric)}
    for metric in signs:
        if metric not in forget_before or metric not in retain_before:
            raise ValueError(f"gate metric {metric!r} was not measured (have: {sorted(forget_before)})")
    sign = signs[cfg.forget_metric]
    worse = sign * (forget_before[cfg.forget_metric] - forget_after[cfg.forget_metric])  # quality lost on D_F
    before, after = retain_before[cfg.retain_metric], retain_after[cfg.retain_metric]
    allowed = abs(before) * cfg.retain_max_drop_pct / 100
    return [
        GateResult("forget", worse >= cfg.forget_min_drop,
                   f"forget {cfg.forget_metric} worsened by {worse:.4f} (need >= {cfg.forget_min_drop})"),
        GateResult("retain", signs[cfg.retain_metric] * (before - after) <= allowed,
                   f"retain {cfg.retain_metric} {before:.4f} -> {after:.4f} (may worsen by <= {allowed:.4f}, "
                   f"{cfg.retain_max_drop_pct}%)"),
    ]


def _sign(metric: str) -> int:
    """+1 where higher is better, -1 where lower is better (FID/KID)."""
    if metric.startswith(HIGHER_IS_BETTER):
        return 1
    if metric.startswith(LOWER_IS_BETTER):
        return -1
    raise ValueError(f"gate metric {metric!r} is not one of {HIGHER_IS_BETTER + LOWER_IS_BETTER}")
