"""Forget-vs-retain quality of an inpainter, in pixel space and in feature-net space.

Per mask: masked-region PSNR, SSIM over the hidden pixels (torchmetrics' SSIM map averaged
inside the mask: over the composite the copied visible pixels would inflate it), cosine similarity of output and ground-truth
feature-net embeddings, feature-net accuracy on the outputs (is the class still recognisable?),
and, when the set has at least `min_fid_samples` images, FID/KID in feature-net space and IS
from the feature net's softmax (torchmetrics with the feature net as extractor). Inception/CLIP
cannot be downloaded here.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

from components.evaluation.metrics import accuracy, masked_psnr, predict_batched
from components.models.masking import make_mask


class FeatureExtractor(nn.Module):
    """The feature net as a torchmetrics FID/KID extractor (images in [0, 1], (N, 1, 32, 32))."""

    def __init__(self, featurenet: nn.Module) -> None:
        super().__init__()
        self.featurenet = featurenet
        self.num_features = featurenet.config.feature_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.featurenet.features(x).double()


class _Logits(nn.Module):
    """The feature net's classifier as torchmetrics' IS "inception" (IS takes the softmax itself)."""

    def __init__(self, featurenet: nn.Module) -> None:
        super().__init__()
        self.featurenet = featurenet

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.featurenet(x).double()


def inpaint(model: nn.Module, x: torch.Tensor, mask: torch.Tensor, device: torch.device) -> torch.Tensor:
    """`model`'s composite for every image of `x` under one (1, 1, H, W) mask, on the CPU."""
    return predict_batched(lambda b: model.inpaint(b, mask.to(b.device).expand(len(b), -1, -1, -1)), x, device=device)


@torch.no_grad()
def evaluate_set(
    model: nn.Module,
    featurenet: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    masks: dict[str, tuple[str, int]],
    device: torch.device,
    min_fid_samples: int = 50,
) -> dict[str, float]:
    """Metrics of `model`'s outputs on (x, y); keys are f"{metric}_{mask name}"."""
    from torchmetrics.functional.image import structural_similarity_index_measure as ssim
    from torchmetrics.image.fid import FrechetInceptionDistance
    from torchmetrics.image.inception import InceptionScore
    from torchmetrics.image.kid import KernelInceptionDistance

    if len(x) == 0:
        raise ValueError("cannot evaluate an empty set")
    model.eval().to(device)
    featurenet.eval().to(device)
    truth_features = predict_batched(featurenet.features, x, device=device)
    metrics: dict[str, float] = {"n": float(len(x))}
    for name, (kind, extent) in masks.items():
        mask = make_mask(kind, x.shape[-1], extent)
        out = inpaint(model, x, mask, device)
        out_features = predict_batched(featurenet.features, out, device=device)
        metrics[f"psnr_{name}"] = masked_psnr(out, x, mask.expand_as(x)).mean().item()
        _, ssim_map = ssim(out, x, data_range=1.0, return_full_image=True)
        m = mask.expand_as(x)
        metrics[f"ssim_{name}"] = ((ssim_map * m).flatten(1).sum(1) / m.flatten(1).sum(1)).mean().item()
        metrics[f"cosine_{name}"] = nn.functional.cosine_similarity(out_features, truth_features).mean().item()
        metrics[f"accuracy_{name}"] = accuracy(featurenet.classifier(out_features.to(device)).cpu(), y)
        if len(x) >= min_fid_samples:
            extractor = FeatureExtractor(featurenet).cpu()
            fid = FrechetInceptionDistance(feature=extractor, normalize=True)
            with warnings.catch_warnings():  # "KID/IS keep all features in memory": a few hundred vectors here
                warnings.filterwarnings("ignore", message=".*will save all extracted features.*")
                kid = KernelInceptionDistance(feature=extractor, normalize=True, subset_size=min(50, len(x)), subsets=20)
                inception = InceptionScore(feature=_Logits(featurenet).cpu(), splits=1)
            for metric in (fid, kid):
                metric.update(x.cpu(), real=True)
                metric.update(out, real=False)
            torch.manual_seed(0)  # KID draws random subsets
            metrics[f"fid_{name}"] = float(fid.compute())
            metrics[f"kid_{name}"] = float(kid.compute()[0])
            inception.update(out)
            with warnings.catch_warnings():  # one split: its std is undefined and unused
                warnings.filterwarnings("ignore", message=".*degrees of freedom.*")
                metrics[f"is_{name}"] = float(inception.compute()[0])
            featurenet.to(device)
    return metrics


@torch.no_grad()
def per_image_psnr(model: nn.Module, x: torch.Tensor, masks: dict[str, tuple[str, int]], device: torch.device) -> torch.Tensor:
    """(N,) masked PSNR per image, averaged over `masks` (fewer noisy single-mask readings per image)."""
    model.eval().to(device)
    per_mask = []
    for kind, extent in masks.values():
        mask = make_mask(kind, x.shape[-1], extent)
        per_mask.append(masked_psnr(inpaint(model, x, mask, device), x, mask.expand_as(x)))
    return torch.stack(per_mask).mean(0)


def save_retain_grid(
    original: nn.Module, unlearned: nn.Module, x: torch.Tensor, mask_spec: tuple[str, int], path, device: torch.device
):
    """ground truth | masked | original | unlearned, for retain images only: forgotten pixels never
    enter a new artifact."""
    from components.evaluation.grids import save_grid

    mask = make_mask(mask_spec[0], x.shape[-1], mask_spec[1], len(x))
    outputs = [m.eval().to(device).inpaint(x.to(device), mask.to(device)).cpu() for m in (original, unlearned)]
    return save_grid([x, x * (1 - mask), *outputs], path)
