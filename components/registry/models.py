"""Log training runs, register model versions with lineage tags, move aliases, load models."""

from __future__ import annotations

import shutil
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

import components
from components.errors import RegistryError, UnknownVersionError

_PYFUNC_FILE = Path(__file__).with_name("pyfunc_model.py")
_PIP_REQUIREMENTS = ["torch", "numpy", "mlflow"]
# Our pyfunc has an explicit signature with params; MLflow's hints about type hints and input
# examples do not apply and would only bury the output a person reads.
_MLFLOW_NOISE = r".*(type hints to the `predict` method|input example was not provided).*"


@dataclass(frozen=True)
class TrainingRecord:
    """Everything one training (or unlearning) run leaves in the registry."""

    run_name: str
    checkpoint: Path
    params: Mapping[str, Any]
    metrics: Mapping[str, float]
    version_tags: Mapping[str, str]  # lineage: data md5, git commit, params hash, stage, ...
    epoch_losses: Sequence[float] = ()
    artifacts: Sequence[Path] = field(default_factory=tuple)


@dataclass(frozen=True)
class RegisteredVersion:
    name: str
    version: int
    run_id: str


def log_and_register(record: TrainingRecord, model_name: str) -> RegisteredVersion:
    """Log params/metrics/losses/artifacts and the model in one run, then register a version."""
    with mlflow.start_run(run_name=record.run_name) as run:
        mlflow.log_params({k: str(v) for k, v in record.params.items()})
        for epoch, loss in enumerate(record.epoch_losses, start=1):
            mlflow.log_metric("train_loss", loss, step=epoch)
        mlflow.log_metrics(dict(record.metrics))
        mlflow.set_tags(dict(record.version_tags))
        for artifact in record.artifacts:
            mlflow.log_artifact(str(artifact))
        info = _log_inpainter(record.checkpoint)
    version = mlflow.register_model(info.model_uri, model_name, tags=dict(record.version_tags))
    return RegisteredVersion(model_name, int(version.version), run.info.run_id)


def _log_inpainter(checkpoint: Path):
    """Log weights + config as artifacts of a models-from-code pyfunc, with `components` bundled."""
    from mlflow.models import infer_signature

    example = np.zeros((1, 1, 32, 32), dtype=np.float32)
    signature = infer_signature(example, example, params={"mask": "centre", "extent": 16})
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_MLFLOW_NOISE)
        code = Path(tmp) / "components"
        shutil.copytree(Path(components.__file__).parent, code, ignore=shutil.ignore_patterns("__pycache__"))
        return mlflow.pyfunc.log_model(
            name="model",
            python_model=str(_PYFUNC_FILE),
            artifacts={"weights": str(checkpoint), "config": str(checkpoint.with_suffix(".json"))},
            code_paths=[str(code)],
            pip_requirements=_PIP_REQUIREMENTS,
            signature=signature,
        )


def move_alias(client: MlflowClient, name: str, alias: str, version: int, reason: str) -> None:
    """Point `alias` at `version` and record who-what-why on the version (no silent moves)."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    client.set_registered_model_alias(name, alias, str(version))
    client.set_model_version_tag(name, str(version), f"alias.{alias}.set_at", now)
    client.set_model_version_tag(name, str(version), f"alias.{alias}.reason", reason)


def resolve_version(client: MlflowClient, name: str, ref: str) -> int:
    """A version number or an alias (e.g. 'champion') -> version number."""
    try:
        if ref.isdigit():
            return int(client.get_model_version(name, ref).version)
        return int(client.get_model_version_by_alias(name, ref).version)
    except MlflowException as exc:
        raise UnknownVersionError(f"model {name!r} has no version or alias {ref!r}") from exc


def model_uri(name: str, ref: str) -> str:
    return f"models:/{name}/{ref}" if ref.isdigit() else f"models:/{name}@{ref}"


def load_inpainter(name: str, ref: str = "champion"):
    """The nn.Module behind a registered version (via the pyfunc loader, weights_only=True)."""
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_MLFLOW_NOISE)
            return mlflow.pyfunc.load_model(model_uri(name, ref)).unwrap_python_model().model
    except MlflowException as exc:
        raise RegistryError(f"cannot load {model_uri(name, ref)}: {exc.message}") from exc
