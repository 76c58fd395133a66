"""The only place that talks to MLflow: store location, runs, versions, aliases, lineage."""

from components.registry.models import (
    RegisteredVersion, TrainingRecord, load_inpainter, log_and_register, model_uri, move_alias, resolve_version,
)
from components.registry.store import connect, tracking_uri

__all__ = [
    "RegisteredVersion", "TrainingRecord", "connect", "load_inpainter", "log_and_register", "model_uri",
    "move_alias", "resolve_version", "tracking_uri",
]
