"""`forgetflow audit`: what a user relies on, re-read from where it lives rather than assumed.

- data/: every manifest row well-formed, every file re-hashed, DVC's own status (Great Expectations);
- the ledger's history: the hash chain holds from its first event to its newest;
- every alias of every registered model: its weights read through MLflow, hashed against the
  sha256 registered with them and opened (a copied workspace once deleted a champion's weights
  while every alias, tag and index still named it).
"""

from __future__ import annotations

from dataclasses import dataclass

from components import ledger as ledgers
from components import registry
from flows.params import Params
from flows.workspace import Workspace


@dataclass(frozen=True)
class Finding:
    part: str
    ok: bool
    detail: str


def run(ws: Workspace, params: Params) -> list[Finding]:
    from flows.batch_steps import audit as data_audit

    data = data_audit(ws)
    return [Finding("data/", data.success, data.summary()), ledger(ws), *weights(ws, params)]


def ledger(ws: Workspace) -> Finding:
    with ledgers.Ledger(ws.ledger_path) as book:
        report = book.verify_chain()
    if not report.ok:
        return Finding("ledger", False, f"history tampered with: {report.broken}")
    return Finding("ledger", True, f"{report.events} events; hash chain intact, head #{report.head.seq} {report.head.hash[:16]}…")


def weights(ws: Workspace, params: Params) -> list[Finding]:
    client = registry.connect(ws.root, params.registry.experiment)
    return [
        Finding(f"{name}@{alias}", check.servable, f"v{version} {check.state}: {check.detail}")
        for name in (params.registry.model_name, params.registry.conv_ae_model_name)
        for alias, version in sorted(registry.aliases(client, name).items())
        for check in [registry.check_weights(client, name, version)]
    ]
