"""`forgetflow status`: what a workspace serves, what waits, and when the next scheduled run looks.

Answers from files and the ledger only (no MLflow, no Prefect import), so it stays under a second.
The ledger mirrors the registry's aliases and version tags after every registry write forgetflow
makes (flows/compliance/index.py `sync_aliases`); `forgetflow reindex` rebuilds the mirror from MLflow.
Only `lineage` reads MLflow, and only when asked to or when the ledger never mirrored the registry.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from components import ledger as ledgers
from components.ledger import policy, provenance
from flows import service_state
from flows.params import Params
from flows.workspace import Workspace


def summary(ws: Workspace, params: Params, at: datetime | None = None) -> dict[str, Any]:
    at = at or datetime.now(UTC)
    name = params.registry.model_name
    with ledgers.Ledger(ws.ledger_path) as book:
        requests = book.requests()
        review = [b.id for b in book.batches() if b.status == "needs_review"]
        by_alias = provenance.model_aliases(book, name)
        tags = provenance.version_tags(book, name)
        artifacts = provenance.artifacts(book)
    champion = by_alias.get("champion")
    decision = policy.decide(requests, params.schedule, at)
    states = [policy.deadline_state(r, at, params.schedule.deadline_margin_days) for r in requests]
    metrics_file = ws.metrics_dir / "base.json"
    return {
        "workspace": str(ws.root),
        "data_version": ws.data_version(),
        "model": name,
        "aliases": by_alias,
        "champion": None
        if champion is None
        else {
            "version": champion,
            **{k: tags.get(champion, {}).get(k) for k in ("stage", "data_dvc_md5", "git_commit", "deletion_batch_id")},
        },
        "weights": {alias: weights_state(ws, artifacts.get(provenance.version_id(name, v))) for alias, v in by_alias.items()},
        "base_metrics": json.loads(metrics_file.read_text()) if metrics_file.is_file() else None,
        "requests": {
            "pending": sum(r.status == "pending" for r in requests),
            "pending_samples": decision.pending_samples,
            "processing": sum(r.status == "processing" for r in requests),
            "failed": sum(r.status == "failed" for r in requests),
            "at_risk": states.count("at risk"),
            "overdue": [r.id for r in decision.overdue],
            "oldest_pending": _brief(decision.oldest_pending, "created_at"),
            "nearest_deadline": _brief(decision.nearest_due, "due_at"),
        },
        "needs_review": review,
        "schedule": service_state.describe(ws, at),
        "next_run_would": {"run": decision.run, "reason": decision.reason},
    }


def lineage(ws: Workspace, params: Params, ref: str, from_registry: bool = False) -> list[provenance.LineageEntry]:
    """`forgetflow trace`: version `ref` -> parent -> ... -> base, newest first, from the ledger's mirror
    of the registry, or from MLflow itself (asked for, or a workspace whose registry was never mirrored)."""
    chain = []
    if not from_registry:
        with ledgers.Ledger(ws.ledger_path) as book:
            chain = provenance.trace(book, params.registry.model_name, ref)
    if not chain:
        from components import registry

        client = registry.connect(ws.root, params.registry.experiment)
        chain = registry.trace(client, params.registry.model_name, ref)
    return chain


def weights_state(ws: Workspace, artifact: provenance.Artifact | None) -> str:
    """ok | missing | corrupt | purged | unchecked: the weights file behind an alias, hashed against
    the sha256 registered with it. `unchecked` when the index does not know the file (a tracking
    server's store, or a ledger from before the check: `forgetflow reindex`); `forgetflow audit`
    reads every alias's weights through MLflow itself."""
    if artifact is None or artifact.purged_by:
        return "purged" if artifact else "missing"
    if not artifact.weights_path or not artifact.weights_sha256:
        return "unchecked"
    path = ws.root / artifact.weights_path
    if not path.is_file():
        return "missing"
    return "ok" if hashlib.sha256(path.read_bytes()).hexdigest() == artifact.weights_sha256 else "corrupt"


def _brief(request: ledgers.Request | None, stamp: str) -> dict[str, str] | None:
    return None if request is None else {"id": request.id, stamp: getattr(request, stamp)}
