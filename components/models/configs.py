"""Model and training configs: plain dataclasses without torch, so the CLI can parse params fast.

Where a config is a params.yaml section, each default is the value params.yaml ships (checked by
tests/flows/test_params.py), so a config built in code describes the model params.yaml trains.
A checkpoint written before a key existed gets that key's old value from `checkpoint.LEGACY`.
"""

from __future__ import annotations

from dataclasses import dataclass

POS_EMBEDS = ("learned", "sincos")


@dataclass(frozen=True)
class MAEConfig:
    image_size: int = 32
    patch_size: int = 4
    embed_dim: int = 128
    depth: int = 4
    num_heads: int = 4
    decoder_dim: int = 64
    decoder_depth: int = 2
    decoder_heads: int = 4
    mlp_ratio: float = 2.0
    refine_width: int = 32  # channels of the conv refinement head after the patch head; 0 = none
    pos_embed: str = "sincos"  # "sincos": fixed 2-D sin-cos position embeddings (He et al.'s MAE); "learned"

    def __post_init__(self) -> None:
        if self.pos_embed not in POS_EMBEDS:
            raise ValueError(f"pos_embed must be one of {POS_EMBEDS}, not {self.pos_embed!r}")
        if self.pos_embed == "sincos" and (self.embed_dim % 4 or self.decoder_dim % 4):
            raise ValueError(
                f"sin-cos position embeddings need embed_dim and decoder_dim divisible by 4 "
                f"({self.embed_dim}, {self.decoder_dim})"
            )


@dataclass(frozen=True)
class FeatureNetConfig:
    num_classes: int = 10
    width: int = 32
    feature_dim: int = 128


@dataclass(frozen=True)
class FitConfig:
    """A training recipe, always stated in full: no defaults, because params.yaml's two recipes
    (`featurenet:`, `train:`) differ in nearly every key, and a default would silently pick one."""

    epochs: int
    batch_size: int
    lr: float
    weight_decay: float
    grad_clip: float
    seed: int
    warmup_epochs: float  # linear warm-up, then cosine decay to 0 (MAE/MAGE recipe); 0 and false = constant lr
    cosine: bool


@dataclass(frozen=True)
class FeatureNetRecipe(FitConfig):
    """The feature net's recipe, plus how much data it sees: the metrics need a decent classifier,
    not the best one, and a capped training set keeps its retraining after every promotion flat
    in the size of the data (340 s on 60k images, ~25 s on 5k)."""

    max_per_class: int  # training images per class, spread evenly over each class's sorted ids; 0 = all


@dataclass(frozen=True)
class ConvAEConfig:
    image_size: int = 32
    patch_size: int = 4  # granularity of the training masks, as for the MAE
    width: int = 32
    latent_dim: int = 64
