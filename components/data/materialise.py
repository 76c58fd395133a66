"""Turn a `RawDataset` into `data/`: one PNG per sample plus `manifest.csv`, byte-deterministically."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from components.data.manifest import Sample, write_manifest
from components.data.png import encode_grey_png
from components.data.sources import SPLITS, RawDataset


@dataclass(frozen=True)
class DataConfig:
    """The `data:` section of params.yaml. A per-class count of 0 means every image of the split."""

    source: str = ""  # "" = Debian's Fashion-MNIST package; else a directory (IDX files or ImageFolder)
    train_per_class: int = 500
    test_per_class: int = 100
    samples_per_subject: int = 5
    subject_seed: int = 0
    duplicate_subjects: int = 0  # scenario "memorise": these many subjects' training images recur ...
    duplicate_copies: int = 0  # ... this many extra times each (as duplicates do in scraped data)


@dataclass(frozen=True)
class MaterialiseResult:
    data_dir: Path
    n_samples: int
    n_excluded: int


def select_samples(raw: RawDataset, cfg: DataConfig) -> list[tuple[str, str, int, np.ndarray]]:
    """(sample_id, split, label, pixels) for the first N images of each class, in source order."""
    selected = []
    for split in SPLITS:
        limit = cfg.train_per_class if split == "train" else cfg.test_per_class
        taken = np.zeros(len(raw.class_names), dtype=np.int64)
        for index, label in enumerate(raw.labels[split]):
            if limit and taken[label] >= limit:
                continue
            taken[label] += 1
            selected.append((f"{raw.id_prefix}-{split}-{index:06d}", split, int(label), raw.images[split][index]))
    return selected


def assign_subjects(sample_ids: list[str], samples_per_subject: int, seed: int) -> dict[str, str]:
    """Give each sample a synthetic owner: ids ordered by a seeded sha256, then cut into groups.

    Hash order rather than an RNG permutation keeps the assignment identical on every numpy version.
    """
    order = sorted(sample_ids, key=lambda s: hashlib.sha256(f"{seed}:{s}".encode()).hexdigest())
    return {sample_id: f"subj-{rank // samples_per_subject:06d}" for rank, sample_id in enumerate(order)}


def duplicate(
    selected: list[tuple[str, str, int, np.ndarray]], subjects: dict[str, str], cfg: DataConfig
) -> list[tuple[str, str, int, np.ndarray]]:
    """Extra copies of the training images of the first `duplicate_subjects` subjects (in id order),
    owned by the same subject, ids `<id>-copyNN`; `subjects` gains them.

    Scraped data repeats some people's images many times, and repeated images are what generative
    models memorise (Carlini et al. 2023); at this scale a base sees every other image too rarely to
    memorise it, so this is the scenario in which sample-level forgetting is visible."""
    if cfg.duplicate_subjects <= 0 or cfg.duplicate_copies <= 0:
        return []
    chosen = set(sorted(set(subjects.values()))[: cfg.duplicate_subjects])
    copies = [
        (f"{sample_id}-copy{k:02d}", split, label, pixels)
        for sample_id, split, label, pixels in selected
        if split == "train" and subjects[sample_id] in chosen
        for k in range(1, cfg.duplicate_copies + 1)
    ]
    subjects.update({copy_id: subjects[copy_id.rsplit("-copy", 1)[0]] for copy_id, *_ in copies})
    return copies


def materialise(raw: RawDataset, cfg: DataConfig, data_dir: Path, exclude: frozenset[str] = frozenset()) -> MaterialiseResult:
    """Write the selected samples (minus `exclude`, e.g. forgotten ids) to `data_dir` atomically.

    Everything is written into a temporary sibling directory that replaces `data_dir` only once
    complete, so an interrupted run never leaves a half-written dataset behind.
    """
    selected = select_samples(raw, cfg)
    subjects = assign_subjects([s[0] for s in selected], cfg.samples_per_subject, cfg.subject_seed)
    selected += duplicate(selected, subjects, cfg)
    kept = [s for s in selected if s[0] not in exclude]
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".data-staging-", dir=data_dir.parent))
    try:
        samples = []
        for sample_id, split, label, pixels in tqdm(kept, desc="materialise", unit="img", disable=None):
            relpath = f"{split}/{label:03d}/{sample_id}.png"
            payload = encode_grey_png(pixels)
            (staging / relpath).parent.mkdir(parents=True, exist_ok=True)
            (staging / relpath).write_bytes(payload)
            samples.append(
                Sample(
                    sample_id,
                    subjects[sample_id],
                    label,
                    raw.class_names[label],
                    split,
                    relpath,
                    hashlib.sha256(payload).hexdigest(),
                )
            )
        write_manifest(staging, samples)
        _swap_in(staging, data_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return MaterialiseResult(data_dir, len(kept), len(selected) - len(kept))


def _swap_in(staging: Path, target: Path) -> None:
    old = target.with_name(f".{target.name}-old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)
