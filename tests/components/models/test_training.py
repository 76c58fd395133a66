import pytest
import torch

from components.errors import NonFiniteLossError
from components.models.configs import FitConfig
from components.models.training import batches, fit


def test_fit_raises_on_a_non_finite_loss(tiny_mae, images):
    def nan_loss(batch):
        return tiny_mae.encode(batch[0], torch.zeros_like(batch[0])).sum() * float("nan")

    with pytest.raises(NonFiniteLossError, match="loss is nan"):
        fit(tiny_mae.encoder_parameters(), nan_loss, lambda _: batches((images,), 8, torch.Generator()),
            FitConfig(epochs=1), torch.device("cpu"))


def test_fit_refuses_empty_data_and_no_parameters(tiny_mae):
    empty = torch.zeros(0, 1, 32, 32)
    with pytest.raises(ValueError, match="no batches"):
        fit(tiny_mae.encoder_parameters(), lambda b: b[0].sum(), lambda _: batches((empty,), 8, torch.Generator()),
            FitConfig(epochs=1), torch.device("cpu"))
    with pytest.raises(ValueError, match="at least one parameter"):
        fit([], lambda b: b[0].sum(), lambda _: [], FitConfig(), torch.device("cpu"))


def test_fit_updates_only_the_parameters_it_is_given(tiny_mae, images):
    head_before = tiny_mae.head.weight.detach().clone()
    enc_before = tiny_mae.patch_embed.weight.detach().clone()
    mask = torch.zeros_like(images)
    fit(tiny_mae.encoder_parameters(), lambda b: tiny_mae(b[0], mask[: len(b[0])]).mean(),
        lambda _: batches((images,), 8, torch.Generator()), FitConfig(epochs=1), torch.device("cpu"))
    assert torch.equal(tiny_mae.head.weight, head_before) and not torch.equal(tiny_mae.patch_embed.weight, enc_before)
