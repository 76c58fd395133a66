"""Keep the ledger's lineage index (components/ledger/provenance.py) in step with the registry.

Written at every registration and alias move forgetflow makes; `reindex` rebuilds it from MLflow
(versions, lineage tags, aliases) and the DVC data versions (each version's `data_dvc_md5` names a
`.dir` object whose manifest lists what it was trained on). The guard that keeps serving aliases
off tainted versions lives here too, so every path that moves an alias asks the same question.
"""

from __future__ import annotations

import csv
import io
import json

from components import data
from components import ledger as ledgers
from components.errors import DataValidationError, RegistryError
from components.ledger import provenance
from flows.workspace import Workspace


def index_training_set(ws: Workspace, book: ledgers.Ledger) -> str:
    """The current data version's training split, catalogued once; returns its set id."""
    set_id = provenance.training_set_id(ws.data_version() or "none")
    if not provenance.has_set(book, set_id):
        provenance.record_samples(book, set_id, data.read_manifest(ws.data_dir))
    return set_id


def index_base(ws: Workspace, client, model_name: str, version: int, run_id: str, weights_sha: str, files: list[str]) -> None:
    from components import registry

    with ledgers.Ledger(ws.ledger_path) as book:
        set_id = index_training_set(ws, book)
        provenance.record_artifact(
            book,
            provenance.Artifact(
                provenance.version_id(model_name, version),
                "model_version",
                set_id,
                model_name,
                version,
                data_md5=ws.data_version(),
                weights_sha256=weights_sha,
                files=files,
                run_id=run_id,
                weights_path=registry.stored_file(client, model_name, version, ws.root),
            ),
        )


def index_featurenet(ws: Workspace, weights_sha: str, files: list[str], trained_on: list[data.Sample]) -> None:
    """The feature net's training set is the subset it saw (`featurenet.max_per_class`), so only a
    batch that forgets one of *those* samples makes it stale."""
    from components.data.forget_set import list_sha256

    with ledgers.Ledger(ws.ledger_path) as book:
        index_training_set(ws, book)  # catalogues the data version: subjects and labels resolve later
        set_id = provenance.training_set_id(
            ws.data_version() or "none", "featurenet-" + list_sha256([s.sample_id for s in trained_on])[:16]
        )
        if not provenance.has_set(book, set_id):
            provenance.record_samples(book, set_id, trained_on)
        provenance.record_artifact(
            book,
            provenance.Artifact(
                featurenet_id(weights_sha),
                "featurenet",
                set_id,
                data_md5=ws.data_version(),
                weights_sha256=weights_sha,
                files=files,
            ),
        )


def featurenet_id(weights_sha: str) -> str:
    return f"featurenet/{weights_sha[:16]}"


def index_unlearned(
    ws: Workspace,
    client,
    model_name: str,
    version: int,
    parent: int,
    batch_id: str,
    run_id: str,
    weights_sha: str,
    files: list[str],
) -> None:
    """An unlearned version inherits its parent's training set; its batch is on its provenance."""
    from components import registry

    weights_path = registry.stored_file(client, model_name, version, ws.root)
    with ledgers.Ledger(ws.ledger_path) as book:
        parent_id = provenance.version_id(model_name, parent)
        index = provenance.artifacts(book)
        if parent_id not in index:
            raise RegistryError(f"lineage index has no {parent_id}: run `forgetflow reindex`")
        provenance.record_artifact(
            book,
            provenance.Artifact(
                provenance.version_id(model_name, version),
                "model_version",
                index[parent_id].set_id,
                model_name,
                version,
                parent_id,
                batch_id,
                index[parent_id].data_md5,
                weights_sha,
                files,
                run_id,
                weights_path=weights_path,
            ),
        )


def sync_aliases(ws: Workspace, client, model_name: str) -> dict[str, int]:
    """Copy the registry's aliases and version tags of `model_name` into the index (MLflow is the
    source of truth; every forgetflow write to the registry is followed by this call)."""
    from components import registry

    current = registry.aliases(client, model_name)
    tags = {int(mv.version): dict(mv.tags) for mv in registry.versions(client, model_name)}
    with ledgers.Ledger(ws.ledger_path) as book:
        provenance.set_aliases(book, model_name, current)
        provenance.set_version_tags(book, model_name, tags)
    return current


def reindex(ws: Workspace, client, model_names: list[str]) -> int:
    """Rebuild the model-version part of the index from MLflow tags and DVC's data versions."""
    from components import registry

    count = 0
    for name in model_names:
        versions = registry.versions(client, name)
        for mv in versions:
            tags = mv.tags
            weights_path = None if tags.get("purged_by") else registry.stored_file(client, name, int(mv.version), ws.root)
            version = int(mv.version)
            common = {
                "model_name": name,
                "version": version,
                "weights_sha256": tags.get("weights_sha256"),
                "run_id": mv.run_id,
                "purged_by": tags.get("purged_by"),
                "weights_path": weights_path,
            }
            with ledgers.Ledger(ws.ledger_path) as book:
                if tags.get("stage") == "unlearned":  # inherits its parent's training set; its batch is on its lineage
                    index = provenance.artifacts(book)
                    parent = provenance.version_id(name, int(tags["parent_version"]))
                    set_id = index[parent].set_id if parent in index else ""
                    extra = {
                        "parent_id": parent,
                        "batch_id": tags.get("deletion_batch_id"),
                        "data_md5": tags.get("data_dvc_md5_before"),
                    }
                else:
                    md5 = tags.get("data_dvc_md5", "none")
                    set_id = provenance.training_set_id(md5)
                    if not provenance.has_set(book, set_id):
                        provenance.record_samples(book, set_id, manifest_at(ws, md5))
                    extra = {"data_md5": md5}
                artifact = provenance.Artifact(provenance.version_id(name, version), "model_version", set_id, **common, **extra)
                provenance.record_artifact(book, artifact)
            count += 1
        sync_aliases(ws, client, name)
    return count


def manifest_at(ws: Workspace, data_md5: str) -> list[data.Sample]:
    """The manifest of a past data version, read from its `.dir` object in the DVC cache."""
    from flows import dvc_repo

    try:
        listing = json.loads(dvc_repo.read_object(ws, data_md5))
        entry = next((e for e in listing if e["relpath"] == data.MANIFEST_NAME), None)
        if entry is None:
            raise RegistryError(f"data version {data_md5} has no {data.MANIFEST_NAME}")
        rows = list(csv.reader(io.StringIO(dvc_repo.read_object(ws, entry["md5"]))))
    except DataValidationError as exc:
        raise RegistryError(str(exc)) from None
    return [data.Sample(r[0], r[1], int(r[2]), *r[3:]) for r in rows[1:]]
