import pytest
import torch

from components.evaluation.baselines import baseline_psnr, nearest_fill
from components.models.masking import centre_mask

MASK = centre_mask(4, 2)  # the 4 middle pixels of a 4x4 image are hidden


def image(outside: float, inside: float) -> torch.Tensor:
    return torch.full((1, 4, 4), outside) * (1 - MASK[0]) + inside * MASK[0]


BANK = torch.stack([image(0.1, 0.9), image(0.5, 0.3), image(0.8, 0.6)])


def test_nearest_neighbour_matches_on_visible_pixels_and_copies_the_hidden_ones():
    query = image(0.45, 0.0)  # visible pixels closest to the second bank image
    filled = nearest_fill(BANK, query.unsqueeze(0), MASK, k=1)[0]
    assert torch.allclose(filled * MASK[0], 0.3 * MASK[0])
    assert torch.equal(filled * (1 - MASK[0]), query * (1 - MASK[0]))  # the visible pixels are kept


def test_k_nearest_averages_the_k_closest_hidden_regions():
    query = image(0.6, 0.0)  # nearest: 0.5 (d=.1), then 0.8 (d=.2); 0.1 is farthest
    filled = nearest_fill(BANK, query.unsqueeze(0), MASK, k=2)[0]
    assert torch.allclose(filled * MASK[0], 0.45 * MASK[0])


def test_baseline_psnr_is_the_masked_psnr_of_each_fill():
    truth = image(0.45, 0.2).unsqueeze(0)
    scores = baseline_psnr(BANK, truth, MASK)
    mean_hidden = (0.9 + 0.3 + 0.6) / 3
    assert scores["mean"] == pytest.approx(10 * torch.log10(torch.tensor(1 / (mean_hidden - 0.2) ** 2)).item(), abs=1e-3)
    assert scores["1nn"] == pytest.approx(10 * torch.log10(torch.tensor(1 / 0.1**2)).item(), abs=1e-3)
    assert scores["10nn"] == pytest.approx(scores["mean"], abs=1e-3)  # k is capped at the bank size: every image


def test_baselines_refuse_empty_sets_and_impossible_k():
    with pytest.raises(ValueError, match="training images"):
        baseline_psnr(BANK[:0], BANK, MASK)
    with pytest.raises(ValueError, match="k=5"):
        nearest_fill(BANK, BANK, MASK, k=5)
