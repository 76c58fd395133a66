"""Lineage and aliases: which version came from which, and who moved `champion` when and why.

Aliases: `champion` (served), `previous-champion` (one step back, for rollback), `challenger`
(a candidate that failed a gate and waits for a person). Every move is recorded as tags on the
versions involved; nothing moves silently.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from components.errors import RegistryError
from components.ledger.provenance import LineageEntry, chain
from components.registry.models import move_alias

CHAMPION, PREVIOUS, CHALLENGER = "champion", "previous-champion", "challenger"
log = logging.getLogger(__name__)


def aliases(client: MlflowClient, name: str) -> dict[str, int]:
    """alias -> version for the registered model (empty if it does not exist yet)."""
    try:
        return {alias: int(version) for alias, version in client.get_registered_model(name).aliases.items()}
    except MlflowException:
        return {}


def restore_aliases(client: MlflowClient, name: str, snapshot: dict[str, int]) -> None:
    """Put every alias back where `snapshot` had it (used when a batch rolls back)."""
    for alias in set(aliases(client, name)) - set(snapshot):
        client.delete_registered_model_alias(name, alias)
    for alias, version in snapshot.items():
        client.set_registered_model_alias(name, alias, str(version))


def versions(client: MlflowClient, name: str) -> list:
    """Every version of a registered model, with its tags, in one query (none if it does not exist)."""
    try:
        return sorted(client.search_model_versions(f"name='{name}'"), key=lambda v: int(v.version))
    except MlflowException:
        return []


def version_for_batch(client: MlflowClient, name: str, batch_id: str) -> int | None:
    """The version a deletion batch registered, if any: what makes a rerun idempotent."""
    matches = [int(v.version) for v in versions(client, name) if v.tags.get("deletion_batch_id") == batch_id]
    return min(matches) if matches else None


def promote(client: MlflowClient, name: str, version: int, reason: str) -> int | None:
    """champion -> `version`, previous-champion -> the old champion. Returns the old champion."""
    old = aliases(client, name).get(CHAMPION)
    if old == version:
        return old
    if old is not None:
        move_alias(client, name, PREVIOUS, old, f"replaced by v{version}: {reason}")
    move_alias(client, name, CHAMPION, version, reason)
    if aliases(client, name).get(CHALLENGER) == version:
        client.delete_registered_model_alias(name, CHALLENGER)
    return old


def set_challenger(client: MlflowClient, name: str, version: int, reason: str) -> None:
    move_alias(client, name, CHALLENGER, version, reason)


def rollback(client: MlflowClient, name: str, reason: str) -> tuple[int, int]:
    """champion <- previous-champion; previous-champion <- that version's parent. Returns (from, to)."""
    current = aliases(client, name)
    if CHAMPION not in current or PREVIOUS not in current:
        raise RegistryError(f"{name}: nothing to roll back to (no {PREVIOUS!r} alias)")
    demoted, restored = current[CHAMPION], current[PREVIOUS]
    move_alias(client, name, CHAMPION, restored, f"rollback from v{demoted}: {reason}")
    client.set_model_version_tag(name, str(demoted), "rolled_back", f"champion returned to v{restored}: {reason}")
    parent = client.get_model_version(name, str(restored)).tags.get("parent_version", "")
    if parent.isdigit():
        move_alias(client, name, PREVIOUS, int(parent), f"parent of v{restored} after rollback")
    else:
        client.delete_registered_model_alias(name, PREVIOUS)
    return demoted, restored


def remove_alias(client: MlflowClient, name: str, alias: str, version: int, reason: str) -> None:
    """Take `alias` off `version`, recording why on the version (no silent moves)."""
    client.delete_registered_model_alias(name, alias)
    client.set_model_version_tag(name, str(version), f"alias.{alias}.removed", reason)


