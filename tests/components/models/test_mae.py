from dataclasses import replace

import torch

from components.models.configs import MAEConfig
from components.models.mae import MaskedAutoencoder, masked_mse
from components.models.masking import centre_mask
from components.models.training import batches, fit
from tests.conftest import TINY_FIT, TINY_MAE


def test_the_default_mae_is_the_shipped_one_with_about_0_6_million_parameters():
    n = sum(p.numel() for p in MaskedAutoencoder(MAEConfig()).parameters())  # mlp_ratio 2, refine_width 32, sincos
    assert 0.5e6 < n < 0.8e6


def test_encode_and_decode_have_the_documented_shapes(tiny_mae, images):
    mask = centre_mask(32, 16, len(images))
    z = tiny_mae.encode(images, mask)
    assert z.shape == (16, 64, 32)  # 8x8 patches of 4 px, embed_dim 32
    out = tiny_mae.decode(z, mask)
    assert out.shape == images.shape and 0 <= out.min() and out.max() <= 1


def test_encoder_never_sees_hidden_pixels(tiny_mae, images):
    mask = centre_mask(32, 16, len(images))
    changed = images + mask * torch.rand_like(images)
    assert torch.allclose(tiny_mae.encode(images, mask), tiny_mae.encode(changed, mask))


def test_inpaint_keeps_visible_pixels(tiny_mae, images):
    mask = centre_mask(32, 16, len(images))
    out = tiny_mae.inpaint(images, mask)
    assert torch.equal(out * (1 - mask), images * (1 - mask))


def test_encoder_parameters_exclude_the_decoder(tiny_mae):
    encoder_ids = {id(p) for p in tiny_mae.encoder_parameters()}
    decoder = (
        tiny_mae.decoder_embed,
        tiny_mae.decoder,
        tiny_mae.decoder_norm,
        tiny_mae.head,
        *([tiny_mae.refine] if tiny_mae.refine else []),
    )
    decoder_ids = {id(p) for m in decoder for p in m.parameters()} | {id(tiny_mae.hole_embed), id(tiny_mae.decoder_pos_embed)}
    assert not encoder_ids & decoder_ids
    assert encoder_ids | decoder_ids == {id(p) for p in tiny_mae.parameters()}


def test_a_few_training_steps_lower_the_masked_loss(tiny_mae, images):
    generator = torch.Generator().manual_seed(0)
    mask = centre_mask(32, 16, len(images))

    def loss_fn(batch):
        return masked_mse(tiny_mae(batch[0], mask[: len(batch[0])]), batch[0], mask[: len(batch[0])])

    before = masked_mse(tiny_mae(images, mask), images, mask).item()
    fit(
        list(tiny_mae.parameters()),
        loss_fn,
        lambda _: batches((images,), 8, generator),
        replace(TINY_FIT, epochs=15, lr=3e-3),
        torch.device("cpu"),
    )
    assert masked_mse(tiny_mae(images, mask), images, mask).item() < 0.7 * before


def test_the_refinement_head_starts_as_the_identity(images):
    torch.manual_seed(0)
    plain = MaskedAutoencoder(TINY_MAE)  # refine_width 0
    torch.manual_seed(0)
    refined = MaskedAutoencoder(replace(TINY_MAE, refine_width=8))
    refined.load_state_dict(plain.state_dict(), strict=False)
    mask = centre_mask(32, 16, len(images))
    z = refined.encode(images, mask)
    assert torch.allclose(refined.decode(z, mask), plain.decode(plain.encode(images, mask), mask))


def test_sincos_position_embeddings_are_fixed_distinct_and_never_trained(images):
    from components.models.recipes import train_inpainter

    model = MaskedAutoencoder(replace(TINY_MAE, pos_embed="sincos"))
    before = (model.pos_embed.detach().clone(), model.decoder_pos_embed.detach().clone())
    positions = before[0].shape[1]
    distances = torch.cdist(before[0][0], before[0][0]) + torch.eye(positions)
    assert distances.min() > 0.1  # every patch position gets its own code
    assert all(id(p) != id(model.pos_embed) for p in model.encoder_parameters())  # unlearning cannot move them either
    train_inpainter(
        model, images, replace(TINY_FIT, epochs=2, batch_size=8, lr=3e-3), torch.device("cpu"), torch.Generator().manual_seed(0)
    )
    assert torch.equal(model.pos_embed, before[0]) and torch.equal(model.decoder_pos_embed, before[1])


def test_unknown_position_embeddings_are_refused():
    import pytest

    with pytest.raises(ValueError, match="pos_embed must be one of"):
        MAEConfig(pos_embed="rotary")
    with pytest.raises(ValueError, match="divisible by 4"):
        MAEConfig(pos_embed="sincos", decoder_dim=66)
