"""Self-describing checkpoints: `<name>.pt` (a state_dict) beside `<name>.json` (kind + config).

No pickled modules anywhere: weights are loaded with `torch.load(weights_only=True)` and the
model is rebuilt from the JSON config, so a checkpoint cannot execute code when opened.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path

import torch
from torch import nn

from components.errors import CheckpointError
from components.models.configs import ConvAEConfig, FeatureNetConfig, MAEConfig
from components.models.conv_ae import ConvAutoencoder
from components.models.featurenet import FeatureNet
from components.models.mae import MaskedAutoencoder

KINDS: dict[str, tuple[type, type[nn.Module]]] = {
    "mae": (MAEConfig, MaskedAutoencoder),
    "featurenet": (FeatureNetConfig, FeatureNet),
    "conv-ae": (ConvAEConfig, ConvAutoencoder),
}

# Config keys added after checkpoints were first written, with the value those checkpoints were built
# with: the dataclass defaults follow params.yaml and may change, a written checkpoint may not.
LEGACY: dict[str, dict[str, object]] = {
    "mae": {"refine_width": 0, "pos_embed": "learned"},
}


def kind_of(model: nn.Module) -> str:
    for kind, (_, cls) in KINDS.items():
        if type(model) is cls:
            return kind
    raise CheckpointError(f"no checkpoint kind for {type(model).__name__}")


def build(kind: str, config: dict) -> nn.Module:
    if kind not in KINDS:
        raise CheckpointError(f"unknown model kind {kind!r}; known: {sorted(KINDS)}")
    config_cls, model_cls = KINDS[kind]
    return model_cls(config_cls(**{**LEGACY.get(kind, {}), **config}))


def save(model: nn.Module, path: Path, extra: dict | None = None) -> str:
    """Write weights and config atomically; return the sha256 of the weights file (its content id)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
    meta = {"kind": kind_of(model), "config": asdict(model.config), "weights_sha256": digest, **(extra or {})}
    meta_tmp = path.with_suffix(".json.tmp")
    meta_tmp.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)
    os.replace(meta_tmp, path.with_suffix(".json"))
    return digest


def read_meta(path: Path) -> dict:
    meta_path = path.with_suffix(".json")
    if not path.is_file() or not meta_path.is_file():
        raise CheckpointError(f"{path}: checkpoint or its {meta_path.name} is missing")
    meta = json.loads(meta_path.read_text())
    if "purged_by" in meta:
        raise CheckpointError(f"{path}: weights purged by {meta['purged_by']} (trained on data it forgot); retrain to rebuild")
    return meta


def write_purged_stub(path: Path, batch_id: str) -> None:
    """Replace a DVC stage's checkpoint by an empty file and a note saying who purged it, so the
    pipeline stays consistent (`dvc status` clean) while no forgotten data stays in its weights."""
    old = json.loads(path.with_suffix(".json").read_text()) if path.with_suffix(".json").is_file() else {}
    path.write_bytes(b"")
    path.with_suffix(".json").write_text(
        json.dumps(
            {"purged_by": batch_id, "kind": old.get("kind"), "weights_sha256_was": old.get("weights_sha256")},
            indent=2,
            sort_keys=True,
        )
        + "\n"
    )


def load(path: Path, map_location: str | torch.device = "cpu") -> nn.Module:
    """Rebuild the model from `<path>.json` and load `<path>` with weights_only=True."""
    meta = read_meta(path)
    if hashlib.sha256(path.read_bytes()).hexdigest() != meta.get("weights_sha256"):
        raise CheckpointError(f"{path}: weights do not match the sha256 in {path.with_suffix('.json').name}")
    model = build(meta["kind"], meta["config"])
    model.load_state_dict(torch.load(path, map_location=map_location, weights_only=True))
    return model.eval()
