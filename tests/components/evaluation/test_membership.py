from dataclasses import replace

import pytest
import torch

from components.evaluation.membership import membership_auc
from components.models.recipes import train_inpainter
from tests.conftest import TINY_FIT


def test_membership_auc_detects_training_data_of_an_overfit_model(tiny_mae):
    torch.manual_seed(0)
    members, non_members = torch.rand(16, 1, 32, 32), torch.rand(16, 1, 32, 32)  # unstructured: only memory helps
    train_inpainter(
        tiny_mae,
        members,
        replace(TINY_FIT, epochs=150, batch_size=16, lr=3e-3, weight_decay=0.0),
        torch.device("cpu"),
        torch.Generator().manual_seed(0),
    )
    assert membership_auc(tiny_mae, members, non_members, ("centre", 16), torch.device("cpu")) > 0.7


def test_membership_auc_of_identical_sets_is_one_half(tiny_mae):
    x = torch.rand(8, 1, 32, 32)
    assert membership_auc(tiny_mae, x, x.clone(), ("centre", 16), torch.device("cpu")) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="both members and non-members"):
        membership_auc(tiny_mae, x[:0], x, ("centre", 16), torch.device("cpu"))
