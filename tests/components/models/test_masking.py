import pytest
import torch

from components.models.masking import border_mask, centre_mask, composite, make_mask, random_training_mask


def test_centre_mask_hides_a_centred_square():
    mask = centre_mask(32, 16)
    assert mask.sum() == 256 and mask[0, 0, 8:24, 8:24].all() and mask[0, 0, :8].sum() == 0


def test_border_mask_hides_the_frame():
    mask = border_mask(32, 4)
    assert mask.sum() == 32 * 32 - 24 * 24 and mask[0, 0, 4:28, 4:28].sum() == 0


def test_make_mask_rejects_unknown_kinds_and_sizes():
    with pytest.raises(ValueError, match="unknown mask kind"):
        make_mask("circle", 32, 8)
    with pytest.raises(ValueError):
        make_mask("centre", 32, 40)
    with pytest.raises(ValueError):
        make_mask("border", 32, 16)


def test_random_training_masks_are_patch_aligned_and_never_empty_or_full():
    masks = random_training_mask(256, 32, 4, torch.Generator().manual_seed(0))
    patches = masks.unfold(2, 4, 4).unfold(3, 4, 4)  # (B, 1, 8, 8, 4, 4)
    assert torch.equal(patches.amax((-1, -2)), patches.amin((-1, -2)))
    hidden = masks.flatten(1).mean(1)
    assert hidden.min() > 0 and hidden.max() < 1


def test_composite_takes_hidden_pixels_from_the_prediction():
    x, pred, mask = torch.zeros(1, 1, 4, 4), torch.ones(1, 1, 4, 4), torch.zeros(1, 1, 4, 4)
    mask[..., 0, 0] = 1
    assert composite(x, pred, mask).sum() == 1
