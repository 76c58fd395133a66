"""Request intake under arbitrary input and concurrent filers: a request names only samples that
exist, a refusal writes nothing, and no sample is ever open in two requests."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components.data import DataConfig, load_source, materialise, read_manifest
from components.ledger import IntakeError, Ledger, file_request

TOKENS = st.one_of(
    st.text(max_size=20),
    st.sampled_from(
        ["../etc/passwd", "a/b", "", " ", "Trouser", "0", "subj-000001", "fm-train-000000", "fm-train-000000\n", "NaN", "*", "%s"]
    ),
)


@pytest.fixture(scope="module")
def manifest(tmp_path_factory, idx_source):
    root = tmp_path_factory.mktemp("intake")
    materialise(load_source(idx_source), DataConfig(train_per_class=0, test_per_class=0, samples_per_subject=3), root / "data")
    return read_manifest(root / "data")


def counts(path: Path) -> tuple[int, int]:
    db = sqlite3.connect(path)
    try:
        return tuple(db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("requests", "events"))
    finally:
        db.close()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    kind=st.one_of(st.sampled_from(["sample", "subject", "label"]), st.text(max_size=10)),
    selector=st.lists(TOKENS, max_size=4),
    reason=st.text(max_size=600),
)
def test_any_request_is_filed_exactly_or_refused_without_a_write(tmp_path, manifest, kind, selector, reason):
    path = tmp_path / "ledger.db"
    with Ledger(path) as book:
        before = counts(path)
        try:
            result = file_request(book, manifest, kind, selector, reason)
        except IntakeError as exc:
            assert "\n" not in str(exc) and counts(path) == before
            return
        known = {s.sample_id for s in manifest}
        assert result.created and set(result.request.sample_ids) <= known and result.request.sample_ids
        again = file_request(book, manifest, kind, selector, reason)  # the same request twice queues nothing new
        assert not again.created and again.request.id == result.request.id
    path.unlink()


def _file_many(path: str, ids: list[str], out: multiprocessing.Queue) -> None:
    from components.data import read_manifest as read

    manifest = read(Path(path).parent / "data")
    filed = []
    with Ledger(Path(path)) as book:
        for sample_id in ids:
            result = file_request(book, manifest, "sample", [sample_id], "concurrent")
            filed.append(result.request.id if result.created else None)
    out.put(filed)


def test_concurrent_filers_lose_nothing_and_never_duplicate(tmp_path, idx_source):
    """4 processes file 10 requests each at once, half of the samples asked for by two processes."""
    materialise(
        load_source(idx_source), DataConfig(train_per_class=0, test_per_class=0, samples_per_subject=3), tmp_path / "data"
    )
    samples = [s.sample_id for s in read_manifest(tmp_path / "data")][:30]
    plans = [samples[0:10], samples[5:15], samples[15:25], samples[20:30]]  # overlaps: 5-9 and 20-24
    path = tmp_path / "ledger.db"
    Ledger(path).close()
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    workers = [ctx.Process(target=_file_many, args=(str(path), plan, out)) for plan in plans]
    for w in workers:
        w.start()
    filed = [out.get(timeout=120) for _ in workers]
    for w in workers:
        w.join(timeout=60)
        assert w.exitcode == 0
    with Ledger(path) as book:
        requests = book.requests()
        assert book.verify_chain().ok
    ids = [r.id for r in requests]
    asked = [s for r in requests for s in r.sample_ids]
    assert len(ids) == len(set(ids)) == 30 == sum(f is not None for batch in filed for f in batch)
    assert sorted(asked) == sorted(samples)  # every sample once: nothing lost, nothing twice
