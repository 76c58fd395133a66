from dataclasses import replace
from itertools import pairwise

import pytest
import torch

from components.errors import NonFiniteLossError
from components.models.training import Monitor, batches, decay_groups, fit, lr_factor
from tests.conftest import TINY_FIT


def test_fit_raises_on_a_non_finite_loss(tiny_mae, images):
    def nan_loss(batch):
        return tiny_mae.encode(batch[0], torch.zeros_like(batch[0])).sum() * float("nan")

    with pytest.raises(NonFiniteLossError, match="loss is nan"):
        fit(
            tiny_mae.encoder_parameters(),
            nan_loss,
            lambda _: batches((images,), 8, torch.Generator()),
            replace(TINY_FIT, epochs=1),
            torch.device("cpu"),
        )


def test_fit_refuses_empty_data_and_no_parameters(tiny_mae):
    empty = torch.zeros(0, 1, 32, 32)
    with pytest.raises(ValueError, match="no batches"):
        fit(
            tiny_mae.encoder_parameters(),
            lambda b: b[0].sum(),
            lambda _: batches((empty,), 8, torch.Generator()),
            replace(TINY_FIT, epochs=1),
            torch.device("cpu"),
        )
    with pytest.raises(ValueError, match="at least one parameter"):
        fit([], lambda b: b[0].sum(), lambda _: [], TINY_FIT, torch.device("cpu"))


def test_fit_updates_only_the_parameters_it_is_given(tiny_mae, images):
    head_before = tiny_mae.head.weight.detach().clone()
    enc_before = tiny_mae.patch_embed.weight.detach().clone()
    mask = torch.zeros_like(images)
    fit(
        tiny_mae.encoder_parameters(),
        lambda b: tiny_mae(b[0], mask[: len(b[0])]).mean(),
        lambda _: batches((images,), 8, torch.Generator()),
        replace(TINY_FIT, epochs=1),
        torch.device("cpu"),
    )
    assert torch.equal(tiny_mae.head.weight, head_before) and not torch.equal(tiny_mae.patch_embed.weight, enc_before)


def test_schedule_warms_up_linearly_then_decays_to_zero_by_cosine():
    factors = [lr_factor(step, total=100, warmup=10, cosine=True) for step in range(101)]
    assert factors[0] == pytest.approx(0.1) and factors[9] == pytest.approx(1.0)
    assert factors[55] == pytest.approx(0.5) and factors[100] == pytest.approx(0.0, abs=1e-12)
    assert all(a >= b for a, b in pairwise(factors[9:]))
    assert lr_factor(50, total=100, warmup=0, cosine=False) == 1.0


def test_weight_decay_skips_norms_biases_embeddings_and_mask_tokens(tiny_mae):
    decay, no_decay = decay_groups(tiny_mae, weight_decay=0.05)
    names = {id(p): n for n, p in tiny_mae.named_parameters()}
    skipped = {names[id(p)] for p in no_decay["params"]}
    assert {"mask_token", "pos_embed", "hole_embed", "decoder_pos_embed", "encoder_norm.weight", "head.bias"} <= skipped
    assert all(p.ndim > 1 for p in decay["params"]) and decay["weight_decay"] == 0.05 and no_decay["weight_decay"] == 0.0
    encoder_only = decay_groups(tiny_mae, tiny_mae.encoder_parameters())
    assert {id(p) for g in encoder_only for p in g["params"]} == {id(p) for p in tiny_mae.encoder_parameters()}


def test_a_monitor_stops_training_and_its_reason_is_reported(tiny_mae, images):
    mask = torch.zeros_like(images)
    result = fit(
        tiny_mae.encoder_parameters(),
        lambda b: tiny_mae(b[0], mask[: len(b[0])]).mean(),
        lambda _: batches((images,), 2, torch.Generator()),
        replace(TINY_FIT, epochs=3),
        torch.device("cpu"),
        monitor=Monitor(every=3, check=lambda step: "enough" if step >= 6 else None),
    )
    assert result.steps == 6 and result.stop_reason == "enough"
