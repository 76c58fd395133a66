import math

import pytest
import torch

from components.evaluation.metrics import accuracy, masked_psnr


def test_masked_psnr_matches_a_hand_computed_value():
    target = torch.zeros(1, 1, 4, 4)
    pred = target.clone()
    mask = torch.zeros(1, 1, 4, 4)
    mask[..., :2, :2] = 1  # 4 hidden pixels
    pred[..., 0, 0] = 0.2  # error only inside the hole: mse = 0.04 / 4 = 0.01
    pred[..., 3, 3] = 1.0  # a visible-pixel error must not count
    assert masked_psnr(pred, target, mask).item() == pytest.approx(10 * math.log10(1 / 0.01))


def test_masked_psnr_caps_perfect_reconstructions_and_rejects_bad_input():
    x, mask = torch.rand(2, 1, 4, 4), torch.ones(1, 1, 4, 4)
    assert masked_psnr(x, x, mask).tolist() == [100.0, 100.0]
    with pytest.raises(ValueError, match="shape mismatch"):
        masked_psnr(x, x[:, :, :2], mask)
    with pytest.raises(ValueError, match="hides no pixel"):
        masked_psnr(x, x, torch.zeros(1, 1, 4, 4))


def test_accuracy_counts_argmax_hits_and_refuses_empty_sets():
    logits = torch.tensor([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    assert accuracy(logits, torch.tensor([1, 1, 1])) == pytest.approx(2 / 3)
    with pytest.raises(ValueError):
        accuracy(logits[:0], torch.tensor([], dtype=torch.long))
