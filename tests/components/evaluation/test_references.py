"""The never-seen-the-class reference fills the hole from retained classes only, on a hand-made example."""

from dataclasses import replace

import torch
from torch import nn

from components.evaluation.references import class_evidence, class_reference, class_references, sample_evidence, sample_reference
from components.models.masking import make_mask

MASK = ("centre", 4)  # the middle 4x4 of an 8x8 image is hidden


class BrightHole(nn.Module):
    """A hand-made 'feature net': class 1 when the centre 4x4 is bright on average, else class 0."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bright = x[:, :, 2:6, 2:6].mean((1, 2, 3)) > 0.5
        return torch.stack([(~bright).float(), bright.float()], 1)


def image(visible: float, hole: float) -> torch.Tensor:
    mask = make_mask(MASK[0], 8, MASK[1])[0]
    return visible * (1 - mask) + hole * mask


def test_the_reference_is_what_the_nearest_retained_images_rebuild():
    # ten retained images that match the query's visible pixels (hole 0.2) and ten far ones (hole 1.0)
    bank = torch.stack([image(0.5, 0.2)] * 10 + [image(0.9, 1.0)] * 10)
    x, y = torch.stack([image(0.5, 0.6)]), torch.tensor([1])  # the forgotten class: a bright hole
    ref = class_reference(BrightHole(), bank, x, y, MASK, torch.device("cpu"))
    assert abs(ref.psnr - 10 * torch.log10(torch.tensor(1 / 0.4**2)).item()) < 1e-4  # hole filled with 0.2, truth 0.6
    assert ref.accuracy == 0.0  # the retained classes' fill no longer looks like the class


class ConstantFill(nn.Module):
    """A hand-made 'inpainter' that paints every hole 0.7."""

    def inpaint(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return x * (1 - mask) + 0.7 * mask


def test_class_evidence_is_measured_per_forgotten_class_against_its_own_reference():
    bank = torch.stack([image(0.5, 0.2)] * 10)
    # two forgotten classes: 2 images of class 0 (dark hole 0.2), 3 of class 1 (bright hole 0.6)
    x, y = torch.stack([image(0.5, 0.2)] * 2 + [image(0.5, 0.6)] * 3), torch.tensor([0, 0, 1, 1, 1])
    refs = class_references(BrightHole(), bank, x, y, MASK, torch.device("cpu"))
    dark, bright = class_evidence(ConstantFill(), BrightHole(), x, y, refs, MASK, torch.device("cpu"))
    assert (dark.label, dark.accuracy.n, dark.accuracy.mean, dark.accuracy_reference) == (0, 2, 0.0, 1.0)
    assert (bright.label, bright.accuracy.n, bright.accuracy.mean, bright.accuracy_reference) == (1, 3, 1.0, 0.0)
    assert abs(dark.psnr.mean - 10 * torch.log10(torch.tensor(1 / 0.5**2)).item()) < 1e-4  # 0.7 painted, truth 0.2
    assert abs(bright.psnr.mean - 20.0) < 1e-3 and abs(bright.psnr_reference - 7.9588) < 1e-3  # the bank paints 0.2
    assert dark.psnr_reference == 100.0  # the bank rebuilds class 0 exactly (masked_psnr caps at 100 dB)


def test_what_the_retained_data_rebuilds_is_not_credited_to_the_model():
    """The sample gate's calibration, on images the model fills exactly as badly as each other."""
    forgotten, unseen = torch.full((3, 1, 32, 32), 0.4), torch.full((4, 1, 32, 32), 0.1)
    like_model = torch.full((10, 1, 32, 32), 0.7)  # the retained data paints 0.7, as the model does
    gap = sample_evidence(ConstantFill(), sample_reference(forgotten, unseen, like_model), torch.device("cpu"))
    assert abs(gap.mean) < 1e-4  # raw PSNRs differ by 6 dB (0.3 vs 0.6 off); calibrated, both read 0


def test_the_sample_evidence_calls_a_model_that_trained_on_the_images_remembered_and_one_that_never_did_not():
    """Positive and negative control on real tiny models: the same never-seen images, before and after
    the model is fine-tuned on them alone."""
    from components.evaluation.gates import REMEMBERED, equivalence
    from components.models.mae import MaskedAutoencoder
    from components.models.recipes import train_inpainter
    from tests.conftest import TINY_FIT, TINY_MAE, synthetic_images

    images, _ = synthetic_images(12, seed=3, marks=True)
    x = torch.nn.functional.pad(torch.from_numpy(images).float().div(255).unsqueeze(1), (2, 2, 2, 2))
    train, requested, unseen = x[:60], x[60:63], x[63:]
    torch.manual_seed(0)
    model = MaskedAutoencoder(TINY_MAE)
    cpu = torch.device("cpu")
    train_inpainter(
        model, train, replace(TINY_FIT, epochs=10, batch_size=16, lr=4e-3), cpu, torch.Generator().manual_seed(0), desc="base"
    )
    ref = sample_reference(requested, unseen, train)
    never_seen = sample_evidence(model, ref, cpu)
    train_inpainter(
        model,
        requested,
        replace(TINY_FIT, epochs=150, batch_size=3, lr=4e-3, weight_decay=0.0),
        cpu,
        torch.Generator().manual_seed(1),
        desc="positive control",
    )
    memorised = sample_evidence(model, ref, cpu)
    assert equivalence(never_seen, -1.0, 0.5) != REMEMBERED, never_seen
    assert equivalence(memorised, -1.0, 0.5) == REMEMBERED and memorised.mean > never_seen.mean + 1.0, (never_seen, memorised)
