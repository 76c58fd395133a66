"""Which trained artifact saw which samples, and which promoted batches took them out again.

The index lives in the ledger (SQLite), so `contains`, the alias guard and purge answer without
importing MLflow. MLflow stays the source of truth for versions and aliases: forgetflow writes this
index at every registration and alias move, and `forgetflow reindex` rebuilds it from the registry
and the DVC data versions.

Taint (../shared/DESIGN.md, Compliance): an artifact is tainted by a promoted batch when its
training set holds a sample that batch forgot and no batch on its own lineage (itself or its
parents) is that batch. Unlearned versions inherit their parent's training set, so "trained on"
stays true for them and the lineage says who removed it.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from components.data.manifest import Sample
from components.errors import UnknownVersionError
from components.ledger.schema import append_event, now

if TYPE_CHECKING:
    from components.ledger.store import Ledger


@dataclass(frozen=True)
class Artifact:
    """A trained thing whose weights could hold training data: a model version or the feature net."""

    id: str  # "forgetflow-mae/v2", "featurenet/<sha256[:16]>"
    kind: str  # model_version | featurenet
    set_id: str  # its training set (inherited from the parent for unlearned versions)
    model_name: str | None = None
    version: int | None = None
    parent_id: str | None = None
    batch_id: str | None = None  # the deletion batch that produced it
    data_md5: str | None = None
    weights_sha256: str | None = None
    files: list[str] = field(default_factory=list)  # workspace paths holding its weights (purged with it)
    run_id: str | None = None
    purged_by: str | None = None
    purge_pending: str | None = None  # purged, but a store we do not own must still collect it (what to run there)
    weights_path: str | None = None  # the served weights file in the workspace's own registry store (None: remote/unknown)


@dataclass(frozen=True)
class Containment:
    """What one artifact holds of a queried set of samples."""

    artifact: Artifact
    aliases: list[str]
    trained_on: int  # how many of the query its training set held
    contained: list[str]  # trained on, not removed along its lineage, weights not purged
    unlearned: dict[str, int]  # batch id -> samples of the query that batch removed on this lineage
    lineage_batches: list[str]
    tainted_by: list[str]  # promoted batches whose forgotten samples it still holds (whole-model view)


@dataclass(frozen=True)
class LineageEntry:
    version: int
    aliases: list[str]
    tags: dict[str, str]
    run_id: str | None


def chain(
    tags: dict[int, dict[str, str]], by_alias: dict[str, int], ref: str, run_ids: dict[int, str | None] | None = None
) -> list[LineageEntry]:
    """ref (a version number or alias) -> parent -> ... -> base, newest first, from version tags."""
    version = int(ref) if ref.isdigit() else by_alias.get(ref)
    if version is None or version not in tags:
        raise UnknownVersionError(f"no version or alias {ref!r} (aliases: {sorted(by_alias) or 'none'})")
    names: dict[int, list[str]] = {}
    for alias, v in by_alias.items():
        names.setdefault(v, []).append(alias)
    out: list[LineageEntry] = []
    while version is not None and version in tags and version not in {e.version for e in out}:
        out.append(LineageEntry(version, sorted(names.get(version, [])), tags[version], (run_ids or {}).get(version)))
        parent = tags[version].get("parent_version", "")
        version = int(parent) if parent.isdigit() else None
    return out


def version_id(model_name: str, version: int) -> str:
    return f"{model_name}/v{version}"


def training_set_id(data_md5: str, split: str = "train") -> str:
    return f"{data_md5}:{split}"


def record_samples(ledger: Ledger, set_id: str, samples: Iterable[Sample]) -> None:
    """Catalogue the samples (so subjects/labels resolve after they leave data/) and their set."""
    rows = list(samples)
    with ledger.transaction() as db:
        db.executemany(
            "INSERT OR IGNORE INTO catalogue VALUES (?, ?, ?, ?, ?)",
            [(s.sample_id, s.subject_id, s.label, s.label_name, s.split) for s in rows],
        )
        db.executemany(
            "INSERT OR IGNORE INTO training_sets (set_id, sample_id) VALUES (?, ?)",
            [(set_id, s.sample_id) for s in rows if s.split == "train"],
        )


def has_set(ledger: Ledger, set_id: str) -> bool:
    return bool(ledger.query("SELECT 1 FROM training_sets WHERE set_id = ? LIMIT 1", (set_id,)))


def record_artifact(ledger: Ledger, artifact: Artifact) -> None:
    with ledger.transaction() as db:
        db.execute(
            "INSERT OR REPLACE INTO artifacts (id, kind, model_name, version, parent_id, batch_id, set_id, data_md5, "
            "weights_sha256, files, run_id, purged_by, created_at, weights_path) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                artifact.id,
                artifact.kind,
                artifact.model_name,
                artifact.version,
                artifact.parent_id,
                artifact.batch_id,
                artifact.set_id,
                artifact.data_md5,
                artifact.weights_sha256,
                json.dumps(artifact.files),
                artifact.run_id,
                artifact.purged_by,
                now(),
                artifact.weights_path,
            ),
        )
        append_event(
            db, "artifact", artifact.id, "indexed", kind=artifact.kind, set_id=artifact.set_id, batch_id=artifact.batch_id
        )


def forget_artifact(ledger: Ledger, artifact_id: str) -> None:
    """A rolled-back batch's version is gone from the registry: drop it from the index too."""
    with ledger.transaction() as db:
        db.execute("DELETE FROM artifacts WHERE id = ?", (artifact_id,))
        db.execute("DELETE FROM aliases WHERE model_name || '/v' || version = ?", (artifact_id,))


