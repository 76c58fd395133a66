"""Taint: which trained artifacts still hold data a promoted batch forgot, and the guards that
keep every serving alias off them.

An artifact is tainted by a promoted batch when its training set holds a sample that batch forgot
and no batch on its own lineage (itself or its parents) is that batch (the query is
`components/ledger/provenance.py` `tainted_by`). Every path that moves an alias asks here:
manual promote and rollback refuse (`refuse_if_tainted`, no flag around it), a promotion moves the
other aliases off (`move_aliases_off_tainted`), `contains` and `status` judge the serving aliases.
"""

from __future__ import annotations

from components import ledger as ledgers
from components.errors import RegistryError
from components.ledger import provenance
from flows.compliance import index
from flows.workspace import Workspace

SERVING = ("champion",)


def serving_aliases(challenger_serves: bool) -> tuple[str, ...]:
    return SERVING + (("challenger",) if challenger_serves else ())


def refuse_if_tainted(ws: Workspace, model_name: str, version: int) -> None:
    """No alias may bring back data a promoted batch forgot: there is no flag around this."""
    with ledgers.Ledger(ws.ledger_path) as book:
        index = provenance.artifacts(book)
        artifact_id = provenance.version_id(model_name, version)
        if artifact_id not in index:
            raise RegistryError(
                f"{artifact_id} is not in the lineage index, so it cannot be shown free of forgotten data; "
                "run `forgetflow reindex` first"
            )
        batches = provenance.tainted_by(book, index, artifact_id)
        if index[artifact_id].purged_by:
            raise RegistryError(f"v{version}'s weights were purged by {index[artifact_id].purged_by}; it cannot serve again")
    if batches:
        raise RegistryError(
            f"v{version} was trained on samples forgotten by {', '.join(batches)} and no unlearning on its lineage removed "
            f"them, so it cannot serve. Way forward: promote a version made after {batches[-1]}, re-run a batch with "
            "another method (`forgetflow run --method …`), or retrain (`dvc repro train_base`)."
        )


def tainted_artifacts(book: ledgers.Ledger) -> dict[str, list[str]]:
    """artifact id -> the promoted batches it still holds data of (purged artifacts included)."""
    index = provenance.artifacts(book)
    return {a: batches for a in index if (batches := provenance.tainted_by(book, index, a))}


def move_aliases_off_tainted(ws: Workspace, client) -> None:
    """No alias may point at a version that still holds forgotten data: `previous-champion` moves
    to the newest clean older version (usually none: every older version saw the data) or goes."""
    from components import registry  # MLflow: imported here, so `contains` answers without it

    with ledgers.Ledger(ws.ledger_path) as book:
        tainted = tainted_artifacts(book)
        artifacts = provenance.artifacts(book)
    unusable = set(tainted) | {a.id for a in artifacts.values() if a.purged_by}
    for name in sorted({a.model_name for a in artifacts.values() if a.model_name}):
        current = registry.aliases(client, name)
        versions = sorted(a.version for a in artifacts.values() if a.model_name == name and a.version)
        for alias, version in current.items():
            artifact_id = provenance.version_id(name, version)
            if artifact_id not in unusable:
                continue
            reason = f"v{version} holds data forgotten by {', '.join(tainted.get(artifact_id, ['a purge']))}"
            clean = [
                v
                for v in versions
                if v < version and provenance.version_id(name, v) not in unusable and v not in current.values()
            ]
            if alias == "previous-champion" and clean:
                registry.move_alias(client, name, alias, clean[-1], f"moved off v{version}: {reason}")
            else:
                registry.remove_alias(client, name, alias, version, reason)
        index.sync_aliases(ws, client, name)
