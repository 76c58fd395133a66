"""The never-seen-the-class reference fills the hole from retained classes only, on a hand-made example."""

import torch
from torch import nn

from components.evaluation.references import class_evidence, class_reference, class_references
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