def mark_purged(ledger: Ledger, artifact_id: str, batch_id: str, pending: str | None = None) -> None:
    """`pending`: the weights are only marked deleted in a store we do not own (a tracking server),
    and this says what must run there before they are gone; `confirm_collected` clears it."""
    with ledger.transaction() as db:
        db.execute(
            "UPDATE artifacts SET purged_by = ?, purge_pending = ? WHERE id = ? AND purged_by IS NULL",
            (batch_id, pending, artifact_id),
        )


def confirm_collected(ledger: Ledger, artifact_id: str) -> None:
    with ledger.transaction() as db:
        db.execute("UPDATE artifacts SET purge_pending = NULL WHERE id = ?", (artifact_id,))


def artifacts(ledger: Ledger) -> dict[str, Artifact]:
    return {r["id"]: _artifact(r) for r in ledger.query("SELECT * FROM artifacts ORDER BY created_at, id")}


def set_aliases(ledger: Ledger, model_name: str, mapping: dict[str, int]) -> None:
    """Mirror the registry's aliases of one model (called after every move forgetflow makes)."""
    with ledger.transaction() as db:
        db.execute("DELETE FROM aliases WHERE model_name = ?", (model_name,))
        db.executemany("INSERT INTO aliases VALUES (?, ?, ?)", [(model_name, a, v) for a, v in sorted(mapping.items())])


def set_version_tags(ledger: Ledger, model_name: str, tags: dict[int, dict[str, str]]) -> None:
    """Mirror the registry's tags of every version of one model (what `trace` prints)."""
    with ledger.transaction() as db:
        db.execute("DELETE FROM version_tags WHERE model_name = ?", (model_name,))
        db.executemany(
            "INSERT INTO version_tags VALUES (?, ?, ?)",
            [(model_name, v, json.dumps(t, sort_keys=True)) for v, t in sorted(tags.items())],
        )


def version_tags(ledger: Ledger, model_name: str) -> dict[int, dict[str, str]]:
    return {
        r["version"]: json.loads(r["tags"])
        for r in ledger.query("SELECT * FROM version_tags WHERE model_name = ?", (model_name,))
    }


