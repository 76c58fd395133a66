"""Manual registry actions (promote, rollback, trace) that also keep the ledger in step."""

from __future__ import annotations

from components import ledger as ledgers
from components import registry
from components.errors import RegistryError
from flows import batch_steps
from flows.params import Params
from flows.workspace import Workspace


def promote_version(ws: Workspace, params: Params, ref: str, force: bool, reason: str) -> tuple[int, int | None]:
    """Make `ref` champion. A version whose gates failed needs --force and a reason. Promoting the
    challenger of a needs_review batch also commits that batch's data deletion."""
    client = registry.connect(ws.root, params.registry.experiment)
    name = params.registry.model_name
    version = registry.resolve_version(client, name, ref)
    tags = client.get_model_version(name, str(version)).tags
    if tags.get("gates_passed") == "false" and not (force and reason):
        raise RegistryError(f"v{version} failed its gates ({tags.get('gates', '?')}); use --force --reason TEXT to promote anyway")
    why = f"manual promote: {reason or 'gates passed'}" + (" (forced)" if force else "")
    batch_id = tags.get("deletion_batch_id")
    ledger = ledgers.Ledger(ws.ledger_path)
    try:
        batch = ledger.batch(batch_id) if batch_id else None
        previous = registry.promote(client, name, version, why)
        if batch is not None and batch.status == "needs_review":
            batch_steps.commit_data(ws, params, batch.id, version)
            ledger.resolve_review(batch.id, version)
    finally:
        ledger.close()
    return version, previous


def rollback(ws: Workspace, params: Params, reason: str) -> tuple[int, int]:
    """champion <- previous-champion. The data deletion stays: forgotten samples do not come back."""
    client = registry.connect(ws.root, params.registry.experiment)
    name = params.registry.model_name
    demoted, restored = registry.rollback(client, name, reason or "manual rollback")
    batch_id = client.get_model_version(name, str(demoted)).tags.get("deletion_batch_id")
    if batch_id:
        ledger = ledgers.Ledger(ws.ledger_path)
        try:
            ledger.set_batch_status(batch_id, "rolled_back", f"champion returned to v{restored}: {reason}")
        finally:
            ledger.close()
    return demoted, restored
