"""The ledger's SQLite layout in one place: its tables, their migrations and the one way an event
is written (`append_event`, hash-chained by `chain.py`).

Two groups of tables share one file: the request queue (`requests`, `batches`, `tombstones`,
`events`; `store.py`) and the lineage index (`catalogue`, `training_sets`, `artifacts`, aliases and
tags mirrored from MLflow, purge records; `provenance.py`). Both modules write through here, so
imports point one way: store -> schema <- provenance.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from components.ledger import chain

DEFAULT_DEADLINE_DAYS = 30  # for rows filed before the ledger recorded due dates

TABLES = """
CREATE TABLE IF NOT EXISTS requests (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, selector TEXT NOT NULL, sample_ids TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '', status TEXT NOT NULL, error TEXT, attempts INTEGER NOT NULL DEFAULT 0,
    batch_id TEXT, model_version INTEGER, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, due_at TEXT);
CREATE TABLE IF NOT EXISTS batches (
    id TEXT PRIMARY KEY, status TEXT NOT NULL, step TEXT NOT NULL, method TEXT NOT NULL,
    request_ids TEXT NOT NULL, model_version INTEGER, parent_version INTEGER, data_md5_before TEXT,
    data_md5_after TEXT, error TEXT, details TEXT NOT NULL DEFAULT '{}', created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tombstones (
    sample_id TEXT PRIMARY KEY, request_id TEXT NOT NULL, batch_id TEXT NOT NULL, forgotten_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS tombstones_batch ON tombstones (batch_id);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, entity TEXT NOT NULL, entity_id TEXT NOT NULL,
    event TEXT NOT NULL, detail TEXT NOT NULL, hash TEXT);
CREATE INDEX IF NOT EXISTS events_entity ON events (entity_id);
CREATE TABLE IF NOT EXISTS catalogue (
    sample_id TEXT PRIMARY KEY, subject_id TEXT NOT NULL, label INTEGER NOT NULL, label_name TEXT NOT NULL,
    split TEXT NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS catalogue_subject ON catalogue (subject_id);
CREATE INDEX IF NOT EXISTS catalogue_label ON catalogue (label);
CREATE TABLE IF NOT EXISTS training_sets (
    set_id TEXT NOT NULL, sample_id TEXT NOT NULL, PRIMARY KEY (sample_id, set_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS training_sets_set ON training_sets (set_id);
CREATE TABLE IF NOT EXISTS artifacts (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, model_name TEXT, version INTEGER, parent_id TEXT, batch_id TEXT,
    set_id TEXT NOT NULL, data_md5 TEXT, weights_sha256 TEXT, files TEXT NOT NULL DEFAULT '[]', run_id TEXT,
    purged_by TEXT, created_at TEXT NOT NULL, purge_pending TEXT, weights_path TEXT);
CREATE TABLE IF NOT EXISTS aliases (
    model_name TEXT NOT NULL, alias TEXT NOT NULL, version INTEGER NOT NULL, PRIMARY KEY (model_name, alias));
CREATE TABLE IF NOT EXISTS version_tags (
    model_name TEXT NOT NULL, version INTEGER NOT NULL, tags TEXT NOT NULL, PRIMARY KEY (model_name, version));
CREATE TABLE IF NOT EXISTS purged_data (data_md5 TEXT PRIMARY KEY, batch_id TEXT NOT NULL, purged_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS purges (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, batch_ids TEXT NOT NULL, at TEXT NOT NULL, summary TEXT NOT NULL);
"""


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def after(stamp: str, days: float) -> str:
    return (datetime.fromisoformat(stamp) + timedelta(days=days)).isoformat(timespec="seconds")


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction (BEGIN IMMEDIATE: writers queue up instead of failing at commit)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def append_event(db: sqlite3.Connection, entity: str, entity_id: str, event: str, **detail: Any) -> None:
    """The audit trail's only writer: one event, stamped now and chained to the newest one. Call it
    inside the write transaction of the state change it records."""
    chain.append(db, entity, entity_id, event, now(), detail)


def create(db: sqlite3.Connection) -> None:
    """Create missing tables, then bring an older ledger's tables up to date."""
    db.executescript(TABLES)
    migrate(db)


def migrate(db: sqlite3.Connection) -> None:
    """Ledgers written before due dates existed get the column, and the default deadline; before
    server-side purges were tracked, artifacts get `purge_pending` (NULL: nothing pending) and, before
    served weights were checked, `weights_path` (NULL: unknown until `forgetflow reindex`); before
    the hash chain, events get `hash` and the chain starts, covering the earlier events."""
    if "hash" not in _columns(db, "events"):
        with transaction(db):
            db.execute("ALTER TABLE events ADD COLUMN hash TEXT")
    if not chain.started(db):
        with transaction(db):
            chain.start(db, now())
    for column in ("purge_pending", "weights_path"):
        if column not in _columns(db, "artifacts"):
            with transaction(db):
                db.execute(f"ALTER TABLE artifacts ADD COLUMN {column} TEXT")
    if "due_at" in _columns(db, "requests"):
        return
    with transaction(db):
        db.execute("ALTER TABLE requests ADD COLUMN due_at TEXT")
        rows = db.execute("SELECT id, created_at FROM requests").fetchall()
        db.executemany("UPDATE requests SET due_at = ? WHERE id = ?", [(after(r[1], DEFAULT_DEADLINE_DAYS), r[0]) for r in rows])


def _columns(db: sqlite3.Connection, table: str) -> set[str]:
    return {r[1] for r in db.execute(f"PRAGMA table_info({table})")}
