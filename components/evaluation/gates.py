"""Quality gates: is an unlearned model good enough to become champion without a person?

A forgetting gate answers one of three things, never "passed" for want of evidence:

- `forgotten`: the evidence shows the model within the margin of a model that never saw the data —
  an equivalence: the 90% interval (two one-sided 5% tests, TOST) lies inside the margins;
- `remembered`: the 95% interval lies wholly beyond a margin;
- `inconclusive`: neither; the request is too small (or the effect too close to a margin) to tell.
  Each verdict carries `detectable`: the smallest excess over the margin that this request's size
  detects with 80% power, so a reader sees what an `inconclusive` could have caught.
  `on_inconclusive` (params) decides what an inconclusive verdict does: `review` (default) or
  `promote`, recorded as such.

The forgetting gates compare with a *reference for a model that never saw the data*, not with the parent:

- **sample** (sample/subject requests): each image's masked PSNR under the unlearned model, minus the
  PSNR of its 10-NN fill from retained training images, averaged over five masks
  (`references.sample_evidence`); forgotten training images against unseen images of the same
  classes. A model that never saw them scores both alike; the margins are `sample_remembered_db`
  (still rebuilt better: remembered) and `sample_overforget_db` (rebuilt worse: over-forgotten,
  itself a membership signal, also `remembered`).
- **class_psnr** (class requests, each forgotten class on its own images): masked PSNR of the
  unlearned model's centre inpaintings of unseen images of the class, minus the PSNR of their 10-NN
  fill from the retained classes (what a model that never saw the class can rebuild); margin
  `class_psnr_slack_db` above it (retrain oracles sit 0.4-0.9 dB above, bases 1.9-3.3 dB: README).
  One-sided: filling a forgotten class worse than other classes' data would is no membership
  signal; what it costs elsewhere the retain gates catch. Pooled, a class the model still knows
  could hide behind one it forgot. Recognisability (feature-net accuracy) is reported beside it but
  gates nothing: the visible two thirds of a garment give its class away whatever fills the hole,
  so no base on this data ever failed it.

Pass/fail gates (no reference model involved):
- **unlearned**: at least one unlearning step was kept. A run in which no check stayed within
  the retain limit ends on the parent's weights; nothing was done, so a person decides.
- **retain**: on held-out images of untouched classes, masked PSNR within `retain_max_psnr_drop_pct`
  of the parent *and* feature-net accuracy within `retain_max_accuracy_drop`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # stats imports torch; the CLI reads GateConfig from params.yaml without it
    from components.evaluation.stats import Estimate, Interval

FORGOTTEN, REMEMBERED, INCONCLUSIVE = "forgotten", "remembered", "inconclusive"
PASS, FAIL = "pass", "fail"
ON_INCONCLUSIVE = ("review", "promote")


@dataclass(frozen=True)
class GateConfig:
    sample_remembered_db: float = 0.5
    sample_overforget_db: float = 1.0
    class_psnr_slack_db: float = 1.0
    retain_max_psnr_drop_pct: float = 2.0
    retain_max_accuracy_drop: float = 0.03
    on_inconclusive: str = "review"

    def __post_init__(self) -> None:
        if self.on_inconclusive not in ON_INCONCLUSIVE:
            raise ValueError(f"gates.on_inconclusive must be one of {ON_INCONCLUSIVE}, not {self.on_inconclusive!r}")


@dataclass(frozen=True)
class ClassEvidence:
    """One forgotten class, measured on unseen images of it (centre hole), against the 10-NN fill
    from retained classes (`references.class_evidence`)."""

    label: int
    accuracy: Interval  # recognisability of the unlearned model's inpaintings (Wilson 95%), reported only
    accuracy_reference: float  # recognisability of the reference fill
    psnr: Estimate  # dB, mean masked PSNR of the unlearned model over the class's images
    psnr_reference: float  # dB, masked PSNR of the reference fill


@dataclass(frozen=True)
class Evidence:
    """What the evaluation measured for the gates (None / empty where the batch has no such request)."""

    retain_before: dict[str, float]
    retain_after: dict[str, float]
    sample_gap: Estimate | None = None  # dB, calibrated score of forgotten - unseen images (references.sample_evidence)
    classes: tuple[ClassEvidence, ...] = ()  # one per forgotten class
    kept_steps: int | None = None  # unlearning steps held by the weights (None: not recorded, older batches)


@dataclass(frozen=True)
class GateResult:
    name: str
    verdict: str  # forgotten | remembered | inconclusive (forgetting gates); pass | fail (others)
    detail: str
    detectable: float | None = None  # forgetting gates: smallest excess past the margin detected with 80% power


def blocks(result: GateResult, on_inconclusive: str) -> bool:
    """Does this result keep the model from promotion without a person?"""
    return result.verdict in (REMEMBERED, FAIL) or (result.verdict == INCONCLUSIVE and on_inconclusive != "promote")


def promotable(results: Iterable[GateResult], on_inconclusive: str) -> bool:
    return not any(blocks(r, on_inconclusive) for r in results)


def verdict_of(record: dict) -> str:
    """The verdict of a stored gate record; records written before verdicts carry `passed` only."""
    return record.get("verdict") or (PASS if record.get("passed") else FAIL)


def check_gates(cfg: GateConfig, evidence: Evidence) -> list[GateResult]:
    results = _sample_gates(cfg, evidence) + class_gates(cfg, evidence)
    if evidence.kept_steps is not None:
        results.append(
            _pass_fail(
                "unlearned",
                evidence.kept_steps > 0,
                f"{evidence.kept_steps} unlearning step(s) kept"
                if evidence.kept_steps
                else "no unlearning step kept: no check stayed within the retain limit, the weights are the parent's",
            )
        )
    before, after = evidence.retain_before, evidence.retain_after
    allowed = abs(before["psnr_centre"]) * cfg.retain_max_psnr_drop_pct / 100
    results.append(
        _pass_fail(
            "retain_psnr",
            before["psnr_centre"] - after["psnr_centre"] <= allowed,
            f"retain PSNR {before['psnr_centre']:.3f} -> {after['psnr_centre']:.3f} dB "
            f"(may drop <= {allowed:.3f}, {cfg.retain_max_psnr_drop_pct}%)",
        )
    )
    results.append(
        _pass_fail(
            "retain_accuracy",
            before["accuracy_centre"] - after["accuracy_centre"] <= cfg.retain_max_accuracy_drop,
            f"retain accuracy {before['accuracy_centre']:.3f} -> {after['accuracy_centre']:.3f} "
            f"(may drop <= {cfg.retain_max_accuracy_drop})",
        )
    )
    return results


def _pass_fail(name: str, passed: bool, detail: str) -> GateResult:
    return GateResult(name, PASS if passed else FAIL, detail)


def equivalence(estimate: Estimate, low: float, high: float) -> str:
    """`remembered` if the 95% interval lies wholly outside [low, high]; `forgotten` if the 90% interval
    lies inside it (TOST at 5% per side); else `inconclusive`."""
    wide, narrow = estimate.interval(0.95), estimate.interval(0.90)
    if wide.low > high or wide.high < low:
        return REMEMBERED
    if low <= narrow.low and narrow.high <= high:
        return FORGOTTEN
    return INCONCLUSIVE


def _sample_gates(cfg: GateConfig, evidence: Evidence) -> list[GateResult]:
    if evidence.sample_gap is None:
        return []
    gap, low, high = evidence.sample_gap, -cfg.sample_overforget_db, cfg.sample_remembered_db
    verdict = equivalence(gap, low, high)
    what = {
        FORGOTTEN: "forgotten: scored like unseen images within the margins",
        REMEMBERED: (
            "remembered: still rebuilt better than unseen images"
            if gap.mean > high
            else "remembered: over-forgotten, rebuilt worse than unseen images (itself a membership signal)"
        ),
        INCONCLUSIVE: "inconclusive: too few images to tell",
    }[verdict]
    detectable = gap.detectable(high)
    return [
        GateResult(
            "sample",
            verdict,
            f"forgotten - unseen images, each against its 10-NN fill: {_estimate_text(gap, ' dB')}; margins "
            f"[{low:+g}, {high:+g}] dB; {what}; at n={gap.n} a gap >= {_db(detectable)} is detected (80% power)",
            detectable,
        )
    ]


def class_gates(cfg: GateConfig, evidence: Evidence) -> list[GateResult]:
    """The class-request gate alone, per forgotten class (the benchmark applies it to every model it compares)."""
    results = []
    for c in evidence.classes:
        excess = _shift(c.psnr, -c.psnr_reference)
        verdict = equivalence(excess, -math.inf, cfg.class_psnr_slack_db)
        detectable = excess.detectable(cfg.class_psnr_slack_db)
        results.append(
            GateResult(
                "class_psnr",
                verdict,
                f"class {c.label}: PSNR {c.psnr.mean:.2f} dB - 10-NN fill from retained classes {c.psnr_reference:.2f} dB = "
                f"{_estimate_text(excess, ' dB')}; margin +{cfg.class_psnr_slack_db:g} dB; {verdict}; at n={c.psnr.n} an excess "
                f">= {_db(detectable)} is detected (80% power); recognisability {c.accuracy.mean:.2f} "
                f"(reference fill {c.accuracy_reference:.2f}, not gated)",
                detectable,
            )
        )
    return results


def _shift(estimate: Estimate, by: float) -> Estimate:
    return replace(estimate, mean=estimate.mean + by)


def _estimate_text(estimate: Estimate, unit: str) -> str:
    wide, narrow = estimate.interval(0.95), estimate.interval(0.90)
    return (
        f"{estimate.mean:+.2f}{unit}, 90% CI [{narrow.low:+.2f}, {narrow.high:+.2f}], 95% CI [{wide.low:+.2f}, {wide.high:+.2f}]"
    )


def _db(value: float) -> str:
    return f"{value:+.2f} dB" if math.isfinite(value) else "inf (no spread known)"
