"""Train the feature net and the base inpainter; register the base as MLflow `champion`.

Both are `dvc.yaml` stages (`train_featurenet`, `train_base`) that call the CLI, so `dvc repro`
and `forgetflow train` run the same code.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from components import data, registry
from components import ledger as ledgers
from components.device import pick_device, seed_everything
from components.errors import CheckpointError
from components.evaluation import baselines, forgetting, grids
from components.evaluation.metrics import accuracy, predict_batched
from components.ledger import provenance
from components.models import checkpoint, training
from components.models.configs import FeatureNetConfig
from components.models.conv_ae import ConvAutoencoder
from components.models.featurenet import FeatureNet, recalibrate_batchnorm
from components.models.mae import MaskedAutoencoder
from components.models.masking import make_mask
from components.models.recipes import train_inpainter
from flows import dvc_repo
from flows.compliance import index
from flows.params import Params, load_params, params_sha256, prefixed
from flows.workspace import Workspace

log = logging.getLogger(__name__)
FEATURENET = "featurenet.pt"


def load_split(ws: Workspace, split: str) -> tuple[torch.Tensor, torch.Tensor, list[data.Sample]]:
    """Images, labels and manifest rows of one split, after checking every file's sha256."""
    samples = [s for s in data.read_manifest(ws.data_dir) if s.split == split]
    data.verify_files(ws.data_dir, samples)
    return data.load_images(ws.data_dir, samples), data.load_labels(samples), samples


def train_featurenet(ws: Workspace, params: Params) -> dict[str, float]:
    cfg = params.featurenet
    samples = featurenet_subset([s for s in data.read_manifest(ws.data_dir) if s.split == "train"], cfg.max_per_class)
    data.verify_files(ws.data_dir, samples)
    x, y = data.load_images(ws.data_dir, samples), data.load_labels(samples)
    x_test, y_test, _ = load_split(ws, "test")
    device, generator = pick_device(), seed_everything(cfg.seed)
    net = FeatureNet(FeatureNetConfig(num_classes=int(y.max()) + 1)).to(device)
    net.train()
    result = training.fit(
        list(net.parameters()),
        lambda b: torch.nn.functional.cross_entropy(net(b[0]), b[1]),
        lambda _: training.batches((x, y), cfg.batch_size, generator),
        cfg,
        device,
        desc="featurenet",
    )
    recalibrate_batchnorm(net, x, device)
    metrics = {
        "test_accuracy": accuracy(predict_batched(net, x_test, device=device), y_test),
        "final_loss": result.epoch_losses[-1],
        "seconds": result.seconds,
        "train_images": len(samples),
    }
    weights_sha = checkpoint.save(net, ws.models_dir / FEATURENET)
    _write_json(ws.metrics_dir / "featurenet.json", metrics)
    index.index_featurenet(ws, weights_sha, [f"models/{FEATURENET}", "models/featurenet.json"], samples)
    return metrics


def featurenet_subset(samples: list[data.Sample], max_per_class: int) -> list[data.Sample]:
    """At most `max_per_class` training images per class, evenly spread over each class's ids (0: all)."""
    if max_per_class <= 0:
        return samples
    from components.data.forget_set import spread

    by_label: dict[int, list[str]] = {}
    for s in samples:
        by_label.setdefault(s.label, []).append(s.sample_id)
    keep = {i for ids in by_label.values() for i in spread(sorted(ids), max_per_class)}
    return [s for s in samples if s.sample_id in keep]


def featurenet_stale(ws: Workspace) -> bool:
    """Was the current feature net trained on samples a promoted batch forgot?"""
    meta_path = ws.models_dir / "featurenet.json"
    if not meta_path.is_file():
        return False
    sha = json.loads(meta_path.read_text()).get("weights_sha256", "")
    with ledgers.Ledger(ws.ledger_path) as book:
        artifacts = provenance.artifacts(book)
        artifact_id = index.featurenet_id(sha)
        if artifact_id in artifacts:
            return bool(provenance.tainted_by(book, artifacts, artifact_id))
        return bool(book.forgotten_by())


def refresh_featurenet(ws: Workspace) -> bool:
    """Retrain the feature net (its DVC stage) when it was trained on forgotten samples.

    Called after every promotion (flows/follow_up.py) and before every evaluation, so no metric is
    ever computed by a network that still holds forgotten data. Returns True when it retrained."""
    if not featurenet_stale(ws):
        return False
    sha = json.loads((ws.models_dir / "featurenet.json").read_text()).get("weights_sha256", "")
    log.info("feature net %s was trained on forgotten samples: retraining it (stage train_featurenet)", sha[:12])
    # what `dvc repro train_featurenet` does, without a `forgetflow` process of its own (~5 s of imports per refresh)
    train_featurenet(ws, load_params(ws.params_file))
    dvc_repo.run(ws, "commit", "--force", "train_featurenet")  # then record it, as `dvc repro` would
    dvc_repo.commit_pointers(ws, "forgetflow: retrain the feature net on the remaining data")
    return True


