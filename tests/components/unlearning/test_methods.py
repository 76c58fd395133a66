import copy
from dataclasses import replace

import pytest
import torch

from components.models.configs import ConvAEConfig
from components.models.conv_ae import ConvAutoencoder
from components.models.mae import masked_mse
from components.models.masking import centre_mask
from components.models.recipes import train_inpainter
from components.unlearning import encoder_noise, max_loss, noisy_label, random_encoder, retain_label
from components.unlearning.config import METHODS, UnlearnConfig
from components.unlearning.methods import MODULES, unlearn
from components.unlearning.paired import training_masks
from tests.conftest import TINY_FIT

# retain-label is tested on its own: its retain term distils to the teacher, so it starts at its optimum
LOSS_BASED = {"encoder-noise": encoder_noise, "random-encoder": random_encoder, "max-loss": max_loss, "noisy-label": noisy_label}
TINY_AE = ConvAEConfig(width=8, latent_dim=8)


def fixed_budget(steps: int, **settings) -> dict:
    """Exactly `steps` steps: the early-stopping rules can never fire."""
    return dict(min_steps=steps, max_steps=steps, stop_gap=0.0, stop_plateau=-1e9, max_retain_drop_pct=1e9, **settings)


def objective(module, model, teacher, cfg, forget, retain) -> float:
    """The method's loss averaged over 10 fixed draws of masks and noise (identical before and after)."""
    total = 0.0
    with torch.no_grad():
        for seed in range(10):
            generator = torch.Generator().manual_seed(seed)
            masks = training_masks(model, retain, generator)
            batch = (forget, retain, masks, teacher.encode(retain, masks))
            total += module.build(model, teacher, cfg, generator)(batch).item()
    return total / 10


def test_every_method_has_a_module():
    assert set(MODULES) == set(METHODS)


@pytest.mark.parametrize("family", ["mae", "conv-ae"])
@pytest.mark.parametrize("method", sorted(LOSS_BASED))
def test_each_loss_based_method_lowers_its_own_objective(method, family, tiny_mae, images):
    torch.manual_seed(0)
    model = tiny_mae if family == "mae" else ConvAutoencoder(TINY_AE)
    forget, retain = images[:8], images[8:]
    # a model that has learnt something: distillation objectives start at ~0 on an untrained one
    train_inpainter(
        model, images, replace(TINY_FIT, epochs=5, batch_size=16, lr=3e-3), torch.device("cpu"), torch.Generator().manual_seed(0)
    )
    cfg = UnlearnConfig(method=method, blr=0.048 if family == "mae" else 0.0048, batch_size=16, alpha=0.5, **fixed_budget(30))
    teacher = copy.deepcopy(model).eval()
    before = objective(LOSS_BASED[method], model, teacher, cfg, forget, retain)
    unlearn(model, forget, retain, cfg, torch.device("cpu"))
    assert objective(LOSS_BASED[method], model, teacher, cfg, forget, retain) < before


def test_retain_label_distils_retain_outputs_to_the_teacher(tiny_mae, images):
    cfg = UnlearnConfig(method="retain-label", alpha=0.0)  # the retain term alone
    generator = torch.Generator().manual_seed(0)
    retain = images[8:]
    masks = training_masks(tiny_mae, retain, generator)
    batch = (images[:8], retain, masks, tiny_mae.encode(retain, masks))
    with torch.no_grad():
        assert retain_label.build(tiny_mae, copy.deepcopy(tiny_mae), cfg, generator)(batch).item() == 0.0


def test_decoupling_ascends_until_the_threshold_then_stops(tiny_mae, images):
    forget, retain = images[:8], images[8:]
    train_inpainter(
        tiny_mae,
        images,
        replace(TINY_FIT, epochs=40, batch_size=16, lr=3e-3),
        torch.device("cpu"),
        torch.Generator().manual_seed(0),
    )
    teacher = copy.deepcopy(tiny_mae).eval()
    cfg = UnlearnConfig(
        method="decoupling", blr=0.032, batch_size=8, decouple_threshold=1.0, decouple_max_steps=400, **fixed_budget(1)
    )
    result = unlearn(tiny_mae, forget, retain, cfg, torch.device("cpu"))
    mask = centre_mask(32, 16, 8)
    with torch.no_grad():
        assert masked_mse(tiny_mae(forget, mask), forget, mask) > masked_mse(teacher(forget, mask), forget, mask)
    assert result.fit.steps < 400 + 1  # the OOD threshold, not the step cap, ended the ascent (+1 retention step)


def test_retrain_builds_a_fresh_model_that_learns(tiny_mae, images):
    original = copy.deepcopy(tiny_mae.state_dict())
    result = unlearn(
        tiny_mae,
        images[:4],
        images[4:],
        UnlearnConfig(method="retrain", retrain_epochs=10, retrain_batch_size=4, retrain_lr=3e-3),
        torch.device("cpu"),
    )
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
