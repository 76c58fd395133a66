"""The only place that talks to MLflow: store location, runs, versions, aliases, lineage."""

from components.registry.lineage import (
    CHALLENGER,
    CHAMPION,
    PREVIOUS,
    LineageEntry,
    aliases,
    delete_version_and_run,
    promote,
    purge_weights,
    remove_alias,
    restore_aliases,
    rollback,
    set_challenger,
    trace,
    version_for_batch,
    versions,
    weights_collected,
)
from components.registry.models import (
    RegisteredVersion,
    TrainingRecord,
    load_inpainter,
    log_and_register,
    model_uri,
    move_alias,
    resolve_version,
)
from components.registry.tracking import connect, tracking_uri
from components.registry.weights import WeightsCheck, stored_file
from components.registry.weights import check as check_weights

__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "PREVIOUS",
    "LineageEntry",
    "RegisteredVersion",
    "TrainingRecord",
    "aliases",
    "connect",
    "delete_version_and_run",
    "load_inpainter",
    "log_and_register",
    "model_uri",
    "move_alias",
    "promote",
    "purge_weights",
    "remove_alias",
    "resolve_version",
    "restore_aliases",
    "rollback",
    "set_challenger",
    "trace",
    "tracking_uri",
    "version_for_batch",
    "versions",
    "weights_collected",
    "WeightsCheck",
    "check_weights",
    "stored_file",
]
