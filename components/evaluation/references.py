"""The references the gates and the benchmark compare an unlearned model with (see gates.py).

Both answer "what would a model that never saw the forgotten data do?" without retraining one.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from components.evaluation.baselines import nearest_fill
from components.evaluation.forgetting import inpaint, per_image_psnr
from components.evaluation.gates import ClassEvidence
from components.evaluation.metrics import accuracy, masked_psnr, predict_batched
from components.evaluation.stats import Interval, difference_ci, mean_ci, proportion_ci
from components.models.masking import make_mask


def sample_gap(model: nn.Module, forgotten: torch.Tensor, unseen: torch.Tensor, masks: dict[str, tuple[str, int]],
               device: torch.device) -> Interval:
    """PSNR(forgotten training images) - PSNR(unseen images of the same classes), Welch 95% CI, dB.
    ~0 for a model that never trained on them; > 0 means they are still rebuilt better (remembered)."""
    return difference_ci(per_image_psnr(model, forgotten, masks, device), per_image_psnr(model, unseen, masks, device))


def unseen_same_classes(ids: list[str], labels: dict[str, int], forgotten_labels: set[int]) -> list[str]:
    return [i for i in ids if labels[i] in forgotten_labels]


@dataclass(frozen=True)
class ClassReference:
    """A never-seen-the-class model's reach on unseen images of the forgotten class: its recognisability
    (feature-net accuracy) and its masked PSNR, dB."""

    accuracy: float
    psnr: float


def class_reference(featurenet: nn.Module, bank: torch.Tensor, x: torch.Tensor, y: torch.Tensor, mask_spec: tuple[str, int],
                    device: torch.device) -> ClassReference:
    """`x` with the hole filled by the mean of its 10 nearest neighbours in `bank` (training images of
    the *retained* classes): what a model that never saw the forgotten class could reach from the
    visible pixels and the rest of the data. The PSNR is the sharper of the two: the visible two thirds
    of a garment give its class away to the feature net whatever fills the hole (benchmark, README),
    while only a model that learnt the class rebuilds the hole well."""
    mask = make_mask(mask_spec[0], x.shape[-1], mask_spec[1])
    fill = nearest_fill(bank, x, mask, min(10, len(bank)))
    return ClassReference(accuracy(predict_batched(featurenet, fill, device=device), y),
                          masked_psnr(fill, x, mask.expand_as(x)).mean().item())


def class_references(featurenet: nn.Module, bank: torch.Tensor, x: torch.Tensor, y: torch.Tensor, mask_spec: tuple[str, int],
                     device: torch.device) -> dict[int, ClassReference]:
    """`class_reference` for each forgotten class in `y`, on its own images."""
    return {label: class_reference(featurenet, bank, x[y == label], y[y == label], mask_spec, device)
            for label in sorted(set(y.tolist()))}


def class_evidence(model: nn.Module, featurenet: nn.Module, x: torch.Tensor, y: torch.Tensor,
                   refs: dict[int, ClassReference], mask_spec: tuple[str, int], device: torch.device) -> tuple[ClassEvidence, ...]:
    """Per forgotten class: `model`'s recognisability and masked PSNR on unseen images of it, with
    their intervals, next to that class's reference (the class gates' evidence)."""
    model.eval().to(device)
    featurenet.eval().to(device)
    mask = make_mask(mask_spec[0], x.shape[-1], mask_spec[1])
    out = inpaint(model, x, mask, device)
    correct = predict_batched(featurenet, out, device=device).argmax(1) == y
    psnr = masked_psnr(out, x, mask.expand_as(x))
    return tuple(ClassEvidence(label, proportion_ci(int(correct[y == label].sum()), int((y == label).sum())), ref.accuracy,
                               mean_ci(psnr[y == label]), ref.psnr) for label, ref in refs.items())
