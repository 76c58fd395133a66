"""The deletion-request ledger: SQLite, one file per workspace, every transition also an event.

Current state lives in `requests`, `batches` and `tombstones`; `events` is append-only and is
written in the same transaction as each state change, so the history is the audit trail.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.errors import BadInputError, ForgetflowError
from components.ledger import chain, schema
from components.ledger.schema import DEFAULT_DEADLINE_DAYS, after, now

REQUEST_STATES = ("pending", "processing", "done", "rejected", "failed")
BATCH_STATES = ("running", "promoted", "needs_review", "failed", "rejected", "rolled_back")


class LedgerError(ForgetflowError):
    """A request or batch does not exist or cannot make the asked transition."""


class UnknownEntryError(LedgerError, BadInputError):
    """An id names no request or batch, or a status filter no state: exit code 2."""


@dataclass(frozen=True)
class Request:
    id: str
    kind: str  # sample | subject | label
    selector: list[str]
    sample_ids: list[str]
    reason: str
    status: str
    error: str | None
    attempts: int
    batch_id: str | None
    model_version: int | None
    created_at: str
    due_at: str  # the legal deadline: filed + batch.deadline_days (GDPR Art. 12(3): one month)


@dataclass(frozen=True)
class Batch:
    id: str
    status: str
    step: str
    method: str
    request_ids: list[str]
    model_version: int | None
    parent_version: int | None
    data_md5_before: str | None
    data_md5_after: str | None
    error: str | None
    details: dict[str, Any]
    created_at: str


class Ledger:
    """Open with `Ledger(path)`; every public method is one atomic SQLite transaction."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, timeout=30)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        schema.create(self._db)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def query(self, sql: str, args: tuple | list = ()) -> list[sqlite3.Row]:
        """Read-only SQL for the indexes built on this ledger (lineage, purge records)."""
        return self._db.execute(sql, args).fetchall()

    def event(self, entity: str, entity_id: str, event: str, **detail: Any) -> None:
        """Append one event on its own (for actions with no state row of their own)."""
        with self.transaction() as db:
            self._event(db, entity, entity_id, event, **detail)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with schema.transaction(self._db) as db:
            yield db

    def _event(self, db: sqlite3.Connection, entity: str, entity_id: str, event: str, **detail: Any) -> None:
        schema.append_event(db, entity, entity_id, event, **detail)

    # --- requests -------------------------------------------------------------------------
    def add_request(
        self, kind: str, selector: list[str], sample_ids: list[str], reason: str, deadline_days: float = DEFAULT_DEADLINE_DAYS
    ) -> Request | None:
        """File the samples not already open in another request or forgotten (None: no sample left).
        The check and the insert are one write transaction, so requests filed at once by several
        processes never share a sample."""
        with self.transaction() as db:
            taken = set(self._open_sample_ids(db)) | {r[0] for r in db.execute("SELECT sample_id FROM tombstones")}
            new = sorted(set(sample_ids) - taken)
            if not new:
                return None
            number = db.execute("SELECT COUNT(*) FROM requests").fetchone()[0] + 1
            request_id = f"req-{number:06d}"
            stamp = now()
            due = after(stamp, deadline_days)
            db.execute(
                "INSERT INTO requests (id, kind, selector, sample_ids, reason, status, created_at, updated_at, due_at) "
                "VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?)",
                (request_id, kind, json.dumps(selector), json.dumps(new), reason, stamp, stamp, due),
            )
            self._event(db, "request", request_id, "filed", kind=kind, selector=selector, n_samples=len(new), due_at=due)
        return self.request(request_id)

    def request(self, request_id: str) -> Request:
        row = self._db.execute("SELECT * FROM requests WHERE id = ?", (request_id,)).fetchone()
        if row is None:
            raise UnknownEntryError(f"no request {request_id!r}")
        return _request(row)

    def requests(self, status: str | None = None) -> list[Request]:
        if status is not None and status not in REQUEST_STATES:
            raise UnknownEntryError(f"unknown status {status!r}; expected one of {REQUEST_STATES}")
        query, args = "SELECT * FROM requests", ()
        if status:
            query, args = query + " WHERE status = ?", (status,)
        return [_request(r) for r in self._db.execute(query + " ORDER BY id", args)]

    def open_sample_ids(self) -> dict[str, str]:
        """sample_id -> request id, for every sample of a pending or processing request."""
        return self._open_sample_ids(self._db)

    @staticmethod
    def _open_sample_ids(db: sqlite3.Connection) -> dict[str, str]:
        rows = db.execute("SELECT id, sample_ids FROM requests WHERE status IN ('pending', 'processing')")
        return {sample: row["id"] for row in rows for sample in json.loads(row["sample_ids"])}

    def tombstones(self) -> dict[str, str]:
        """sample_id -> request id, for every forgotten sample."""
        return {r["sample_id"]: r["request_id"] for r in self._db.execute("SELECT sample_id, request_id FROM tombstones")}

    def forgotten_by(self) -> dict[str, str]:
        """sample_id -> the promoted batch that forgot it."""
        return {r["sample_id"]: r["batch_id"] for r in self._db.execute("SELECT sample_id, batch_id FROM tombstones")}

    # --- batches --------------------------------------------------------------------------
    def open_batch(self, method: str, max_requests: int) -> Batch | None:
        """Claim up to `max_requests` pending requests, nearest deadline first, into a new `running`
        batch (None if none pend)."""
        with self.transaction() as db:
            pending = [
                r["id"]
                for r in db.execute(
                    "SELECT id FROM requests WHERE status = 'pending' ORDER BY due_at, id LIMIT ?", (max_requests,)
                )
            ]
            if not pending:
                return None
            number = db.execute("SELECT COUNT(*) FROM batches").fetchone()[0] + 1
            batch_id, stamp = f"batch-{number:06d}", now()
            db.execute(
                "INSERT INTO batches (id, status, step, method, request_ids, created_at, updated_at) "
                "VALUES (?, 'running', 'claimed', ?, ?, ?, ?)",
                (batch_id, method, json.dumps(pending), stamp, stamp),
            )
            db.executemany(
                "UPDATE requests SET status = 'processing', batch_id = ?, updated_at = ? WHERE id = ?",
                [(batch_id, stamp, r) for r in pending],
            )
            self._event(db, "batch", batch_id, "opened", method=method, request_ids=pending)
            for r in pending:
                self._event(db, "request", r, "processing", batch_id=batch_id)
        return self.batch(batch_id)

    def running_batch(self) -> Batch | None:
        row = self._db.execute("SELECT * FROM batches WHERE status = 'running' ORDER BY id LIMIT 1").fetchone()
        return _batch(row) if row else None

    def batch(self, batch_id: str) -> Batch:
        row = self._db.execute("SELECT * FROM batches WHERE id = ?", (batch_id,)).fetchone()
        if row is None:
            raise UnknownEntryError(f"no batch {batch_id!r}")
        return _batch(row)

    def batches(self) -> list[Batch]:
        return [_batch(r) for r in self._db.execute("SELECT * FROM batches ORDER BY id")]

    def update_batch(self, batch_id: str, step: str | None = None, **fields: Any) -> None:
        """Record progress (step) and facts (versions, md5s, details) of a running batch."""
        allowed = {"model_version", "parent_version", "data_md5_before", "data_md5_after", "details"}
        if set(fields) - allowed:
            raise LedgerError(f"cannot set {sorted(set(fields) - allowed)} on a batch")
        values = {k: json.dumps(v, sort_keys=True) if k == "details" else v for k, v in fields.items()}
        if step:
            values["step"] = step
        with self.transaction() as db:
            assignments = ", ".join(f"{k} = ?" for k in values)
            db.execute(f"UPDATE batches SET {assignments}, updated_at = ? WHERE id = ?", (*values.values(), now(), batch_id))
            self._event(db, "batch", batch_id, f"step:{step}" if step else "updated", **fields)

    def finish_batch(self, batch_id: str, status: str, model_version: int | None) -> None:
        """promoted: requests done + tombstones; needs_review: requests stay processing for a person."""
        if status not in ("promoted", "needs_review"):
            raise LedgerError(f"finish_batch cannot set {status!r}")
        batch = self.batch(batch_id)
        with self.transaction() as db:
            stamp = now()
            db.execute(
                "UPDATE batches SET status = ?, step = 'finished', model_version = ?, updated_at = ? WHERE id = ?",
                (status, model_version, stamp, batch_id),
            )
            self._event(db, "batch", batch_id, status, model_version=model_version)
            if status == "promoted":
                for request_id in batch.request_ids:
                    self._mark_done(db, request_id, batch_id, model_version, stamp)

    def _mark_done(self, db: sqlite3.Connection, request_id: str, batch_id: str, model_version: int | None, stamp: str) -> None:
        samples = json.loads(db.execute("SELECT sample_ids FROM requests WHERE id = ?", (request_id,)).fetchone()[0])
        db.executemany(
            "INSERT OR IGNORE INTO tombstones (sample_id, request_id, batch_id, forgotten_at) VALUES (?, ?, ?, ?)",
            [(s, request_id, batch_id, stamp) for s in samples],
        )
        db.execute(
            "UPDATE requests SET status = 'done', model_version = ?, error = NULL, updated_at = ? WHERE id = ?",
            (model_version, stamp, request_id),
        )
        self._event(db, "request", request_id, "done", batch_id=batch_id, model_version=model_version)

    def resolve_review(self, batch_id: str, model_version: int) -> None:
        """A person promoted a needs_review batch's challenger: finish its requests."""
        batch = self.batch(batch_id)
        with self.transaction() as db:
            stamp = now()
            db.execute("UPDATE batches SET status = 'promoted', updated_at = ? WHERE id = ?", (stamp, batch_id))
            self._event(db, "batch", batch_id, "promoted", model_version=model_version, by="manual promote")
            for request_id in batch.request_ids:
                self._mark_done(db, request_id, batch_id, model_version, stamp)

    def fail_batch(self, batch_id: str, error: str, max_attempts: int, attempt: bool = True) -> None:
        """Roll the requests back to pending with the error (failed after `max_attempts`). An
        interruption (attempt=False) is not the requests' fault and costs them no attempt."""
        self._release(batch_id, "failed", error, max_attempts, attempt)

    def reject_batch(self, batch_id: str, reason: str, max_attempts: int) -> None:
        """A person refused a needs_review batch: its requests are released like a failed batch's."""
        self._release(batch_id, "rejected", f"rejected: {reason}", max_attempts)

    def _release(self, batch_id: str, status: str, error: str, max_attempts: int, attempt: bool = True) -> None:
        batch = self.batch(batch_id)
        with self.transaction() as db:
            stamp = now()
            db.execute("UPDATE batches SET status = ?, error = ?, updated_at = ? WHERE id = ?", (status, error, stamp, batch_id))
            self._event(db, "batch", batch_id, status, error=error)
            for request_id in batch.request_ids:
                attempts = db.execute("SELECT attempts FROM requests WHERE id = ?", (request_id,)).fetchone()[0] + attempt
                state = "failed" if attempts >= max_attempts else "pending"
                db.execute(
                    "UPDATE requests SET status = ?, error = ?, attempts = ?, batch_id = NULL, updated_at = ? WHERE id = ?",
                    (state, error, attempts, stamp, request_id),
                )
                self._event(db, "request", request_id, state, error=error, attempts=attempts)

    def set_batch_status(self, batch_id: str, status: str, note: str) -> None:
        """For registry actions taken later (e.g. rollback of a promoted batch's model)."""
        if status not in BATCH_STATES:
            raise LedgerError(f"unknown batch status {status!r}")
        with self.transaction() as db:
            db.execute("UPDATE batches SET status = ?, updated_at = ? WHERE id = ?", (status, now(), batch_id))
            self._event(db, "batch", batch_id, status, note=note)

    def verify_chain(self) -> chain.ChainReport:
        return chain.verify(self._db)

    def head(self) -> chain.Head | None:
        """The newest event's place on the chain: what a certificate cites."""
        return chain.head(self._db)

    def anchored(self, cited: str) -> str | None:
        return chain.anchored(self._db, cited)

    def events(self, entity_id: str | None = None) -> list[dict[str, Any]]:
        """The audit trail, oldest first; for a request, also the events of the batches it was in."""
        query, args = "SELECT * FROM events", ()
        if entity_id:
            batches = [
                r["detail"]
                for r in self._db.execute("SELECT detail FROM events WHERE entity_id = ? AND entity = 'request'", (entity_id,))
            ]
            ids = {entity_id} | {json.loads(d).get("batch_id") for d in batches} - {None}
            query, args = query + f" WHERE entity_id IN ({','.join('?' * len(ids))})", tuple(sorted(ids))
        return [dict(r) | {"detail": json.loads(r["detail"])} for r in self._db.execute(query + " ORDER BY seq", args)]


def _request(row: sqlite3.Row) -> Request:
    return Request(
        row["id"],
        row["kind"],
        json.loads(row["selector"]),
        json.loads(row["sample_ids"]),
        row["reason"],
        row["status"],
        row["error"],
        row["attempts"],
        row["batch_id"],
        row["model_version"],
        row["created_at"],
        row["due_at"],
    )


def _batch(row: sqlite3.Row) -> Batch:
    return Batch(
        row["id"],
        row["status"],
        row["step"],
        row["method"],
        json.loads(row["request_ids"]),
        row["model_version"],
        row["parent_version"],
        row["data_md5_before"],
        row["data_md5_after"],
        row["error"],
        json.loads(row["details"]),
        row["created_at"],
    )
