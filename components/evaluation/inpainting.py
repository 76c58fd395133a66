"""Test-split quality of an inpainter: masked-region PSNR per mask type and recognisability."""

from __future__ import annotations

import torch

from components.evaluation.metrics import accuracy, masked_psnr, predict_batched
from components.models.masking import make_mask


@torch.no_grad()
def evaluate_inpainter(model: torch.nn.Module, featurenet: torch.nn.Module, x: torch.Tensor, y: torch.Tensor,
                       masks: dict[str, tuple[str, int]], device: torch.device) -> dict[str, float]:
    """For each named mask (kind, extent): mean masked PSNR and feature-net accuracy on the outputs.

    Accuracy on the ground truth is reported too, as the ceiling the outputs are compared with.
    """
    if len(x) == 0:
        raise ValueError("cannot evaluate on an empty set")
    model.eval().to(device)
    featurenet.eval().to(device)
    metrics = {"featurenet_accuracy_ground_truth": accuracy(predict_batched(featurenet, x, device=device), y)}
    for name, (kind, extent) in masks.items():
        mask = make_mask(kind, x.shape[-1], extent)
        out = predict_batched(lambda b: model.inpaint(b, mask.to(b.device).expand(len(b), -1, -1, -1)), x, device=device)
        metrics[f"psnr_{name}"] = masked_psnr(out, x, mask.expand_as(x)).mean().item()
        metrics[f"featurenet_accuracy_{name}"] = accuracy(predict_batched(featurenet, out, device=device), y)
    return metrics
