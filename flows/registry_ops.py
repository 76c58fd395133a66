"""Manual registry actions (promote, rollback, reject). Each asks the lineage index first: no alias
ever re-serves a version that holds data a promoted batch forgot, and there is no flag around it."""

from __future__ import annotations

from components import registry
from components.errors import RegistryError
from flows import transaction
from flows.compliance import taint
from flows.params import Params
from flows.workspace import Workspace


def promote_version(ws: Workspace, params: Params, ref: str, force: bool, reason: str) -> tuple[int, int | None]:
    """Make `ref` champion. A version whose gates failed needs --force and a reason (--force never
    overrides the taint check). Promoting a needs_review batch's version commits that batch."""
    client = registry.connect(ws.root, params.registry.experiment)
    name = params.registry.model_name
    version = registry.resolve_version(client, name, ref)
    tags = client.get_model_version(name, str(version)).tags
    if tags.get("gates_passed") == "false" and not (force and reason):
        raise RegistryError(
            f"v{version} failed its gates ({tags.get('gates', '?')}); use --force --reason TEXT to promote anyway"
        )
    taint.refuse_if_tainted(ws, name, version)
    why = f"manual promote: {reason or 'gates passed'}" + (" (forced)" if force else "")
    batch = transaction.pending_review(ws, tags.get("deletion_batch_id"))
    if batch is not None:
        return version, transaction.promote_reviewed(ws, params, batch.id, version, why)
    with transaction.batch_lock(ws):
        previous = registry.promote(client, name, version, why)
        taint.move_aliases_off_tainted(ws, client)
    return version, previous


def rollback(ws: Workspace, params: Params, reason: str) -> tuple[int, int]:
    """champion <- previous-champion, unless that version holds forgotten data (then refused)."""
    client = registry.connect(ws.root, params.registry.experiment)
    name = params.registry.model_name
    target = registry.aliases(client, name).get(registry.PREVIOUS)
    if target is None:
        raise RegistryError(
            f"{name}: nothing to roll back to (no {registry.PREVIOUS!r} alias: it is removed when a batch "
            "forgets data the older versions saw)"
        )
    taint.refuse_if_tainted(ws, name, target)
    with transaction.batch_lock(ws):
        demoted, restored = registry.rollback(client, name, reason or "manual rollback")
        taint.move_aliases_off_tainted(ws, client)
    return demoted, restored