@dataclass(frozen=True)
class Family:
    """A model family: how to build it, where its checkpoint goes, its registered model name."""

    name: str
    stem: str  # models/<stem>.pt, metrics/<stem>.json, reports/<stem>_grid.png
    build: Callable[[Params], torch.nn.Module]
    model_name: Callable[[Params], str]


FAMILIES = {
    "mae": Family("mae", "base", lambda p: MaskedAutoencoder(p.mae), lambda p: p.registry.model_name),
    "conv-ae": Family("conv-ae", "conv_ae", lambda p: ConvAutoencoder(p.conv_ae), lambda p: p.registry.conv_ae_model_name),
}


def train_base(ws: Workspace, params: Params, family: str = "mae") -> registry.RegisteredVersion:
    """Train a base inpainter on the train split, evaluate on test, register it, make it champion."""
    spec = FAMILIES[family]
    featurenet_path = ws.models_dir / FEATURENET
    if not featurenet_path.is_file():
        raise CheckpointError(f"{featurenet_path} missing: run `forgetflow train-featurenet` (or `dvc repro`) first")
    classifier = checkpoint.load(featurenet_path)
    x, _, _ = load_split(ws, "train")
    x_test, y_test, _ = load_split(ws, "test")
    device, generator = pick_device(), seed_everything(params.train.seed)
    model = spec.build(params)
    result = train_inpainter(model, x, params.train, device, generator, desc=family)
    metrics = forgetting.evaluate_set(model, classifier, x_test, y_test, params.evaluate.masks(), device)
    # what the model must beat for its forgetting to mean anything (components/evaluation/baselines.py)
    kind, extent = params.evaluate.masks()["centre"]
    hole = make_mask(kind, x_test.shape[-1], extent)
    metrics.update({f"baseline_{name}_psnr_centre": v for name, v in baselines.baseline_psnr(x, x_test, hole).items()})
    metrics.update(
        train_seconds=result.seconds,
        final_loss=result.epoch_losses[-1],
        featurenet_accuracy_ground_truth=accuracy(predict_batched(classifier, x_test, device=device), y_test),
    )
    weights_sha = checkpoint.save(model, ws.models_dir / f"{spec.stem}.pt")
    metrics_file = _write_json(ws.metrics_dir / f"{spec.stem}.json", metrics)
    grid = save_base_grid(model, x_test, y_test, params, ws.reports_dir / f"{spec.stem}_grid.png")
    version = _register_base(ws, params, spec, asdict(model.config), result, metrics, [grid, metrics_file], weights_sha)
    files = [f"models/{spec.stem}.pt", f"models/{spec.stem}.json", f"reports/{spec.stem}_grid.png"]
    client = registry.connect(ws.root, params.registry.experiment)
    index.index_base(ws, client, version.name, version.version, version.run_id, weights_sha, files)
    index.sync_aliases(ws, client, version.name)
    return version


def save_base_grid(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, params: Params, path: Path) -> Path:
    """ground truth | centre-masked | inpainted | border-masked | outpainted, one row per class."""
    rows = [int(torch.nonzero(y == label)[0]) for label in torch.unique(y)][: params.evaluate.grid_rows]
    images = x[rows].cpu()
    device = next(model.parameters()).device
    columns = [images]
    for kind, extent in (("centre", params.evaluate.centre_hole), ("border", params.evaluate.border_width)):
        mask = make_mask(kind, images.shape[-1], extent, len(images))
        columns += [images * (1 - mask), model.inpaint(images.to(device), mask.to(device)).cpu()]
    return grids.save_grid(columns, path)


def _register_base(
    ws: Workspace,
    params: Params,
    spec: Family,
    model_config: dict,
    result: training.FitResult,
    metrics: dict[str, float],
    artifacts: list[Path],
    weights_sha: str,
) -> registry.RegisteredVersion:
    client = registry.connect(ws.root, params.registry.experiment)
    record = registry.TrainingRecord(
        run_name=f"train_base:{spec.name}",
        checkpoint=ws.models_dir / f"{spec.stem}.pt",
        params={
            "family": spec.name,
            **prefixed("model", model_config),
            **prefixed("train", asdict(params.train)),
            **prefixed("data", asdict(params.data)),
            "device": str(pick_device()),
        },
        metrics=metrics,
        version_tags={
            "stage": "base",
            "data_dvc_md5": ws.data_version() or "none",
            "git_commit": ws.git_commit(),
            "params_sha256": params_sha256(ws.params_file),
            "weights_sha256": weights_sha,
            "featurenet_sha256": checkpoint.read_meta(ws.models_dir / FEATURENET)["weights_sha256"],
        },
        epoch_losses=result.epoch_losses,
        artifacts=artifacts,
    )
    version = registry.log_and_register(record, spec.model_name(params))
    registry.move_alias(client, version.name, "champion", version.version, "base model trained by train_base")
    log.info("registered %s v%d as champion", version.name, version.version)
    return version


def _write_json(path: Path, values: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(values, indent=2, sort_keys=True) + "\n")
    return path