def model_aliases(ledger: Ledger, model_name: str) -> dict[str, int]:
    """alias -> version of one model, as last mirrored from the registry."""
    return {r["alias"]: r["version"] for r in ledger.query("SELECT * FROM aliases WHERE model_name = ?", (model_name,))}


def trace(ledger: Ledger, model_name: str, ref: str) -> list[LineageEntry]:
    """`chain` over the mirrored tags; empty if this model's tags were never mirrored (`reindex`)."""
    tags = version_tags(ledger, model_name)
    if not tags:
        return []
    runs = {a.version: a.run_id for a in artifacts(ledger).values() if a.model_name == model_name}
    return chain(tags, model_aliases(ledger, model_name), ref, runs)


def aliases(ledger: Ledger) -> dict[str, list[str]]:
    """artifact id -> its aliases."""
    out: dict[str, list[str]] = {}
    for row in ledger.query("SELECT * FROM aliases ORDER BY alias"):
        out.setdefault(version_id(row["model_name"], row["version"]), []).append(row["alias"])
    return out


def lineage_batches(index: dict[str, Artifact], artifact_id: str) -> list[str]:
    """Deletion batches on the path from an artifact back to its base (its own first)."""
    batches, current, seen = [], index.get(artifact_id), set()
    while current is not None and current.id not in seen:
        seen.add(current.id)
        if current.batch_id:
            batches.append(current.batch_id)
        current = index.get(current.parent_id) if current.parent_id else None
    return batches


def tainted_by(
    ledger: Ledger, index: dict[str, Artifact], artifact_id: str, forgetting: dict[str, list[str]] | None = None
) -> list[str]:
    """Promoted batches that forgot samples this artifact was trained on, outside its own lineage.
    `forgetting` memoises the per-training-set query for callers that ask about many artifacts
    (versions of one lineage share a set: one join over 60k rows each instead of one per version)."""
    artifact = index[artifact_id]
    memo = {} if forgetting is None else forgetting
    if artifact.set_id not in memo:
        memo[artifact.set_id] = [
            r["batch_id"]
            for r in ledger.query(
                "SELECT DISTINCT tb.batch_id FROM training_sets ts JOIN tombstones tb ON tb.sample_id = ts.sample_id "
                "WHERE ts.set_id = ? ORDER BY tb.batch_id",
                (artifact.set_id,),
            )
        ]
    own = set(lineage_batches(index, artifact_id))
    return [b for b in memo[artifact.set_id] if b not in own]


def contains(ledger: Ledger, sample_ids: Iterable[str]) -> list[Containment]:
    """For every indexed artifact: which of `sample_ids` it still holds, and who removed the rest."""
    index, by_alias = artifacts(ledger), aliases(ledger)
    with ledger.transaction() as db:  # a temp table makes 10,000 ids one indexed join, not 10,000 queries
        db.execute("CREATE TEMP TABLE IF NOT EXISTS query_ids (sample_id TEXT PRIMARY KEY) WITHOUT ROWID")
        db.execute("DELETE FROM query_ids")
        db.executemany("INSERT OR IGNORE INTO query_ids VALUES (?)", [(i,) for i in sample_ids])
        trained: dict[str, list[str]] = {}
        for row in db.execute(
            "SELECT ts.set_id, ts.sample_id FROM query_ids q JOIN training_sets ts ON ts.sample_id = q.sample_id"
        ):
            trained.setdefault(row[0], []).append(row[1])
        removed_by = dict(
            db.execute("SELECT q.sample_id, tb.batch_id FROM query_ids q JOIN tombstones tb ON tb.sample_id = q.sample_id")
        )
        db.execute("DELETE FROM query_ids")
    for ids in trained.values():
        ids.sort()
    out, forgetting = [], {}
    removed_counts = {set_id: Counter(removed_by.get(i) for i in ids) for set_id, ids in trained.items()}
    for artifact in index.values():
        own = lineage_batches(index, artifact.id)
        ids = trained.get(artifact.set_id, [])
        unlearned = {b: n for b, n in removed_counts.get(artifact.set_id, Counter()).items() if b in own}
        # most artifacts removed none of them along their lineage: then they hold every one, no filtering
        held = [i for i in ids if removed_by.get(i) not in own] if unlearned else ids
        out.append(
            Containment(
                artifact,
                by_alias.get(artifact.id, []),
                len(trained.get(artifact.set_id, [])),
                [] if artifact.purged_by else held,
                unlearned,
                own,
                tainted_by(ledger, index, artifact.id, forgetting),
            )
        )
    return out


