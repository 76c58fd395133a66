"""The lineage index: who was trained on what, who removed it, and fast answers at 70k images."""

import time

from components.data import Sample
from components.ledger import Ledger, lineage


def samples(n: int, split: str = "train") -> list[Sample]:
    return [Sample(f"fm-{split}-{i:06d}", f"subj-{i // 5:06d}", i % 10, f"class{i % 10}", split, "", "") for i in range(n)]


def test_taint_follows_lineage_not_names(tmp_path):
    book = Ledger(tmp_path / "ledger.db")
    lineage.record_samples(book, "d1:train", samples(20))
    base = lineage.Artifact("m/v1", "model_version", "d1:train", "m", 1)
    child = lineage.Artifact("m/v2", "model_version", "d1:train", "m", 2, parent_id="m/v1", batch_id="batch-000001")
    grandchild = lineage.Artifact("m/v3", "model_version", "d1:train", "m", 3, parent_id="m/v2", batch_id="batch-000002")
    for artifact in (base, child, grandchild):
        lineage.record_artifact(book, artifact)
    request = book.add_request("sample", ["fm-train-000003"], ["fm-train-000003"], "")
    batch = book.open_batch("encoder-noise", 10)
    book.finish_batch(batch.id, "promoted", 2)  # batch-000001 forgot fm-train-000003

    index = lineage.artifacts(book)
    assert lineage.tainted_by(book, index, "m/v1") == ["batch-000001"]  # the base still holds it
    assert lineage.tainted_by(book, index, "m/v2") == [] == lineage.tainted_by(book, index, "m/v3")
    held = {c.artifact.id: c for c in lineage.contains(book, [request.sample_ids[0], "fm-train-000004"])}
    assert held["m/v1"].contained == ["fm-train-000003", "fm-train-000004"] and held["m/v1"].trained_on == 2
    assert held["m/v2"].contained == ["fm-train-000004"] and held["m/v2"].unlearned == {"batch-000001": 1}
    lineage.mark_purged(book, "m/v1", "batch-000001")
    assert {c.artifact.id: c.contained for c in lineage.contains(book, ["fm-train-000004"])}["m/v1"] == []  # weights gone
    book.close()


def test_contains_answers_10000_ids_on_a_70k_index_within_seconds(tmp_path):
    book = Ledger(tmp_path / "ledger.db")
    lineage.record_samples(book, "d1:train", samples(60_000) + samples(10_000, "test"))
    for version in range(1, 6):
        lineage.record_artifact(book, lineage.Artifact(f"m/v{version}", "model_version", "d1:train", "m", version,
                                                       parent_id=f"m/v{version - 1}" if version > 1 else None,
                                                       batch_id=f"batch-{version:06d}" if version > 1 else None))
    lineage.set_aliases(book, "m", {"champion": 5})
    ids = [s.sample_id for s in samples(60_000)][::6]

    start = time.perf_counter()
    many = lineage.contains(book, ids)
    many_s = time.perf_counter() - start
    start = time.perf_counter()
    one = lineage.contains(book, [ids[0]])
    one_s = time.perf_counter() - start

    assert len(ids) == 10_000 and all(c.trained_on == 10_000 for c in many) and one[0].trained_on == 1
    assert many_s < 5.0 and one_s < 1.0, (many_s, one_s)
    book.close()
