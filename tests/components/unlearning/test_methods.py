import copy

import pytest
import torch

from components.models.configs import ConvAEConfig
from components.models.conv_ae import ConvAutoencoder
from components.models.configs import FitConfig
from components.models.mae import masked_mse
from components.models.recipes import train_inpainter
from components.models.masking import centre_mask
from components.unlearning import max_loss, noisy_label, random_encoder, retain_label
from components.unlearning import encoder_noise
from components.unlearning.config import METHODS, UnlearnConfig
from components.unlearning.methods import MODULES, unlearn

LOSS_BASED = {"encoder-noise": encoder_noise, "random-encoder": random_encoder, "max-loss": max_loss,
              "noisy-label": noisy_label, "retain-label": retain_label}
TINY_AE = ConvAEConfig(width=8, latent_dim=8)


def objective(module, model, teacher, cfg, forget, retain) -> float:
    """The method's loss averaged over 10 fixed draws of masks and noise (identical before and after)."""
    with torch.no_grad():
        return sum(module.build(model, teacher, cfg, torch.Generator().manual_seed(seed))((forget, retain)).item()
                   for seed in range(10)) / 10


def test_every_method_has_a_module():
    assert set(MODULES) == set(METHODS)


@pytest.mark.parametrize("family", ["mae", "conv-ae"])
@pytest.mark.parametrize("method", sorted(LOSS_BASED))
def test_each_loss_based_method_lowers_its_own_objective(method, family, tiny_mae, images):
    torch.manual_seed(0)
    model = tiny_mae if family == "mae" else ConvAutoencoder(TINY_AE)
    forget, retain = images[:8], images[8:]
    cfg = UnlearnConfig(method=method, epochs=30, lr=3e-3 if family == "mae" else 3e-4, batch_size=16, alpha=0.5)
    teacher = copy.deepcopy(model).eval()
    before = objective(LOSS_BASED[method], model, teacher, cfg, forget, retain)
    unlearn(model, forget, retain, cfg, torch.device("cpu"))
    assert objective(LOSS_BASED[method], model, teacher, cfg, forget, retain) < before


def test_decoupling_ascends_until_the_threshold_then_stops(tiny_mae, images):
    forget, retain = images[:8], images[8:]
    train_inpainter(tiny_mae, images, FitConfig(epochs=40, batch_size=16, lr=3e-3), torch.device("cpu"),
                    torch.Generator().manual_seed(0))
    teacher = copy.deepcopy(tiny_mae).eval()
    cfg = UnlearnConfig(method="decoupling", epochs=1, lr=1e-3, batch_size=8, decouple_threshold=1.0, decouple_max_steps=400)
    result = unlearn(tiny_mae, forget, retain, cfg, torch.device("cpu"))
    mask = centre_mask(32, 16, 8)
    with torch.no_grad():
        assert masked_mse(tiny_mae(forget, mask), forget, mask) > masked_mse(teacher(forget, mask), forget, mask)
    assert result.fit.steps < 400  # the OOD threshold, not the step cap, ended the ascent


def test_retrain_builds_a_fresh_model_that_learns(tiny_mae, images):
    original = copy.deepcopy(tiny_mae.state_dict())
    result = unlearn(tiny_mae, images[:4], images[4:], UnlearnConfig(method="retrain", retrain_epochs=10, retrain_batch_size=4,
                                                                    retrain_lr=3e-3), torch.device("cpu"))
    assert result.fit.epoch_losses[-1] < result.fit.epoch_losses[0]
    assert any(not torch.equal(original[k], v) for k, v in tiny_mae.state_dict().items())


def test_conv_autoencoder_has_the_shared_interface():
    model = ConvAutoencoder(ConvAEConfig())
    x, mask = torch.rand(2, 1, 32, 32), centre_mask(32, 16, 2)
    assert model.encode(x, mask).shape == (2, 16, 64) and model(x, mask).shape == x.shape
    assert torch.equal(model.inpaint(x, mask) * (1 - mask), x * (1 - mask))
    changed = x + mask * torch.rand_like(x)
    assert torch.allclose(model.encode(x, mask), model.encode(changed, mask))  # hidden pixels are not seen
    assert 0.3e6 < sum(p.numel() for p in model.parameters()) < 0.6e6