def record_purged_data(ledger: Ledger, data_md5s: Iterable[str], batch_id: str) -> None:
    with ledger.transaction() as db:
        db.executemany("INSERT OR IGNORE INTO purged_data VALUES (?, ?, ?)", [(m, batch_id, now()) for m in data_md5s])


def purged_data(ledger: Ledger) -> dict[str, str]:
    """data.dvc md5 -> the batch whose purge made that data version unrestorable."""
    return {r["data_md5"]: r["batch_id"] for r in ledger.query("SELECT * FROM purged_data")}


def record_purge(ledger: Ledger, batch_ids: list[str], summary: dict) -> None:
    with ledger.transaction() as db:
        db.execute(
            "INSERT INTO purges (batch_ids, at, summary) VALUES (?, ?, ?)",
            (json.dumps(batch_ids), now(), json.dumps(summary, sort_keys=True)),
        )
        for batch_id in batch_ids:
            append_event(db, "batch", batch_id, "purged", **summary)


def purges(ledger: Ledger) -> list[dict]:
    return [
        {"batch_ids": json.loads(r["batch_ids"]), "at": r["at"], **json.loads(r["summary"])}
        for r in ledger.query("SELECT * FROM purges ORDER BY seq")
    ]


def _artifact(row) -> Artifact:
    return Artifact(
        row["id"],
        row["kind"],
        row["set_id"],
        row["model_name"],
        row["version"],
        row["parent_id"],
        row["batch_id"],
        row["data_md5"],
        row["weights_sha256"],
        json.loads(row["files"]),
        row["run_id"],
        row["purged_by"],
        row["purge_pending"],
        row["weights_path"],
    )


def catalogue(ledger: Ledger, sample_ids: Iterable[str] | None = None) -> list[Sample]:
    """Catalogued rows (all, or those of `sample_ids`); relpath and sha256 are not kept: no pointer to pixels."""
    wanted = None if sample_ids is None else set(sample_ids)
    rows = ledger.query("SELECT * FROM catalogue") if wanted is None or wanted else []
    return [
        Sample(r["sample_id"], r["subject_id"], r["label"], r["label_name"], r["split"], "", "")
        for r in rows
        if wanted is None or r["sample_id"] in wanted
    ]


def catalogue_matching(ledger: Ledger, kind: str, selector: list[str]) -> list[Sample]:
    """The catalogued rows a selector can name (by sample id, subject, or label name or index), by
    indexed queries: `contains` answers without parsing the manifest (1.2 s at 70k images)."""
    tokens = [t.strip() for t in selector]
    marks = ",".join("?" * len(tokens))
    if kind == "sample":
        rows = ledger.query(f"SELECT * FROM catalogue WHERE sample_id IN ({marks})", tokens)
    elif kind == "subject":
        rows = ledger.query(f"SELECT * FROM catalogue WHERE subject_id IN ({marks})", tokens)
    else:
        lowered = [t.lower() for t in tokens]
        rows = ledger.query(
            f"SELECT * FROM catalogue WHERE lower(label_name) IN ({marks}) OR CAST(label AS TEXT) IN ({marks})", lowered + lowered
        )
    return [Sample(r["sample_id"], r["subject_id"], r["label"], r["label_name"], r["split"], "", "") for r in rows]
