"""`forgetflow contains`: does any model still hold these samples? Answered from the ledger's
lineage index (SQLite) alone, so it needs neither MLflow nor torch and stays fast at 70k images."""

from __future__ import annotations

from components import data
from components import ledger as ledgers
from components.ledger import provenance
from flows.compliance.taint import serving_aliases
from flows.params import Params
from flows.workspace import Workspace


def contains(ws: Workspace, params: Params, kind: str, selector: list[str]) -> dict:
    """Per artifact: trained on / still holds / removed by which batch / purged; and the verdict on
    the served aliases. Unknown or malformed ids are an IntakeError (exit 2), like `request`."""
    with ledgers.Ledger(ws.ledger_path) as book:
        forgotten = book.forgotten_by()
        ids = ledgers.resolve(_known(ws, book, kind, selector), kind, selector, forgotten)
        rows = provenance.contains(book, ids)
        verdicts = {b: book.batch(b).details.get("verdicts", {}) for c in rows for b in c.unlearned}
    serving = set(serving_aliases(params.registry.challenger_serves))
    out = []
    for c in rows:
        out.append(
            {
                "artifact": c.artifact.id,
                "kind": c.artifact.kind,
                "aliases": c.aliases,
                "trained_on": c.trained_on,
                "holds": len(c.contained),
                "unlearned_by": c.unlearned,
                "verdicts": {b: verdicts[b] for b in c.unlearned},
                "purged_by": c.artifact.purged_by,
                "deletion_pending": c.artifact.purge_pending,
                "tainted_by": c.tainted_by,
                "samples_held": c.contained[:100],
            }
        )
    holding = [r for r in out if r["holds"] and set(r["aliases"]) & serving]
    return {
        "n_samples": len(ids),
        "n_forgotten": sum(1 for i in ids if i in forgotten),
        "forgotten_by": sorted({forgotten[i] for i in ids if i in forgotten}),
        "serving_aliases": sorted(serving),
        "serving_contains": [f"{r['artifact']}@{','.join(sorted(set(r['aliases']) & serving))}" for r in holding],
        "artifacts": out,
    }


def _known(ws: Workspace, book: ledgers.Ledger, kind: str, selector: list[str]) -> list[data.Sample]:
    """The samples the selector can name. Once the current data version is catalogued (a model was
    trained on it, or on a superset: batches only remove) the ledger's catalogue holds every sample
    of the manifest, so indexed queries answer; else the manifest is read too."""
    if provenance.has_set(book, provenance.training_set_id(ws.data_version() or "none")):
        return provenance.catalogue_matching(book, kind, selector)
    manifest = data.read_manifest(ws.data_dir) if (ws.data_dir / data.MANIFEST_NAME).is_file() else []
    return list(({s.sample_id: s for s in manifest} | {s.sample_id: s for s in provenance.catalogue(book)}).values())
