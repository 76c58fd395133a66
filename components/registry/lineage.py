"""Lineage and aliases: which version came from which, and who moved `champion` when and why.

Aliases: `champion` (served), `previous-champion` (one step back, for rollback), `challenger`
(a candidate that failed a gate and waits for a person). Every move is recorded as tags on the
versions involved; nothing moves silently.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from components.errors import RegistryError
from components.registry.models import move_alias, resolve_version

CHAMPION, PREVIOUS, CHALLENGER = "champion", "previous-champion", "challenger"


@dataclass(frozen=True)
class LineageEntry:
    version: int
    aliases: list[str]
    tags: dict[str, str]
    run_id: str | None


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


def version_for_batch(client: MlflowClient, name: str, batch_id: str) -> int | None:
    """The version a deletion batch registered, if any: what makes a rerun idempotent."""
    try:
        versions = client.search_model_versions(f"name='{name}'")
    except MlflowException:
        return None
    matches = [int(v.version) for v in versions if v.tags.get("deletion_batch_id") == batch_id]
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


def delete_version(client: MlflowClient, name: str, version: int) -> None:
    """Remove a half-registered version when its batch rolls back."""
    client.delete_model_version(name, str(version))


def trace(client: MlflowClient, name: str, ref: str) -> list[LineageEntry]:
    """The chain ref -> parent -> ... -> base, newest first."""
    by_alias: dict[int, list[str]] = {}
    for alias, version in aliases(client, name).items():
        by_alias.setdefault(version, []).append(alias)
    chain, version, seen = [], resolve_version(client, name, ref), set()
    while version is not None and version not in seen:
        seen.add(version)
        mv = client.get_model_version(name, str(version))
        chain.append(LineageEntry(version, sorted(by_alias.get(version, [])), dict(mv.tags), mv.run_id))
        parent = mv.tags.get("parent_version", "")
        version = int(parent) if parent.isdigit() else None
    return chain
