import hashlib
import sys
from collections import Counter
from pathlib import Path

import pytest

from components.data import DataConfig, is_safe_id, load_source, materialise, read_manifest, sha256_file
from components.data.manifest import COLUMNS, MANIFEST_NAME


def tree_digest(directory: Path) -> dict[str, str]:
    return {
        str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def test_materialise_is_byte_deterministic(tmp_path, idx_source):
    raw, cfg = load_source(idx_source), DataConfig(train_per_class=0, test_per_class=0)
    materialise(raw, cfg, tmp_path / "a")
    materialise(raw, cfg, tmp_path / "b")
    assert tree_digest(tmp_path / "a") == tree_digest(tmp_path / "b")


def test_manifest_has_the_schema_and_true_sha256s(tmp_path, idx_source):
    materialise(load_source(idx_source), DataConfig(train_per_class=0, test_per_class=0), tmp_path / "data")
    header = (tmp_path / "data" / MANIFEST_NAME).read_text().splitlines()[0]
    assert header == "sample_id,subject_id,label,label_name,split,relpath,sha256"
    assert COLUMNS == tuple(header.split(","))
    samples = read_manifest(tmp_path / "data")
    assert len(samples) == 80 and Counter(s.split for s in samples) == {"train": 60, "test": 20}
    for s in samples:
        assert sha256_file(tmp_path / "data" / s.relpath) == s.sha256
        assert is_safe_id(s.sample_id) and is_safe_id(s.subject_id)
        assert s.label_name in (
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot",
        )


def test_materialise_takes_the_first_n_per_class_and_groups_subjects(tmp_path, idx_source):
    materialise(
        load_source(idx_source), DataConfig(train_per_class=2, test_per_class=1, samples_per_subject=3), tmp_path / "data"
    )
    samples = read_manifest(tmp_path / "data")
    assert Counter((s.split, s.label) for s in samples) == {
        **{("train", k): 2 for k in range(10)},
        **{("test", k): 1 for k in range(10)},
    }
    per_subject = Counter(s.subject_id for s in samples)
    assert len(per_subject) == 10 and max(per_subject.values()) == 3  # 30 samples / 3 per owner


def test_materialise_excludes_forgotten_ids_without_renumbering_subjects(tmp_path, idx_source):
    raw, cfg = load_source(idx_source), DataConfig(train_per_class=0, test_per_class=0)
    materialise(raw, cfg, tmp_path / "full")
    full = {s.sample_id: s for s in read_manifest(tmp_path / "full")}
    gone = frozenset(list(full)[:5])
    result = materialise(raw, cfg, tmp_path / "less", exclude=gone)
    less = {s.sample_id: s for s in read_manifest(tmp_path / "less")}
    assert result.n_excluded == 5 and set(less) == set(full) - gone
    assert all(less[i] == full[i] for i in less)


def test_materialise_leaves_the_old_data_untouched_when_it_fails(tmp_path, idx_source, monkeypatch):
    raw, cfg = load_source(idx_source), DataConfig(train_per_class=0, test_per_class=0)
    materialise(raw, cfg, tmp_path / "data")
    before = tree_digest(tmp_path / "data")
    module = sys.modules["components.data.materialise"]

    def explode(*_):
        raise OSError("disk full")

    monkeypatch.setattr(module, "write_manifest", explode)
    with pytest.raises(OSError):
        materialise(raw, DataConfig(train_per_class=1, test_per_class=1), tmp_path / "data")
    assert tree_digest(tmp_path / "data") == before
    assert not list(tmp_path.glob(".data-*"))  # no staging debris


def test_duplicated_subjects_recur_as_copies_of_their_training_images(tmp_path, idx_source):
    cfg = DataConfig(train_per_class=0, test_per_class=0, samples_per_subject=3, duplicate_subjects=2, duplicate_copies=4)
    materialise(load_source(idx_source), cfg, tmp_path / "data")
    samples = read_manifest(tmp_path / "data")
    copies = [s for s in samples if "-copy" in s.sample_id]
    originals = {s.sample_id: s for s in samples if "-copy" not in s.sample_id}
    chosen = sorted({s.subject_id for s in originals.values()})[:2]
    trained = [s for s in originals.values() if s.subject_id in chosen and s.split == "train"]
    assert len(copies) == 4 * len(trained) > 0 and len(originals) == 80  # the original data is unchanged
    for copy in copies:
        original = originals[copy.sample_id.rsplit("-copy", 1)[0]]
        assert (copy.subject_id, copy.split, copy.label, copy.sha256) == (
            original.subject_id,
            "train",
            original.label,
            original.sha256,
        )
        assert is_safe_id(copy.sample_id)
