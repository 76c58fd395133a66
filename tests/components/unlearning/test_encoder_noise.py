import pytest
import torch

from components.errors import DataValidationError
from components.models.masking import centre_mask
from components.unlearning.config import UnlearnConfig
from components.unlearning.methods import unlearn
from components.unlearning.paired import noise_like


def embedding_gaps(model, teacher, forget, retain, generator):
    mask_f, mask_r = centre_mask(32, 16, len(forget)), centre_mask(32, 16, len(retain))
    with torch.no_grad():
        to_noise = ((model.encode(forget, mask_f) - teacher.encode(noise_like(forget, generator), mask_f)) ** 2).mean()
        to_self = ((model.encode(retain, mask_r) - teacher.encode(retain, mask_r)) ** 2).mean()
    return to_noise.item(), to_self.item()


def test_encoder_noise_moves_forget_embeddings_to_noise_and_keeps_retain_and_decoder(tiny_mae, images):
    import copy

    teacher = copy.deepcopy(tiny_mae).eval()
    forget, retain = images[:6], images[6:]
    before = embedding_gaps(tiny_mae, teacher, forget, retain, torch.Generator().manual_seed(5))
    head = tiny_mae.head.weight.detach().clone()
    unlearn(tiny_mae, forget, retain, UnlearnConfig(epochs=30, lr=3e-3, batch_size=8, alpha=1.0), torch.device("cpu"))
    after = embedding_gaps(tiny_mae, teacher, forget, retain, torch.Generator().manual_seed(5))
    assert after[0] < 0.5 * before[0]          # forget inputs now embed like noise
    assert after[1] < 0.5 * after[0] + 1e-9    # retain inputs stay close to their original embeddings
    assert torch.equal(tiny_mae.head.weight, head)  # the decoder is untouched


def test_unlearn_refuses_empty_sets_and_mismatched_shapes(tiny_mae, images):
    cfg = UnlearnConfig(epochs=1)
    with pytest.raises(DataValidationError, match="forget set is empty"):
        unlearn(tiny_mae, images[:0], images, cfg, torch.device("cpu"))
    with pytest.raises(DataValidationError, match="retain"):
        unlearn(tiny_mae, images, images[:0], cfg, torch.device("cpu"))
    with pytest.raises(DataValidationError, match="differ in shape"):
        unlearn(tiny_mae, images, images[:, :, :16, :16], cfg, torch.device("cpu"))


def test_unknown_methods_are_refused():
    with pytest.raises(ValueError, match="unknown method"):
        UnlearnConfig(method="forget-harder")
