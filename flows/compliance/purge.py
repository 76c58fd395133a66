"""Purge: make a promoted batch final. Forgotten data leaves every store, tainted weights go.

Built on the tools' own collectors:
- `dvc gc --workspace --force [--cloud]` keeps only the objects the current workspace uses. Every
  older data version is a superset of today's, so its `.dir` listing and the forgotten samples'
  objects go, while an object whose identical bytes are still part of kept data stays.
  Where it does not fit: it also drops objects that other git branches/tags or other workspaces
  sharing this cache (or remote) still need; a workspace that shares its cache must not purge.
- `mlflow gc` (in-process, scoped to the ids we deleted) removes the runs and logged models of
  tainted versions; the versions stay in the registry with their lineage tags and `purged_by`.
Tainted checkpoints that are outputs of a DVC stage (models/base.pt) are replaced by a stub that
names the batch, the stage is frozen and re-committed, so `dvc status` stays clean and a later
`dvc checkout` cannot bring the weights back. The live feature net is never stubbed: it is retrained
(flows/follow_up.py) and the purge after that collects the old one.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from components import data, registry
from components import ledger as ledgers
from components.errors import BadInputError, ForgetflowError
from components.ledger import provenance
from flows import dvc_repo
from flows.compliance import taint
from flows.params import Params
from flows.workspace import UNLEARNED_DIR, Workspace, git

log = logging.getLogger(__name__)
STAGE_OF = {"models/base.pt": "train_base", "models/conv_ae.pt": "train_conv_ae"}


@dataclass(frozen=True)
class PurgeReport:
    batch_ids: list[str]
    cache_objects: int
    cache_bytes: int
    remote_objects: int
    remote_bytes: int | None  # None: the remote is not a local directory we can measure
    model_versions: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    data_versions: list[str] = field(default_factory=list)
    pending_server_gc: list[str] = field(default_factory=list)  # weights only marked deleted on a tracking server

    @property
    def removed_anything(self) -> bool:
        return bool(self.cache_objects or self.remote_objects or self.model_versions or self.files)

    def summary(self) -> str:
        if not self.removed_anything:
            return f"nothing to remove: {', '.join(self.batch_ids) or 'every promoted batch'} already purged"
        remote = f"; remote: {self.remote_objects} objects" + (f" ({self.remote_bytes:,} bytes)" if self.remote_bytes else "")
        collected = [v for v in self.model_versions if v not in self.pending_server_gc]
        pending = (
            (
                f"; marked deleted on the tracking server, files still there until `mlflow gc` runs on the server: "
                f"{', '.join(self.pending_server_gc)}"
            )
            if self.pending_server_gc
            else ""
        )
        return (
            f"purged {', '.join(self.batch_ids) or 'earlier batches'}: DVC cache {self.cache_objects} objects "
            f"({self.cache_bytes:,} bytes){remote if self.remote_objects else ''}; model weights "
            f"{', '.join(collected) or 'none'}{pending}; workspace files {len(self.files)}; "
            f"data versions made unrestorable {len(self.data_versions)}"
        )


def purge(ws: Workspace, params: Params, batch_id: str | None = None) -> PurgeReport:
    """Remove what promoted batches forgot from the DVC cache/remote and the weights that saw it.

    Callers hold the batch lock (`forgetflow purge` takes it; a batch's own auto-purge has it)."""
    with ledgers.Ledger(ws.ledger_path) as book:
        targets = _targets(book, batch_id)
        tainted = taint.tainted_artifacts(book)
        artifacts = provenance.artifacts(book)
    client = registry.connect(ws.root, params.registry.experiment)
    _confirm_server_gc(ws, client, artifacts)
    versions, files, pending = [], [], []
    for artifact_id, batches in tainted.items():
        artifact = artifacts[artifact_id]
        if artifact.purged_by or _live_featurenet(ws, artifact):
            continue
        state = (
            registry.purge_weights(client, artifact.model_name, artifact.version, batches[0])
            if artifact.kind == "model_version"
            else None
        )
        if state is not None:
            versions.append(artifact_id)
        if state:
            pending.append(artifact_id)
        files += _remove_files(ws, artifact, batches[0])
        with ledgers.Ledger(ws.ledger_path) as book:
            provenance.mark_purged(book, artifact_id, batches[0], state or None)
    if any(f.startswith(f"{UNLEARNED_DIR}/") for f in files):
        dvc_repo.add(ws, [ws.root / UNLEARNED_DIR])
    stale = _stale_data_versions(ws, artifacts)
    with ledgers.Ledger(ws.ledger_path) as book:
        provenance.record_purged_data(book, [m for m in stale if m not in provenance.purged_data(book)], (targets or ["?"])[-1])
    cache = _gc(ws)
    report = PurgeReport(targets, cache[0], cache[1], cache[2], cache[3], versions, files, stale, pending)
    dvc_repo.commit_pointers(ws, f"forgetflow: purge {', '.join(targets) or 'tainted artifacts'}")
    with ledgers.Ledger(ws.ledger_path) as book:
        provenance.record_purge(book, targets, asdict(report))
    return report


def _confirm_server_gc(ws: Workspace, client, artifacts: dict[str, provenance.Artifact]) -> None:
    """Weights marked deleted on a tracking server count as gone only once the server collected them."""
    for artifact in artifacts.values():
        if artifact.purge_pending and registry.weights_collected(client, artifact.model_name, artifact.version):
            with ledgers.Ledger(ws.ledger_path) as book:
                provenance.confirm_collected(book, artifact.id)


def _targets(book: ledgers.Ledger, batch_id: str | None) -> list[str]:
    promoted = [b.id for b in book.batches() if b.status in ("promoted", "rolled_back") and b.data_md5_after]
    if batch_id is None:
        done = {b for p in provenance.purges(book) for b in p["batch_ids"]}
        return [b for b in promoted if b not in done]
    if batch_id not in {b.id for b in book.batches()}:
        raise BadInputError(f"no batch {batch_id!r} in this workspace (see `forgetflow events`)")
    if batch_id not in promoted:
        raise BadInputError(f"{batch_id} is {book.batch(batch_id).status}: only a promoted batch's data can be purged")
    return [batch_id]


def _remove_files(ws: Workspace, artifact: provenance.Artifact, batch_id: str) -> list[str]:
    """Workspace files of a tainted artifact. Paths a later model reuses (a stage's checkpoint, the
    feature net) are removed only while they still hold *this* artifact's weights."""
    shared = bool(artifact.files) and (artifact.files[0] in STAGE_OF or artifact.kind == "featurenet")
    if not artifact.files or (shared and not _holds(ws.root / artifact.files[0], artifact.weights_sha256)):
        return []
    from components.models import checkpoint

    removed, stage = [], STAGE_OF.get(artifact.files[0])
    for rel in artifact.files:
        path = ws.root / rel
        if not path.exists():
            continue
        if stage and rel == artifact.files[0]:
            checkpoint.write_purged_stub(path, batch_id)
        elif stage and path.suffix == ".png":  # the stage's grid (cache: false): blank, so DVC still finds it
            from PIL import Image

            Image.new("L", (1, 1)).save(path)
        elif not (stage and path.suffix == ".json"):  # a stage's .json is the stub's note now
            path.unlink()
        removed.append(rel)
    if stage:
        _freeze(ws, stage)
    return removed


def _live_featurenet(ws: Workspace, artifact: provenance.Artifact) -> bool:
    """The feature net the metrics use now: the refresh flow (flows/follow_up.py) replaces it, and
    the purge that follows collects it. Until then `contains` shows it still holding the samples."""
    return artifact.kind == "featurenet" and bool(artifact.files) and _holds(ws.root / artifact.files[0], artifact.weights_sha256)


def _holds(path: Path, weights_sha: str | None) -> bool:
    return bool(weights_sha) and path.is_file() and data.sha256_file(path) == weights_sha


def _freeze(ws: Workspace, stage: str) -> None:
    """The stage's outputs are stubs now: freeze it and re-commit it so DVC agrees with the workspace.
    (To retrain later: `dvc unfreeze STAGE && dvc repro --force STAGE`.)"""
    lock = ws.root / "dvc.lock"
    if not lock.is_file() or stage not in (yaml.safe_load(lock.read_text()) or {}).get("stages", {}):
        return
    dvc_repo.run(ws, "freeze", stage)
    dvc_repo.run(ws, "commit", "--force", stage)


def _stale_data_versions(ws: Workspace, artifacts: dict[str, provenance.Artifact]) -> list[str]:
    """Every data version a promoted batch superseded: after gc none of them can be checked out."""
    current = ws.data_version()
    with ledgers.Ledger(ws.ledger_path) as book:
        seen = {b.data_md5_before for b in book.batches() if b.data_md5_after} | {a.data_md5 for a in artifacts.values()}
    return sorted(m for m in seen if m and m not in (current, "none"))


def _gc(ws: Workspace) -> tuple[int, int, int, int | None]:
    """`dvc gc --workspace --force [--cloud]`; returns (cache objects, cache bytes, remote objects, remote bytes)."""
    remote = dvc_repo.local_remote_dir(ws)
    cache_dir = dvc_repo.cache_dir(ws)
    before, remote_before = _size(cache_dir), _size(remote) if remote else None
    cloud = ["--cloud"] if dvc_repo.default_remote(ws) else []
    out = dvc_repo.run(ws, "gc", "--workspace", "--force", *cloud)
    counts = {where: int(n) for n, where in re.findall(r"Removed (\d+) objects from (repo cache|remote)", out)}
    after, remote_after = _size(cache_dir), _size(remote) if remote else None
    remote_bytes = remote_before - remote_after if remote_before is not None else None
    return counts.get("repo cache", 0), before - after, counts.get("remote", 0), remote_bytes


def _size(path: Path | None) -> int:
    return sum(os.stat(file).st_size for _, file in dvc_repo.files_under(path)) if path else 0


def checkout_data(ws: Workspace, rev: str) -> str:
    """Restore data/ as it was at git revision `rev`, unless a purge made that version unrestorable."""
    text = git(ws.root, "show", f"{rev}:data.dvc")
    if text is None:
        raise BadInputError(f"no data.dvc at git revision {rev!r}")
    md5 = yaml.safe_load(text)["outs"][0]["md5"]
    with ledgers.Ledger(ws.ledger_path) as book:
        purged = provenance.purged_data(book)
    if md5 in purged:
        raise ForgetflowError(
            f"data version {md5} (at {rev}) was purged by {purged[md5]}: it held forgotten samples "
            "and can never be checked out again"
        )
    if git(ws.root, "checkout", rev, "--", "data.dvc") is None:
        raise ForgetflowError(f"git could not check out data.dvc at {rev}")
    dvc_repo.run(ws, "checkout", "data.dvc")
    return md5
