"""A small convolutional autoencoder inpainter: the second model family (ALGORITHMS.md §7).

Same interface as the MAE (`encode(x, mask)`, `decode(z, mask)`, `inpaint`, `encoder_parameters`)
so every unlearning method and metric works on both. The mask enters as a second input channel,
so the encoder knows which pixels are missing rather than reading them as black.
"""

from __future__ import annotations

import torch
from torch import nn

from components.models.configs import ConvAEConfig
from components.models.masking import composite


def _down(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 4, stride=2, padding=1), nn.GroupNorm(8, c_out), nn.GELU())


def _up(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1), nn.GroupNorm(8, c_out), nn.GELU())


class ConvAutoencoder(nn.Module):
    def __init__(self, config: ConvAEConfig) -> None:
        super().__init__()
        self.config = config
        w = config.width
        # --- encoder: 32 -> 16 -> 8 -> 4, latent (B, latent_dim, 4, 4) ---
        self.encoder = nn.Sequential(
            _down(2, w), _down(w, 2 * w), _down(2 * w, 4 * w), nn.Conv2d(4 * w, config.latent_dim, 3, padding=1)
        )
        # --- decoder: 4 -> 8 -> 16 -> 32 ---
        self.decoder = nn.Sequential(
            nn.Conv2d(config.latent_dim + 1, 4 * w, 3, padding=1),
            nn.GELU(),
            _up(4 * w, 2 * w),
            _up(2 * w, w),
            _up(w, w),
            nn.Conv2d(w, 1, 3, padding=1),
        )

    def encoder_parameters(self) -> list[nn.Parameter]:
        return list(self.encoder.parameters())

    def encode(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) image + mask -> (B, 16, latent_dim) latent (4x4 positions as tokens)."""
        z = self.encoder(torch.cat([x * (1 - mask), mask], dim=1))
        return z.flatten(2).transpose(1, 2)

    def decode(self, z: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        side = self.config.image_size // 8
        grid = z.transpose(1, 2).reshape(len(z), self.config.latent_dim, side, side)
        hole = nn.functional.adaptive_avg_pool2d(mask, side)  # where the missing pixels are
        return torch.sigmoid(self.decoder(torch.cat([grid, hole], dim=1)))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x, mask), mask)

    @torch.no_grad()
    def inpaint(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return composite(x, self(x, mask).float(), mask)
