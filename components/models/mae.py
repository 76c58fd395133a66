"""A small masked autoencoder for 32x32 greyscale inpainting and outpainting (ALGORITHMS.md §7).

Hidden patches are replaced by a learned mask token *inside* the encoder (SimMIM-style) rather
than dropped as in He et al.'s MAE, so any mask shape works and every sample of a batch has the
same number of tokens. `encode` and `decode` are separate because unlearning (Li et al.) trains
the encoder only and keeps the decoder fixed.
"""

from __future__ import annotations

import torch
from torch import nn

from components.models.configs import MAEConfig
from components.models.masking import composite


def _blocks(dim: int, depth: int, heads: int, mlp_ratio: float) -> nn.TransformerEncoder:
    layer = nn.TransformerEncoderLayer(
        dim, heads, int(dim * mlp_ratio), dropout=0.0, activation="gelu", batch_first=True, norm_first=True
    )
    return nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)


def sincos_embedding(grid: int, dim: int) -> torch.Tensor:
    """(1, grid*grid, dim) fixed 2-D sin-cos position embeddings, as in He et al.'s MAE (half the
    channels encode the row, half the column, at geometric frequencies)."""
    if dim % 4:
        raise ValueError(f"sin-cos position embeddings need a dim divisible by 4, not {dim}")
    rows, cols = torch.meshgrid(torch.arange(grid, dtype=torch.float32), torch.arange(grid, dtype=torch.float32), indexing="ij")
    omega = 1.0 / 10000 ** (torch.arange(dim // 4, dtype=torch.float32) / (dim // 4))
    parts = [f(axis.flatten()[:, None] * omega[None]) for axis in (rows, cols) for f in (torch.sin, torch.cos)]
    return torch.cat(parts, dim=1).unsqueeze(0)


def _position(grid: int, dim: int, kind: str) -> nn.Parameter:
    """Learned (random start) or fixed sin-cos. Fixed ones stay out of every optimiser: on 5-20k images
    a learned embedding is still learning the image layout when training ends (+0.6 dB test PSNR
    with sin-cos at the demo recipe, README)."""
    if kind == "sincos":
        return nn.Parameter(sincos_embedding(grid, dim), requires_grad=False)
    return nn.Parameter(torch.randn(1, grid * grid, dim) * 0.02)


def _refinement(width: int) -> nn.Sequential | None:
    """A small conv head that smooths the patch-wise prediction across patch borders.

    A linear head predicts each 4x4 patch on its own, which leaves visible block seams in the hole.
    The head only sees the decoder's output and the mask, so every bit of information about the
    input still flows through the encoder: unlearning the encoder (Li et al.) still cuts it off.
    It starts as the identity (last layer zero) so it can only add to the patch prediction.
    """
    if width == 0:
        return None
    last = nn.Conv2d(width, 1, 3, padding=1)
    nn.init.zeros_(last.weight)
    nn.init.zeros_(last.bias)
    return nn.Sequential(nn.Conv2d(2, width, 3, padding=1), nn.GELU(), nn.Conv2d(width, width, 3, padding=1), nn.GELU(), last)


class MaskedAutoencoder(nn.Module):
    def __init__(self, config: MAEConfig) -> None:
        super().__init__()
        if config.image_size % config.patch_size:
            raise ValueError("image_size must be a multiple of patch_size")
        self.config = config
        p, g = config.patch_size, config.image_size // config.patch_size
        # --- encoder ---
        self.patch_embed = nn.Conv2d(1, config.embed_dim, kernel_size=p, stride=p)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, config.embed_dim))
        self.pos_embed = _position(g, config.embed_dim, config.pos_embed)
        self.encoder = _blocks(config.embed_dim, config.depth, config.num_heads, config.mlp_ratio)
        self.encoder_norm = nn.LayerNorm(config.embed_dim)
        # --- decoder ---
        self.decoder_embed = nn.Linear(config.embed_dim, config.decoder_dim)
        self.hole_embed = nn.Parameter(torch.zeros(1, 1, config.decoder_dim))
        self.decoder_pos_embed = _position(g, config.decoder_dim, config.pos_embed)
        self.decoder = _blocks(config.decoder_dim, config.decoder_depth, config.decoder_heads, config.mlp_ratio)
        self.decoder_norm = nn.LayerNorm(config.decoder_dim)
        self.head = nn.Linear(config.decoder_dim, p * p)
        self.refine = _refinement(config.refine_width)

    def no_weight_decay(self) -> set[str]:
        """Names AdamW must not decay (as in MAE/MAGE): embeddings and tokens; norms and biases by shape."""
        return {"mask_token", "pos_embed", "hole_embed", "decoder_pos_embed"}

    def encoder_parameters(self) -> list[nn.Parameter]:
        """The parameters Li et al.'s unlearning updates (everything before the decoder)."""
        modules = (self.patch_embed, self.encoder, self.encoder_norm)
        params = [self.mask_token, self.pos_embed, *(q for m in modules for q in m.parameters())]
        return [q for q in params if q.requires_grad]  # fixed sin-cos embeddings are not trained

    def patch_mask(self, mask: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) pixel mask -> (B, L, 1): 1 where any pixel of the patch is hidden."""
        p = self.config.patch_size
        return nn.functional.max_pool2d(mask, p, p).flatten(2).transpose(1, 2)

    def encode(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) image + mask -> (B, L, embed_dim) latent tokens."""
        tokens = self.patch_embed(x * (1 - mask)).flatten(2).transpose(1, 2)  # (B, L, D)
        hidden = self.patch_mask(mask)
        tokens = tokens * (1 - hidden) + self.mask_token * hidden
        return self.encoder_norm(self.encoder(tokens + self.pos_embed))

    def decode(self, z: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Latent tokens -> (B, 1, H, W) predicted image in [0, 1] (every pixel, not composited)."""
        h = self.decoder_embed(z) + self.decoder_pos_embed + self.hole_embed * self.patch_mask(mask)
        patches = self.head(self.decoder_norm(self.decoder(h)))  # (B, L, p*p) logits
        p, g = self.config.patch_size, self.config.image_size // self.config.patch_size
        logits = patches.view(-1, g, g, p, p).permute(0, 1, 3, 2, 4).reshape(-1, 1, g * p, g * p)
        if self.refine is not None:  # sees the coarse output and the mask, never the input pixels
            logits = logits + self.refine(torch.cat([logits, mask.to(logits.dtype)], dim=1))
        return torch.sigmoid(logits)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x, mask), mask)

    @torch.no_grad()
    def inpaint(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """What a user sees: visible pixels kept, hidden ones generated."""
        return composite(x, self(x, mask).float(), mask)


def masked_mse(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Reconstruction loss on the hidden pixels only (the visible ones are given)."""
    return ((prediction - target) ** 2 * mask).sum() / mask.sum().clamp(min=1.0)