def delete_version_and_run(client: MlflowClient, name: str, version: int) -> None:
    """A rolled-back batch leaves nothing: its version, its run and the logged model's files go."""
    mv = client.get_model_version(name, str(version))
    client.delete_model_version(name, str(version))
    _collect(client, mv.run_id, logged_model_id(mv.source))


SERVER_GC = "mlflow gc on the tracking server's backend store"


def purge_weights(client: MlflowClient, name: str, version: int, batch_id: str) -> str | None:
    """Delete a tainted version's run and weights for good; keep the version and its lineage tags,
    marked `purged_by`. Returns None when there was nothing left to delete, "" when the files are
    gone, or what must still run where they live (a tracking server: its store is not ours to collect)."""
    mv = client.get_model_version(name, str(version))
    if mv.tags.get("purged_by"):
        return None
    collected = _collect(client, mv.run_id, logged_model_id(mv.source))
    client.set_model_version_tag(name, str(version), "purged_by", batch_id)
    if not collected:
        client.set_model_version_tag(name, str(version), "purge_pending", SERVER_GC)
    return "" if collected else SERVER_GC


def weights_collected(client: MlflowClient, name: str, version: int) -> bool:
    """Has the store really removed a purged version's run (a server's `mlflow gc` ran)?"""
    try:
        client.get_run(client.get_model_version(name, str(version)).run_id)
    except MlflowException:
        return True
    return False


def logged_model_id(source: str | None) -> str | None:
    """MLflow 3 keeps a version's files with its logged model (`models:/m-…`), not with the run."""
    return source.removeprefix("models:/") if source and source.startswith("models:/m-") else None


def _collect(client: MlflowClient, run_id: str | None, model_id: str | None) -> bool:
    """Mark run and logged model deleted, then `mlflow gc` them (MLflow's own collector), in-process.
    Returns False when only the marking was ours to do (a tracking server).

    Only these ids are collected: gc without --logged-model-ids would take every deleted model."""
    from mlflow.cli import gc

    args = ["--backend-store-uri", client.tracking_uri]
    for run in [run_id] if run_id else []:
        try:
            if client.get_run(run).info.lifecycle_stage != "deleted":
                client.delete_run(run)
        except MlflowException:
            continue  # already collected
        args += ["--run-ids", run]
    if model_id:
        try:
            client.delete_logged_model(model_id)
        except MlflowException:
            model_id = None  # already collected
        else:
            args += ["--logged-model-ids", model_id]
    if len(args) > 2 and client.tracking_uri.startswith(("http://", "https://")):
        # a tracking server: its database is not ours to open; the run and logged model are marked
        # deleted above, and the server's own `mlflow gc --backend-store-uri DB` removes their files
        log.warning(
            "run and model of %s marked deleted on %s: run `mlflow gc` against the server's backend store to remove their files",
            run_id,
            client.tracking_uri,
        )
        return False
    if len(args) > 2:
        # gc sets the global tracking URI (and MLFLOW_TRACKING_URI) to --tracking-uri, whose default
        # is frozen at import: pass it, and put the environment back for the next workspace
        before = os.environ.get("MLFLOW_TRACKING_URI")
        try:
            with contextlib.redirect_stdout(io.StringIO()) as said:  # gc echoes to stdout; ours is for results
                gc.main(args=[*args, "--tracking-uri", client.tracking_uri], standalone_mode=False)
            log.info("mlflow gc: %s", said.getvalue().strip())
        finally:
            if before is None:
                os.environ.pop("MLFLOW_TRACKING_URI", None)
            else:
                os.environ["MLFLOW_TRACKING_URI"] = before
    return True


def trace(client: MlflowClient, name: str, ref: str) -> list[LineageEntry]:
    """The chain ref -> parent -> ... -> base, newest first, read from the registry itself."""
    found = versions(client, name)
    return chain(
        {int(v.version): dict(v.tags) for v in found}, aliases(client, name), ref, {int(v.version): v.run_id for v in found}
    )
