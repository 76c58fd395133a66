"""Forgetting gates answer forgotten / remembered / inconclusive against a never-seen reference; each
verdict has a case that reaches it, and the pass/fail gates fail both ways."""

import math

import pytest
import torch

from components.evaluation.gates import (
    FORGOTTEN,
    INCONCLUSIVE,
    REMEMBERED,
    ClassEvidence,
    Evidence,
    GateConfig,
    GateResult,
    check_gates,
    promotable,
    verdict_of,
)
from components.evaluation.stats import mean_estimate, pooled_difference, proportion_ci

CFG = GateConfig(
    sample_remembered_db=0.5,
    sample_overforget_db=1.0,
    class_psnr_slack_db=1.0,
    retain_max_psnr_drop_pct=2.0,
    retain_max_accuracy_drop=0.03,
)
RETAIN = {"psnr_centre": 16.0, "accuracy_centre": 0.70}


def scores(mean: float, n: int, seed: int, spread: float = 1.0) -> torch.Tensor:
    return mean + spread * torch.randn(n, generator=torch.Generator().manual_seed(seed))


def gate(results, name):
    return next(g for g in results if g.name == name)


def sample_gate(forgotten_mean: float, n: int = 200, spread: float = 1.0):
    gap = pooled_difference(scores(forgotten_mean, n, 1, spread), scores(0.0, 385, 2, spread))
    return gate(check_gates(CFG, Evidence(RETAIN, RETAIN, sample_gap=gap)), "sample")


def test_forgotten_samples_still_rebuilt_better_than_unseen_ones_are_remembered():
    result = sample_gate(2.0)
    assert result.verdict == REMEMBERED and "still rebuilt better" in result.detail


def test_forgotten_samples_that_became_much_worse_than_unseen_ones_are_remembered_too():
    result = sample_gate(-3.0)
    assert result.verdict == REMEMBERED and "over-forgotten" in result.detail


def test_forgotten_samples_scored_like_unseen_ones_on_enough_images_are_forgotten():
    assert sample_gate(0.05).verdict == FORGOTTEN


def test_a_small_request_whose_interval_spans_a_margin_is_inconclusive_never_forgotten():
    result = sample_gate(0.3, n=3)  # the old gate certified this as PASS
    assert result.verdict == INCONCLUSIVE
    assert f"a gap >= {result.detectable:+.2f} dB is detected (80% power)" in result.detail


def test_a_one_image_request_gets_a_finite_interval_from_the_unseen_images_spread():
    result = sample_gate(0.0, n=1)
    assert result.verdict == INCONCLUSIVE and math.isfinite(result.detectable) and "inf" not in result.detail
    assert sample_gate(6.0, n=1).verdict == REMEMBERED  # a strongly memorised single image is caught


def test_the_stated_detectable_effect_is_caught_about_80_percent_of_the_time():
    n, trials = 5, 400
    detectable = pooled_difference(scores(0.0, n, 0), scores(0.0, 385, 1)).detectable(CFG.sample_remembered_db)
    hits = sum(sample_verdict_at(detectable, n, seed) == REMEMBERED for seed in range(trials))
    assert 0.7 < hits / trials < 0.9


def sample_verdict_at(true_gap: float, n: int, seed: int) -> str:
    gap = pooled_difference(scores(true_gap, n, 1000 + seed), scores(0.0, 385, 5000 + seed))
    return gate(check_gates(CFG, Evidence(RETAIN, RETAIN, sample_gap=gap)), "sample").verdict


def test_a_never_seen_model_is_rarely_called_remembered():
    assert sum(sample_verdict_at(0.0, 5, seed) == REMEMBERED for seed in range(400)) <= 0.05 * 400


def forgotten_class(psnr, psnr_reference=13.7, label=7):
    return ClassEvidence(label, proportion_ci(50, 100), 0.82, psnr, psnr_reference)


def class_psnr_gate(mean: float, n: int = 385, reference: float = 13.7):
    evidence = Evidence(RETAIN, RETAIN, classes=(forgotten_class(mean_estimate(scores(mean, n, 3, 2.0)), reference),))
    return gate(check_gates(CFG, evidence), "class_psnr")


