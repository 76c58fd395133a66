"""The never-seen-the-class reference fills the hole from retained classes only, on a hand-made example."""

import torch
from torch import nn

from components.evaluation.references import class_reference
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
