"""The schedule policy and deadlines: when a scheduled run starts a batch, and what is at risk."""

import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from components.ledger import Ledger
from components.ledger.policy import ScheduleConfig, deadline_state, decide
from components.ledger.store import Request

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
CFG = ScheduleConfig(min_batch_size=10, max_wait_days=7, deadline_margin_days=5)


def request(number: int, filed_days_ago: float, samples: int = 1, due_in_days: float = 30, status: str = "pending") -> Request:
    filed = NOW - timedelta(days=filed_days_ago)
    return Request(
        f"req-{number:06d}",
        "sample",
        ["x"],
        [f"s{i}" for i in range(samples)],
        "",
        status,
        None,
        0,
        None,
        None,
        filed.isoformat(),
        (NOW + timedelta(days=due_in_days)).isoformat(),
    )


def test_no_pending_request_means_nothing_to_do():
    decision = decide([request(1, 40, status="done")], CFG, NOW)
    assert not decision.run and "no pending requests" in decision.reason


def test_a_small_fresh_queue_waits():
    decision = decide([request(1, 1, samples=3), request(2, 0.5, samples=3)], CFG, NOW)
    assert not decision.run and "6 pending samples < 10" in decision.reason
    assert decision.oldest_pending.id == "req-000001" and decision.pending_samples == 6


def test_enough_pending_samples_start_a_batch():
    assert decide([request(1, 1, samples=4), request(2, 0, samples=6)], CFG, NOW).run


def test_a_request_that_waited_max_wait_starts_a_batch_however_small():
    decision = decide([request(1, 7.5, samples=1)], CFG, NOW)
    assert decision.run and "waited 7.5 days" in decision.reason


def test_a_request_within_the_deadline_margin_starts_a_batch_now():
    decision = decide([request(1, 0, samples=1, due_in_days=4.9)], CFG, NOW)
    assert decision.run and "req-000001 is due" in decision.reason
    assert not decide([request(1, 0, samples=1, due_in_days=5.1)], CFG, NOW).run


def test_overdue_requests_are_listed_even_when_they_cannot_run():
    failed = request(1, 40, due_in_days=-10, status="failed")
    decision = decide([failed, request(2, 0, samples=1)], CFG, NOW)
    assert [r.id for r in decision.overdue] == ["req-000001"] and decision.nearest_due.id == "req-000001"


@pytest.mark.parametrize(
    "due_in_days,status,state",
    [(20, "pending", "ok"), (5, "processing", "at risk"), (-0.01, "pending", "overdue"), (-3, "done", "done")],
)
def test_deadline_states(due_in_days, status, state):
    assert deadline_state(request(1, 0, due_in_days=due_in_days, status=status), NOW, 5) == state


def test_bad_schedule_settings_are_refused():
    with pytest.raises(ValueError):
        replace(CFG, min_batch_size=0)


def test_a_request_is_due_deadline_days_after_filing_and_batches_take_the_nearest_first(tmp_path):
    with Ledger(tmp_path / "ledger.db") as book:
        late = book.add_request("sample", ["a"], ["a"], "", deadline_days=30)
        urgent = book.add_request("sample", ["b"], ["b"], "", deadline_days=2)
        filed = datetime.fromisoformat(late.created_at)
        assert datetime.fromisoformat(late.due_at) - filed == timedelta(days=30)
        assert book.open_batch("encoder-noise", max_requests=1).request_ids == [urgent.id]


def test_a_ledger_from_before_deadlines_gets_the_default_one_month(tmp_path):
    path = tmp_path / "ledger.db"
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE requests (id TEXT PRIMARY KEY, kind TEXT NOT NULL, selector TEXT NOT NULL, sample_ids TEXT NOT NULL, "
        "reason TEXT NOT NULL DEFAULT '', status TEXT NOT NULL, error TEXT, attempts INTEGER NOT NULL DEFAULT 0, "
        "batch_id TEXT, model_version INTEGER, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)"
    )
    db.execute(
        "INSERT INTO requests VALUES ('req-000001', 'sample', '[\"a\"]', '[\"a\"]', '', 'pending', NULL, 0, NULL, NULL, "
        "'2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00')"
    )
    db.commit()
    db.close()
    with Ledger(path) as book:
        assert book.request("req-000001").due_at == "2026-01-31T00:00:00+00:00"


def test_a_clock_that_jumps_back_then_forward_loses_no_deadline_and_keeps_the_chain(tmp_path, monkeypatch):
    """NTP corrections and VM restores move the wall clock both ways: deadlines follow the filing
    stamps they were given, the oldest deadline is still served first, and the history verifies."""
    from components.ledger import store

    with Ledger(tmp_path / "ledger.db") as book:
        first = book.add_request("sample", ["a"], ["a"], "", deadline_days=30)
        back = datetime.fromisoformat(first.created_at) - timedelta(days=2)
        monkeypatch.setattr(store, "now", lambda: back.isoformat(timespec="seconds"))  # the clock jumps two days back
        earlier = book.add_request("sample", ["b"], ["b"], "", deadline_days=30)
        assert earlier.due_at < first.due_at
        ahead = datetime.fromisoformat(first.created_at) + timedelta(days=40)  # ...then far ahead
        decision = decide(book.requests(), CFG, ahead)
        assert decision.run and {r.id for r in decision.overdue} == {first.id, earlier.id}
        assert decide(book.requests(), CFG, back - timedelta(days=1)).overdue == ()  # and before both filings: nothing due
        assert book.open_batch("encoder-noise", max_requests=1).request_ids == [earlier.id]
        assert book.verify_chain().ok
