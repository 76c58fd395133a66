"""The ledger's history is tamper-evident: any edit, deletion, reordering or insertion of an event
is found and named, and a head cited elsewhere (a certificate) is checked against the chain."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from components.ledger import Ledger


@pytest.fixture
def ledger_path(tmp_path: Path) -> Path:
    path = tmp_path / "ledger.db"
    with Ledger(path) as book:
        for i in range(3):
            request = book.add_request("sample", [f"s{i}"], [f"s{i}"], "erasure")
        batch = book.open_batch("encoder-noise", 10)
        book.finish_batch(batch.id, "promoted", 2)
        assert request.id == "req-000003"
    return path


def tamper(path: Path, sql: str, args: tuple = ()) -> None:
    """What someone with file access could do: plain SQL on the file."""
    db = sqlite3.connect(path)
    db.execute(sql, args)
    db.commit()
    db.close()


def broken(path: Path) -> str | None:
    with Ledger(path) as book:
        return book.verify_chain().broken


def test_an_untouched_ledger_verifies_and_its_head_is_the_newest_event(ledger_path: Path) -> None:
    with Ledger(ledger_path) as book:
        report = book.verify_chain()
        assert report.ok and report.head == book.head()
        assert report.head.seq == book.events()[-1]["seq"]
        assert book.events()[0]["event"] == "chain_started"


def test_editing_an_event_names_it(ledger_path: Path) -> None:
    tamper(ledger_path, "UPDATE events SET detail = ? WHERE event = 'promoted'", (json.dumps({"model_version": 1}),))
    assert "does not match its hash" in broken(ledger_path)


def test_deleting_an_event_in_the_middle_is_found(ledger_path: Path) -> None:
    tamper(ledger_path, "DELETE FROM events WHERE seq = 3")
    assert broken(ledger_path) == "events #3..#3 are missing (deleted)"


def test_deleting_the_newest_events_is_found(ledger_path: Path) -> None:
    tamper(ledger_path, "DELETE FROM events WHERE seq >= (SELECT MAX(seq) - 1 FROM events)")
    assert "newest 2 event(s)" in broken(ledger_path)


def test_reordering_two_events_is_found(ledger_path: Path) -> None:
    db = sqlite3.connect(ledger_path)
    a, b = db.execute("SELECT at, entity, entity_id, event, detail, hash FROM events WHERE seq IN (2, 3) ORDER BY seq").fetchall()
    for seq, row in ((2, b), (3, a)):
        db.execute(
            "UPDATE events SET at = ?, entity = ?, entity_id = ?, event = ?, detail = ?, hash = ? WHERE seq = ?", (*row, seq)
        )
    db.commit()
    db.close()
    assert "#2" in broken(ledger_path)


def test_inserting_an_event_is_found_even_with_a_plausible_hash(ledger_path: Path) -> None:
    tamper(
        ledger_path,
        "INSERT INTO events (at, entity, entity_id, event, detail, hash) "
        "SELECT at, entity, entity_id, event, detail, hash FROM events WHERE seq = 2",
    )
    assert "does not match its hash" in broken(ledger_path)


def test_a_cited_head_stays_anchored_until_the_history_is_rewritten(ledger_path: Path) -> None:
    with Ledger(ledger_path) as book:
        cited = book.head().cite()
        book.add_request("sample", ["s9"], ["s9"], "later events do not unsettle an earlier head")
        assert book.anchored(cited) is None
        assert "not a ledger head" in book.anchored("12:abc")
    # a full rewrite (every hash recomputed) keeps the chain intact but loses the cited head
    db = sqlite3.connect(ledger_path)
    db.execute("UPDATE events SET detail = '{}' WHERE seq = 2")
    db.commit()
    db.close()
    from components.ledger import chain

    db = sqlite3.connect(ledger_path)
    prev = chain.GENESIS
    for row in db.execute("SELECT seq, at, entity, entity_id, event, detail FROM events WHERE seq > 0 ORDER BY seq").fetchall():
        prev = chain.link(prev, row)
        db.execute("UPDATE events SET hash = ? WHERE seq = ?", (prev, row[0]))
    db.commit()
    db.close()
    with Ledger(ledger_path) as book:
        assert book.verify_chain().ok
        assert "not on this ledger's chain" in book.anchored(cited)


def test_a_ledger_from_before_the_chain_is_migrated_once_and_its_old_events_are_covered(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, entity TEXT NOT NULL, "
        "entity_id TEXT NOT NULL, event TEXT NOT NULL, detail TEXT NOT NULL)"
    )
    db.execute(
        "INSERT INTO events (at, entity, entity_id, event, detail) VALUES ('2026-01-01', 'request', 'req-000001', 'filed', '{}')"
    )
    db.commit()
    db.close()
    with Ledger(path) as book:
        started = [e for e in book.events() if e["event"] == "chain_started"]
        assert started[0]["detail"]["unchained_events"] == 1 and started[0]["seq"] == 2
        assert book.verify_chain().ok
    with Ledger(path) as book:  # opening again starts nothing new
        assert sum(e["event"] == "chain_started" for e in book.events()) == 1
    tamper(path, "UPDATE events SET event = 'withdrawn' WHERE seq = 1")
    assert "before the chain started" in broken(path)
