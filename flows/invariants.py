"""Every invariant a user relies on, checked in one place: after a fault, after a recovery, in a soak.

Each check reads the state where it lives (the ledger, MLflow, DVC's record and cache, git, the
registry's weights) and says in one line what does not hold. An empty list means the workspace
is consistent. It is the oracle of the fault matrix (tests/flows/test_faults.py) and the soak
(benchmarks/soak.py); `forgetflow audit` covers the part a user re-checks by hand.
"""

from __future__ import annotations

from collections import Counter

from components import data, registry
from components import ledger as ledgers
from components.ledger import provenance
from flows import data_commit, dvc_repo
from flows.compliance import taint
from flows.params import Params
from flows.workspace import Workspace, git

SERVING = ("champion", "challenger")


def check(ws: Workspace, params: Params) -> list[str]:
    """What does not hold, one line each (empty: consistent). Run when no batch is in flight."""
    with ledgers.Ledger(ws.ledger_path) as book:
        chain = book.verify_chain()
        requests, batches, tombstones = book.requests(), book.batches(), book.forgotten_by()
        mirrored = {name: provenance.model_aliases(book, name) for name in _models(params)}
        artifacts = provenance.artifacts(book)
        tainted = taint.tainted_artifacts(book)
    problems = [] if chain.ok else [f"ledger: {chain.broken}"]
    problems += _queue(requests, batches)
    problems += _registry(ws, params, mirrored, artifacts, tainted)
    problems += _data(ws, tombstones, batches)
    return problems


def _models(params: Params) -> tuple[str, str]:
    return params.registry.model_name, params.registry.conv_ae_model_name


def _queue(requests: list[ledgers.Request], batches: list[ledgers.Batch]) -> list[str]:
    """No request lost or doubled: each open sample in one request, each processing request in a
    batch that holds it, no batch left running."""
    problems = [f"{b.id} is still running (an interrupted batch not recovered)" for b in batches if b.status == "running"]
    open_samples = Counter(s for r in requests if r.status in ("pending", "processing") for s in r.sample_ids)
    problems += [f"sample {s} is open in {n} requests" for s, n in open_samples.items() if n > 1]
    by_id = {b.id: b for b in batches}
    for r in requests:
        batch = by_id.get(r.batch_id or "")
        if r.status == "processing" and (
            batch is None or batch.status not in ("running", "needs_review") or r.id not in batch.request_ids
        ):
            problems.append(f"{r.id} is processing but no running or reviewed batch holds it")
        if r.status == "done" and (batch is None or batch.status not in ("promoted", "rolled_back")):
            problems.append(f"{r.id} is done but its batch {r.batch_id} was not promoted")
    named = Counter(i for b in batches if b.status in ("running", "needs_review") for i in b.request_ids)
    problems += [f"{i} is claimed by {n} open batches" for i, n in named.items() if n > 1]
    return problems


def _registry(
    ws: Workspace,
    params: Params,
    mirrored: dict[str, dict[str, int]],
    artifacts: dict[str, provenance.Artifact],
    tainted: dict[str, list[str]],
) -> list[str]:
    """The ledger mirrors MLflow; every version is indexed; no serving alias on tainted, purged,
    missing or corrupt weights."""
    client = registry.connect(ws.root, params.registry.experiment)
    problems = []
    for name in _models(params):
        current = registry.aliases(client, name)
        if current != mirrored[name]:
            problems.append(f"{name}: ledger mirrors aliases {mirrored[name]}, MLflow has {current}")
        versions = {provenance.version_id(name, int(v.version)) for v in registry.versions(client, name)}
        indexed = {a for a, art in artifacts.items() if art.model_name == name}
        problems += [f"{v} is in MLflow but not in the lineage index" for v in sorted(versions - indexed)]
        problems += [f"{a} is indexed but not in MLflow" for a in sorted(indexed - versions)]
        for alias, version in current.items():
            artifact_id = provenance.version_id(name, version)
            if alias in SERVING and artifact_id in tainted:
                problems.append(
                    f"{name}@{alias} serves v{version}, which holds data forgotten by {', '.join(tainted[artifact_id])}"
                )
            weights = registry.check_weights(client, name, version)
            if not weights.servable:
                problems.append(f"{name}@{alias} v{version}: weights {weights.state} ({weights.detail})")
    return problems


def _data(ws: Workspace, tombstones: dict[str, str], batches: list[ledgers.Batch]) -> list[str]:
    """data/ = data.dvc's record = the manifest, nothing forgotten in it, committed in git and tagged."""
    problems = []
    record = dvc_repo.listing(ws)
    on_disk = dvc_repo.files_on_disk(ws)
    if on_disk != set(record):
        extra, missing = sorted(on_disk - set(record)), sorted(set(record) - on_disk)
        problems.append(f"data/ differs from data.dvc: {len(extra)} extra {extra[:3]}, {len(missing)} missing {missing[:3]}")
    manifest = data.read_manifest(ws.data_dir)
    listed = {s.relpath for s in manifest} | {data.MANIFEST_NAME}
    if listed != set(record):
        problems.append(f"the manifest lists {len(listed)} files, data.dvc records {len(record)}")
    back = sorted({s.sample_id for s in manifest} & set(tombstones))
    if back:
        problems.append(f"{len(back)} forgotten sample(s) are in data/ again, e.g. {back[:3]}")
    if git(ws.root, "status", "--porcelain", "--", "data.dvc", ws.forgotten_file.name):
        problems.append("data.dvc or the forgotten list has uncommitted changes")
    tags = set((git(ws.root, "tag") or "").split())
    problems += [
        f"{b.id} was promoted but git has no tag {data_commit.tag_for(b.id)}"
        for b in batches
        if b.status == "promoted" and data_commit.tag_for(b.id) not in tags
    ]
    problems += [
        f"{b.id} is {b.status} but its data-commit journal is left behind"
        for b in batches
        if b.status != "running" and any((ws.batch_dir(b.id) / d).exists() for d in ("backup", "trash"))
    ]
    return problems
