"""Shared fixtures: a tiny generated Fashion-MNIST-like IDX source and tiny workspaces.

Everything runs in tmp dirs with the real tools (git, DVC, MLflow); nothing touches the repo.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from components.data.idx import write_idx
from components.models.configs import FitConfig, MAEConfig
from components.models.mae import MaskedAutoencoder

N_CLASSES = 10
TINY_MAE = MAEConfig(
    embed_dim=32,
    depth=1,
    num_heads=2,
    decoder_dim=16,
    decoder_depth=1,
    decoder_heads=2,
    mlp_ratio=2.0,
    refine_width=0,
    pos_embed="learned",
)
# constant lr, the recipe tiny-model tests train with (params.yaml's `train:` warms up and decays); tests replace what they need
TINY_FIT = FitConfig(epochs=5, batch_size=128, lr=1e-3, weight_decay=0.05, grad_clip=3.0, seed=0, warmup_epochs=0.0, cosine=False)
TINY_PARAMS = {
    "data": {"train_per_class": 0, "test_per_class": 0, "samples_per_subject": 3},
    "featurenet": {"epochs": 1, "batch_size": 32},
    "mae": dataclasses.asdict(TINY_MAE),
    "train": {"epochs": 1, "batch_size": 32},
}


def synthetic_images(n_per_class: int, seed: int, marks: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Class k is a bright bar at a class-specific angle plus noise: learnable, deterministic.
    `marks`: each image also gets a dark square at a random spot near the centre, which only a model
    that saw that very image can rebuild (what memorisation is about)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:28, 0:28] - 13.5
    images, labels = [], []
    for label in range(N_CLASSES):
        angle = np.pi * label / N_CLASSES
        bar = (np.abs(np.cos(angle) * yy - np.sin(angle) * xx) < 3) & (np.hypot(yy, xx) < 12)
        for _ in range(n_per_class):
            image = bar * 200 + rng.normal(0, 20, (28, 28))
            if marks:
                top, left = rng.integers(8, 16, 2)
                image[top : top + 5, left : left + 5] = 100
            images.append(np.clip(image, 0, 255).astype(np.uint8))
            labels.append(label)
    order = rng.permutation(len(labels))
    return np.stack(images)[order], np.array(labels, dtype=np.uint8)[order]


def write_idx_source(
    directory: Path, train_per_class: int = 6, test_per_class: int = 2, gz: bool = True, marks: bool = False
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    for prefix, n, seed in (("train", train_per_class, 0), ("t10k", test_per_class, 1)):
        images, labels = synthetic_images(n, seed, marks)
        write_idx(directory / f"{prefix}-images-idx3-ubyte{suffix}", images)
        write_idx(directory / f"{prefix}-labels-idx1-ubyte{suffix}", labels)
    return directory


@pytest.fixture(autouse=True)
def _offline_and_isolated(monkeypatch, tmp_path):
    """No telemetry, and never the developer's MLflow server or workspace."""
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    for key in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "FORGETFLOW_WORKSPACE"):
        monkeypatch.setenv(key, "")  # recorded first, so teardown removes whatever the test sets
        monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no global git/dvc config leaks in
    (tmp_path / "home").mkdir(exist_ok=True)
    monkeypatch.chdir(tmp_path)  # anything written relative to the cwd lands in the temp dir, never the repo
    yield
    if "mlflow" in sys.modules:  # MLflow keeps the last tracking/registry URI in module state: forget it
        import mlflow

        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)


@pytest.fixture(scope="session")
def idx_source(tmp_path_factory) -> Path:
    return write_idx_source(tmp_path_factory.mktemp("idx"))


def write_params(root: Path, overrides: dict) -> None:
    """Set the given keys in the workspace's params.yaml; nested dicts (`unlearn: {budget: {...}}`) merge key by key."""

    def merge(into: dict, changes: dict) -> None:
        for key, value in changes.items():
            if isinstance(value, dict) and isinstance(into.get(key), dict):
                merge(into[key], value)
            else:
                into[key] = value

    params = yaml.safe_load((root / "params.yaml").read_text())
    merge(params, overrides)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


@pytest.fixture
def tiny_workspace(tmp_path, idx_source) -> Path:
    """An initialised workspace whose params point at the tiny IDX source, with tiny models."""
    from flows import workspace

    root = tmp_path / "ws"
    workspace.init(root)
    write_params(root, {**TINY_PARAMS, "data": {**TINY_PARAMS["data"], "source": str(idx_source)}})
    return root


@pytest.fixture
def cli_env(monkeypatch):
    """Environment for subprocess CLI calls: this interpreter's bin dir first on PATH."""
    from flows.workspace import tool_env

    return {**tool_env(), "HOME": os.environ["HOME"]}


@pytest.fixture
def tiny_mae() -> MaskedAutoencoder:
    torch.manual_seed(0)
    return MaskedAutoencoder(TINY_MAE)


@pytest.fixture
def images() -> torch.Tensor:
    torch.manual_seed(1)
    x = torch.zeros(16, 1, 32, 32)
    x[:, :, 2:30, 12:20] = torch.rand(16, 1, 1, 1) * 0.5 + 0.5  # a tall bar: visible above and below a centre hole
    return x
