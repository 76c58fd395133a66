"""Confidence intervals for the numbers gates and benchmarks compare.

Means and differences of means use Student/Welch t intervals: honest for the handful of images a
subject request forgets, where a bootstrap interval is far too narrow (3 images resample to 10
distinct means). Statistics without a closed form (an attack's AUC) use the percentile bootstrap,
seeded so a rerun reports the same interval.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

RESAMPLES = 2000


@dataclass(frozen=True)
class Interval:
    mean: float
    low: float
    high: float
    n: int

    def text(self, unit: str = "") -> str:
        return f"{self.mean:.3f}{unit} [{self.low:.3f}, {self.high:.3f}] (95% CI, n={self.n})"


@dataclass(frozen=True)
class Estimate:
    """A mean (or a difference of means) with its standard error and degrees of freedom: what an
    interval at any level and the gates' power figure need (an `Interval` fixes one level)."""

    mean: float
    se: float  # inf: nothing is known about the spread (one value)
    dof: float
    n: int  # values on the side being judged (the forgotten images)

    def interval(self, level: float = 0.95) -> Interval:
        if not math.isfinite(self.se):
            return Interval(self.mean, -math.inf, math.inf, self.n)
        half = _t(level, self.dof) * self.se
        return Interval(self.mean, self.mean - half, self.mean + half, self.n)

    def detectable(self, margin: float, power: float = 0.8, level: float = 0.95) -> float:
        """The smallest true value past `margin` that a two-sided `level` interval puts wholly past
        it with probability `power`: margin + (t_{1-a/2} + t_power) x se (inf when se is)."""
        if not math.isfinite(self.se):
            return math.inf
        return margin + (_t(level, self.dof) + _t(2 * power - 1, self.dof)) * self.se


def estimate_from_interval(interval: dict, level: float = 0.95) -> Estimate:
    """The estimate behind a stored symmetric t interval of a mean (`Interval` as a dict, n values):
    lets results written before verdicts existed be judged again without re-measuring."""
    n = int(interval["n"])
    dof = max(n - 1, 1)
    half = (interval["high"] - interval["low"]) / 2
    return Estimate(interval["mean"], half / _t(level, dof) if math.isfinite(half) else math.inf, dof, n)


def mean_estimate(values: torch.Tensor) -> Estimate:
    """Mean of `values` with its standard error (one value: unknown spread)."""
    v = values.double()
    if len(v) == 0:
        raise ValueError("an estimate needs at least one value")
    se = float(v.std()) / math.sqrt(len(v)) if len(v) > 1 else math.inf
    return Estimate(float(v.mean()), se, max(len(v) - 1, 1), len(v))


def pooled_difference(a: torch.Tensor, b: torch.Tensor) -> Estimate:
    """mean(a) - mean(b) with Student's pooled variance. Valid where a and b have one spread under the
    hypothesis tested (forgotten images scored like unseen ones): then the large sample `b` pins the
    spread down and a request of one or two images still gets a finite interval, where Welch's has
    ~1 degree of freedom (t = 12.7) or none."""
    a, b = a.double(), b.double()
    if len(a) == 0 or len(b) == 0:
        raise ValueError("a difference needs at least one value in every sample")
    dof = len(a) + len(b) - 2
    diff = float(a.mean() - b.mean())
    if dof < 1:
        return Estimate(diff, math.inf, 1, len(a))
    squares = float(((a - a.mean()) ** 2).sum() + ((b - b.mean()) ** 2).sum())
    se = math.sqrt(squares / dof * (1 / len(a) + 1 / len(b)))
    return Estimate(diff, se, dof, len(a))


def bootstrap(
    samples: tuple[torch.Tensor, ...],
    statistic: Callable[..., torch.Tensor],
    seed: int = 0,
    resamples: int = RESAMPLES,
    level: float = 0.95,
) -> Interval:
    """Percentile interval of `statistic(*samples)`, resampling each sample independently."""
    if any(len(s) == 0 for s in samples):
        raise ValueError("a confidence interval needs at least one value in every sample")
    generator = torch.Generator().manual_seed(seed)
    draws = torch.stack(
        [statistic(*(s[torch.randint(len(s), (len(s),), generator=generator)] for s in samples)) for _ in range(resamples)]
    ).double()
    tail = (1 - level) / 2
    low, high = torch.quantile(draws, torch.tensor([tail, 1 - tail], dtype=torch.float64)).tolist()
    return Interval(float(statistic(*samples)), low, high, min(len(s) for s in samples))


def mean_ci(values: torch.Tensor, level: float = 0.95) -> Interval:
    """Student t interval of the mean (one value: an unbounded interval, since nothing is known)."""
    v = values.double()
    if len(v) == 0:
        raise ValueError("a confidence interval needs at least one value")
    if len(v) == 1:
        return Interval(float(v[0]), -math.inf, math.inf, 1)
    half = _t(level, len(v) - 1) * float(v.std()) / math.sqrt(len(v))
    return Interval(float(v.mean()), float(v.mean()) - half, float(v.mean()) + half, len(v))


def difference_ci(a: torch.Tensor, b: torch.Tensor, level: float = 0.95) -> Interval:
    """Welch t interval of mean(a) - mean(b), two independent samples (forgotten vs unseen images)."""
    a, b = a.double(), b.double()
    if len(a) < 2 or len(b) < 2:
        if len(a) == 0 or len(b) == 0:
            raise ValueError("a confidence interval needs at least one value in every sample")
        return Interval(float(a.mean() - b.mean()), -math.inf, math.inf, min(len(a), len(b)))
    va, vb = float(a.var()) / len(a), float(b.var()) / len(b)
    se = math.sqrt(va + vb)
    dof = (va + vb) ** 2 / max(va**2 / (len(a) - 1) + vb**2 / (len(b) - 1), 1e-300)
    diff = float(a.mean() - b.mean())
    half = _t(level, dof) * se
    return Interval(diff, diff - half, diff + half, min(len(a), len(b)))


def proportion_ci(successes: int, n: int, level: float = 0.95) -> Interval:
    """Wilson score interval of a proportion (an accuracy on n images): unlike the normal
    approximation it stays inside [0, 1] and keeps its coverage near 0 and 1, where recognisability lives."""
    if n <= 0 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n and n > 0, got {successes}/{n}")
    z, p = _z(level), successes / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    return Interval(p, max(0.0, centre - half), min(1.0, centre + half), n)


def _z(level: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(0.5 + level / 2))


def _t(level: float, dof: float) -> float:
    from scipy.stats import t

    return float(t.ppf(0.5 + level / 2, dof))


def images_for_accuracy(half_width: float) -> int:
    """Images a set needs so that an accuracy's 95% CI is at most +-half_width (worst case p = 0.5)."""
    if not 0 < half_width < 0.5:
        raise ValueError(f"half width {half_width} must be in (0, 0.5)")
    return int(-(-(1.96**2 * 0.25) // half_width**2))
