"""The lineage index (provenance): who was trained on what, who removed it, and fast answers at 70k images."""

from components.data import Sample
from components.ledger import Ledger, provenance


def samples(n: int, split: str = "train") -> list[Sample]:
    return [Sample(f"fm-{split}-{i:06d}", f"subj-{i // 5:06d}", i % 10, f"class{i % 10}", split, "", "") for i in range(n)]


def test_taint_follows_lineage_not_names(tmp_path):
    book = Ledger(tmp_path / "ledger.db")
    provenance.record_samples(book, "d1:train", samples(20))
    base = provenance.Artifact("m/v1", "model_version", "d1:train", "m", 1)
    child = provenance.Artifact("m/v2", "model_version", "d1:train", "m", 2, parent_id="m/v1", batch_id="batch-000001")
    grandchild = provenance.Artifact("m/v3", "model_version", "d1:train", "m", 3, parent_id="m/v2", batch_id="batch-000002")
    for artifact in (base, child, grandchild):
        provenance.record_artifact(book, artifact)
    request = book.add_request("sample", ["fm-train-000003"], ["fm-train-000003"], "")
    batch = book.open_batch("encoder-noise", 10)
    book.finish_batch(batch.id, "promoted", 2)  # batch-000001 forgot fm-train-000003

    index = provenance.artifacts(book)
    assert provenance.tainted_by(book, index, "m/v1") == ["batch-000001"]  # the base still holds it
    assert provenance.tainted_by(book, index, "m/v2") == [] == provenance.tainted_by(book, index, "m/v3")
    held = {c.artifact.id: c for c in provenance.contains(book, [request.sample_ids[0], "fm-train-000004"])}
    assert held["m/v1"].contained == ["fm-train-000003", "fm-train-000004"] and held["m/v1"].trained_on == 2
    assert held["m/v2"].contained == ["fm-train-000004"] and held["m/v2"].unlearned == {"batch-000001": 1}
    provenance.mark_purged(book, "m/v1", "batch-000001")
    assert {c.artifact.id: c.contained for c in provenance.contains(book, ["fm-train-000004"])}["m/v1"] == []  # weights gone
    book.close()


def test_contains_asks_the_same_few_indexed_queries_for_one_id_or_10000(tmp_path):
    """Its speed at 70k images is measured in benchmarks/ (`contains` < 1 s); the spec here is the
    shape that makes it fast: no query per id, and a join in which every table is read through an index."""
    book = Ledger(tmp_path / "ledger.db")
    provenance.record_samples(book, "d1:train", samples(60_000) + samples(10_000, "test"))
    for version in range(1, 6):
        provenance.record_artifact(
            book,
            provenance.Artifact(
                f"m/v{version}",
                "model_version",
                "d1:train",
                "m",
                version,
                parent_id=f"m/v{version - 1}" if version > 1 else None,
                batch_id=f"batch-{version:06d}" if version > 1 else None,
            ),
        )
    provenance.set_aliases(book, "m", {"champion": 5})
    ids = [s.sample_id for s in samples(60_000)][::6]
    selects: list[str] = []
    book._db.set_trace_callback(lambda sql: selects.append(sql) if sql.lstrip().upper().startswith("SELECT") else None)

    many = provenance.contains(book, ids)
    queries_for_many, selects[:] = len(selects), []
    one = provenance.contains(book, [ids[0]])
    book._db.set_trace_callback(None)
    plan = [
        r["detail"]
        for r in book.query(
            "EXPLAIN QUERY PLAN SELECT ts.set_id, ts.sample_id FROM query_ids q JOIN training_sets ts ON ts.sample_id = q.sample_id"
        )
    ]

    assert len(ids) == 10_000 and all(c.trained_on == 10_000 for c in many) and one[0].trained_on == 1
    assert queries_for_many == len(selects) < 20, (queries_for_many, len(selects))
    assert all("INDEX" in step or "PRIMARY KEY" in step for step in plan), plan
    book.close()


def test_the_catalogue_answers_a_selector_as_resolving_it_against_the_whole_manifest_does(tmp_path):
    from components.ledger import resolve

    book = Ledger(tmp_path / "ledger.db")
    everything = samples(40) + samples(10, "test")
    provenance.record_samples(book, "d1:train", everything)
    for kind, selector in (
        ("label", ["class3"]),
        ("label", ["3"]),
        ("subject", ["subj-000002", "subj-000007"]),
        ("sample", ["fm-train-000004", "fm-test-000001"]),
    ):
        fast = resolve(provenance.catalogue_matching(book, kind, selector), kind, selector, {})
        assert fast == resolve(everything, kind, selector, {}) and fast, (kind, selector)
    book.close()
