import sqlite3

import pytest

from components.data import DataConfig, load_source, materialise, read_manifest
from components.ledger import IntakeError, Ledger, LedgerError, file_request


@pytest.fixture
def manifest(tmp_path, idx_source):
    materialise(
        load_source(idx_source), DataConfig(train_per_class=0, test_per_class=0, samples_per_subject=3), tmp_path / "data"
    )
    return read_manifest(tmp_path / "data")


@pytest.fixture
def ledger(tmp_path):
    book = Ledger(tmp_path / "state" / "ledger.db")
    yield book
    book.close()


def row_counts(ledger: Ledger) -> tuple[int, int]:
    db = sqlite3.connect(ledger.path)
    return tuple(db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("requests", "events"))


@pytest.mark.parametrize(
    "kind,selector,message",
    [
        ("sample", ["fm-train-999999"], "unknown sample id"),
        ("sample", ["../../etc/passwd"], "malformed id"),
        ("sample", ["a/b"], "malformed id"),
        ("sample", [], "empty request"),
        ("subject", ["subj-999999"], "unknown subject"),
        ("label", ["Spaceship"], "unknown label"),
        ("label", ["42"], "unknown label"),
        ("everything", ["x"], "unknown request kind"),
    ],
)
def test_bad_requests_are_refused_and_nothing_is_written(ledger, manifest, kind, selector, message):
    with pytest.raises(IntakeError, match=message):
        file_request(ledger, manifest, kind, selector, "because")
    assert row_counts(ledger) == (0, 1)  # only the chain's first event, written when the ledger was made


def test_a_multi_line_reason_is_refused(ledger, manifest):
    with pytest.raises(IntakeError, match="one line"):
        file_request(ledger, manifest, "sample", [manifest[0].sample_id], "a\nb")


def test_requests_resolve_samples_subjects_and_labels_by_name_or_index(ledger, manifest):
    subject = manifest[0].subject_id
    by_subject = file_request(ledger, manifest, "subject", [subject]).request
    assert set(by_subject.sample_ids) == {s.sample_id for s in manifest if s.subject_id == subject}
    by_name = file_request(ledger, manifest, "label", ["sneaker"]).request
    assert {s.label for s in manifest if s.sample_id in by_name.sample_ids} == {7}
    assert by_name.id == "req-000002" and by_name.status == "pending"


def test_a_duplicate_request_returns_the_existing_one(ledger, manifest):
    ids = [s.sample_id for s in manifest[:2]]
    first = file_request(ledger, manifest, "sample", ids)
    again = file_request(ledger, manifest, "sample", list(reversed(ids)))
    assert first.created and not again.created and again.request.id == first.request.id
    assert len(ledger.requests()) == 1


def test_batch_lifecycle_records_tombstones_and_an_append_only_history(ledger, manifest):
    request = file_request(ledger, manifest, "sample", [manifest[0].sample_id]).request
    batch = ledger.open_batch("encoder-noise", max_requests=10)
    assert batch.request_ids == [request.id] and ledger.request(request.id).status == "processing"
    assert ledger.open_batch("encoder-noise", 10) is None  # nothing else pending
    ledger.update_batch(batch.id, step="extract", parent_version=1)
    ledger.finish_batch(batch.id, "promoted", model_version=2)
    done = ledger.request(request.id)
    assert done.status == "done" and done.model_version == 2 and ledger.tombstones() == {manifest[0].sample_id: request.id}
    trail = ledger.events(request.id)  # the request's own events, and those of the batch it was in
    assert [e["event"] for e in trail if e["entity"] == "request"] == ["filed", "processing", "done"]
    assert [e["event"] for e in trail if e["entity"] == "batch"] == ["opened", "step:extract", "promoted"]
    again = file_request(ledger, manifest, "sample", [manifest[0].sample_id])  # already forgotten: nothing queued
    assert not again.created and again.request is None and again.forgotten_by == (batch.id,)
    assert again.message() == f"already forgotten by {batch.id}; nothing queued"


def test_a_class_forgotten_yesterday_is_already_forgotten_not_unknown(ledger, manifest):
    from components.ledger import provenance

    provenance.record_samples(ledger, "md5:train", manifest)  # what registering a model trained on it catalogues
    label = manifest[0].label_name
    request = file_request(ledger, manifest, "label", [label]).request
    batch = ledger.open_batch("encoder-noise", 10)
    ledger.finish_batch(batch.id, "promoted", model_version=2)
    remaining = [s for s in manifest if s.label_name != label]  # the class left data/

    again = file_request(ledger, remaining, "label", [label.upper()])

    assert not again.created and again.forgotten_by == (batch.id,) and len(ledger.requests()) == 1
    assert request.status == "pending"
    with pytest.raises(IntakeError, match="unknown label"):
        file_request(ledger, remaining, "label", ["Spaceship"])


def test_reject_releases_requests_like_a_failure(ledger, manifest):
    request = file_request(ledger, manifest, "sample", [manifest[0].sample_id]).request
    batch = ledger.open_batch("encoder-noise", 10)
    ledger.finish_batch(batch.id, "needs_review", model_version=2)
    assert ledger.request(request.id).status == "processing"
    ledger.reject_batch(batch.id, "grids look wrong", max_attempts=3)
    assert ledger.batch(batch.id).status == "rejected"
    assert ledger.request(request.id).status == "pending" and "grids look wrong" in ledger.request(request.id).error


def test_a_failed_batch_returns_requests_to_pending_until_max_attempts(ledger, manifest):
    request = file_request(ledger, manifest, "sample", [manifest[0].sample_id]).request
    for attempt in (1, 2):
        batch = ledger.open_batch("encoder-noise", 10)
        ledger.fail_batch(batch.id, "boom", max_attempts=2)
        state = ledger.request(request.id)
        assert state.attempts == attempt and state.error == "boom"
    assert state.status == "failed" and ledger.batch(batch.id).status == "failed"


def test_ledger_refuses_unknown_states_and_fields(ledger):
    with pytest.raises(LedgerError):
        ledger.requests("lost")
    with pytest.raises(LedgerError):
        ledger.batch("batch-000099")
