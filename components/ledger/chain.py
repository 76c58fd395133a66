"""Tamper evidence for the ledger's history: a hash chain over the `events` table.

Every event stores `hash = sha256(canonical [previous hash, seq, at, entity, entity_id, event,
detail])`, so editing, deleting, reordering or inserting an event breaks the chain at that point,
and `verify` names the first broken link. Deleting the newest events leaves no broken link, so
`verify` also compares the last event with SQLite's AUTOINCREMENT counter (events are never
deleted, so the counter and the last seq agree).

Anyone who can write the file can also recompute every hash: the chain proves the history was not
changed *since a head someone else holds*. Certificates cite the head at their batch
(`Head.cite()`); `anchored` checks that a cited head is still on the chain.

A ledger written before the chain existed is migrated once: a `chain_started` event records how
many events came before and the sha256 of their canonical form, so they are covered too.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64
_COLUMNS = "seq, at, entity, entity_id, event, detail, hash"


@dataclass(frozen=True)
class Head:
    seq: int
    hash: str

    def cite(self) -> str:
        return f"{self.seq}:{self.hash}"


@dataclass(frozen=True)
class ChainReport:
    events: int
    head: Head | None
    broken: str | None  # the first broken link, in words; None when the whole chain holds

    @property
    def ok(self) -> bool:
        return self.broken is None


def _canonical(prev: str, row: sqlite3.Row | tuple) -> bytes:
    seq, at, entity, entity_id, event, detail = tuple(row)[:6]
    return json.dumps([prev, seq, at, entity, entity_id, event, detail], ensure_ascii=False, separators=(",", ":")).encode()


def link(prev: str, row: sqlite3.Row | tuple) -> str:
    return hashlib.sha256(_canonical(prev, row)).hexdigest()


def append(db: sqlite3.Connection, entity: str, entity_id: str, event: str, at: str, detail: dict[str, Any]) -> None:
    """Insert one event chained to the newest one. Call inside a write transaction (BEGIN
    IMMEDIATE), so no other writer can slip an event between the read and the insert."""
    last = db.execute("SELECT hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
    prev = last[0] if last and last[0] else GENESIS
    text = json.dumps(detail, sort_keys=True)
    seq = db.execute(
        "INSERT INTO events (at, entity, entity_id, event, detail) VALUES (?, ?, ?, ?, ?)", (at, entity, entity_id, event, text)
    ).lastrowid
    db.execute("UPDATE events SET hash = ? WHERE seq = ?", (link(prev, (seq, at, entity, entity_id, event, text)), seq))


def start(db: sqlite3.Connection, at: str) -> None:
    """Begin the chain once (inside a write transaction), covering any events written before it."""
    if started(db):
        return
    earlier = db.execute(f"SELECT {_COLUMNS} FROM events ORDER BY seq").fetchall()
    append(db, "ledger", "chain", "chain_started", at, {"unchained_events": len(earlier), "unchained_sha256": _digest(earlier)})


def started(db: sqlite3.Connection) -> bool:
    """Has the chain begun? (Asked at every ledger open: by entity_id, which is indexed.)"""
    return db.execute("SELECT 1 FROM events WHERE entity_id = 'chain' AND event = 'chain_started' LIMIT 1").fetchone() is not None


def _digest(rows: list) -> str:
    return hashlib.sha256(b"".join(_canonical("", r) + b"\n" for r in rows)).hexdigest()


def verify(db: sqlite3.Connection) -> ChainReport:
    """Walk the whole history; report the first event that does not follow from the one before."""
    rows = db.execute(f"SELECT {_COLUMNS} FROM events ORDER BY seq").fetchall()
    counter = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
    starts = [i for i, r in enumerate(rows) if r[3] == "chain" and r[4] == "chain_started"]
    if not starts:
        return ChainReport(len(rows), None, "the ledger has no chain_started event: its history cannot be verified")
    first = starts[0]
    claim = json.loads(rows[first][5])
    if claim.get("unchained_events") != first or claim.get("unchained_sha256") != _digest(rows[:first]):
        return ChainReport(
            len(rows),
            None,
            f"the {first} events before the chain started (#{rows[first][0]}) were changed "
            f"(it recorded {claim.get('unchained_events')})",
        )
    prev, prev_seq = GENESIS, None
    for row in rows[first:]:
        seq = row[0]
        if prev_seq is not None and seq != prev_seq + 1:
            return ChainReport(len(rows), None, f"events #{prev_seq + 1}..#{seq - 1} are missing (deleted)")
        if row[6] != link(prev, row):
            return ChainReport(
                len(rows),
                None,
                f"event #{seq} ({row[3]} {row[4]}) does not match its hash: it was edited, "
                "inserted or moved, or an event before it was",
            )
        prev, prev_seq = row[6], seq
    if counter and counter[0] > prev_seq:
        return ChainReport(len(rows), None, f"the newest {counter[0] - prev_seq} event(s) after #{prev_seq} were deleted")
    return ChainReport(len(rows), Head(prev_seq, prev), None)


def anchored(db: sqlite3.Connection, cited: str) -> str | None:
    """None if the cited head `seq:hash` is an event of an intact chain; else what is wrong."""
    seq, _, digest = cited.partition(":")
    if not seq.isdigit() or len(digest) != 64:
        return f"{cited!r} is not a ledger head (seq:sha256)"
    report = verify(db)
    if not report.ok:
        return f"the ledger's chain is broken: {report.broken}"
    row = db.execute("SELECT hash FROM events WHERE seq = ?", (int(seq),)).fetchone()
    if row is None or row[0] != digest:
        return f"ledger head #{seq} is not on this ledger's chain (history rewritten, or another workspace's ledger)"
    return None


def head(db: sqlite3.Connection) -> Head | None:
    row = db.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
    return Head(row[0], row[1]) if row and row[1] else None