def test_a_forgotten_class_still_rebuilt_well_above_what_other_classes_give_is_remembered():
    assert class_psnr_gate(16.0).verdict == REMEMBERED  # the 20k base on Sneakers: 16.0 dB against a 10-NN-from-retained 13.7


def test_a_class_rebuilt_like_a_model_that_never_saw_it_is_forgotten():
    assert class_psnr_gate(14.3).verdict == FORGOTTEN  # the retrain oracles: 14.2-14.3 dB
    assert class_psnr_gate(11.0).verdict == FORGOTTEN  # worse than the reference: no class gate's business (retain gates are)


def test_a_class_gate_on_too_few_images_is_inconclusive():
    assert class_psnr_gate(15.0, n=4).verdict == INCONCLUSIVE  # +1.3 dB over the reference on 4 images


def test_each_forgotten_class_is_judged_on_its_own_images():
    forgot, knows = scores(13.7, 192, 4, 2.0), scores(16.0, 193, 5, 2.0)  # an oracle-like class, a base-like one
    pooled = Evidence(RETAIN, RETAIN, classes=(forgotten_class(mean_estimate(torch.cat([forgot, knows]))),))
    assert gate(check_gates(CFG, pooled), "class_psnr").verdict != REMEMBERED  # the mix hides the class the model still knows
    separate = Evidence(
        RETAIN, RETAIN, classes=(forgotten_class(mean_estimate(forgot), label=7), forgotten_class(mean_estimate(knows), label=9))
    )
    verdicts = [(g.verdict, g.detail.split(":")[0]) for g in check_gates(CFG, separate) if g.name == "class_psnr"]
    assert verdicts == [(FORGOTTEN, "class 7"), (REMEMBERED, "class 9")]


def test_recognisability_is_reported_but_gates_nothing():
    results = check_gates(CFG, Evidence(RETAIN, RETAIN, classes=(forgotten_class(mean_estimate(scores(13.7, 385, 3))),)))
    assert [g.name for g in results] == ["class_psnr", "retain_psnr", "retain_accuracy"]
    assert "recognisability 0.50" in results[0].detail


def test_inconclusive_goes_to_a_person_unless_params_say_promote():
    inconclusive = [GateResult("sample", INCONCLUSIVE, ""), GateResult("retain_psnr", "pass", "")]
    assert not promotable(inconclusive, "review") and promotable(inconclusive, "promote")
    remembered = [GateResult("sample", REMEMBERED, "")]
    assert not promotable(remembered, "promote")  # no setting promotes a model that remembers


def test_on_inconclusive_takes_only_review_or_promote():
    with pytest.raises(ValueError, match="on_inconclusive"):
        GateConfig(on_inconclusive="ignore")


def test_records_written_before_verdicts_read_as_pass_or_fail():
    assert verdict_of({"name": "sample", "passed": True}) == "pass" and verdict_of({"passed": False}) == "fail"
    assert verdict_of({"verdict": INCONCLUSIVE, "passed": True}) == INCONCLUSIVE


def test_retain_gates_check_psnr_and_accuracy_separately():
    psnr_only = check_gates(CFG, Evidence(RETAIN, {"psnr_centre": 15.5, "accuracy_centre": 0.70}))
    accuracy_only = check_gates(CFG, Evidence(RETAIN, {"psnr_centre": 16.0, "accuracy_centre": 0.60}))
    assert gate(psnr_only, "retain_psnr").verdict == "fail" and gate(psnr_only, "retain_accuracy").verdict == "pass"
    assert gate(accuracy_only, "retain_psnr").verdict == "pass" and gate(accuracy_only, "retain_accuracy").verdict == "fail"


def test_only_the_gates_of_the_request_kinds_present_run():
    assert [g.name for g in check_gates(CFG, Evidence(RETAIN, RETAIN))] == ["retain_psnr", "retain_accuracy"]


def test_a_model_that_kept_no_unlearning_step_goes_to_a_person():
    def verdict(kept):
        return gate(check_gates(CFG, Evidence(RETAIN, RETAIN, kept_steps=kept)), "unlearned").verdict

    assert verdict(12) == "pass" and verdict(0) == "fail"  # 0: no check stayed within the retain limit: the parent's weights
