"""Is the model behind an alias really there? Read its weights the way serving would, and check them.

Aliases, tags and the lineage index can all say "champion v2" while the files behind it are gone
(a copied workspace once purged the original's weights through absolute artifact paths). So the
check goes through MLflow's own artifact API (a local store or a tracking server alike), hashes
the weights file against the `weights_sha256` tag written at registration, and opens it with
`torch.load(weights_only=True)`.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import mlflow
import torch
import yaml
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

STATES = ("ok", "missing", "corrupt", "purged")


@dataclass(frozen=True)
class WeightsCheck:
    version: int
    state: str  # one of STATES; purged = removed on purpose by a deletion batch, recorded as such
    detail: str

    @property
    def servable(self) -> bool:
        return self.state == "ok"


def check(client: MlflowClient, name: str, version: int) -> WeightsCheck:
    try:
        mv = client.get_model_version(name, str(version))
    except MlflowException:
        return WeightsCheck(version, "missing", f"{name} v{version} is not in the registry")
    if mv.tags.get("purged_by"):
        return WeightsCheck(version, "purged", f"purged by {mv.tags['purged_by']}")
    with tempfile.TemporaryDirectory() as tmp:
        try:
            weights = _download(f"models:/{name}/{version}", "weights", Path(tmp))
        except (MlflowException, OSError, KeyError, TypeError, yaml.YAMLError) as exc:
            return WeightsCheck(
                version,
                "missing",
                f"weights cannot be read from the registry ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else 'no detail'})",
            )
        digest = hashlib.sha256(weights.read_bytes()).hexdigest()
        expected = mv.tags.get("weights_sha256")
        if expected and digest != expected:
            return WeightsCheck(version, "corrupt", f"weights sha256 {digest[:16]}… differ from the registered {expected[:16]}…")
        try:
            torch.load(weights, map_location="cpu", weights_only=True)
        except Exception as exc:
            return WeightsCheck(version, "corrupt", f"weights do not load ({type(exc).__name__})")
    return WeightsCheck(version, "ok", f"sha256 {digest[:16]}… matches" if expected else "loads (no sha256 was registered)")


def _download(uri: str, artifact: str, into: Path) -> Path:
    """One pyfunc artifact of a model (its path read from the MLmodel file), without the rest."""
    previous = os.environ.get("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR")
    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"  # a check prints its verdict, not bars
    try:
        mlmodel = Path(mlflow.artifacts.download_artifacts(artifact_uri=f"{uri}/MLmodel", dst_path=str(into)))
        path = _artifact_path(mlmodel, artifact)
        return Path(mlflow.artifacts.download_artifacts(artifact_uri=f"{uri}/{path}", dst_path=str(into)))
    finally:
        if previous is None:
            os.environ.pop("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", None)
        else:
            os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = previous


def _artifact_path(mlmodel: Path, artifact: str) -> str:
    """Where the pyfunc keeps one of its artifacts ("weights", "config"), relative to the model folder."""
    return yaml.safe_load(mlmodel.read_text())["flavors"]["python_function"]["artifacts"][artifact]["path"]


def stored_file(client: MlflowClient, name: str, version: int, root: Path) -> str | None:
    """The served weights file relative to `root`, when the registry keeps it there (a local store).
    Recorded in the lineage index so `forgetflow status` can hash it without importing MLflow."""
    from mlflow.utils.file_utils import local_file_uri_to_path

    from components.registry.lineage import logged_model_id

    model_id = logged_model_id(client.get_model_version(name, str(version)).source)
    location = client.get_logged_model(model_id).artifact_location if model_id else ""
    if not location.startswith("file:"):
        return None
    folder = Path(local_file_uri_to_path(location))
    path = (folder / _artifact_path(folder / "MLmodel", "weights")).resolve()
    return str(path.relative_to(root.resolve())) if root.resolve() in path.parents else None
