"""Device choice: CPU by default, CUDA automatically when present, AMP only on CUDA."""

from __future__ import annotations

import contextlib

import torch


def pick_device(requested: str = "auto") -> torch.device:
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(requested)


def autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA (no grad scaler needed); a no-op on CPU, where AMP is slower."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def seed_everything(seed: int) -> torch.Generator:
    """Seed torch's global RNGs and return a dedicated generator for data order and masks."""
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)
