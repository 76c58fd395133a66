"""Where a workspace's MLflow store lives, importable without MLflow (bookkeeping commands must
answer in well under a second; `import mlflow` alone takes about 2 s here)."""

from __future__ import annotations

import os
from pathlib import Path


def tracking_uri(workspace: Path) -> str:
    """`MLFLOW_TRACKING_URI` (a real server) if set, else the workspace's SQLite store."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{(workspace / 'mlruns' / 'mlflow.db').resolve()}"
