"""Where the MLflow store lives: SQLite + local artifacts inside the workspace, unless overridden.

The plain `./mlruns` file store is deprecated in MLflow 3, so the default is
`sqlite:///<workspace>/mlruns/mlflow.db` with artifacts in `<workspace>/mlruns/artifacts`.
`MLFLOW_TRACKING_URI` switches to a real server.
"""

from __future__ import annotations

import os
from pathlib import Path

import mlflow
from mlflow import MlflowClient

from components.locations import require_own_store, tracking_uri

OFFLINE_ENV = {"MLFLOW_DISABLE_TELEMETRY": "true", "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}


def connect(workspace: Path, experiment: str) -> MlflowClient:
    """Point MLflow at the workspace store and select (creating if needed) `experiment`."""
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)
    user_uri = os.environ.get("MLFLOW_TRACKING_URI")
    if not user_uri:
        require_own_store(workspace)
    uri = tracking_uri(workspace)
    exported = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    for key, value in exported.items():  # MLflow exports these; keep them from leaking into the next workspace
        if value is None:
            os.environ.pop(key, None)
    client = MlflowClient(uri, uri)
    if client.get_experiment_by_name(experiment) is None:
        artifacts = workspace / "mlruns" / "artifacts"
        artifacts.mkdir(parents=True, exist_ok=True)
        # Without an explicit location MLflow puts artifacts under ./mlruns of whatever the cwd is.
        client.create_experiment(experiment, artifact_location=None if user_uri else artifacts.resolve().as_uri())
    mlflow.set_experiment(experiment)
    return client
