"""The feature net: a small CNN classifier trained on the same data.

Evaluation needs an image embedding (for FID/KID/cosine) and a classifier (for IS and
forget-class recognisability). Inception and CLIP weights cannot be downloaded here, so this
net, trained in the base pipeline, stands in for both.
"""

from __future__ import annotations

import torch
from torch import nn

from components.models.configs import FeatureNetConfig


class FeatureNet(nn.Module):
    def __init__(self, config: FeatureNetConfig) -> None:
        super().__init__()
        self.config = config
        w = config.width
        self.body = nn.Sequential(
            nn.Conv2d(1, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU(), nn.MaxPool2d(2),          # 16x16
            nn.Conv2d(w, 2 * w, 3, padding=1), nn.BatchNorm2d(2 * w), nn.ReLU(), nn.MaxPool2d(2),  # 8x8
            nn.Conv2d(2 * w, 4 * w, 3, padding=1), nn.BatchNorm2d(4 * w), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
            nn.Linear(4 * w, config.feature_dim), nn.ReLU(),
        )
        self.classifier = nn.Linear(config.feature_dim, config.num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, 32, 32) -> (B, feature_dim) penultimate embedding."""
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))
