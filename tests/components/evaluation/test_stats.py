import math

import pytest
import torch

from components.evaluation.stats import difference_ci, images_for_accuracy, mean_ci, proportion_ci


def test_interval_covers_the_mean_and_narrows_with_more_data():
    small = mean_ci(torch.randn(20, generator=torch.Generator().manual_seed(0)))
    large = mean_ci(torch.randn(2000, generator=torch.Generator().manual_seed(0)))
    assert small.low < small.mean < small.high and large.low < 0 < large.high
    assert (large.high - large.low) < 0.3 * (small.high - small.low)


def test_difference_of_well_separated_samples_excludes_zero_and_is_reproducible():
    a, b = torch.full((50,), 2.0) + torch.rand(50), torch.rand(50)
    first, again = difference_ci(a, b), difference_ci(a, b)
    assert first.low > 1.5 and first == again


def test_accuracy_interval_sizes_the_evaluation_set():
    assert images_for_accuracy(0.05) == 385  # 1.96^2 * 0.25 / 0.05^2 = 384.2
    with pytest.raises(ValueError):
        images_for_accuracy(0.0)


def test_wilson_interval_matches_textbook_values_and_stays_in_0_1():
    assert proportion_ci(0, 10).high == pytest.approx(0.2775, abs=1e-4)  # Wilson 0/10 (rule of three would say 0.3)
    five = proportion_ci(5, 10)
    assert (five.low, five.high) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    assert proportion_ci(10, 10).high <= 1.0 and proportion_ci(0, 10).low >= 0.0
    with pytest.raises(ValueError):
        proportion_ci(11, 10)


def test_an_estimate_round_trips_through_its_stored_interval():
    from dataclasses import asdict

    from components.evaluation.stats import estimate_from_interval, mean_estimate

    estimate = mean_estimate(torch.arange(20.0))
    again = estimate_from_interval(asdict(estimate.interval()))
    assert (
        again.n == 20
        and abs(again.se - estimate.se) < 1e-9
        and abs(again.interval(0.9).high - estimate.interval(0.9).high) < 1e-9
    )


def test_the_pooled_difference_of_one_value_borrows_the_spread_of_the_other_sample():
    from components.evaluation.stats import pooled_difference

    one = pooled_difference(torch.tensor([3.0]), torch.arange(10.0))
    assert one.n == 1 and one.dof == 9 and math.isfinite(one.se)
    assert not math.isfinite(pooled_difference(torch.tensor([1.0]), torch.tensor([2.0])).se)  # nothing known about the spread
