import pytest
import torch

from components.evaluation.stats import difference_ci, images_for_accuracy, mean_ci


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
